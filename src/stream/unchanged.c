/*-------------------------------------------------------------------------
 * unchanged.c
 *	  Proving that a table is unchanged since an earlier recovery point.
 *
 * Owns: the evidence a backup records so that a later backup of the same
 * table can reference the earlier stream's chunks without reading a row,
 * and the check of that evidence (the per-table digest itself is
 * page_digest.c's).  It must never say "unchanged" when the
 * rows a new snapshot sees could differ from what the earlier one saw; when
 * in doubt it says "changed" and the table is streamed as usual.
 *
 * The proof.  Point P records, per backup: L = the WAL insert position read
 * just before its snapshot S was taken, and X = every transaction id that
 * S treats as running although it may have written before L (S's xip[] and
 * [S.xmax, nextXid), minus P's own); per table: a digest of every heap
 * page's (LSN, pd_lower, pd_upper), the relation's identity and size, and
 * the signature of the column types as the stream encodes them.  A new
 * backup N of the same table may reuse P's stream when
 *	 - the digest is the same and every page LSN is <= L: no page has been
 *	   written (insert, update, delete, lock, prune, freeze: all WAL-logged
 *	   and stamped) since before S, and the relation was neither rewritten,
 *	   extended nor truncated;
 *	 - no transaction in X has committed: any tuple version whose visibility
 *	   could differ between S and N's snapshot was written by a transaction
 *	   that was invisible to S yet wrote before L, and so is in X;
 *	 - the captured definition is the same (names, defaults, constraints).
 * Hint bits are set without WAL, but they only cache commit status.  Only
 * permanent heap tables on a server that WAL-logs everything (wal_level
 * replica or above) qualify, only in a READ COMMITTED backup (where the
 * snapshot is taken after L is read), and only for columns whose bytes do
 * not depend on anything but the stored value and the type's catalog rows
 * (the signature covers enum labels and composite layouts; types that
 * travel as text are excluded).  P may take its digest before or while it
 * reads the table, page by page: any moment after L will do, because a page
 * written after L carries an LSN past L, which N then finds in the same
 * digest and refuses.  N itself stops digesting at the first page newer
 * than the L of the newest earlier point with a proof of the table.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"

#if PG_VERSION_NUM >= 170000
#define VAULT_OLDEST_CLOG_XID (TransamVariables->oldestClogXid)
#else
#define VAULT_OLDEST_CLOG_XID (ShmemVariableCache->oldestClogXid)
#endif

#define PROOF_MAX_XIDS		1024	/* more running transactions: no proof */

/* ---- per backup: before and after the snapshot ---- */

void
proof_begin(ScanProof *proof)
{
	memset(proof, 0, sizeof(*proof));
	proof->usable = XLogIsNeeded() && !IsolationUsesXactSnapshot();
	if (proof->usable)
		proof->lsn = GetXLogInsertRecPtr();
}

static void
proof_add_xid(ScanProof *proof, FullTransactionId next, TransactionId xid)
{
	if (!proof->usable || TransactionIdIsCurrentTransactionId(xid))
		return;
	if (proof->nxids >= PROOF_MAX_XIDS)
	{
		proof->usable = false;
		return;
	}
	/* xid precedes next and is within 2^31 of it */
	proof->xids[proof->nxids++] = (int64) (U64FromFullTransactionId(next) -
										   (uint32) (XidFromFullTransactionId(next) - xid));
}

void
proof_snapshot(ScanProof *proof, Snapshot snapshot)
{
	FullTransactionId next;
	TransactionId xid;
	uint32		i;

	if (!proof->usable)
		return;
	next = ReadNextFullTransactionId();
	proof->xids = palloc(sizeof(int64) * PROOF_MAX_XIDS);
	for (i = 0; i < snapshot->xcnt; i++)
		proof_add_xid(proof, next, snapshot->xip[i]);
	xid = snapshot->xmax;
	while (TransactionIdPrecedes(xid, XidFromFullTransactionId(next)))
	{
		proof_add_xid(proof, next, xid);
		TransactionIdAdvance(xid);
	}
}

