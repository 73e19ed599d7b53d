/*-------------------------------------------------------------------------
 * periodic.c
 *	  Scheduled backups: which items are due and running each one.  SQL
 *	  entry point vault_run_due(now) takes an explicit clock; the scheduler
 *	  worker calls the same code with the real one.
 *
 * Owns: choosing the due items, running each one's backup as its policy's
 * owner, isolated from the others (a failing backup becomes a failed job,
 * the next item still runs), the slot a run serves, and rescheduling (missed
 * slots run once, not once each).  Expiry is expiry.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_run_due);

/* ---- due backups ---- */

struct DueItem
{
	int64		item_id;
	char	   *kind;
	char	   *name;
	int64		vault_id;
	char	   *vault_name;
	Oid			policy_owner;
	char	   *schedule;
	char	   *timezone;
	TimestampTz next_run_at;
};

/* protected items whose next run is at or before now, oldest first */
static List *
due_items(VaultCall *call, TimestampTz now, int limit, int64 item_id)
{
	Oid			types[3] = {TIMESTAMPTZOID, INT4OID, INT8OID};
	Datum		values[3];
	int			ret;
	uint64		i;
	List	   *items = NIL;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	values[2] = Int64GetDatum(item_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT i.item_id, i.kind, i.name, v.vault_id, v.name, po.owner, "
								"  po.schedule, po.timezone, i.next_run_at "
								"FROM vault_internal.items i "
								"JOIN vault_internal.policies po USING (policy_id) "
								"JOIN vault_internal.vaults v ON v.vault_id = i.vault_id "
								"WHERE i.state = 'protected' AND i.next_run_at <= $1 "
								"  AND ($3 = 0 OR i.item_id = $3) "
								"ORDER BY i.next_run_at, i.item_id LIMIT $2",
								3, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the due items");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		DueItem    *d = palloc0(sizeof(DueItem));

		d->item_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d->kind = SPI_getvalue(tup, desc, 2);
		d->name = SPI_getvalue(tup, desc, 3);
		d->vault_id = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		d->vault_name = SPI_getvalue(tup, desc, 5);
		d->policy_owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		d->schedule = SPI_getvalue(tup, desc, 7);
		d->timezone = SPI_getvalue(tup, desc, 8);
		d->next_run_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		items = lappend(items, d);
	}
	return items;
}

/* move an item's next run past now (missed slots run once, not once each) */
static void
reschedule(VaultCall *call, DueItem *d, TimestampTz now)
{
	VaultSchedule s;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	policy_parse_schedule(d->schedule, strlen(d->schedule), &s);
	values[0] = Int64GetDatum(d->item_id);
	values[1] = TimestampTzGetDatum(policy_next_run(&s, now, policy_timezone(d->timezone)));
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.items SET next_run_at = $2 WHERE item_id = $1",
					 2, types, values, NULL);
	vault_as_caller(call);
}

/*
 * The slot a run serves: the latest scheduled time at or before now (after
 * downtime the missed slots collapse into the newest).  Retention dates the
 * point by it, so a run that starts a little late still counts for its day.
 */
static TimestampTz
served_slot(DueItem *d, TimestampTz now)
{
	VaultSchedule s;
	pg_tz	   *tz = policy_timezone(d->timezone);
	TimestampTz slot = d->next_run_at;
	int			i;

	policy_parse_schedule(d->schedule, strlen(d->schedule), &s);
	for (i = 0; i < 100000; i++)
	{
		TimestampTz next = policy_next_run(&s, slot, tz);

		if (next > now)
			return slot;
		slot = next;
	}
	return now;					/* so far behind that the run's own time serves */
}

/*
 * The backup itself, as the policy's owner, in the current (sub)transaction:
 * errors propagate to the caller, which records them.
 */
static void
run_scheduled_backup(DueItem *d, TimestampTz now, BackupResult *result)
{
	Oid			saved_user;
	int			saved_sec;
	VaultCall	call;
	VaultInfo  *vault;
	BackupRequest req = {0};

	req.own_writes = TransactionIdIsValid(GetTopTransactionIdIfAny());
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(d->policy_owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	vault_call_begin(&call);
	vault = vault_lookup(&call, d->vault_name);
	vault_require(&call, vault, VAULT_OPERATOR, "a scheduled backup (as the policy's owner)");
	req.trigger = "scheduled";
	req.created_at = now;
	req.scheduled_for = served_slot(d, now);
	if (strcmp(d->kind, "table") == 0)
	{
		List	   *names = stringToQualifiedNameList(d->name);
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("protected table %s does not exist", d->name),
					 errhint("Stop protecting it with vault_unprotect, or recreate the table.")));
		backup_run_table(&call, vault, relid, &req, result);
	}
	else
		backup_run_schema(&call, vault, d->name, &req, result);
	expiry_refresh_item(&call, d->item_id, false);
	vault_call_end(&call);
	SetUserIdAndSecContext(saved_user, saved_sec);
}

