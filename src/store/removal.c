/*-------------------------------------------------------------------------
 * removal.c
 *	  Taking data out of a vault safely: the vault's exclusive lock and the
 *	  collection of chunks no point references any more.
 *
 * Owns: the rule that makes removal safe against running backups (a backup,
 * restore or verify share-locks its vault's row; removal takes it exclusively,
 * so a chunk a running backup has just referenced is never removed), and the
 * chunk collection itself: 1.1 looks only at the chunks the deleted
 * manifests referenced (queued by a trigger on manifests), 1.0 at all; and
 * 1.1 then brings the items' kept shares of the chunks up to date
 * (share_sync, unless a run of it holds the lock: a deletion never waits
 * for a report refresh), consuming what the same deletions recorded for
 * them, so that neither record outgrows the deletions since the last
 * collection.
 * Which points go, and when, is the caller's (expiry, delete, purge).
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "access/xact.h"
#include "catalog/pg_type.h"

/*
 * Take the vault's row exclusively: waits until no backup, restore or
 * verify holds it (they share-lock it), and keeps new ones out until this
 * transaction ends.  Refused under a transaction snapshot, where later
 * statements would not see what a backup committed while we waited.
 */
bool
vault_lock_exclusive(VaultCall *call, int64 vault_id, bool skip_busy)
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
 * 1.0: every chunk of the vault that no manifest of its points references,
 * found by reading every manifest of the vault.
 */
static int64
collect_all(VaultCall *call, int64 vault_id, int64 *freed)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	bool		isnull;
	int64		n;

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
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*freed += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return n;
}

/*
 * 1.1: the chunks queued for the vault (collect_queue: those referenced by
 * manifests deleted since the last collection), each looked up in the
 * manifests' GIN index, not every manifest read.  A queued chunk goes when
 * no manifest references it and no delta needs it as its base; the base of
 * a delta that went is queued again and looked at in the next pass (a base
 * is never a delta, so the second pass queues nothing).  A queued chunk
 * still in use leaves the queue: the deletion of its last reference will
 * queue it again.
 */
static int64
collect_queued(VaultCall *call, int64 vault_id, int64 *freed)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		n = 0;
	int64		bytes = 0;

	values[0] = Int64GetDatum(vault_id);
	for (int pass = 0; pass < 4; pass++)
	{
		int			ret;
		bool		isnull;
		int64		requeued;

		vault_as_owner(call);
		ret = SPI_execute_with_args("WITH q AS (DELETE FROM vault_internal.collect_queue "
									"  WHERE vault_id = $1 RETURNING chunk_no), "
									"cand AS (SELECT DISTINCT chunk_no FROM q), "
									"gone AS (DELETE FROM vault_internal.chunks c USING cand "
									"  WHERE c.chunk_no = cand.chunk_no AND c.vault_id = $1 "
									"    AND NOT EXISTS (SELECT 1 FROM vault_internal.manifests m "
									"                    WHERE m.chunk_nos @> ARRAY[c.chunk_no]) "
									"    AND NOT EXISTS (SELECT 1 FROM vault_internal.chunks d "
									"                    WHERE d.base_no = c.chunk_no) "
									"  RETURNING c.base_no, c.stored_len), "
									"requeued AS (INSERT INTO vault_internal.collect_queue (vault_id, chunk_no) "
									"  SELECT DISTINCT $1::bigint, base_no FROM gone WHERE base_no IS NOT NULL "
									"  RETURNING 1) "
									"SELECT (SELECT count(*) FROM gone), "
									"  (SELECT coalesce(sum(stored_len), 0)::bigint FROM gone), "
									"  (SELECT count(*) FROM requeued)",
									1, types, values, NULL, false, 0);
		vault_as_caller(call);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not remove unreferenced chunks");
		n += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		bytes += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		requeued = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (requeued == 0)
			break;
	}
	*freed += bytes;
	if (n > 0)
		usage_record(call, vault_id, -n, -bytes, 0, 0, 0);
	usage_fold(call, vault_id);
	vault_as_owner(call);
	(void) spi_int64("SELECT 0 FROM vault_internal.share_sync(false)", 0, NULL, NULL, NULL);
	vault_as_caller(call);
	return n;
}

/*
 * Remove the vault's chunks that no manifest of any of its points
 * references and that are not the base of a delta chunk one does (1.1).
 * Call with the vault locked exclusively, after deleting the points.
 * Returns the number removed and adds their stored bytes to *freed.
 */
int64
chunks_remove_unreferenced(VaultCall *call, int64 vault_id, int64 *freed)
{
	return call->catalog >= VAULT_CATALOG_1_1 ? collect_queued(call, vault_id, freed) :
		collect_all(call, vault_id, freed);
}
