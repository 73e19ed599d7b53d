/*-------------------------------------------------------------------------
 * alerts.c
 *	  Alerts: raising, counting and resolving them, and the failures a
 *	  rolled-back transaction would otherwise take with it.
 *
 * Owns the calls into the alert rows (vault_internal.alert_raise and
 * alert_resolve, which also NOTIFY channel vault_alerts), and a small
 * queue in shared memory: an on-demand backup or restore that fails does
 * so in its caller's transaction, which rolls back, so the failure is
 * queued there and raised by the scheduler's next round (or the next
 * explicit-clock call).  Must not decide which events are alerts: the
 * entry points that see them do.
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

typedef struct QueuedAlert
{
	Oid			dbid;			/* InvalidOid: a free entry */
	int64		vault_id;
	char		item[PROGRESS_NAME_LEN];
	char		kind[24];
	char		message[QUEUE_MSG_LEN];
	TimestampTz at;
} QueuedAlert;

typedef struct AlertQueue
{
	LWLock	   *lock;
	int			next;			/* the entry the next failure takes (oldest first overwritten) */
	QueuedAlert entries[QUEUE_LEN];
} AlertQueue;

static AlertQueue *queue = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
alerts_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(AlertQueue));
	RequestNamedLWLockTranche("vault alert queue", 1);
}

static void
alerts_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue = ShmemInitStruct("vault alert queue", sizeof(AlertQueue), &found);
	if (!found)
	{
		memset(queue, 0, sizeof(AlertQueue));
		queue->lock = &(GetNamedLWLockTranche("vault alert queue"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while the library is preloaded. */
void
alerts_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = alerts_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = alerts_shmem_startup;
}

/* Raise an alert of 'kind' now, in this transaction (1.1 catalogs only). */
void
alert_raise(VaultCall *call, int64 vault_id, const char *item, const char *kind, const char *message,
			TimestampTz at)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[5];
	bool		nulls[5] = {false, item == NULL, false, false, false};

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	values[1] = item ? CStringGetTextDatum(item) : (Datum) 0;
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(message);
	values[4] = TimestampTzGetDatum(at);
	vault_as_owner(call);
	(void) spi_int64("SELECT vault_internal.alert_raise($1, $2, $3, $4, $5)", 5, types, values, nulls);
	vault_as_caller(call);
}

/* What ends an open alert of 'kind' on the item: a success, a purge. */
void
alert_resolve(VaultCall *call, int64 vault_id, const char *item, const char *kind, TimestampTz at)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	bool		nulls[4] = {false, item == NULL, false, false};

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	values[1] = item ? CStringGetTextDatum(item) : (Datum) 0;
	values[2] = CStringGetTextDatum(kind);
	values[3] = TimestampTzGetDatum(at);
	vault_as_owner(call);
	(void) spi_int64("SELECT vault_internal.alert_resolve($1, $2, $3, $4)", 4, types, values, nulls);
	vault_as_caller(call);
}

/*
 * A failure of an operation in a transaction that is about to roll back
 * (called from its PG_CATCH): kept in shared memory for the scheduler.  A
 * cancelled statement is no failure to alert on.
 */
void
alert_queue_failure(int64 vault_id, const char *item, const char *kind, ErrorData *edata)
{
	QueuedAlert *e;

	if (queue == NULL || edata == NULL || edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	e = &queue->entries[queue->next];
	queue->next = (queue->next + 1) % QUEUE_LEN;
	e->dbid = MyDatabaseId;
	e->vault_id = vault_id;
	strlcpy(e->item, item ? item : "", sizeof(e->item));
	strlcpy(e->kind, kind, sizeof(e->kind));
	if (edata->detail)
		snprintf(e->message, sizeof(e->message), "%s (%s)", edata->message ? edata->message : "", edata->detail);
	else
		strlcpy(e->message, edata->message ? edata->message : "", sizeof(e->message));
	e->at = GetCurrentTimestamp();
	LWLockRelease(queue->lock);
}

/*
 * From the PG_CATCH of an operation run in its caller's transaction: its
 * failure queued (the error copied into cxt, which outlives the catch).
 */
void
alert_on_error(int64 vault_id, const char *item, const char *kind, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	alert_queue_failure(vault_id, item, kind, CopyErrorData());
	MemoryContextSwitchTo(old);
}

/*
 * The queued failures of this database, raised in this transaction (taken
 * off the queue only if it commits would need more: an entry is taken when
 * read, so a round that fails loses it rather than raising it twice).
 */
void
alerts_flush(VaultCall *call)
{
	QueuedAlert mine[QUEUE_LEN];
	int			n = 0;
	int			i;

	if (queue == NULL || call->catalog < VAULT_CATALOG_1_1)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < QUEUE_LEN; i++)
	{
		/* oldest first: from the entry the next failure would overwrite */
		QueuedAlert *e = &queue->entries[(queue->next + i) % QUEUE_LEN];

		if (e->dbid != MyDatabaseId)
			continue;
		mine[n++] = *e;
		e->dbid = InvalidOid;
	}
	LWLockRelease(queue->lock);
	for (i = 0; i < n; i++)
		alert_raise(call, mine[i].vault_id, mine[i].item[0] ? mine[i].item : NULL, mine[i].kind,
					mine[i].message, mine[i].at);
}
