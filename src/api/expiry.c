/*-------------------------------------------------------------------------
 * expiry.c
 *	  Retention and expiry: every point's expiry date, deleting expired
 *	  points and the chunks no point references any more.  SQL entry point
 *	  vault_apply_retention(now); the scheduler calls the same code with the
 *	  real clock.
 *
 * Owns: computing each scheduled point's expires_at from its item's policy
 * (dated by the slot the point serves, in the policy's time zone), when the
 * item's points or policy change (1.1: vault_internal.expiry_stale lists
 * the items whose points changed since; a 1.0 catalog recomputes every
 * item at every retention run); deleting
 * points (an expiry job each) and an item's data on request; removing
 * unreferenced chunks under the vault's exclusive row lock, which waits for
 * every backup, restore and verify holding the vault (they share-lock its
 * row), so a chunk a running backup has just referenced is never removed.
 * Running backups is periodic.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_apply_retention);

/* ---- retention: every point's expiry ---- */

/* the expiries of an item's available scheduled points, now and under a rule */
typedef struct ItemExpiries
{
	int			n;
	int64	   *ids;
	TimestampTz *current;		/* 0: none yet */
	TimestampTz *computed;
} ItemExpiries;

/*
 * Compute what the retention rule 'rtext' in zone 'tzname' (NULL: the
 * item's policy's) gives each available scheduled point of the item.  A
 * point no rule selects expires at its own time (the next retention run
 * removes it).  False if the item has no policy.
 */
static bool
expiry_compute(VaultCall *call, int64 item_id, const char *rtext, const char *tzname, ItemExpiries *e)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	VaultRetention rule;
	pg_tz	   *tz;
	int			ret;
	int			i;
	TimestampTz *times;
	RetentionKeep *keep;

	memset(e, 0, sizeof(*e));
	values[0] = Int64GetDatum(item_id);
	if (rtext == NULL || tzname == NULL)
	{
		vault_as_owner(call);
		ret = SPI_execute_with_args("SELECT po.retention, po.timezone FROM vault_internal.items i "
									"JOIN vault_internal.policies po USING (policy_id) WHERE i.item_id = $1",
									1, types, values, NULL, false, 1);
		vault_as_caller(call);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read the policy of item %lld", (long long) item_id);
		if (SPI_processed == 0)
			return false;		/* no policy: on-demand points keep their retain_until */
		if (rtext == NULL)
			rtext = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (tzname == NULL)
			tzname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	policy_parse_retention(rtext, strlen(rtext), &rule);
	tz = policy_timezone(tzname);

	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT point_id, coalesce(scheduled_for, created_at), expires_at "
								"FROM vault_internal.points "
								"WHERE item_id = $1 AND trigger = 'scheduled' AND state = 'available'",
								1, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the points of item %lld", (long long) item_id);
	e->n = (int) SPI_processed;
	e->ids = palloc(sizeof(int64) * Max(e->n, 1));
	e->current = palloc0(sizeof(TimestampTz) * Max(e->n, 1));
	e->computed = palloc(sizeof(TimestampTz) * Max(e->n, 1));
	times = palloc(sizeof(TimestampTz) * Max(e->n, 1));
	keep = palloc0(sizeof(RetentionKeep) * Max(e->n, 1));
	for (i = 0; i < e->n; i++)
	{
		bool		isnull;
		Datum		cur;

		e->ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		times[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		cur = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);
		e->current[i] = isnull ? 0 : DatumGetTimestampTz(cur);
	}
	if (e->n > 0)
		policy_retention_keep(&rule, times, e->n, tz, keep);
	for (i = 0; i < e->n; i++)
		e->computed[i] = keep[i].rules ?
			policy_instant_of(&keep[i].until, tz) + policy_subsecond(times[i]) : times[i];
	return true;
}

/*
 * Whether the retention rule 'rtext' in zone 'tzname' would make any
 * available point of the item expire earlier than it does now.
 */
bool
expiry_would_shorten(VaultCall *call, int64 item_id, const char *rtext, const char *tzname)
{
	ItemExpiries e;
	int			i;

	if (!expiry_compute(call, item_id, rtext, tzname, &e))
		return false;
	for (i = 0; i < e.n; i++)
		if (e.current[i] != 0 && e.computed[i] < e.current[i])
			return true;
	return false;
}

/*
 * Recompute expires_at of the scheduled points of one item from its
 * policy's retention rule, in the policy's time zone.  'retention_changed':
 * the rule or zone the points live by has just changed (policy altered, item
 * moved); a point whose expiry that moves earlier remembers the later one
 * (promised_until), so that when the earlier one comes it is soft-deleted,
 * not deleted.  Ordinary refreshes (new points, a retention run) only move
 * expiries as the same rule says.
 */