/* ---- at a new backup: may an earlier stream be reused? ---- */

/*
 * True if none of the transactions a point recorded has committed since.
 * An id too old to look up (its commit log truncated, or 2^31 transactions
 * ago) counts as committed: no proof.
 */
static bool
proof_xids_uncommitted(ArrayType *arr)
{
	FullTransactionId next = ReadNextFullTransactionId();
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		uint64		full = (uint64) DatumGetInt64(elems[i]);
		TransactionId xid = (TransactionId) full;
		bool		committed;

		if (nulls[i] || U64FromFullTransactionId(next) - full >= ((uint64) 1 << 31))
			return false;
		LWLockAcquire(XactTruncationLock, LW_SHARED);
		if (TransactionIdPrecedes(xid, VAULT_OLDEST_CLOG_XID))
			committed = true;
		else
			committed = TransactionIdDidCommit(xid);
		LWLockRelease(XactTruncationLock);
		if (committed)
			return false;
	}
	return true;
}

/*
 * The newest point of this vault, available and with a proof, that holds a
 * digest of this table as defined now (and, given a digest, that one):
 * its point_id and scan_lsn, or false.  The table's points are walked
 * newest first (point_tables' index on source_oid, point_id), a page of
 * PROOF_WALK_PAGE at a time, and the walk stops at the first that serves:
 * after years of points of the table it reads as few as after one.  As
 * one query with these conditions in its WHERE clause the planner
 * estimated a single matching row (a jsonb equality) and sorted every
 * point the table ever had (20 ms of a backup after 5,000 points); as a
 * cursor over the whole history its cost set off JIT compilation (6 ms
 * after 20,000).  So the conditions are columns, never filters, and each
 * page is a small query of its own.
 */
#define PROOF_WALK_PAGE 32

