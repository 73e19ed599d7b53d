/*-------------------------------------------------------------------------
 * expiry.c
 *	  Retention and expiry: every point's expiry date, deleting expired
 *	  points and the chunks no point references any more.  SQL entry point
 *	  vault_apply_retention(now); the scheduler calls the same code with the
 *	  real clock.
 *
 * Owns: computing each scheduled point's expires_at from its item's policy
 * (dated by the slot the point serves, in the policy's time zone); deleting
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

/*
 * Recompute expires_at of the scheduled points of one item from its
 * policy's retention rule, in the policy's time zone.  A point no rule
 * selects expires at its own time (the next retention run removes it).
 */
void
expiry_refresh_item(VaultCall *call, int64 item_id)
{
	Oid			types[3] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		values[3];
	VaultRetention rule;
	pg_tz	   *tz;
	char	   *rtext;
	char	   *tzname;
	int			ret;
	int			n;
	int			i;
	int64	   *ids;
	TimestampTz *times;
	RetentionKeep *keep;
	Datum	   *id_d;
	Datum	   *exp_d;

	values[0] = Int64GetDatum(item_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT po.retention, po.timezone FROM vault_internal.items i "
								"JOIN vault_internal.policies po USING (policy_id) WHERE i.item_id = $1",
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the policy of item %lld", (long long) item_id);
	if (SPI_processed == 0)
		return;					/* no policy: on-demand points keep their retain_until */
	rtext = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	tzname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	policy_parse_retention(rtext, strlen(rtext), &rule);
	tz = policy_timezone(tzname);

	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT point_id, coalesce(scheduled_for, created_at) FROM vault_internal.points "
								"WHERE item_id = $1 AND trigger = 'scheduled' AND state = 'available'",
								1, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the points of item %lld", (long long) item_id);
	n = (int) SPI_processed;
	if (n == 0)
		return;
	ids = palloc(sizeof(int64) * n);
	times = palloc(sizeof(TimestampTz) * n);
	keep = palloc0(sizeof(RetentionKeep) * n);
	id_d = palloc(sizeof(Datum) * n);
	exp_d = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		times[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	policy_retention_keep(&rule, times, n, tz, keep);
	for (i = 0; i < n; i++)
	{
		id_d[i] = Int64GetDatum(ids[i]);
		exp_d[i] = TimestampTzGetDatum(keep[i].rules ?
									   policy_instant_of(&keep[i].until, tz) + policy_subsecond(times[i]) :
									   times[i]);
	}
	values[1] = PointerGetDatum(construct_array(id_d, n, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(exp_d, n, TIMESTAMPTZOID, sizeof(TimestampTz), true,
												TYPALIGN_DOUBLE));
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.points p SET expires_at = v.e "
					 "FROM unnest($2::bigint[], $3::timestamptz[]) v(id, e) "
					 "WHERE p.point_id = v.id AND p.item_id = $1 "
					 "AND p.expires_at IS DISTINCT FROM v.e",
					 3, types, values, NULL);
	vault_as_caller(call);
}

/* ---- deleting points and chunks ---- */

/*
 * Take the vault's row exclusively: waits until no backup, restore or
 * verify holds it (they share-lock it), and keeps new ones out until this
 * transaction ends.  Refused under a transaction snapshot, where later
 * statements would not see what a backup committed while we waited.
 */
static bool
lock_vault_exclusive(VaultCall *call, int64 vault_id, bool skip_busy)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		got;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("deleting backup data must run in a READ COMMITTED transaction"),
				 errdetail("Under REPEATABLE READ or SERIALIZABLE the vault cannot see chunks that "
						   "concurrent backups reference.")));
	values[0] = Int64GetDatum(vault_id);
	vault_as_owner(call);
	got = spi_int64(skip_busy ?
					"SELECT vault_id FROM vault_internal.vaults WHERE vault_id = $1 FOR NO KEY UPDATE SKIP LOCKED" :
					"SELECT vault_id FROM vault_internal.vaults WHERE vault_id = $1 FOR NO KEY UPDATE",
					1, types, values, NULL);
	vault_as_caller(call);
	return got == vault_id;
}

/*
 * Remove the vault's chunks that no manifest of any of its points
 * references.  Call with the vault locked exclusively.  Returns the number
 * removed and adds their stored bytes to *freed.
 */
