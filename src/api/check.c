/*-------------------------------------------------------------------------
 * check.c
 *	  vault_check(vault): the figures the vault maintains as it changes,
 *	  recounted from the storage tables and compared.
 *
 * Owns who may run it (a contributor on the vault), which figures there
 * are and how each is recounted: the chunks and their stored bytes, the
 * manifests' bytes (as the ledger has them, and as the points keep them
 * for their deletion), the points and their logical bytes (store/usage.c
 * keeps them), and the collection queue's promise that every chunk no
 * point needs is queued.  It changes nothing: a drift is reported, with
 * both figures, and the views go on showing the maintained one.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_check);

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
	"                         WHERE q.vault_id = $1 AND q.chunk_no = c.chunk_no)) " \
	"SELECT f.figure, f.maintained, f.recounted FROM u, c, p, m, lost, LATERAL (VALUES " \
	"  (1, 'chunks', u.chunks, c.chunks), " \
	"  (2, 'chunk bytes', u.chunk_bytes, c.bytes), " \
	"  (3, 'manifest bytes', u.manifest_bytes, m.bytes), " \
	"  (4, 'manifest bytes kept on the points', p.manifest_bytes, m.bytes), " \
	"  (5, 'recovery points', u.points, p.points), " \
	"  (6, 'logical bytes', u.logical_bytes, p.logical_bytes), " \
	"  (7, 'chunks no point needs, not queued for collection', 0::bigint, lost.n)) " \
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
	ret = SPI_execute_with_args(CHECK_SQL, 1, types, values, NULL, true, 0);
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