void
expiry_refresh_item(VaultCall *call, int64 item_id, bool retention_changed)
{
	Oid			types[4] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, BOOLOID};
	Datum		values[4];
	ItemExpiries e;
	Datum	   *id_d;
	Datum	   *exp_d;
	int			i;

	values[0] = Int64GetDatum(item_id);
	if (call->catalog >= VAULT_CATALOG_1_1)
	{
		/* computed now: the next retention run need not (unless points change) */
		vault_as_owner(call);
		(void) spi_int64("DELETE FROM vault_internal.expiry_stale WHERE item_id = $1",
						 1, types, values, NULL);
		vault_as_caller(call);
	}
	if (!expiry_compute(call, item_id, NULL, NULL, &e) || e.n == 0)
		return;
	id_d = palloc(sizeof(Datum) * e.n);
	exp_d = palloc(sizeof(Datum) * e.n);
	for (i = 0; i < e.n; i++)
	{
		id_d[i] = Int64GetDatum(e.ids[i]);
		exp_d[i] = TimestampTzGetDatum(e.computed[i]);
	}
	values[1] = PointerGetDatum(construct_array(id_d, e.n, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(exp_d, e.n, TIMESTAMPTZOID, sizeof(TimestampTz), true,
												TYPALIGN_DOUBLE));
	values[3] = BoolGetDatum(retention_changed);
	vault_as_owner(call);
	if (call->catalog >= VAULT_CATALOG_1_1)
		(void) spi_int64("UPDATE vault_internal.points p SET expires_at = v.e, "
						 "  promised_until = CASE WHEN $4 THEN greatest(p.promised_until, p.expires_at) "
						 "                        ELSE p.promised_until END "
						 "FROM unnest($2::bigint[], $3::timestamptz[]) v(id, e) "
						 "WHERE p.point_id = v.id AND p.item_id = $1 "
						 "AND p.expires_at IS DISTINCT FROM v.e",
						 4, types, values, NULL);
	else
		(void) spi_int64("UPDATE vault_internal.points p SET expires_at = v.e "
						 "FROM unnest($2::bigint[], $3::timestamptz[]) v(id, e) "
						 "WHERE p.point_id = v.id AND p.item_id = $1 "
						 "AND p.expires_at IS DISTINCT FROM v.e",
						 3, types, values, NULL);
	vault_as_caller(call);
}

/* ---- deleting points and chunks ---- */

/*
 * What retention may take (1.1): not a point on an active legal hold, nor
 * one undeleted after its expiry (kept until its item is protected again).
 */
#define RETENTION_MAY_TAKE_SQL "NOT p.kept_until_protected AND NOT " POINT_HELD_SQL

/* bytes of a point's manifest, counted as the chunk writer counts them */
#define MANIFEST_BYTES_SQL \
	"(SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0) FROM vault_internal.manifests m " \
	" WHERE m.point_id = p.point_id)"

/*
 * Deleting now what a caller deletes (soft delete off, or a database still
 * at 1.0): one point (point_id), or an item with all its points (point_id
 * 0), and the chunks only they referenced, recorded as a 'delete' job.
 */
void
expiry_delete_now(VaultCall *call, VaultInfo *vault, int64 item_id, const char *item_name,
				  int64 point_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];
	int64		points;
	int64		freed = 0;
	JobInfo		job = {0};
	JobOutcome	out = {0};

	(void) vault_lock_exclusive(call, vault->vault_id, false);
	job.vault_id = vault->vault_id;
	job.vault_name = vault->name;
	job.item_id = item_id;
	job.item_name = item_name;
	job.operation = "delete";
	job.trigger = "on-demand";
	job.run_as = call->caller;
	job.started_at = GetCurrentTimestamp();

	values[0] = Int64GetDatum(item_id);
	values[1] = Int64GetDatum(point_id);
	vault_as_owner(call);
	freed = spi_int64("SELECT coalesce(sum(" MANIFEST_BYTES_SQL "), 0)::bigint "
					  "FROM vault_internal.points p WHERE p.item_id = $1 AND ($2 = 0 OR p.point_id = $2)",
					  2, types, values, NULL);
	points = spi_int64("WITH d AS (DELETE FROM vault_internal.points "
					   "  WHERE item_id = $1 AND ($2 = 0 OR point_id = $2) RETURNING 1) "
					   "SELECT count(*) FROM d", 2, types, values, NULL);
	if (point_id == 0)
		(void) spi_int64("DELETE FROM vault_internal.items WHERE item_id = $1", 1, types, values, NULL);
	vault_as_caller(call);
	(void) chunks_remove_unreferenced(call, vault->vault_id, &freed);
	out.rows = points;
	out.recovery_point = point_id;
	out.freed_bytes = freed;
	(void) job_record(call, &job, &out);
}

