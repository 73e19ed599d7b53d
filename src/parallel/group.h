/*-------------------------------------------------------------------------
 * parallel/group.h
 *	  A group of dynamic background workers on one shared memory segment,
 *	  both sides: what the backup pipeline and the restore feed stand on.
 *	  No one outside parallel/ includes it.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_GROUP_H
#define VAULT_GROUP_H

#include "parallel/parallel.h"

#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"

#define GROUP_MAGIC			0x5641554c	/* "VAUL" */
#define GROUP_ERROR_QUEUE_SIZE	16384
#define GROUP_DATA_QUEUE_SIZE	(2 * 1024 * 1024)

/* what every worker of a group takes from the caller */
typedef struct GroupShared
{
	Oid			database;
	Oid			authenticated_user;
	Oid			current_user;
	int			sec_context;
	PGPROC	   *leader;
	pid_t		leader_pid;
	int64		vault_id;
	int			zstd_level;
	TransactionId caller_xid;	/* the caller's transaction, if it has an id
								 * (its own snapshot leaves it out) */
	bool		caller_subxids; /* and subtransactions with ids */
	VaultKeys	keys;			/* wiped when the segment is let go */
} GroupShared;

/* ---- the caller's side ---- */
typedef struct GroupCleanup GroupCleanup;

typedef struct WorkerGroup
{
	const char *what;			/* "backup", "restore": for messages */
	dsm_segment *seg;
	shm_toc    *toc;
	GroupShared *shared;
	int			planned;		/* queues in the segment */
	int			nworkers;		/* started */
	shm_mq_handle **data;		/* what each worker sends */
	shm_mq_handle **errors;		/* its errors and notices */
	GroupCleanup *cleanup;
} WorkerGroup;

extern WorkerGroup *group_create(const char *what, int nworkers, Snapshot snapshot,
								 const VaultKeys *keys, int zstd_level,
								 const Size *own, int nown, void **own_space);
extern int	group_launch(WorkerGroup *g, const char *function);
extern bool group_receive(WorkerGroup *g, int i, Size *len, void **data, bool nowait);
extern bool group_wait(WorkerGroup *g);
extern void group_fail(WorkerGroup *g, const char *unfinished);
extern void group_finish(WorkerGroup *g);
extern void group_stop(WorkerGroup *g);

/* ---- a worker's side ---- */
typedef struct GroupWorker
{
	int			me;				/* 0 .. nworkers - 1 */
	dsm_segment *seg;
	shm_toc    *toc;
	GroupShared *shared;
	shm_mq_handle *out;
	Snapshot	snapshot;		/* the caller's, pushed as active */
} GroupWorker;

extern void group_worker_attach(GroupWorker *w, Datum arg, const char *activity);
extern void *group_worker_space(GroupWorker *w, int i);
extern void group_worker_send(GroupWorker *w, const void *head, Size head_len,
							  const void *body, Size body_len);
extern void group_worker_exit(GroupWorker *w);

#endif							/* VAULT_GROUP_H */
