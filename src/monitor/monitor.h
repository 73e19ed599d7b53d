/*-------------------------------------------------------------------------
 * monitor/monitor.h
 *	  Watching the vault: what runs now (progress), alerts, failures that
 *	  roll back, health, and every database's counts (the cluster board).
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
extern void progress_counts(int tables_done, int64 bytes, int64 chunks_new, int64 chunks_reused);
extern void progress_end(void);
extern int	progress_snapshot(ProgressRow **out);

/* ---- alerts.c: raising and resolving alerts ---- */
extern void alerts_shmem_init(void);
extern void alert_raise(VaultCall *call, int64 vault_id, const char *item, const char *kind,
						const char *message, TimestampTz at);
extern void alert_resolve(VaultCall *call, int64 vault_id, const char *item, const char *kind,
						  TimestampTz at);

/* ---- failures.c: failures of on-demand operations that roll back ---- */
extern void failures_shmem_init(void);
extern void failure_on_error(int64 vault_id, const char *item, const char *operation,
							 TimestampTz started, MemoryContext cxt);
extern void failures_flush(VaultCall *call);

/* ---- health.c: how each item's backups have been ending ---- */
extern void health_record(VaultCall *call, int64 item_id, TimestampTz at, const char *error,
						  int sqlerrcode);

/* ---- cluster.c: every database's counts, in shared memory ---- */
#define CLUSTER_SLOTS	128

typedef struct ClusterSlot
{
	Oid			dbid;			/* InvalidOid: a free slot */
	int64		vaults;
	int64		items;
	int64		healthy;
	int64		degraded;
	int64		unhealthy;
	int64		active_alerts;
	int64		running_jobs;
	TimestampTz last_job_end;	/* 0: no job yet */
	TimestampTz published_at;
} ClusterSlot;

extern void cluster_shmem_init(void);
extern void cluster_publish(const ClusterSlot *counts);
extern void cluster_withdraw(void);
extern int	cluster_snapshot(ClusterSlot **out);

#endif							/* VAULT_MONITOR_H */
