/*-------------------------------------------------------------------------
 * form_rows.c
 *	  A restore worker's rows: a table's stream formed into heap tuples
 *	  (stream/table_rows.c) and sent to the caller in batches.
 *
 * Owns: the batching and the messages of a formed stream (feed_int.h), and
 * the test hook that fails a row.  The columns are the caller's decision
 * (feed.c): only types the worker sees committed, so their receive
 * functions mean here what they mean there.  A damaged stream is raised as
 * the caller's error (group.c).  Its memory is fixed: table_rows.c's and
 * one batch.
 *-------------------------------------------------------------------------
 */
#include "parallel/feed_int.h"

#include "miscadmin.h"
#include "utils/memutils.h"


static const char padding[MAXIMUM_ALIGNOF] = {0};

static int
read_chunks(void *arg, char *out, int minread, int maxread)
{
	return chunk_reader_read((ChunkReader *) arg, out, minread, maxread);
}

/* the batch's tuples to the caller */
static void
send_batch(GroupWorker *w, TableRows *tr, StringInfo batch, uint32 *ntuples)
{
	FeedRowsHead head;

	if (*ntuples == 0)
		return;
	memset(&head, 0, sizeof(head));
	head.type = FEED_MSG_ROWS;
	head.ntuples = *ntuples;
	head.stream_bytes = table_rows_bytes(tr);
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
	MemoryContext tuple_cxt = AllocSetContextCreate(cxt, "vault formed tuple",
													ALLOCSET_DEFAULT_SIZES);
	TableRows  *tr = table_rows_begin(read_chunks, r, form->columns, form->ncolumns, label, point_id);
	StringInfoData batch;
	uint32		ntuples = 0;
	int64		rows = 0;
	HeapTuple	tuple;

	initStringInfo(&batch);
	while ((tuple = table_rows_next(tr, tuple_cxt)) != NULL)
	{
		uint64		tuple_len = tuple->t_len;

		if (rows++ == vault_debug_parallel_fail)	/* rows counted from 0 */
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("row %lld of table %s fails as vault.debug_parallel_fail asks",
							(long long) rows - 1, label)));
		appendBinaryStringInfo(&batch, (char *) &tuple_len, sizeof(tuple_len));
		appendBinaryStringInfo(&batch, (char *) tuple->t_data, tuple->t_len);
		appendBinaryStringInfo(&batch, padding, MAXALIGN(tuple->t_len) - tuple->t_len);
		MemoryContextReset(tuple_cxt);
		if (++ntuples >= FEED_BATCH_ROWS || batch.len >= FEED_BATCH_BYTES)
			send_batch(w, tr, &batch, &ntuples);
		CHECK_FOR_INTERRUPTS();
	}
	send_batch(w, tr, &batch, &ntuples);
	table_rows_end(tr);
	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(cxt);
}
