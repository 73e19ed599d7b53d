/*-------------------------------------------------------------------------
 * table_stream.c
 *	  Table rows -> a COPY BINARY byte stream.
 *
 * Owns: scanning one table (or every leaf of a partitioned table, in the
 * root's column order) under a given snapshot and writing PostgreSQL's
 * documented COPY BINARY format through an emit callback, in large pieces.
 * Columns are those COPY TO would write: not dropped, not generated.  A type
 * without binary send/receive travels in its text form.  PG15's COPY TO has
 * no output callback, so the writer is ours.
 *
 * It checks no privileges (backup.c does, before calling) and knows nothing
 * about chunks or storage.  Memory stays bounded: one per-row context reset
 * for every tuple and one output buffer.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/fmgroids.h"
#include "utils/typcache.h"
#include "utils/uuid.h"
#include "fmgr.h"

#define STREAM_FLUSH_BYTES	(256 * 1024)

static const char copy_signature[11] = "PGCOPY\n\377\r\n\0";

/*
 * How a column's values are written.  The common fixed-width and text-like
 * types are written directly, byte for byte what their send functions would
 * produce, without a function call and a palloc per value; every other type
 * goes through its send function, or its output function as text.
 */
typedef enum StreamKind
{
	SK_SEND,					/* binary send function */
	SK_TEXT_OUT,				/* no binary I/O: text output function */
	SK_BOOL,					/* boolsend: one byte 0/1 */
	SK_INT2,					/* int2send */
	SK_INT4,					/* int4send, oidsend, date_send, float4send */
	SK_INT8,					/* int8send, time/timestamp(tz)_send,
								 * cash_send, float8send */
	SK_VARLENA,					/* textsend, varcharsend, bpcharsend,
								 * byteasend, json_send: the bytes as stored */
	SK_UUID						/* uuid_send: 16 raw bytes */
} StreamKind;

typedef struct StreamColumn
{
	char	   *name;
	Oid			typid;
	StreamKind	kind;
	FmgrInfo	func;			/* for SK_SEND and SK_TEXT_OUT */
} StreamColumn;

typedef struct StreamState
{
	StringInfoData buf;
	StreamEmit	emit;
	void	   *arg;
	TableStreamStats *stats;
	MemoryContext cxt;			/* the stream's, deleted at its end */
	MemoryContext rowcxt;		/* reset for every row */
	StreamColumn *cols;			/* the root's columns */
	int			ncols;
	const StreamPages *pages;	/* told of every block read, or NULL */
} StreamState;

/*
 * Append bytes.  The buffer is sized for a flush's worth plus slack, so the
 * common case is one memcpy; only a value larger than the room left grows
 * it.  (The buffer is binary: its trailing NUL is not maintained.)
 */
static inline void
stream_append(StreamState *st, const void *data, int len)
{
	if (likely(st->buf.maxlen - st->buf.len > len))
	{
		memcpy(st->buf.data + st->buf.len, data, len);
		st->buf.len += len;
	}
	else
		appendBinaryStringInfo(&st->buf, data, len);
}

static void
stream_flush(StreamState *st)
{
	if (st->buf.len > 0)
	{
		st->emit(st->arg, st->buf.data, st->buf.len);
		st->stats->bytes += st->buf.len;
		resetStringInfo(&st->buf);
	}
}

static inline void
stream_int16(StreamState *st, int16 v)
{
	uint16		n = pg_hton16((uint16) v);

	stream_append(st, &n, 2);
}

static inline void
stream_int32(StreamState *st, int32 v)
{
	uint32		n = pg_hton32((uint32) v);

	stream_append(st, &n, 4);
}

static inline void
stream_int64(StreamState *st, int64 v)
{
	uint64		n = pg_hton64((uint64) v);

	stream_append(st, &n, 8);
}

/* The direct writer for a type, if its send function is one we mirror. */
static StreamKind
stream_kind_for(Oid typid)
{
	switch (getBaseType(typid))
	{
		case BOOLOID:
			return SK_BOOL;
		case INT2OID:
			return SK_INT2;
		case INT4OID:
		case OIDOID:
		case DATEOID:
		case FLOAT4OID:
			return SK_INT4;
		case INT8OID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case CASHOID:
		case FLOAT8OID:
			return SK_INT8;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BYTEAOID:
		case JSONOID:
			return SK_VARLENA;
		case UUIDOID:
			return SK_UUID;
		default:
			return SK_SEND;
	}
}

