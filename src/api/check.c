/*-------------------------------------------------------------------------
 * check.c
 *	  vault_check(vault): the figures the vault maintains as it changes,
 *	  recounted from the storage tables and compared.
 *
 * Owns who may run it (a contributor on the vault), which figures there
 * are and how each is recounted: the chunks and their stored bytes, the
 * manifests' bytes (as the ledger has them, and as the points keep them
 * for their deletion), the points and their logical bytes (store/usage.c
 * keeps them), each item's point count and its share of the chunks (a
 * figure of the items whose kept figure differs), and the collection
 * queue's promise that every chunk no point needs is queued.  It changes
 * nothing but bringing the shares up to date (share_sync, as a report
 * refresh does first): a drift is reported, with both figures, and the
 * views go on showing the maintained one.  Also the
 * counted figures vault_vaults shows for a replicated vault, which has no
 * ledger (its points come from its primary).
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_check);
PG_FUNCTION_INFO_V1(vault_counted_figures);

/* one row per figure: (figure, maintained, recounted), in this order */
#define CHECK_SQL \
	"WITH u AS (SELECT coalesce(sum(chunks), 0)::bigint AS chunks, " \
	"                  coalesce(sum(chunk_bytes), 0)::bigint AS chunk_bytes, " \
	"                  coalesce(sum(manifest_bytes), 0)::bigint AS manifest_bytes, " \
	"                  coalesce(sum(points), 0)::bigint AS points, " \
	"                  coalesce(sum(logical_bytes), 0)::bigint AS logical_bytes " \
	"           FROM vault_internal.vault_usage WHERE vault_id = $1), " \
	"c AS (SELECT count(*) AS chunks, coalesce(sum(stored_len), 0)::bigint AS bytes " \
	"      FROM vault_internal.chunks WHERE vault_id = $1), " \
	"p AS (SELECT count(*) AS points, coalesce(sum(logical_bytes), 0)::bigint AS logical_bytes, " \
	"             coalesce(sum(manifest_bytes), 0)::bigint AS manifest_bytes " \
	"      FROM vault_internal.points WHERE vault_id = $1), " \
	"m AS (SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0)::bigint AS bytes " \
	"      FROM vault_internal.manifests m JOIN vault_internal.points p USING (point_id) " \
	"      WHERE p.vault_id = $1), " \
	"used AS (SELECT DISTINCT r.chunk_no FROM vault_internal.manifests m " \
	"         JOIN vault_internal.points p USING (point_id), LATERAL unnest(m.chunk_nos) AS r(chunk_no) " \
	"         WHERE p.vault_id = $1), " \
	"needed AS (SELECT chunk_no FROM used UNION " \
	"           SELECT c.base_no FROM vault_internal.chunks c JOIN used USING (chunk_no) " \
	"           WHERE c.base_no IS NOT NULL), " \
	"lost AS (SELECT count(*) AS n FROM vault_internal.chunks c WHERE c.vault_id = $1 " \
	"         AND NOT EXISTS (SELECT 1 FROM needed n WHERE n.chunk_no = c.chunk_no) " \
	"         AND NOT EXISTS (SELECT 1 FROM vault_internal.collect_queue q " \
	"                         WHERE q.vault_id = $1 AND q.chunk_no = c.chunk_no)), " \
	"ip AS (SELECT count(*) AS n FROM vault_internal.items i WHERE i.vault_id = $1 " \
	"       AND (SELECT coalesce(sum(u.points), 0) FROM vault_internal.item_usage u " \
	"            WHERE u.item_id = i.item_id) " \
	"           <> (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id)), " \
	"refs AS (SELECT DISTINCT p.item_id, r.chunk_no FROM vault_internal.manifests m " \
	"         JOIN vault_internal.points p USING (point_id), LATERAL unnest(m.chunk_nos) AS r(chunk_no) " \
	"         WHERE p.vault_id = $1), " \
	"item_refs AS (SELECT item_id, chunk_no FROM refs UNION " \
	"              SELECT r.item_id, c.base_no FROM refs r JOIN vault_internal.chunks c USING (chunk_no) " \
	"              WHERE c.base_no IS NOT NULL), " \
	"shares AS (SELECT r.item_id, sum(c.stored_len / r.n " \
	"                  + CASE WHEN r.k <= c.stored_len % r.n THEN 1 ELSE 0 END) AS bytes " \
	"           FROM (SELECT item_id, chunk_no, count(*) OVER (PARTITION BY chunk_no) AS n, " \
	"                        row_number() OVER (PARTITION BY chunk_no ORDER BY item_id) AS k " \
	"                 FROM item_refs) r JOIN vault_internal.chunks c USING (chunk_no) " \
	"           GROUP BY r.item_id), " \
	"kept AS (SELECT s.item_id, s.bytes FROM vault_internal.item_shares s " \
	"         JOIN vault_internal.items i USING (item_id) WHERE i.vault_id = $1), " \
	"ish AS (SELECT count(*) AS n FROM shares FULL JOIN kept USING (item_id) " \
	"        WHERE coalesce(shares.bytes, 0) <> coalesce(kept.bytes, 0)) " \
	"SELECT f.figure, f.maintained, f.recounted FROM u, c, p, m, lost, ip, ish, LATERAL (VALUES " \
	"  (1, 'chunks', u.chunks, c.chunks), " \
	"  (2, 'chunk bytes', u.chunk_bytes, c.bytes), " \
	"  (3, 'manifest bytes', u.manifest_bytes, m.bytes), " \
	"  (4, 'manifest bytes kept on the points', p.manifest_bytes, m.bytes), " \
	"  (5, 'recovery points', u.points, p.points), " \
	"  (6, 'logical bytes', u.logical_bytes, p.logical_bytes), " \
	"  (7, 'chunks no point needs, not queued for collection', 0::bigint, lost.n), " \
	"  (8, 'items whose kept point count differs from a recount', 0::bigint, ip.n), " \
	"  (9, 'items whose kept share of the chunks differs from a recount', 0::bigint, ish.n)) " \
	"  AS f(ord, figure, maintained, recounted) ORDER BY f.ord"

