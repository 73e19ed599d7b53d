/*-------------------------------------------------------------------------
 * form_rows.c
 *	  A restore worker's rows: a table's COPY BINARY stream read, each field
 *	  turned into a value by its type's receive function and each row formed
 *	  into a heap tuple, sent to the caller in batches.
 *
 * Owns: the work COPY FROM would do in the caller's backend before it
 * inserts (the framing, copybin.c; the receive functions, with the target
 * column's type modifier, as COPY calls them), so that the caller only
 * inserts.  The columns are the caller's decision (feed.c): only types the
 * worker sees committed, so their receive functions mean here what they
 * mean there.  A stream that is not the format is the point's damage,
 * raised as the caller's error.  Its memory is fixed: the read buffer
 * (grown only to the longest row), one row's values, one batch.
 *-------------------------------------------------------------------------
 */
#include "parallel/feed_int.h"

#include "copybin.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define FORM_READ_SIZE		(256 * 1024)
#define FORM_BATCH_BYTES	(64 * 1024)
#define FORM_BATCH_ROWS		1000

static const char padding[MAXIMUM_ALIGNOF] = {0};

/* the stream at hand, in a buffer that always has a byte past its data */
typedef struct FormReader
{
	ChunkReader *r;
	char	   *buf;
	size_t		cap;
	size_t		start;			/* what is not yet taken */
	size_t		end;
	int64		taken;			/* stream bytes before buf + start */
	const char *label;
	int64		point_id;
} FormReader;

static void
damaged(FormReader *fr, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("recovery point %lld is damaged: the stream of table %s is not COPY BINARY: %s",
					(long long) fr->point_id, fr->label, why),
			 errhint("Run vault_verify(%lld), and restore from another recovery point.",
					 (long long) fr->point_id)));
}

/* at least need bytes at buf + start, else false at the stream's end */
static bool
form_fill(FormReader *fr, size_t need)
{
	if (fr->end - fr->start >= need)
		return true;
	if (fr->start > 0)
	{
		memmove(fr->buf, fr->buf + fr->start, fr->end - fr->start);
		fr->end -= fr->start;
		fr->taken += fr->start;
		fr->start = 0;
	}
	if (need + 1 > fr->cap)
	{
		fr->cap = Max(need + 1, fr->cap * 2);
		fr->buf = repalloc_huge(fr->buf, fr->cap);
	}
	while (fr->end < need)
	{
		int			n = chunk_reader_read(fr->r, fr->buf + fr->end, 1,
										  (int) Min(fr->cap - 1 - fr->end, (size_t) INT_MAX));

		if (n == 0)
			return false;
		fr->end += n;
	}
	return true;
}

/* the batch's tuples to the caller */
static void
send_batch(GroupWorker *w, FormReader *fr, StringInfo batch, uint32 *ntuples)
{
	FeedRowsHead head;

	if (*ntuples == 0)
		return;
	memset(&head, 0, sizeof(head));
	head.type = FEED_MSG_ROWS;
	head.ntuples = *ntuples;
	head.stream_bytes = fr->taken + fr->start;
	group_worker_send(w, &head, sizeof(head), batch->data, batch->len);
	resetStringInfo(batch);
	*ntuples = 0;
}

