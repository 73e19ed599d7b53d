/*-------------------------------------------------------------------------
 * unchanged.c
 *	  Proving that a table is unchanged since an earlier recovery point.
 *
 * Owns: the evidence a backup records so that a later backup of the same
 * table can reference the earlier stream's chunks without reading a row,
 * and the check of that evidence.  It must never say "unchanged" when the
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
 * travel as text are excluded).
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include <openssl/evp.h>

#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#if PG_VERSION_NUM >= 170000
#define VAULT_OLDEST_CLOG_XID (TransamVariables->oldestClogXid)
#else
#define VAULT_OLDEST_CLOG_XID (ShmemVariableCache->oldestClogXid)
#endif

#define PROOF_MAX_XIDS		1024	/* more running transactions: no proof */
#define PAGES_PER_UPDATE	1024

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

/* ---- per table: the digest ---- */

/*
 * What, besides the stored bytes, decides the bytes a value of this type
 * becomes in the stream: the type itself, its send function, an enum's
 * labels, a composite's attributes, an array's element, a range's subtype.
 * False if a type (or part of it) travels as text.
 */
static bool
type_signature(StringInfo sig, Oid typid)
{
	HeapTuple	tp;
	Form_pg_type typ;
	char		typtype;
	Oid			elem;
	Oid			relid;
	bool		ok = true;

	check_stack_depth();
	if (!stream_type_binary_io(typid))
		return false;
	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", typid);
	typ = (Form_pg_type) GETSTRUCT(tp);
	appendStringInfo(sig, "(%u %u %u %c", typid, typ->typsend, typ->typbasetype, typ->typtype);
	typtype = typ->typtype;
	elem = IsTrueArrayType(typ) ? typ->typelem : InvalidOid;
	relid = typ->typrelid;
	ReleaseSysCache(tp);

	if (typtype == TYPTYPE_DOMAIN)
		ok = type_signature(sig, getBaseType(typid));
	else if (OidIsValid(elem))
		ok = type_signature(sig, elem);
	else if (typtype == TYPTYPE_RANGE)
		ok = type_signature(sig, get_range_subtype(typid));
	else if (typtype == TYPTYPE_MULTIRANGE)
		ok = type_signature(sig, get_multirange_range(typid));
	else if (typtype == TYPTYPE_ENUM)
	{
		CatCList   *labels = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(typid));
		int			i;

		/* catalog order: (enumtypid, enumlabel), stable for the same rows */
		for (i = 0; i < labels->n_members; i++)
		{
			Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&labels->members[i]->tuple);

			appendStringInfo(sig, " %u:%s", e->oid, NameStr(e->enumlabel));
		}
		ReleaseSysCacheList(labels);
	}
	else if (typtype == TYPTYPE_COMPOSITE && OidIsValid(relid))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, -1);
		int			i;

		for (i = 0; ok && i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			appendStringInfo(sig, " %d", att->attisdropped ? -1 : (int) att->atttypid);
			if (!att->attisdropped)
				ok = type_signature(sig, att->atttypid);
		}
		ReleaseTupleDesc(desc);
	}
	appendStringInfoChar(sig, ')');
	return ok;
}

static bool
relation_qualifies(Relation rel)
{
	return rel->rd_rel->relpersistence == RELPERSISTENCE_PERMANENT &&
		(rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ||
		 rel->rd_tableam == GetHeapamTableAmRoutine());
}

/* Feed one heap's identity and page headers to the digest. */
static void
digest_heap(EVP_MD_CTX *md, Relation rel, XLogRecPtr *maxlsn)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
	char	   *batch = palloc(PAGES_PER_UPDATE * 12);
	int			n = 0;
	BlockNumber blk;
	char		ident[32];

#if PG_VERSION_NUM >= 160000
	snprintf(ident, sizeof(ident), "%u/%u/%u", RelationGetRelid(rel),
			 rel->rd_locator.relNumber, nblocks);
#else
	snprintf(ident, sizeof(ident), "%u/%u/%u", RelationGetRelid(rel),
			 rel->rd_node.relNode, nblocks);
