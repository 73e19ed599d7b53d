/*-------------------------------------------------------------------------
 * worker/worker.h
 *	  The background workers: the launcher's shared state, the scheduler.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_WORKER_H
#define VAULT_WORKER_H

#include "api/api.h"

#include "storage/s_lock.h"

/* ---- launcher.c: the workers' shared state and the launcher ---- */
#define VAULT_MAX_DATABASES 64

typedef struct DbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* its scheduler, 0 if none runs */
	bool		absent;			/* the extension is not installed there */
	TimestampTz absent_since;
	bool		wake;			/* CREATE EXTENSION asked for a scheduler */
} DbSlot;

typedef struct VaultShared
{
	slock_t		mutex;
	struct Latch *launcher_latch;
	int			running_backups;	/* scheduled backups running, cluster-wide */
	DbSlot		dbs[VAULT_MAX_DATABASES];
} VaultShared;

extern void launcher_init(void);
extern VaultShared *vault_shared(void);
extern DbSlot *vault_db_slot(Oid dboid, bool create);
extern PGDLLEXPORT void vault_launcher_main(Datum main_arg);
extern PGDLLEXPORT void vault_scheduler_main(Datum main_arg);

/* ---- xact.c: a worker's own transactions ---- */
extern void worker_begin_xact(void);
extern void worker_commit_xact(void);

/* ---- alert_sender.c: new alerts to vault.alert_command ---- */
extern void alert_sender_round(TimestampTz now);

/* ---- rewrap.c: one database's part of a platform key rotation ---- */
extern PGDLLEXPORT void vault_rewrap_main(Datum main_arg);

#endif							/* VAULT_WORKER_H */
