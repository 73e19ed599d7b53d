/*-------------------------------------------------------------------------
 * page_digest.c
 *	  The page digest of a table: the evidence unchanged.c's proof compares.
 *
 * Owns: what the digest covers (the server, the columns' signature as the
 * stream encodes them, then each heap of the stream with its identity and
 * size and every page's LSN, pd_lower and pd_upper, in stream order) and
 * its two ways of being taken, which give the same digest for the same
 * pages: up front, page by page, stopping at the first page written after
 * a bound (a backup deciding whether an earlier stream can be reused), or
 * from the page records the stream's scans take as they read (a backup that
 * reads the table anyway reads it once, not twice; table_stream.c).  It
 * must not decide reuse (unchanged.c does) nor read a row.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#define PAGES_PER_UPDATE	1024

struct ProofDigest
{
	pg_cryptohash_ctx *hash;	/* freed by the resource owner on error */
	int			n;				/* records in batch */
	char		batch[PAGES_PER_UPDATE * PROOF_PAGE_RECORD];
};

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

/* The file a heap's pages are in: part of its identity in the digest. */
Oid
proof_heap_node(Relation heap)
{
#if PG_VERSION_NUM >= 160000
	return heap->rd_locator.relNumber;
#else
	return heap->rd_node.relNode;
#endif
}

static void
digest_update(ProofDigest *pd, const void *data, size_t len)
{
	if (pg_cryptohash_update(pd->hash, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not update SHA-256: %s", pg_cryptohash_error(pd->hash));
}

static void
digest_flush(ProofDigest *pd)
{
	if (pd->n > 0)
		digest_update(pd, pd->batch, (size_t) pd->n * PROOF_PAGE_RECORD);
	pd->n = 0;
}

/*
 * Begin the digest of rel: NULL if rel cannot have a proof (not a
 * permanent heap, a leaf that is not, or a column that travels as text).
 * The leaves of a partitioned table are locked, as its stream locks them.
 */
ProofDigest *
proof_digest_begin(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sig;
	ProofDigest *pd;
	bool		ok = relation_qualifies(rel);

	if (ok && rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		ListCell   *lc;

		foreach(lc, table_stream_heaps(rel))
		{
			Relation	leaf = table_open(lfirst_oid(lc), AccessShareLock);

			ok = ok && relation_qualifies(leaf);
			table_close(leaf, NoLock);
		}
	}
	initStringInfo(&sig);
	appendStringInfo(&sig, "vault-unchanged-1 " UINT64_FORMAT, GetSystemIdentifier());
	for (int i = 0; ok && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attgenerated)
			continue;
		appendStringInfo(&sig, " %s %d ", quote_identifier(NameStr(att->attname)), att->atttypmod);
		ok = type_signature(&sig, att->atttypid);
	}
	if (!ok)
		return NULL;

	pd = palloc(sizeof(ProofDigest));
	pd->n = 0;
	pd->hash = pg_cryptohash_create(PG_SHA256);
	if (pd->hash == NULL || pg_cryptohash_init(pd->hash) < 0)
		elog(ERROR, "could not initialise SHA-256");
	digest_update(pd, sig.data, sig.len + 1);
	pfree(sig.data);
	return pd;
}

/* The next heap of the stream: its identity, then its nblocks pages follow. */
void
proof_digest_heap(ProofDigest *pd, Oid relid, Oid node, BlockNumber nblocks)
{
	char		ident[32];

	digest_flush(pd);
	snprintf(ident, sizeof(ident), "%u/%u/%u", relid, node, nblocks);
	digest_update(pd, ident, strlen(ident) + 1);
}

/* n page records (proof_page_record's), of the heap's next pages in order */
void
proof_digest_pages(ProofDigest *pd, const char *records, int n)
{
	while (n > 0)
	{
		int			take = Min(n, PAGES_PER_UPDATE - pd->n);

		memcpy(pd->batch + (size_t) pd->n * PROOF_PAGE_RECORD, records,
			   (size_t) take * PROOF_PAGE_RECORD);
		pd->n += take;
		records += (size_t) take * PROOF_PAGE_RECORD;
		n -= take;
		if (pd->n == PAGES_PER_UPDATE)
			digest_flush(pd);
	}
}

void
proof_digest_end(ProofDigest *pd, uint8 digest[PROOF_DIGEST_LEN])
{
	digest_flush(pd);
	if (pg_cryptohash_final(pd->hash, digest, PROOF_DIGEST_LEN) < 0)
		elog(ERROR, "could not finish SHA-256: %s", pg_cryptohash_error(pd->hash));
	proof_digest_cancel(pd);
}

void
proof_digest_cancel(ProofDigest *pd)
{
	pg_cryptohash_free(pd->hash);
	pfree(pd);
}

/*
 * The record of a pinned page: its LSN, pd_lower and pd_upper, read under
 * a share lock.  Returns the LSN.
 */
XLogRecPtr
proof_page_record(Buffer buf, char *rec)
{
	Page		page;
	XLogRecPtr	lsn;
	uint16		lower;
	uint16		upper;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	lsn = BufferGetLSNAtomic(buf);
	lower = ((PageHeader) page)->pd_lower;
	upper = ((PageHeader) page)->pd_upper;
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	memcpy(rec, &lsn, 8);
	memcpy(rec + 8, &lower, 2);
	memcpy(rec + 10, &upper, 2);
	return lsn;
}

/* a stream's scans feeding a digest: each heap's identity, each page's record */
static void
sink_digest_heap(void *arg, Relation heap, BlockNumber nblocks)
{
	proof_digest_heap((ProofDigest *) arg, RelationGetRelid(heap), proof_heap_node(heap), nblocks);
}

static void
sink_digest_page(void *arg, Buffer buf)
{
	char		rec[PROOF_PAGE_RECORD];

	(void) proof_page_record(buf, rec);
	proof_digest_pages((ProofDigest *) arg, rec, 1);
}

void
proof_digest_sink(ProofDigest *pd, StreamPages *sink)
{
	sink->heap = sink_digest_heap;
	sink->page = sink_digest_page;
	sink->arg = pd;
}

/* a stream's scans of block ranges collecting the records (a parallel worker's) */
static void
sink_records_page(void *arg, Buffer buf)
{
	char		rec[PROOF_PAGE_RECORD];

	(void) proof_page_record(buf, rec);
	appendBinaryStringInfo((StringInfo) arg, rec, PROOF_PAGE_RECORD);
}

void
proof_records_sink(StringInfo records, StreamPages *sink)
{
	sink->heap = NULL;
	sink->page = sink_records_page;
	sink->arg = records;
}

/* the record of block blk of rel, read through strategy */
static XLogRecPtr
read_page_record(Relation rel, BlockNumber blk, BufferAccessStrategy strategy, char *rec)
{
	Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
	XLogRecPtr	lsn = proof_page_record(buf, rec);

	ReleaseBuffer(buf);
	return lsn;
}

/*
 * One heap's part of an up-front digest; false as soon as a page is newer
 * than bound.  The last page is looked at first: where rows were added,
 * the answer comes without reading the rest.
 */
static bool
digest_heap_upto(ProofDigest *pd, Relation rel, XLogRecPtr bound, XLogRecPtr *maxlsn)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
	char		rec[PROOF_PAGE_RECORD];
	bool		ok = true;

	if (nblocks > 0 && read_page_record(rel, nblocks - 1, strategy, rec) > bound)
		ok = false;
	if (ok)
		proof_digest_heap(pd, RelationGetRelid(rel), proof_heap_node(rel), nblocks);
	for (BlockNumber blk = 0; ok && blk < nblocks; blk++)
	{
		XLogRecPtr	lsn;

		CHECK_FOR_INTERRUPTS();
		lsn = read_page_record(rel, blk, strategy, rec);
		if (lsn > bound)
			ok = false;
		else
		{
			*maxlsn = Max(*maxlsn, lsn);
			proof_digest_pages(pd, rec, 1);
		}
	}
	FreeAccessStrategy(strategy);
	return ok;
}