static bool
newest_proof(VaultInfo *vault, Oid relid, Jsonb *def, bytea *digest,
			 int64 *point_id, XLogRecPtr *lsn)
{
	Oid			types[5] = {INT8OID, OIDOID, JSONBOID, BYTEAOID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', digest ? ' ' : 'n', ' '};
	int64		before = PG_INT64_MAX;
	bool		found = false;
	bool		more = true;

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = JsonbPGetDatum(def);
	values[3] = PointerGetDatum(digest);
	while (!found && more)
	{
		int			ret;

		values[4] = Int64GetDatum(before);
		ret = SPI_execute_with_args("SELECT t.point_id, "
									"       t.definition = $3 AND t.page_digest IS NOT NULL "
									"         AND ($4::bytea IS NULL OR t.page_digest = $4), "
									"       (SELECT p.scan_lsn FROM vault_internal.points p "
									"        WHERE p.point_id = t.point_id AND p.vault_id = $1 "
									"          AND p.state = 'available') "
									"FROM vault_internal.point_tables t "
									"WHERE t.source_oid = $2 AND t.point_id < $5 "
									"ORDER BY t.point_id DESC LIMIT " CppAsString2(PROOF_WALK_PAGE),
									5, types, values, nulls, true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not look up earlier proofs: %s", SPI_result_code_string(ret));
		more = SPI_processed == PROOF_WALK_PAGE;
		for (uint64 i = 0; i < SPI_processed && !found; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			bool		serves_null;
			bool		lsn_null;
			bool		serves = DatumGetBool(SPI_getbinval(tup, desc, 2, &serves_null));
			Datum		l = SPI_getbinval(tup, desc, 3, &lsn_null);

			before = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			if (!serves_null && serves && !lsn_null)
			{
				*point_id = before;
				*lsn = DatumGetLSN(l);
				found = true;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	return found;
}

/*
 * How new a page an earlier stream of this table could still prove: the
 * scan_lsn of the newest point with a proof of the table as defined now
 * (the one proof_find_unchanged finds when the table is unchanged), or
 * InvalidXLogRecPtr when there is none; a page newer than that rules the
 * earlier streams out.  The newest point's, not the latest scan of all:
 * an older point scanned later (two backups of the table at once) is
 * passed over, a reuse missed, never one wrongly taken, since
 * proof_find_unchanged checks every page against the point it finds.
 */
XLogRecPtr
proof_candidate_bound(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		point_id;
	XLogRecPtr	bound;

	vault_as_owner(call);
	if (!newest_proof(vault, relid, def, NULL, &point_id, &bound))
		bound = InvalidXLogRecPtr;
	vault_as_caller(call);
	MemoryContextSwitchTo(cxt);
	return bound;
}

/*
 * The latest available point of this vault whose recorded digest for this
 * table matches, if its proof holds and the definition is the same: fills
 * *prev (its point, ordinal and counts) and locks the point against
 * deletion until this transaction ends (the point is looked for first,
 * then read again and locked by its number: one deleted in between is
 * not found).
 */
bool
proof_find_unchanged(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def,
					 const uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr maxlsn,
					 ProofMatch *prev)
{
	Oid			types[5] = {INT8OID, OIDOID, BYTEAOID, JSONBOID, INT8OID};
	Datum		values[5];
	bytea	   *d = palloc(VARHDRSZ + PROOF_DIGEST_LEN);
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	int64		candidate;
	XLogRecPtr	candidate_lsn;
	int			ret;

	SET_VARSIZE(d, VARHDRSZ + PROOF_DIGEST_LEN);
	memcpy(VARDATA(d), digest, PROOF_DIGEST_LEN);

	vault_as_owner(call);
	if (!newest_proof(vault, relid, def, d, &candidate, &candidate_lsn) || maxlsn > candidate_lsn)
	{
		vault_as_caller(call);
		MemoryContextSwitchTo(cxt);
		return false;
	}
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = PointerGetDatum(d);
	values[3] = JsonbPGetDatum(def);
	values[4] = Int64GetDatum(candidate);
	ret = SPI_execute_with_args("SELECT p.point_id, t.ordinal, p.scan_lsn, p.scan_xids, "
								"       t.rows, t.logical_bytes, t.chunks "
								"FROM vault_internal.point_tables t "
								"JOIN vault_internal.points p USING (point_id) "
								"WHERE t.point_id = $5 AND p.vault_id = $1 AND t.source_oid = $2 "
								"  AND t.page_digest = $3 AND t.definition = $4 "
								"  AND p.state = 'available' AND p.scan_lsn IS NOT NULL "
								"LIMIT 1 FOR KEY SHARE OF p",
								5, types, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up earlier points: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		lsn_null;
		bool		xids_null;
		XLogRecPtr	lsn = DatumGetLSN(SPI_getbinval(tup, desc, 3, &lsn_null));
		Datum		xids = SPI_getbinval(tup, desc, 4, &xids_null);

		/* (a backup records both or neither; a point without them proves nothing) */
		if (!lsn_null && !xids_null && maxlsn <= lsn &&
			proof_xids_uncommitted(DatumGetArrayTypeP(xids)))
		{
			prev->point_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			prev->ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			prev->rows = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
			prev->logical_bytes = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
			prev->chunks = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
			found = true;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	vault_as_caller(call);
	MemoryContextSwitchTo(cxt);
	return found;
}

/* The proof's per-backup part as SQL values: scan_lsn and scan_xids. */
void
proof_datums(ScanProof *proof, Datum *lsn, bool *lsn_null, Datum *xids, bool *xids_null)
{
	Datum	   *elems;
	int			i;

	*lsn_null = *xids_null = !proof->usable;
	if (!proof->usable)
		return;
	*lsn = LSNGetDatum(proof->lsn);
	elems = palloc(sizeof(Datum) * Max(proof->nxids, 1));
	for (i = 0; i < proof->nxids; i++)
		elems[i] = Int64GetDatum(proof->xids[i]);
	*xids = PointerGetDatum(construct_array(elems, proof->nxids, INT8OID, 8,
											FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