static int64
remove_unreferenced_chunks(VaultCall *call, int64 vault_id, int64 *freed)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	int64		n = 0;

	values[0] = Int64GetDatum(vault_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("WITH referenced AS ("
								"  SELECT DISTINCT r.chunk_no FROM vault_internal.manifests m "
								"  JOIN vault_internal.points p USING (point_id), "
								"  LATERAL unnest(m.chunk_nos) AS r(chunk_no) WHERE p.vault_id = $1), "
								"gone AS (DELETE FROM vault_internal.chunks c WHERE c.vault_id = $1 "
								"  AND NOT EXISTS (SELECT 1 FROM referenced r WHERE r.chunk_no = c.chunk_no) "
								"  RETURNING c.stored_len) "
								"SELECT count(*), coalesce(sum(stored_len), 0)::bigint FROM gone",
								1, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not remove unreferenced chunks");
	{
		bool		isnull;

		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*freed += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	return n;
}

/* bytes of a point's manifest, counted as the chunk writer counts them */
#define MANIFEST_BYTES_SQL \
	"(SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0) FROM vault_internal.manifests m " \
	" WHERE m.point_id = p.point_id)"

/*
 * vault_unprotect(..., delete_data => true): the item's points, its row,
 * and the chunks only it referenced, recorded as a 'delete' job.
 */
void
expiry_delete_item(VaultCall *call, VaultInfo *vault, int64 item_id, const char *item_name)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		points;
	int64		freed = 0;
	JobInfo		job = {0};
	JobOutcome	out = {0};

	(void) lock_vault_exclusive(call, vault->vault_id, false);
	job.vault_id = vault->vault_id;
	job.vault_name = vault->name;
	job.item_id = item_id;
	job.item_name = item_name;
	job.operation = "delete";
	job.trigger = "on-demand";
	job.run_as = call->caller;
	job.started_at = GetCurrentTimestamp();

	values[0] = Int64GetDatum(item_id);
	vault_as_owner(call);
	freed = spi_int64("SELECT coalesce(sum(" MANIFEST_BYTES_SQL "), 0)::bigint "
					  "FROM vault_internal.points p WHERE p.item_id = $1", 1, types, values, NULL);
	points = spi_int64("WITH d AS (DELETE FROM vault_internal.points WHERE item_id = $1 RETURNING 1) "
					   "SELECT count(*) FROM d", 1, types, values, NULL);
	(void) spi_int64("DELETE FROM vault_internal.items WHERE item_id = $1", 1, types, values, NULL);
	vault_as_caller(call);
	(void) remove_unreferenced_chunks(call, vault->vault_id, &freed);
	out.rows = points;
	out.freed_bytes = freed;
	(void) job_record(call, &job, &out);
}

typedef struct RetentionTotals
{
	int64		examined;
	int64		expired;
	int64		chunks_removed;
	int64		freed;
} RetentionTotals;

/*
 * One vault's retention run: refresh every policy item's expiries, delete
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

	memset(tot, 0, sizeof(*tot));
	job.vault_id = vault_id;
	job.vault_name = vault_name;
	job.operation = "retention";
	job.trigger = trigger;
	job.run_as = call->caller;
	job.started_at = GetCurrentTimestamp();

	if (!lock_vault_exclusive(call, vault_id, skip_busy))
		return false;
	values[0] = Int64GetDatum(vault_id);
	values[1] = TimestampTzGetDatum(now);
	items = spi_int64_array(call, "SELECT item_id FROM vault_internal.items "
							"WHERE vault_id = $1 AND policy_id IS NOT NULL ORDER BY item_id",
							1, types, values, &nitems);
	for (i = 0; i < nitems; i++)
		expiry_refresh_item(call, items[i]);

	/* the expired points: one expiry job each, recorded before they go */
	vault_as_owner(call);
	tot->examined = spi_int64("SELECT count(*) FROM vault_internal.points WHERE vault_id = $1",
							  1, types, values, NULL);
	ret = SPI_execute_with_args("WITH expired AS ("
								"  SELECT p.point_id, p.item_id, i.name AS item_name, p.rows, p.logical_bytes, "
								"         " MANIFEST_BYTES_SQL " AS manifest_bytes "
								"  FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
								"  WHERE p.vault_id = $1 AND p.state = 'available' AND ("
								"    (p.trigger = 'scheduled' AND p.expires_at <= $2 "
								"     AND (p.retain_until IS NULL OR p.retain_until <= $2)) "
								"    OR (p.trigger = 'on-demand' AND p.retain_until <= $2))), "
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
		tot->chunks_removed = remove_unreferenced_chunks(call, vault_id, &tot->freed);

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
	int			ret;
	uint64		i;
	List	   *vaults = NIL;
	ListCell   *lc;

	vault_as_owner(call);
	ret = SPI_execute("SELECT vault_id, name FROM vault_internal.vaults ORDER BY vault_id", false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the vaults");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		VaultInfo  *v = palloc0(sizeof(VaultInfo));

		v->vault_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		v->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		vaults = lappend(vaults, v);
	}
	foreach(lc, vaults)
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