#endif
	EVP_DigestUpdate(md, ident, strlen(ident) + 1);

	for (blk = 0; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		XLogRecPtr	lsn;
		uint16		lower;
		uint16		upper;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		lsn = BufferGetLSNAtomic(buf);
		lower = ((PageHeader) page)->pd_lower;
		upper = ((PageHeader) page)->pd_upper;
		UnlockReleaseBuffer(buf);

		if (lsn > *maxlsn)
			*maxlsn = lsn;
		memcpy(batch + n * 12, &lsn, 8);
		memcpy(batch + n * 12 + 8, &lower, 2);
		memcpy(batch + n * 12 + 10, &upper, 2);
		if (++n == PAGES_PER_UPDATE)
		{
			EVP_DigestUpdate(md, batch, n * 12);
			n = 0;
		}
	}
	if (n > 0)
		EVP_DigestUpdate(md, batch, n * 12);
	FreeAccessStrategy(strategy);
	pfree(batch);
}

/*
 * The digest of a table as the stream would read it: the server, the
 * column signature, then every heap (the leaves of a partitioned table in
 * stream order) with its pages.  False if the table cannot have a proof.
 */
bool
proof_table_digest(Relation rel, uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr *maxlsn)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sig;
	EVP_MD_CTX *md;
	unsigned int dlen;
	int			i;
	bool		ok = relation_qualifies(rel);

	initStringInfo(&sig);
	appendStringInfo(&sig, "vault-unchanged-1 " UINT64_FORMAT, GetSystemIdentifier());
	for (i = 0; ok && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attgenerated)
			continue;
		appendStringInfo(&sig, " %s %d ", quote_identifier(NameStr(att->attname)), att->atttypmod);
		ok = type_signature(&sig, att->atttypid);
	}
	if (!ok)
		return false;

	*maxlsn = InvalidXLogRecPtr;
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		elog(ERROR, "could not initialise SHA-256");
	EVP_DigestUpdate(md, sig.data, sig.len + 1);

	PG_TRY();
	{
		if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		{
			List	   *parts = find_all_inheritors(RelationGetRelid(rel), AccessShareLock, NULL);
			ListCell   *lc;

			foreach(lc, parts)
			{
				Oid			partoid = lfirst_oid(lc);
				Relation	part;

				if (get_rel_relkind(partoid) != RELKIND_RELATION)
					continue;
				part = table_open(partoid, AccessShareLock);
				ok = ok && relation_qualifies(part);
				if (ok)
					digest_heap(md, part, maxlsn);
				table_close(part, NoLock);
			}
		}
		else
			digest_heap(md, rel, maxlsn);
	}
	PG_CATCH();
	{
		EVP_MD_CTX_free(md);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != PROOF_DIGEST_LEN)
		elog(ERROR, "could not finish SHA-256");
	EVP_MD_CTX_free(md);
	return ok;
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
 * The latest available point of this vault whose recorded digest for this
 * table matches, if its proof holds and the definition is the same: fills
 * *prev (its point, ordinal and counts) and locks the point against
 * deletion until this transaction ends.
 */
bool
proof_find_unchanged(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def,
					 const uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr maxlsn,
					 ProofMatch *prev)
{
	Oid			types[4] = {INT8OID, OIDOID, BYTEAOID, JSONBOID};
	Datum		values[4];
	bytea	   *d = palloc(VARHDRSZ + PROOF_DIGEST_LEN);
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	int			ret;

	SET_VARSIZE(d, VARHDRSZ + PROOF_DIGEST_LEN);
	memcpy(VARDATA(d), digest, PROOF_DIGEST_LEN);
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = PointerGetDatum(d);
	values[3] = JsonbPGetDatum(def);

	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT p.point_id, t.ordinal, p.scan_lsn, p.scan_xids, "
								"       t.rows, t.logical_bytes, t.chunks "
								"FROM vault_internal.point_tables t "
								"JOIN vault_internal.points p USING (point_id) "
								"WHERE p.vault_id = $1 AND t.source_oid = $2 AND t.page_digest = $3 "
								"  AND t.definition = $4 AND p.state = 'available' "
								"  AND p.scan_lsn IS NOT NULL "
								"ORDER BY p.point_id DESC LIMIT 1 FOR KEY SHARE OF p",
								4, types, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up earlier points: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		XLogRecPtr	lsn = DatumGetLSN(SPI_getbinval(tup, desc, 3, &isnull));
		ArrayType  *xids = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull));

		if (!isnull && maxlsn <= lsn && proof_xids_uncommitted(xids))
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