/*
 * One non-null value.  The direct cases write exactly what the type's send
 * function would: fixed-width values in network byte order (float4/float8
 * by their bit patterns, as pq_sendfloat4/8 do), text-like values as their
 * stored bytes (textsend converts to the client encoding, which is the
 * database encoding while streaming, so it converts nothing).
 */
static inline void
stream_value(StreamState *st, StreamColumn *col, Datum value)
{
	switch (col->kind)
	{
		case SK_BOOL:
			{
				char		b = DatumGetBool(value) ? 1 : 0;

				stream_int32(st, 1);
				stream_append(st, &b, 1);
				break;
			}
		case SK_INT2:
			stream_int32(st, 2);
			stream_int16(st, DatumGetInt16(value));
			break;
		case SK_INT4:
			stream_int32(st, 4);
			stream_int32(st, (int32) DatumGetUInt32(value));
			break;
		case SK_INT8:
			stream_int32(st, 8);
			stream_int64(st, DatumGetInt64(value));
			break;
		case SK_VARLENA:
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
				int			len = VARSIZE_ANY_EXHDR(v);

				stream_int32(st, len);
				stream_append(st, VARDATA_ANY(v), len);
				break;
			}
		case SK_UUID:
			stream_int32(st, UUID_LEN);
			stream_append(st, DatumGetPointer(value), UUID_LEN);
			break;
		case SK_SEND:
			{
				bytea	   *out = SendFunctionCall(&col->func, value);
				int			len = VARSIZE(out) - VARHDRSZ;

				stream_int32(st, len);
				stream_append(st, VARDATA(out), len);
				break;
			}
		case SK_TEXT_OUT:
			{
				char	   *out = OutputFunctionCall(&col->func, value);
				int			len = strlen(out);

				stream_int32(st, len);
				stream_append(st, out, len);
				break;
			}
	}
}

/*
 * Whether values of this type can travel in binary: the type (or a domain's
 * base type) has send and receive functions, and so do an array's elements,
 * a range's subtype and a composite's columns.
 */
bool
stream_type_binary_io(Oid typid)
{
	HeapTuple	tp;
	Form_pg_type typ;
	bool		ok;
	Oid			elem;
	char		typtype;
	Oid			relid;

	check_stack_depth();
	typid = getBaseType(typid);
	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", typid);
	typ = (Form_pg_type) GETSTRUCT(tp);
	ok = OidIsValid(typ->typsend) && OidIsValid(typ->typreceive);
	elem = IsTrueArrayType(typ) ? typ->typelem : InvalidOid;
	typtype = typ->typtype;
	relid = typ->typrelid;
	ReleaseSysCache(tp);

	if (!ok)
		return false;
	if (OidIsValid(elem))
		return stream_type_binary_io(elem);
	if (typtype == TYPTYPE_RANGE)
		return stream_type_binary_io(get_range_subtype(typid));
	if (typtype == TYPTYPE_MULTIRANGE)
		return stream_type_binary_io(get_range_subtype(get_multirange_range(typid)));
	if (typtype == TYPTYPE_COMPOSITE && OidIsValid(relid))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, -1);
		int			i;

		for (i = 0; ok && i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped)
				ok = stream_type_binary_io(att->atttypid);
		}
		ReleaseTupleDesc(desc);
	}
	return ok;
}

PG_FUNCTION_INFO_V1(vault_type_binary_io);

/* SQL face of stream_type_binary_io, for the definition capture. */
Datum
vault_type_binary_io(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(stream_type_binary_io(PG_GETARG_OID(0)));
}