void
form_rows_send(GroupWorker *w, ChunkReader *r, const FeedForm *form, const char *label,
			   int64 point_id)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "vault form rows",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller_cxt = MemoryContextSwitchTo(cxt);
	int			natts = form->ncolumns;
	TupleDesc	desc = CreateTemplateTupleDesc(natts);
	FmgrInfo   *recv = palloc(sizeof(FmgrInfo) * natts);
	Oid		   *ioparams = palloc(sizeof(Oid) * natts);
	CopyBinField *fields = palloc(sizeof(CopyBinField) * natts);
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	MemoryContext row_cxt = AllocSetContextCreate(cxt, "vault form row", ALLOCSET_DEFAULT_SIZES);
	StringInfoData batch;
	uint32		ntuples = 0;
	int64		rows = 0;
	FormReader	fr;
	size_t		used;
	const char *why;
	CopyBinStatus st;

	for (int i = 0; i < natts; i++)
	{
		Oid			func;

		TupleDescInitEntry(desc, i + 1, NULL, form->columns[i].typid, form->columns[i].typmod, 0);
		TupleDescAttr(desc, i)->attstorage = form->columns[i].storage;
		getTypeBinaryInputInfo(form->columns[i].typid, &func, &ioparams[i]);
		fmgr_info(func, &recv[i]);
	}
	memset(&fr, 0, sizeof(fr));
	fr.r = r;
	fr.cap = FORM_READ_SIZE;
	fr.buf = palloc(fr.cap);
	fr.label = label;
	fr.point_id = point_id;
	initStringInfo(&batch);

	used = 0;
	while ((st = copybin_header((uint8 *) fr.buf + fr.start, fr.end - fr.start, &used, &why)) == COPYBIN_MORE)
		if (!form_fill(&fr, used))
			damaged(&fr, "it ends in its header");
	if (st == COPYBIN_BAD)
		damaged(&fr, why);
	fr.start += used;

	for (;;)
	{
		char	   *row;
		HeapTuple	tuple;
		uint64		tuple_len;
		MemoryContext old;

		while ((st = copybin_row((uint8 *) fr.buf + fr.start, fr.end - fr.start, natts, fields,
								 &used, &why)) == COPYBIN_MORE)
			if (!form_fill(&fr, used))
				damaged(&fr, "it ends within a row");
		if (st == COPYBIN_BAD)
			damaged(&fr, why);
		if (st == COPYBIN_END)
			break;
		CHECK_FOR_INTERRUPTS();
		row = fr.buf + fr.start;
		old = MemoryContextSwitchTo(row_cxt);
		for (int i = 0; i < natts; i++)
		{
			StringInfoData field;
			char		saved;

			nulls[i] = fields[i].len < 0;
			if (nulls[i])
			{
				/* a receive function of a domain still checks its constraints */
				values[i] = ReceiveFunctionCall(&recv[i], NULL, ioparams[i], form->columns[i].typmod);
				continue;
			}

			/*
			 * The field in place, NUL-terminated as COPY's own buffer is
			 * (the byte after it is the next field's or the buffer's spare)
			 */
			field.data = row + fields[i].off;
			field.len = fields[i].len;
			field.maxlen = fields[i].len + 1;
			field.cursor = 0;
			saved = field.data[field.len];
			field.data[field.len] = '\0';
			values[i] = ReceiveFunctionCall(&recv[i], &field, ioparams[i], form->columns[i].typmod);
			row[fields[i].off + fields[i].len] = saved;
			if (field.cursor != field.len)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("incorrect binary data format in column %d of table %s",
								i + 1, label)));
		}
		if (rows++ == vault_debug_parallel_fail)	/* rows counted from 0 */
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("row %lld of table %s fails as vault.debug_parallel_fail asks",
							(long long) rows - 1, label)));
		tuple = heap_form_tuple(desc, values, nulls);
		MemoryContextSwitchTo(old);
		tuple_len = tuple->t_len;
		appendBinaryStringInfo(&batch, (char *) &tuple_len, sizeof(tuple_len));
		appendBinaryStringInfo(&batch, (char *) tuple->t_data, tuple->t_len);
		appendBinaryStringInfo(&batch, padding, MAXALIGN(tuple->t_len) - tuple->t_len);
		MemoryContextReset(row_cxt);
		fr.start += used;
		if (++ntuples >= FORM_BATCH_ROWS || batch.len >= FORM_BATCH_BYTES)
			send_batch(w, &fr, &batch, &ntuples);
	}
	fr.start += used;
	if (form_fill(&fr, 1))
		damaged(&fr, "data follows its end");
	send_batch(w, &fr, &batch, &ntuples);
	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(cxt);
}
