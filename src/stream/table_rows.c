/*-------------------------------------------------------------------------
 * table_rows.c
 *	  A table's COPY BINARY stream back into heap tuples: the reverse of
 *	  table_stream.c, for a restore.
 *
 * Owns: the work COPY FROM does before it inserts, done here so that a
 * restore (its own backend, or a parallel worker, parallel/form_rows.c)
 * only inserts: the framing (copybin.c), each field turned into a value by
 * its type's receive function with the target column's type modifier, as
 * COPY calls them, and each row formed into a heap tuple.  Which targets
 * may take formed rows is the restore's decision (api/restore_load.c).  A
 * stream that is not the format is the point's damage.  It never inserts.
 * Memory is fixed: the read buffer (grown only to the longest row) and one
 * row's values; each tuple goes to the memory context the caller names.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "copybin.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define ROWS_READ_SIZE		(256 * 1024)

struct TableRows
{
	TableRowsRead read;
	void	   *read_arg;
	const char *label;
	int64		point_id;
	MemoryContext row_cxt;		/* one row's values */

	/* the columns */
	int			natts;
	const RowColumn *columns;
	TupleDesc	desc;
	FmgrInfo   *recv;
	Oid		   *ioparams;
	CopyBinField *fields;
	Datum	   *values;
	bool	   *nulls;

	/* the stream at hand, in a buffer that always has a byte past its data */
	char	   *buf;
	size_t		cap;
	size_t		start;			/* what is not yet taken */
	size_t		end;
	int64		taken;			/* stream bytes before buf + start */
	bool		ended;			/* the trailer has been read */
};

static void
damaged(TableRows *tr, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("recovery point %lld is damaged: the stream of table %s is not COPY BINARY: %s",
					(long long) tr->point_id, tr->label, why),
			 errhint("Run vault_verify(%lld), and restore from another recovery point.",
					 (long long) tr->point_id)));
}

/* at least need bytes at buf + start, else false at the stream's end */
static bool
fill(TableRows *tr, size_t need)
{
	if (tr->end - tr->start >= need)
		return true;
	if (tr->start > 0)
	{
		memmove(tr->buf, tr->buf + tr->start, tr->end - tr->start);
		tr->end -= tr->start;
		tr->taken += tr->start;
		tr->start = 0;
	}
	if (need + 1 > tr->cap)
	{
		tr->cap = Max(need + 1, tr->cap * 2);
		tr->buf = repalloc_huge(tr->buf, tr->cap);
	}
	while (tr->end < need)
	{
		int			n = tr->read(tr->read_arg, tr->buf + tr->end, 1,
								 (int) Min(tr->cap - 1 - tr->end, (size_t) INT_MAX));

		if (n == 0)
			return false;
		tr->end += n;
	}
	return true;
}

/* whether every byte is below 0x80: one character each in every server encoding */
static bool
ascii_only(const char *s, size_t len)
{
	uint64		acc = 0;
	size_t		i = 0;

	for (; i + sizeof(uint64) <= len; i += sizeof(uint64))
	{
		uint64		w;

		memcpy(&w, s + i, sizeof(w));
		acc |= w;
	}
	for (; i < len; i++)
		acc |= (unsigned char) s[i];
	return (acc & UINT64CONST(0x8080808080808080)) == 0;
}

/*
 * The type modifier to receive a field with.  A character(n) value that is
 * already n ASCII characters is received without it: bpchar's input would
 * only count its characters (a third of the forming of pgbench's accounts,
 * in pg_mblen) to find nothing to pad and nothing to cut, and the result is
 * the same bytes.  Any other value, or type, gets the column's own.
 */
static int32
receive_typmod(const RowColumn *column, const char *data, int32 len)
{
	if (column->typid == BPCHAROID && column->typmod >= (int32) VARHDRSZ &&
		len == column->typmod - (int32) VARHDRSZ && ascii_only(data, (size_t) len))
		return -1;
	return column->typmod;
}

/*
 * Rows of the stream read(read_arg, ...) gives, for a target whose columns
 * are columns; label and point_id name the stream in errors.  The header is
 * read here.
 */