/* The columns COPY TO would write, in attnum order, with their functions. */
static StreamColumn *
stream_columns(Relation rel, int *ncols)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StreamColumn *cols = palloc0(sizeof(StreamColumn) * Max(desc->natts, 1));
	int			n = 0;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			sendfn;
		bool		isvarlena;

		if (att->attisdropped || att->attgenerated)
			continue;
		cols[n].name = pstrdup(NameStr(att->attname));
		cols[n].typid = att->atttypid;

		/* the definition's text_fallback flag is computed the same way */
		if (stream_type_binary_io(att->atttypid))
		{
			cols[n].kind = stream_kind_for(att->atttypid);
			getTypeBinaryOutputInfo(att->atttypid, &sendfn, &isvarlena);
			fmgr_info(sendfn, &cols[n].func);
		}
		else
		{
			Oid			outfn;

			cols[n].kind = SK_TEXT_OUT;
			getTypeOutputInfo(att->atttypid, &outfn, &isvarlena);
			fmgr_info(outfn, &cols[n].func);
		}
		n++;
	}
	*ncols = n;
	return cols;
}

/*
 * Blocks from..to (inclusive) of the heap scan's relation to st->pages, in
 * order: the scan's current page (pinned) as it is, the pages it passed
 * without a visible row read again (through its ring, where they still
 * are).
 */
static void
tell_pages(StreamState *st, HeapScanDesc scan, BlockNumber from, BlockNumber to)
{
	Relation	rel = scan->rs_base.rs_rd;

	for (BlockNumber blk = from; blk <= to; blk++)
	{
		if (blk == scan->rs_cblock && BufferIsValid(scan->rs_cbuf))
			st->pages->page(st->pages->arg, scan->rs_cbuf);
		else
		{
			Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL,
												 scan->rs_strategy);

			st->pages->page(st->pages->arg, buf);
			ReleaseBuffer(buf);
		}
	}
}

/*
 * Write the rows of one heap (a plain table or one leaf partition): all of
 * them, or those of nblocks blocks from start (a parallel worker's range:
 * read in block order, never joining a synchronized scan elsewhere).  With
 * st->pages, every block read is told to it, in block order (the whole heap
 * is then not read as a synchronized scan either, which could start
 * anywhere), a whole heap's size first.
 */
void
table_stream_rows(TableStream *st, Relation rel, Snapshot snapshot,
				  BlockNumber start, BlockNumber nblocks)
{
	StreamColumn *cols = st->cols;
	int			ncols = st->ncols;
	MemoryContext rowcxt = st->rowcxt;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	AttrNumber *map = palloc(sizeof(AttrNumber) * Max(ncols, 1));
	bool		recording = st->pages != NULL;
	TableScanDesc scan;
	HeapScanDesc hscan;
	TupleTableSlot *slot;
	BlockNumber next;			/* the first block not recorded yet */
	BlockNumber end;
	int			i;

	/* a leaf may order or number its columns differently from the root */
	for (i = 0; i < ncols; i++)
	{
		map[i] = get_attnum(RelationGetRelid(rel), cols[i].name);
		if (map[i] == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" not found in \"%s\"", cols[i].name,
				 RelationGetRelationName(rel));
	}

	if ((recording || nblocks != InvalidBlockNumber) &&
		rel->rd_tableam != GetHeapamTableAmRoutine())
		elog(ERROR, "the pages of \"%s\" cannot be read in order: it is not a heap",
			 RelationGetRelationName(rel));
	slot = table_slot_create(rel, NULL);
	if (nblocks == InvalidBlockNumber)
	{
		scan = table_beginscan_strat(rel, snapshot, 0, NULL, true, !recording);
		start = 0;
		end = recording ? ((HeapScanDesc) scan)->rs_nblocks : 0;
		if (recording && st->pages->heap)
			st->pages->heap(st->pages->arg, rel, end);
	}
	else
	{
		scan = table_beginscan_strat(rel, snapshot, 0, NULL, true, false);
		heap_setscanlimits(scan, start, nblocks);
		end = start + nblocks;
	}
	hscan = (HeapScanDesc) scan;

	/*
	 * Through a ring of a few buffers whatever the table's size (a heap scan
	 * takes one only for a table of more than a quarter of shared_buffers):
	 * a backup reading many small tables does not push the database's
	 * working set out of shared buffers, and a parallel worker touches
	 * fewer of them (each first touch of a page costs it a page fault).
	 * (From PostgreSQL 17 a heap scan reads through a read stream that takes
	 * its strategy when the scan begins: a port must give it there.)
	 */
	if (rel->rd_tableam == GetHeapamTableAmRoutine() && hscan->rs_strategy == NULL)
		hscan->rs_strategy = GetAccessStrategy(BAS_BULKREAD);
	next = start;
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		if (recording && hscan->rs_cblock >= next)
		{
			tell_pages(st, hscan, next, hscan->rs_cblock);
			next = hscan->rs_cblock + 1;
		}
		MemoryContextReset(rowcxt);
		MemoryContextSwitchTo(rowcxt);
		slot_getallattrs(slot);

		stream_int16(st, (int16) ncols);
		for (i = 0; i < ncols; i++)
		{
			int			a = map[i] - 1;

			if (slot->tts_isnull[a])
				stream_int32(st, -1);
			else
				stream_value(st, &cols[i], slot->tts_values[a]);
		}
		MemoryContextSwitchTo(st->cxt);
		st->stats->rows++;
		if (st->buf.len >= STREAM_FLUSH_BYTES)
			stream_flush(st);
	}
	if (recording && next < end)
		tell_pages(st, hscan, next, end - 1);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	pfree(map);
	MemoryContextSwitchTo(old);
}