/* vault_check(vault) -> (figure, maintained, recounted, ok) */
Datum
vault_check(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "vault");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	VaultCall	call;
	VaultInfo  *vault;
	int			ret;

	InitMaterializedSRF(fcinfo, 0);
	vault_call_begin(&call);
	vault = vault_lookup(&call, name);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "checking its figures");
	if (vault->replica)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" is a replica of a geo vault: its figures are counted, not maintained",
						vault->name),
				 errhint("Check the vault on its primary.")));

	values[0] = Int64GetDatum(vault->vault_id);
	vault_as_owner(&call);
	/* the items' shares, brought up to date with the points since */
	if (SPI_execute("SELECT vault_internal.share_sync()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not bring the items' shares of the chunks up to date");
	ret = SPI_execute_with_args(CHECK_SQL, 1, types, values, NULL, false, 0);
	vault_as_caller(&call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not recount the figures of vault \"%s\"", vault->name);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		row[4];
		bool		nulls[4] = {false, false, false, false};
		bool		isnull;
		int64		maintained = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		int64		recounted = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));

		row[0] = CStringGetTextDatum(SPI_getvalue(tup, desc, 1));
		row[1] = Int64GetDatum(maintained);
		row[2] = Int64GetDatum(recounted);
		row[3] = BoolGetDatum(maintained == recounted);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	vault_call_end(&call);
	return (Datum) 0;
}

/*
 * vault_internal.counted_figures(vault_id) -> {points, logical bytes,
 * stored bytes, chunks} counted, for vault_vaults' rows of replicated
 * vaults; NULL for a vault the caller holds no level on.  A function (of
 * small cost to the planner) rather than subqueries in the view, so that a
 * plan of the view is not priced as a walk over every chunk (which made
 * PostgreSQL compile it with JIT: 25 ms a read at 2 million chunks).
 */
Datum
vault_counted_figures(PG_FUNCTION_ARGS)
{
	int64		vault_id = PG_GETARG_INT64(0);
	Oid			user = GetUserId();
	MemoryContext fn_cxt = CurrentMemoryContext;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	Datum		figures[4];
	VaultCall	call;
	ArrayType  *result;
	bool		visible;
	bool		isnull;
	int			ret;

	vault_call_begin(&call);
	values[0] = Int64GetDatum(vault_id);
	values[1] = ObjectIdGetDatum(user);

	/* as vault_internal.can_see decides, without locking the vault's row */
	visible = vault_global_level(user) >= VAULT_READER;
	if (!visible)
	{
		vault_as_owner(&call);
		ret = SPI_execute_with_args("SELECT pg_catalog.pg_has_role($2, v.owner, 'USAGE') "
									"  OR EXISTS (SELECT 1 FROM vault_internal.grants g WHERE g.vault_id = v.vault_id "
									"             AND pg_catalog.pg_has_role($2, g.role, 'USAGE')) "
									"FROM vault_internal.vaults v WHERE v.vault_id = $1",
									2, types, values, NULL, true, 1);
		vault_as_caller(&call);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read vault %lld", (long long) vault_id);
		visible = SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (!visible)
	{
		vault_call_end(&call);
		PG_RETURN_NULL();
	}
	vault_as_owner(&call);
	ret = SPI_execute_with_args("SELECT (SELECT count(*) FROM vault_internal.points p WHERE p.vault_id = $1), "
								"  (SELECT coalesce(sum(p.logical_bytes), 0) FROM vault_internal.points p "
								"   WHERE p.vault_id = $1)::bigint, "
								"  ((SELECT coalesce(sum(c.stored_len), 0) FROM vault_internal.chunks c "
								"    WHERE c.vault_id = $1) "
								"   + (SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0) "
								"      FROM vault_internal.manifests m JOIN vault_internal.points p USING (point_id) "
								"      WHERE p.vault_id = $1))::bigint, "
								"  (SELECT count(*) FROM vault_internal.chunks c WHERE c.vault_id = $1)",
								1, types, values, NULL, true, 1);
	vault_as_caller(&call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the figures of vault %lld", (long long) vault_id);
	for (int i = 0; i < 4; i++)
	{
		figures[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(fn_cxt);

		result = construct_array(figures, 4, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
		MemoryContextSwitchTo(old);
	}
	vault_call_end(&call);
	PG_RETURN_ARRAYTYPE_P(result);
}