/* The job of a due item, opened in progress by this backend. */
int64
periodic_job_begin(VaultCall *call, DueItem *d)
{
	JobInfo		job = {0};

	job.vault_id = d->vault_id;
	job.vault_name = d->vault_name;
	job.item_id = d->item_id;
	job.item_name = d->name;
	job.operation = "backup";
	job.trigger = "scheduled";
	job.run_as = d->policy_owner;
	job.started_at = GetCurrentTimestamp();
	return job_begin(call, &job);
}

/* The backup of a due item, as its policy's owner; errors propagate. */
void
periodic_backup(DueItem *d, TimestampTz now, BackupResult *result)
{
	run_scheduled_backup(d, now, result);
}

/* After the backup (result) or its failure (error): reschedule, close the job. */
void
periodic_job_end(VaultCall *call, DueItem *d, int64 job_id, TimestampTz now,
				 BackupResult *result, const char *error, int sqlerrcode)
{
	JobOutcome	out = {0};

	reschedule(call, d, now);
	if (error == NULL)
	{
		out.recovery_point = result->point_id;
		out.rows = result->rows;
		out.logical_bytes = result->logical_bytes;
		out.new_bytes = result->new_bytes;
	}
	out.freed_bytes = -1;
	job_end(call, job_id, error ? NULL : &out, error, sqlerrcode);
	if (error == NULL)
	{
		health_record(call, d->item_id, GetCurrentTimestamp(), NULL, 0);
		alert_resolve(call, d->vault_id, d->name, "backup failure", GetCurrentTimestamp());
	}
	else if (strncmp(error, JOB_CANCELLED_PREFIX, strlen(JOB_CANCELLED_PREFIX)) != 0)
	{
		health_record(call, d->item_id, GetCurrentTimestamp(), error, sqlerrcode);
		alert_raise(call, d->vault_id, d->name, "backup failure", error, GetCurrentTimestamp());
	}
}

/* An error as one line for the job record. */
char *
periodic_error_text(ErrorData *edata)
{
	char	   *text = edata->detail ? psprintf("%s (%s)", edata->message, edata->detail)
		: pstrdup(edata->message);

	/* a cancelled statement (pg_cancel_backend) makes a cancelled job */
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		text = psprintf("%s%s", JOB_CANCELLED_PREFIX, text);
	return text;
}

/*
 * Run one due item inside a subtransaction of the current transaction:
 * the job row, the backup, the reschedule.  A failure rolls back only the
 * backup; the job is then recorded as failed.  Returns the job id.
 */
static int64
run_item_in_subtransaction(VaultCall *call, DueItem *d, TimestampTz now, int64 *point_id,
						   char **error)
{
	volatile int sqlerrcode = 0;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	BackupResult result = {0};
	int64		job_id = periodic_job_begin(call, d);

	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		run_scheduled_backup(d, now, &result);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*error = periodic_error_text(edata);
		sqlerrcode = edata->sqlerrcode;
		FreeErrorData(edata);
	}
	PG_END_TRY();

	periodic_job_end(call, d, job_id, now, &result, *error, sqlerrcode);
	*point_id = result.point_id;
	return job_id;
}

/* the due items, for callers outside this file (the scheduler) */
List *
periodic_due_items(VaultCall *call, TimestampTz now, int limit)
{
	return due_items(call, now, limit, 0);
}

int64
periodic_item_id(DueItem *item)
{
	return item->item_id;
}

/* one protected item by id, due or not; NULL if it is no longer protected */
DueItem *
periodic_item(VaultCall *call, int64 item_id)
{
	List	   *l = due_items(call, DT_NOEND, 1, item_id);

	return l ? linitial(l) : NULL;
}

/* vault_run_due(now) -> one row per backup run */
Datum
vault_run_due(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = vault_arg_now(fcinfo);
	VaultCall	call;
	List	   *items;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	/* failures that rolled back with their callers, raised first */
	failures_round(now);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "running due backups");
	items = due_items(&call, now, INT_MAX, 0);
	foreach(lc, items)
	{
		DueItem    *d = lfirst(lc);
		int64		point_id;
		char	   *error;
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = Int64GetDatum(run_item_in_subtransaction(&call, d, now, &point_id, &error));
		values[1] = CStringGetTextDatum(d->vault_name);
		values[2] = CStringGetTextDatum(d->name);
		values[3] = CStringGetTextDatum(error ? "failed" : "completed");
		values[4] = Int64GetDatum(point_id);
		nulls[4] = error != NULL;
		values[5] = error ? CStringGetTextDatum(error) : (Datum) 0;
		nulls[5] = error == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	vault_call_end(&call);
	return (Datum) 0;
}