/*
 * A stream of the rows of rel (a table, or a partitioned table whose leaves
 * follow), in the root's columns, to emit.  stats counts rows and bytes
 * emitted; the caller may zero it between pieces.
 */
TableStream *
table_stream_begin(Relation rel, StreamEmit emit, void *arg, TableStreamStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "vault table stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StreamState *st = palloc0(sizeof(StreamState));

	st->cxt = cxt;
	st->rowcxt = AllocSetContextCreate(cxt, "vault stream row", ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&st->buf);
	enlargeStringInfo(&st->buf, STREAM_FLUSH_BYTES + 1024);
	st->emit = emit;
	st->arg = arg;
	st->stats = stats;
	memset(stats, 0, sizeof(*stats));
	st->cols = stream_columns(rel, &st->ncols);
	MemoryContextSwitchTo(old);
	return st;
}

void
table_stream_pages(TableStream *st, const StreamPages *pages)
{
	st->pages = pages;
}

/* header: signature, flags, no header extension */
void
table_stream_header(TableStream *st)
{
	stream_append(st, copy_signature, sizeof(copy_signature));
	stream_int32(st, 0);
	stream_int32(st, 0);
}

void
table_stream_trailer(TableStream *st)
{
	stream_int16(st, -1);
}

/* Hand what is buffered to emit. */
void
table_stream_flush(TableStream *st)
{
	stream_flush(st);
}

void
table_stream_end(TableStream *st)
{
	stream_flush(st);
	MemoryContextDelete(st->cxt);
}

/*
 * The whole stream of rel, in one process: header, every heap, trailer;
 * pages (or NULL) told of every heap and block as its scan reads them.
 */
void
table_stream_write(Relation rel, Snapshot snapshot, StreamEmit emit, void *arg,
				   TableStreamStats *stats, const StreamPages *pages)
{
	StreamState *st = table_stream_begin(rel, emit, arg, stats);
	ListCell   *lc;

	st->pages = pages;

	table_stream_header(st);
	foreach(lc, table_stream_heaps(rel))
	{
		Oid			heapoid = lfirst_oid(lc);
		Relation	heap = heapoid == RelationGetRelid(rel) ? rel : table_open(heapoid, AccessShareLock);

		table_stream_rows(st, heap, snapshot, 0, InvalidBlockNumber);
		if (heap != rel)
			table_close(heap, NoLock);
	}
	table_stream_trailer(st);
	table_stream_end(st);
}

/*
 * Binary send/receive functions of text-like types convert between the
 * server and the *client* encoding.  A stream must not depend on the
 * session that made it, so while streaming the client encoding is the
 * database encoding.  Callers restore it with PG_FINALLY.
 */
int
stream_encoding_begin(void)
{
	int			saved = pg_get_client_encoding();

	if (saved != GetDatabaseEncoding())
		SetClientEncoding(GetDatabaseEncoding());
	return saved;
}

void
stream_encoding_end(int saved)
{
	if (pg_get_client_encoding() != saved)
		SetClientEncoding(saved);
}