/*
 * The digest of rel taken up front, every page read now.  PROOF_NONE: rel
 * cannot have a proof; PROOF_NEWER: a page was written after bound (the
 * latest proof an earlier point could offer), so no earlier stream can be
 * reused, and the digest was not finished; PROOF_DIGEST: digest and
 * *maxlsn (the newest page's LSN) are set.
 */
ProofDigestResult
proof_table_digest(Relation rel, XLogRecPtr bound, uint8 digest[PROOF_DIGEST_LEN],
				   XLogRecPtr *maxlsn)
{
	ProofDigest *pd = proof_digest_begin(rel);
	bool		ok = true;
	ListCell   *lc;

	if (pd == NULL)
		return PROOF_NONE;
	*maxlsn = InvalidXLogRecPtr;
	foreach(lc, table_stream_heaps(rel))
	{
		Oid			heapoid = lfirst_oid(lc);
		Relation	heap = heapoid == RelationGetRelid(rel) ? rel : table_open(heapoid, AccessShareLock);

		ok = digest_heap_upto(pd, heap, bound, maxlsn);
		if (heap != rel)
			table_close(heap, NoLock);
		if (!ok)
			break;
	}
	if (!ok)
	{
		proof_digest_cancel(pd);
		return PROOF_NEWER;
	}
	proof_digest_end(pd, digest);
	return PROOF_DIGEST;
}
