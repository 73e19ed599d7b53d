/*-------------------------------------------------------------------------
 * usage.c
 *	  The figures a vault maintains as it changes, so that reading them
 *	  costs the same in a vault of millions of chunks as in a new one.
 *
 * Owns: vault_internal.vault_usage, a ledger of changes per vault (chunks
 * and their stored bytes, manifest bytes, points and their logical bytes):
 * a backup adds one row as its point is finished, a collection one for
 * the chunks it removed, a trigger one for each statement that deletes
 * points; the rows are folded into one when the vault is locked
 * exclusively.  vault_internal.item_usage keeps each item's point count the
 * same way (rows from triggers on points), folded with it.  Every row is
 * written in the transaction that makes the change, so a rollback or a
 * crash takes both.  It must not decide what
 * changes (backup.c, removal.c and the deletes do); vault_check (api/
 * check.c) recounts and compares.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "catalog/pg_type.h"

/* Add one change to the vault's figures (1.1). */
void
usage_record(VaultCall *call, int64 vault_id, int64 chunks, int64 chunk_bytes, int64 manifest_bytes,
			 int64 points, int64 logical_bytes)
{
	Oid			types[6] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[6];

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	values[1] = Int64GetDatum(chunks);
	values[2] = Int64GetDatum(chunk_bytes);
	values[3] = Int64GetDatum(manifest_bytes);
	values[4] = Int64GetDatum(points);
	values[5] = Int64GetDatum(logical_bytes);
	vault_as_owner(call);
	(void) spi_int64("INSERT INTO vault_internal.vault_usage "
					 "(vault_id, chunks, chunk_bytes, manifest_bytes, points, logical_bytes) "
					 "VALUES ($1, $2, $3, $4, $5, $6)", 6, types, values, NULL);
	vault_as_caller(call);
}

/*
 * Fold the vault's ledger rows into one.  Call with the vault locked
 * exclusively (no backup is adding a row meanwhile, and no other fold).
 */
void
usage_fold(VaultCall *call, int64 vault_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	vault_as_owner(call);
	if (spi_int64("SELECT count(*) FROM vault_internal.vault_usage WHERE vault_id = $1",
				  1, types, values, NULL) > 1)
		(void) spi_int64("WITH d AS (DELETE FROM vault_internal.vault_usage WHERE vault_id = $1 RETURNING *) "
						 "INSERT INTO vault_internal.vault_usage "
						 "(vault_id, chunks, chunk_bytes, manifest_bytes, points, logical_bytes) "
						 "SELECT $1, sum(chunks), sum(chunk_bytes), sum(manifest_bytes), sum(points), "
						 "  sum(logical_bytes) FROM d",
						 1, types, values, NULL);
	/* its items' point counts: those with more than one row */
	(void) spi_int64("WITH many AS (SELECT u.item_id FROM vault_internal.item_usage u "
					 "  JOIN vault_internal.items i USING (item_id) WHERE i.vault_id = $1 "
					 "  GROUP BY u.item_id HAVING count(*) > 1), "
					 "d AS (DELETE FROM vault_internal.item_usage u USING many m "
					 "  WHERE u.item_id = m.item_id RETURNING u.item_id, u.points) "
					 "INSERT INTO vault_internal.item_usage (item_id, points) "
					 "SELECT item_id, sum(points) FROM d GROUP BY item_id",
					 1, types, values, NULL);
	vault_as_caller(call);
}
