/*-------------------------------------------------------------------------
 * monitor/monitor.h
 *	  Watching the vault: what runs now (progress), and later alerts,
 *	  health, reports and metrics.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_MONITOR_H
#define VAULT_MONITOR_H

#include "replica/replica.h"
#include "stream/stream.h"

/* ---- progress.c: the running operations, in shared memory ---- */
#define PROGRESS_NAME_LEN	136

typedef struct ProgressRow
{
	int			pid;
	Oid			dbid;
	int64		vault_id;
	char		vault[64];
	char		item[PROGRESS_NAME_LEN];
	char		operation[16];
	char		phase[32];
	int32		tables_done;
	int32		tables_total;
	int64		bytes_done;
	int64		bytes_total;	/* 0: unknown */
	int64		chunks_new;
	int64		chunks_reused;
	TimestampTz started_at;
} ProgressRow;

extern void progress_shmem_init(void);
extern void progress_begin(const VaultInfo *vault, const char *item, const char *operation,
						   const char *phase);
extern void progress_phase(const char *phase);
extern void progress_totals(int tables_total, int64 bytes_total);
extern void progress_table(int64 bytes, int64 chunks_new, int64 chunks_reused);
extern void progress_table_done(void);
extern void progress_end(void);
extern int	progress_snapshot(ProgressRow **out);

/* ---- alerts.c: raising and resolving alerts ---- */
extern void alerts_shmem_init(void);
extern void alert_raise(VaultCall *call, int64 vault_id, const char *item, const char *kind,
						const char *message, TimestampTz at);
extern void alert_resolve(VaultCall *call, int64 vault_id, const char *item, const char *kind,
						  TimestampTz at);
extern void alert_queue_failure(int64 vault_id, const char *item, const char *kind, ErrorData *edata);
extern void alert_on_error(int64 vault_id, const char *item, const char *kind, MemoryContext cxt);
extern void alerts_flush(VaultCall *call);

#endif							/* VAULT_MONITOR_H */
