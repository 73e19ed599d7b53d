/*-------------------------------------------------------------------------
 * purge.c
 *	  Removing soft-deleted data when its time comes: vault_purge(now), and
 *	  the scheduler's purge with the real clock.
 *
 * Owns: what purge removes, vault by vault under the vault's exclusive lock
 * (store/removal.c: it waits for, or with skip_busy skips, vaults a backup
 * or restore holds, so no chunk a running backup references goes): the
 * soft-deleted points whose purge_at has come, except those a legal hold
 * keeps; then the soft-deleted items whose purge_at has come and that have
 * no point left; then, item by item, the chunks no remaining point uses.
 * Each item purged is a 'purge' job and an audit row.  Deciding what is
 * soft-deleted, and until when, is protection.c's and expiry.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_purge);

/* bytes of a point's manifest, counted as the chunk writer counts them */
#define PURGE_MANIFEST_BYTES_SQL \
	"(SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0) FROM vault_internal.manifests m " \
	" WHERE m.point_id = p.point_id)"

/* due: soft-deleted with purge_at come ($2), or any purge_at ($3: everything) */
#define PURGE_DUE_SQL "(p.state = 'soft-deleted' AND ($3 OR p.purge_at <= $2) AND NOT " POINT_HELD_SQL ")"

/*
 * Two days before soft-deleted data goes for good, an alert per item (one
 * while it stays open: the purge resolves it), while it can still be
 * undeleted.  Data a legal hold keeps is not coming up.
 */
static void
purge_warn_upcoming(VaultCall *call, VaultInfo *vault, TimestampTz now)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	uint64		i;
	int			ret;
	List	   *rows = NIL;
	ListCell   *lc;

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = TimestampTzGetDatum(now);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT i.name, count(p.point_id), min(coalesce(p.purge_at, i.purge_at)) "
								"FROM vault_internal.items i "
								"LEFT JOIN vault_internal.points p ON p.item_id = i.item_id AND p.state = 'soft-deleted' "
								"  AND NOT " POINT_HELD_SQL " "
								"WHERE i.vault_id = $1 AND coalesce(p.purge_at, CASE WHEN i.state = 'soft-deleted' "
								"  THEN i.purge_at END) BETWEEN $2 AND $2 + interval '2 days' "
								"GROUP BY i.name ORDER BY i.name",
								2, types, values, NULL, true, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list what vault \"%s\" will purge", vault->name);
	for (i = 0; i < SPI_processed; i++)
		rows = lappend(rows, list_make3(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
										SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2),
										SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3)));
	foreach(lc, rows)
	{
		List	   *r = lfirst(lc);

		alert_raise(call, vault->vault_id, linitial(r), "upcoming purge",
					psprintf("%s soft-deleted recovery point(s) of item %s in vault %s will be purged for good from %s: "
							 "undelete them before, or they are gone",
							 (char *) lsecond(r), (char *) linitial(r), vault->name, (char *) lthird(r)),
					now);
	}
}

/*
 * Purge one vault at 'now' ('all': whatever the purge_at).  Emits a row per
 * item from which something was removed.  False if skip_busy and the vault
 * was busy.
 */