typedef struct RetentionTotals
{
	int64		examined;
	int64		expired;
	int64		soft_deleted;	/* expiry moved earlier by a retention change */
	int64		chunks_removed;
	int64		freed;
} RetentionTotals;

/*
 * One vault's retention run: refresh the expiries of the policy items whose
 * points changed (every policy item's on a 1.0 catalog), delete
 * the points whose time has come (an expiry job each), then the chunks no
 * remaining point references (the retention job carries the totals).
 */
static bool
retention_run_vault(VaultCall *call, int64 vault_id, const char *vault_name, TimestampTz now,
					const char *trigger, bool skip_busy, RetentionTotals *tot)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	int			ret;
	int			i;
	int64	   *items;
	int			nitems;
	JobInfo		job = {0};
	JobOutcome	out = {0};
	int64		manifest_bytes = 0;
	bool		replica = false;

	memset(tot, 0, sizeof(*tot));
	job.vault_id = vault_id;
	job.vault_name = vault_name;
	job.operation = "retention";
	job.trigger = trigger;
	job.run_as = call->caller;
	job.started_at = GetCurrentTimestamp();

	if (!vault_lock_exclusive(call, vault_id, skip_busy))
		return false;
	usage_fold(call, vault_id);	/* the figures' ledger, while nothing adds to it */
	values[0] = Int64GetDatum(vault_id);
	if (call->catalog >= VAULT_CATALOG_1_1)
	{
		/*
		 * A replicated vault (on a geo vault's secondary) keeps each point
		 * until the expiry it arrived with (or a later one its primary
		 * sent) plus the vault's soft-delete days: the expiry test below
		 * runs that much earlier on the clock.  Its points have no policy
		 * here, and are never soft-deleted.
		 */
		int64		replica_days;

		vault_as_owner(call);
		replica_days = spi_int64("SELECT CASE WHEN replica THEN soft_delete_days ELSE -1 END "
								 "FROM vault_internal.vaults WHERE vault_id = $1", 1, types, values, NULL);
		vault_as_caller(call);
		if (replica_days >= 0)
		{
			now -= replica_days * USECS_PER_DAY;
			replica = true;
		}
	}
	values[1] = TimestampTzGetDatum(now);
	/* the expiries of the items whose points changed since they were computed */
	items = spi_int64_array(call, call->catalog >= VAULT_CATALOG_1_1 ?
							"SELECT i.item_id FROM vault_internal.items i "
							"JOIN vault_internal.expiry_stale s USING (item_id) "
							"WHERE i.vault_id = $1 AND i.policy_id IS NOT NULL ORDER BY i.item_id" :
							"SELECT item_id FROM vault_internal.items "
							"WHERE vault_id = $1 AND policy_id IS NOT NULL ORDER BY item_id",
							1, types, values, &nitems);
	for (i = 0; i < nitems; i++)
		expiry_refresh_item(call, items[i], false);

	/* the expired points: one expiry job each, recorded before they go */
	vault_as_owner(call);
	tot->examined = spi_int64("SELECT count(*) FROM vault_internal.points WHERE vault_id = $1",
							  1, types, values, NULL);
	if (call->catalog >= VAULT_CATALOG_1_1 && !replica)
	{
		/*
		 * Points whose expiry a retention change moved earlier are
		 * soft-deleted when it comes, for the vault's soft-delete days
		 * counted from this run's clock; the audit says so.
		 */
		tot->soft_deleted =
			spi_int64("WITH cut AS (UPDATE vault_internal.points p SET state = 'soft-deleted', "
					  "    purge_at = $2 + pg_catalog.make_interval(days => v.soft_delete_days) "
					  "  FROM vault_internal.vaults v "
					  "  WHERE v.vault_id = $1 AND p.vault_id = $1 AND v.soft_delete <> 'off' "
					  "    AND p.state = 'available' AND p.trigger = 'scheduled' AND p.expires_at <= $2 "
					  "    AND (p.retain_until IS NULL OR p.retain_until <= $2) "
					  "    AND p.promised_until IS NOT NULL AND p.expires_at < p.promised_until "
					  "    AND " RETENTION_MAY_TAKE_SQL " "
					  "  RETURNING p.point_id, p.item_id, p.expires_at, p.promised_until, p.purge_at), "
					  "audited AS (INSERT INTO vault_internal.audit (role, vault_id, vault_name, item, operation, detail) "
					  "  SELECT pg_catalog.pg_get_userbyid($3), $1, v.name, i.name, 'soft delete', "
					  "    pg_catalog.format('recovery point %s: a retention change moved its expiry from %s to %s; purge at %s', "
					  "      c.point_id, c.promised_until, c.expires_at, c.purge_at) "
					  "  FROM cut c JOIN vault_internal.items i USING (item_id), vault_internal.vaults v "
					  "  WHERE v.vault_id = $1 RETURNING 1) "
					  "SELECT count(*) FROM audited",
					  3, (Oid[]) {INT8OID, TIMESTAMPTZOID, OIDOID},
					  (Datum[]) {values[0], values[1], ObjectIdGetDatum(call->caller)}, NULL);
	}
	ret = SPI_execute_with_args(psprintf("WITH expired AS ("
										 "  SELECT p.point_id, p.item_id, i.name AS item_name, p.rows, p.logical_bytes, "
										 "         " MANIFEST_BYTES_SQL " AS manifest_bytes "
										 "  FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
										 "  WHERE p.vault_id = $1 AND p.state = 'available' AND ("
										 "    (p.trigger = 'scheduled' AND p.expires_at <= $2 "
										 "     AND (p.retain_until IS NULL OR p.retain_until <= $2)) "
										 "    OR (p.trigger = 'on-demand' AND p.retain_until <= $2)) %s), "
										 "jobs AS (INSERT INTO vault_internal.jobs (vault_id, vault_name, item_id, item_name, "
										 "  operation, trigger, state, run_as, started_at, ended_at, recovery_point, rows, "
										 "  logical_bytes, freed_bytes) "
										 "  SELECT $1, v.name, e.item_id, e.item_name, 'expiry', $3, 'completed', $4, "
										 "    pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp(), e.point_id, e.rows, "
										 "    e.logical_bytes, e.manifest_bytes "
										 "  FROM expired e, vault_internal.vaults v WHERE v.vault_id = $1 RETURNING 1), "
										 "gone AS (DELETE FROM vault_internal.points p USING expired e "
										 "  WHERE p.point_id = e.point_id RETURNING 1) "
										 "SELECT (SELECT count(*) FROM gone), "
										 "  (SELECT coalesce(sum(manifest_bytes), 0)::bigint FROM expired), "
										 "  (SELECT count(*) FROM jobs)",
										 call->catalog >= VAULT_CATALOG_1_1 ? "AND " RETENTION_MAY_TAKE_SQL : ""),
								4, (Oid[]) {INT8OID, TIMESTAMPTZOID, TEXTOID, OIDOID},
								(Datum[]) {values[0], values[1], CStringGetTextDatum(trigger),
								ObjectIdGetDatum(call->caller)},
								NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not expire points");
	{
		bool		isnull;

		tot->expired = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		manifest_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	tot->freed = manifest_bytes;
	if (tot->expired > 0)
		tot->chunks_removed = chunks_remove_unreferenced(call, vault_id, &tot->freed);

	/* a run that changed nothing leaves no job (the scheduler runs it every round) */
	if (tot->expired > 0 || tot->chunks_removed > 0)
	{
		out.rows = tot->expired;
		out.freed_bytes = tot->freed;
		(void) job_record(call, &job, &out);
	}
	return true;
}

/*
 * Retention over every vault, each under its own exclusive lock in turn
 * (skip_busy: vaults a backup or restore holds are left for the next run).
 * Emits one row per vault through the callback (may be NULL).
 */
typedef void (*RetentionEmit) (void *arg, const char *vault, RetentionTotals *tot);

static void
retention_run_all(VaultCall *call, TimestampTz now, const char *trigger, bool skip_busy,
				  RetentionEmit emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, vault_list_all(call))
	{
		VaultInfo  *v = lfirst(lc);
		RetentionTotals tot;

		if (retention_run_vault(call, v->vault_id, v->name, now, trigger, skip_busy, &tot) && emit)
			emit(arg, v->name, &tot);
	}
}

static void
emit_retention_row(void *arg, const char *vault, RetentionTotals *tot)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[5];
	bool		nulls[5] = {0};

	values[0] = CStringGetTextDatum(vault);
	values[1] = Int64GetDatum(tot->examined);
	values[2] = Int64GetDatum(tot->expired);
	values[3] = Int64GetDatum(tot->chunks_removed);
	values[4] = Int64GetDatum(tot->freed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* vault_apply_retention(now) -> one row per vault */
Datum
vault_apply_retention(PG_FUNCTION_ARGS)
{
	TimestampTz now = vault_arg_now(fcinfo);
	VaultCall	call;

	InitMaterializedSRF(fcinfo, 0);
	/* failures that rolled back with their callers, raised first */
	failures_round(now);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "applying retention");
	retention_run_all(&call, now, "on-demand", false, emit_retention_row, fcinfo->resultinfo);
	vault_call_end(&call);
	return (Datum) 0;
}

void
expiry_apply_retention(TimestampTz now)
{
	VaultCall	call;

	vault_call_begin(&call);
	retention_run_all(&call, now, "scheduled", true, NULL, NULL);
	vault_call_end(&call);
}
