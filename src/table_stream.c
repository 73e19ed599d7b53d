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
#include "vault.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/fmgroids.h"
#include "utils/typcache.h"
#include "fmgr.h"

#define STREAM_FLUSH_BYTES	(256 * 1024)

static const char copy_signature[11] = "PGCOPY\n\377\r\n\0";

typedef struct StreamColumn
{
	char	   *name;
	Oid			typid;
	bool		binary;			/* send function, else text output */
	FmgrInfo	func;
} StreamColumn;

typedef struct StreamState
{
	StringInfoData buf;
	StreamEmit	emit;
	void	   *arg;
	TableStreamStats *stats;
} StreamState;

static inline void
stream_append(StreamState *st, const void *data, int len)
{
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
			getTypeBinaryOutputInfo(att->atttypid, &sendfn, &isvarlena);
			fmgr_info(sendfn, &cols[n].func);
			cols[n].binary = true;
		}
		else
		{
			Oid			outfn;

			getTypeOutputInfo(att->atttypid, &outfn, &isvarlena);
			fmgr_info(outfn, &cols[n].func);
			cols[n].binary = false;
		}
		n++;
	}
	*ncols = n;
	return cols;
}

/* Write every row of one heap (a plain table or one leaf partition). */
static void
stream_scan(StreamState *st, Relation rel, Snapshot snapshot,
			StreamColumn *cols, int ncols, MemoryContext rowcxt)
{
	AttrNumber *map = palloc(sizeof(AttrNumber) * Max(ncols, 1));
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			i;

	/* a leaf may order or number its columns differently from the root */
	for (i = 0; i < ncols; i++)
	{
		map[i] = get_attnum(RelationGetRelid(rel), cols[i].name);
		if (map[i] == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" not found in \"%s\"", cols[i].name,
				 RelationGetRelationName(rel));
	}

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(rowcxt);
		old = MemoryContextSwitchTo(rowcxt);
		slot_getallattrs(slot);

		stream_int16(st, (int16) ncols);
		for (i = 0; i < ncols; i++)
		{
			int			a = map[i] - 1;

			if (slot->tts_isnull[a])
				stream_int32(st, -1);
			else if (cols[i].binary)
			{
				bytea	   *out = SendFunctionCall(&cols[i].func, slot->tts_values[a]);
				int			len = VARSIZE(out) - VARHDRSZ;

				stream_int32(st, len);
				stream_append(st, VARDATA(out), len);
			}
			else
			{
				char	   *out = OutputFunctionCall(&cols[i].func, slot->tts_values[a]);
				int			len = strlen(out);

				stream_int32(st, len);
				stream_append(st, out, len);
			}
		}
		MemoryContextSwitchTo(old);
		st->stats->rows++;
		if (st->buf.len >= STREAM_FLUSH_BYTES)
			stream_flush(st);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

void
table_stream_write(Relation rel, Snapshot snapshot,
				   StreamEmit emit, void *arg, TableStreamStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "vault table stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(cxt, "vault stream row",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	StreamState st;
	StreamColumn *cols;
	int			ncols;

	memset(stats, 0, sizeof(*stats));
	initStringInfo(&st.buf);
	enlargeStringInfo(&st.buf, STREAM_FLUSH_BYTES + 1024);
	st.emit = emit;
	st.arg = arg;
	st.stats = stats;

	cols = stream_columns(rel, &ncols);

	/* header: signature, flags, no header extension */
	stream_append(&st, copy_signature, sizeof(copy_signature));
	stream_int32(&st, 0);
	stream_int32(&st, 0);

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
			stream_scan(&st, part, snapshot, cols, ncols, rowcxt);
			table_close(part, NoLock);
		}
	}
	else
		stream_scan(&st, rel, snapshot, cols, ncols, rowcxt);

	stream_int16(&st, -1);		/* trailer */
	stream_flush(&st);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
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