bool
purge_vault(VaultCall *call, VaultInfo *vault, TimestampTz now, bool all, bool skip_busy,
			const char *trigger, PurgeEmit emit, void *arg)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, BOOLOID};
	Datum		values[3];
	int			ret;
	uint64		i;
	List	   *items = NIL;
	ListCell   *lc;

	if (!vault_lock_exclusive(call, vault->vault_id, skip_busy))
		return false;
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = TimestampTzGetDatum(now);
	values[2] = BoolGetDatum(all);
	if (call->catalog >= VAULT_CATALOG_1_1)
		purge_warn_upcoming(call, vault, now);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT i.item_id, i.name FROM vault_internal.items i "
								"WHERE i.vault_id = $1 AND ("
								"  EXISTS (SELECT 1 FROM vault_internal.points p "
								"          WHERE p.item_id = i.item_id AND " PURGE_DUE_SQL ") "
								"  OR (i.state = 'soft-deleted' AND ($3 OR i.purge_at <= $2))) "
								"ORDER BY i.item_id",
								3, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list what vault \"%s\" has to purge", vault->name);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		ItemInfo   *item = palloc0(sizeof(ItemInfo));

		item->item_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		item->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		items = lappend(items, item);
	}
	if (items != NIL)
	{
		progress_begin(vault, NULL, "purge", "deleting points");
		progress_totals(list_length(items), 0);
	}

	foreach(lc, items)
	{
		ItemInfo   *item = lfirst(lc);
		Oid			itypes[4] = {INT8OID, TIMESTAMPTZOID, BOOLOID, INT8OID};
		Datum		ivalues[4];
		int64		points;
		int64		item_gone;
		int64		chunks;
		int64		freed;
		JobInfo		job = {0};
		JobOutcome	out = {0};

		ivalues[0] = values[0];
		ivalues[1] = values[1];
		ivalues[2] = values[2];
		ivalues[3] = Int64GetDatum(item->item_id);
		job.vault_id = vault->vault_id;
		job.vault_name = vault->name;
		job.item_id = item->item_id;
		job.item_name = item->name;
		job.operation = "purge";
		job.trigger = trigger;
		job.run_as = call->caller;
		job.started_at = GetCurrentTimestamp();

		vault_as_owner(call);
		freed = spi_int64("SELECT coalesce(sum(" PURGE_MANIFEST_BYTES_SQL "), 0)::bigint "
						  "FROM vault_internal.points p WHERE p.item_id = $4 AND " PURGE_DUE_SQL,
						  4, itypes, ivalues, NULL);
		points = spi_int64("WITH d AS (DELETE FROM vault_internal.points p "
						   "  WHERE p.item_id = $4 AND " PURGE_DUE_SQL " RETURNING 1) "
						   "SELECT count(*) FROM d", 4, itypes, ivalues, NULL);
		item_gone = spi_int64("WITH d AS (DELETE FROM vault_internal.items i "
							  "  WHERE i.item_id = $4 AND i.state = 'soft-deleted' AND ($3 OR i.purge_at <= $2) "
							  "    AND NOT EXISTS (SELECT 1 FROM vault_internal.points p WHERE p.item_id = i.item_id) "
							  "  RETURNING 1) SELECT count(*) FROM d", 4, itypes, ivalues, NULL);
		vault_as_caller(call);
		if (points == 0 && item_gone == 0)
		{
			progress_table_done();
			continue;			/* a legal hold keeps all that was due */
		}
		progress_phase("collecting chunks");
		chunks = chunks_remove_unreferenced(call, vault->vault_id, &freed);
		progress_table(freed, 0, 0);
		progress_table_done();
		progress_phase("deleting points");

		out.rows = points;
		out.freed_bytes = freed;
		(void) job_record(call, &job, &out);
		audit_record(call, vault, item->name, "purge",
					 psprintf("%lld recovery point(s)%s purged, %lld chunk(s) removed, %lld bytes freed",
							  (long long) points, item_gone > 0 ? " and the item" : "",
							  (long long) chunks, (long long) freed));
		alert_raise(call, vault->vault_id, item->name, "purge complete",
					psprintf("%lld recovery point(s)%s of item %s in vault %s purged for good, %lld bytes freed",
							 (long long) points, item_gone > 0 ? " and the item" : "", item->name, vault->name,
							 (long long) freed),
					now);
		alert_resolve(call, vault->vault_id, item->name, "upcoming purge", now);
		if (emit)
			emit(arg, vault->name, item->name, points, chunks, freed);
	}
	if (items != NIL)
		progress_end();
	return true;
}

/*
 * Every vault in turn (skip_busy: vaults a backup or restore holds wait for
 * the next round; listing them takes no lock, so a busy one is not waited for).
 */
static void
purge_all(VaultCall *call, TimestampTz now, bool skip_busy, const char *trigger,
		  PurgeEmit emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, vault_list_all(call))
		(void) purge_vault(call, lfirst(lc), now, false, skip_busy, trigger, emit, arg);
}

static void
emit_purge_row(void *arg, const char *vault, const char *item, int64 points, int64 chunks,
			   int64 freed)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[5];
	bool		nulls[5] = {0};

	values[0] = CStringGetTextDatum(vault);
	values[1] = CStringGetTextDatum(item);
	values[2] = Int64GetDatum(points);
	values[3] = Int64GetDatum(chunks);
	values[4] = Int64GetDatum(freed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* vault_purge(now) -> a row per item purged */
Datum
vault_purge(PG_FUNCTION_ARGS)
{
	TimestampTz now = vault_arg_now(fcinfo);
	VaultCall	call;

	InitMaterializedSRF(fcinfo, 0);
	/* failures that rolled back with their callers, raised first */
	failures_round(now);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "purging soft-deleted data");
	purge_all(&call, now, false, "on-demand", emit_purge_row, fcinfo->resultinfo);
	vault_call_end(&call);
	return (Datum) 0;
}

/* The scheduler's purge: real clock, busy vaults left for the next round. */
void
purge_apply(TimestampTz now)
{
	VaultCall	call;

	vault_call_begin(&call);
	if (call.catalog >= VAULT_CATALOG_1_1)
		purge_all(&call, now, true, "scheduled", NULL, NULL);
	vault_call_end(&call);
}