TableRows *
table_rows_begin(TableRowsRead read, void *read_arg, const RowColumn *columns, int ncolumns,
				 const char *label, int64 point_id)
{
	TableRows  *tr = palloc0(sizeof(TableRows));
	size_t		used = 0;
	const char *why;
	CopyBinStatus st;

	tr->read = read;
	tr->read_arg = read_arg;
	tr->label = pstrdup(label);
	tr->point_id = point_id;
	tr->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "vault table rows",
										ALLOCSET_DEFAULT_SIZES);
	tr->natts = ncolumns;
	tr->columns = columns;
	tr->desc = CreateTemplateTupleDesc(ncolumns);
	tr->recv = palloc(sizeof(FmgrInfo) * ncolumns);
	tr->ioparams = palloc(sizeof(Oid) * ncolumns);
	tr->fields = palloc(sizeof(CopyBinField) * ncolumns);
	tr->values = palloc(sizeof(Datum) * ncolumns);
	tr->nulls = palloc(sizeof(bool) * ncolumns);
	for (int i = 0; i < ncolumns; i++)
	{
		Oid			func;

		TupleDescInitEntry(tr->desc, i + 1, NULL, columns[i].typid, columns[i].typmod, 0);
		TupleDescAttr(tr->desc, i)->attstorage = columns[i].storage;
		getTypeBinaryInputInfo(columns[i].typid, &func, &tr->ioparams[i]);
		fmgr_info(func, &tr->recv[i]);
	}
	tr->cap = ROWS_READ_SIZE;
	tr->buf = palloc(tr->cap);

	while ((st = copybin_header((uint8 *) tr->buf + tr->start, tr->end - tr->start, &used, &why)) == COPYBIN_MORE)
		if (!fill(tr, used))
			damaged(tr, "it ends in its header");
	if (st == COPYBIN_BAD)
		damaged(tr, why);
	tr->start += used;
	return tr;
}

/*
 * The next row, formed in tuple_cxt; NULL after the last (the trailer read,
 * and nothing after it).
 */
HeapTuple
table_rows_next(TableRows *tr, MemoryContext tuple_cxt)
{
	size_t		used = 0;
	const char *why;
	CopyBinStatus st;
	char	   *row;
	HeapTuple	tuple;
	MemoryContext old;

	if (tr->ended)
		return NULL;
	while ((st = copybin_row((uint8 *) tr->buf + tr->start, tr->end - tr->start, tr->natts,
							 tr->fields, &used, &why)) == COPYBIN_MORE)
		if (!fill(tr, used))
			damaged(tr, "it ends within a row");
	if (st == COPYBIN_BAD)
		damaged(tr, why);
	tr->start += used;
	if (st == COPYBIN_END)
	{
		tr->ended = true;
		if (fill(tr, 1))
			damaged(tr, "data follows its end");
		return NULL;
	}

	row = tr->buf + tr->start - used;
	old = MemoryContextSwitchTo(tr->row_cxt);
	for (int i = 0; i < tr->natts; i++)
	{
		const RowColumn *column = &tr->columns[i];
		StringInfoData field;
		char		saved;

		tr->nulls[i] = tr->fields[i].len < 0;
		if (tr->nulls[i])
		{
			/* a receive function of a domain still checks its constraints */
			tr->values[i] = ReceiveFunctionCall(&tr->recv[i], NULL, tr->ioparams[i], column->typmod);
			continue;
		}

		/*
		 * The field in place, NUL-terminated as COPY's own buffer is (the
		 * byte after it is the next field's or the buffer's spare)
		 */
		field.data = row + tr->fields[i].off;
		field.len = tr->fields[i].len;
		field.maxlen = tr->fields[i].len + 1;
		field.cursor = 0;
		saved = field.data[field.len];
		field.data[field.len] = '\0';
		tr->values[i] = ReceiveFunctionCall(&tr->recv[i], &field, tr->ioparams[i],
											receive_typmod(column, field.data, field.len));
		field.data[field.len] = saved;
		if (field.cursor != field.len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("incorrect binary data format in column %d of table %s",
							i + 1, tr->label)));
	}
	MemoryContextSwitchTo(tuple_cxt);
	tuple = heap_form_tuple(tr->desc, tr->values, tr->nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(tr->row_cxt);
	return tuple;
}

/* the stream's bytes taken so far */
int64
table_rows_bytes(const TableRows *tr)
{
	return tr->taken + (int64) tr->start;
}

void
table_rows_end(TableRows *tr)
{
	MemoryContextDelete(tr->row_cxt);
	pfree(tr->buf);
	pfree(tr);
}
