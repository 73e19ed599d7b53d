/*-------------------------------------------------------------------------
 * failures.c
 *	  Failures that a rolled-back transaction would otherwise take with it.
 *
 * An on-demand backup or restore runs in its caller's transaction; when it
 * fails, that transaction rolls back, and with it anything the failure
 * wrote.  So the failure is kept here, in a small queue in shared memory,
 * and recorded by the scheduler's next round (vault_internal.failure_record:
 * a failed job, the item's health, the alert).  Owns the queue only; must
 * not decide what a failure means: the SQL function does.
 *-------------------------------------------------------------------------
 */
#include "monitor/monitor.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#define QUEUE_LEN		64
#define QUEUE_MSG_LEN	512

typedef struct QueuedFailure
{
	Oid			dbid;			/* InvalidOid: a free entry */
	int64		vault_id;
	char		item[PROGRESS_NAME_LEN];
	char		operation[16];
	char		sqlstate[6];
	Oid			run_as;
	char		message[QUEUE_MSG_LEN];
	TimestampTz started_at;
	TimestampTz at;
} QueuedFailure;

typedef struct FailureQueue
{
	LWLock	   *lock;
	int			next;			/* the entry the next failure takes (oldest first overwritten) */
	QueuedFailure entries[QUEUE_LEN];
} FailureQueue;

static FailureQueue *queue = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
failures_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(FailureQueue));
	RequestNamedLWLockTranche("vault failure queue", 1);
}

static void
failures_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue = ShmemInitStruct("vault failure queue", sizeof(FailureQueue), &found);
	if (!found)
	{
		memset(queue, 0, sizeof(FailureQueue));
		queue->lock = &(GetNamedLWLockTranche("vault failure queue"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while the library is preloaded. */
void
failures_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = failures_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = failures_shmem_startup;
}

/*
 * From the PG_CATCH of an on-demand 'operation' (backup, restore) about to
 * roll back its caller's transaction: the error, copied into cxt (which
 * outlives the catch), queued.  A cancelled statement is no failure.
 */
void
failure_on_error(int64 vault_id, const char *item, const char *operation, TimestampTz started,
				 MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ErrorData  *edata = CopyErrorData();
	QueuedFailure *e;

	MemoryContextSwitchTo(old);
	if (queue == NULL || edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	e = &queue->entries[queue->next];
	queue->next = (queue->next + 1) % QUEUE_LEN;
	e->dbid = MyDatabaseId;
	e->vault_id = vault_id;
	strlcpy(e->item, item ? item : "", sizeof(e->item));
	strlcpy(e->operation, operation, sizeof(e->operation));
	strlcpy(e->sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(e->sqlstate));
	e->run_as = GetUserId();
	if (edata->detail)
		snprintf(e->message, sizeof(e->message), "%s (%s)", edata->message ? edata->message : "", edata->detail);
	else
		strlcpy(e->message, edata->message ? edata->message : "", sizeof(e->message));
	e->started_at = started;
	e->at = GetCurrentTimestamp();
	LWLockRelease(queue->lock);
}

/*
 * The queued failures of this database, recorded in this transaction.  An
 * entry is taken off when read, so a round that fails loses it rather than
 * recording it twice.
 */
void
failures_flush(VaultCall *call)
{
	QueuedFailure mine[QUEUE_LEN];
	int			n = 0;
	int			i;

	if (queue == NULL || call->catalog < VAULT_CATALOG_1_1)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < QUEUE_LEN; i++)
	{
		/* oldest first: from the entry the next failure would overwrite */
		QueuedFailure *e = &queue->entries[(queue->next + i) % QUEUE_LEN];

		if (e->dbid != MyDatabaseId)
			continue;
		mine[n++] = *e;
		e->dbid = InvalidOid;
	}
	LWLockRelease(queue->lock);

	vault_as_owner(call);
	for (i = 0; i < n; i++)
	{
		Oid			types[8] = {INT8OID, TEXTOID, TEXTOID, OIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TEXTOID, TEXTOID};
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = Int64GetDatum(mine[i].vault_id);
		values[1] = CStringGetTextDatum(mine[i].item);
		nulls[1] = mine[i].item[0] == '\0';
		values[2] = CStringGetTextDatum(mine[i].operation);
		values[3] = ObjectIdGetDatum(mine[i].run_as);
		values[4] = TimestampTzGetDatum(mine[i].started_at);
		values[5] = TimestampTzGetDatum(mine[i].at);
		values[6] = CStringGetTextDatum(mine[i].message);
		values[7] = CStringGetTextDatum(mine[i].sqlstate);
		(void) spi_int64("SELECT 0 FROM vault_internal.failure_record($1, $2, $3, $4, $5, $6, $7, $8)",
						 8, types, values, nulls);
	}
	vault_as_caller(call);
}
