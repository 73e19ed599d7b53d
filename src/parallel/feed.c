/*-------------------------------------------------------------------------
 * feed.c
 *	  The caller's side of a parallel restore: the streams it loads, opened
 *	  ahead by workers, handed to COPY in order.
 *
 * Owns: whether a restore gets workers (the degree restore.c allows,
 * min_parallel_table_scan_size against the streams' sizes, free slots),
 * and reading: chunk j of a stream
 * comes from worker j mod n, so the caller takes the workers' messages in
 * turn and hands COPY the stream in order.  For a large stream whose target
 * takes formed rows (the caller says so with the target's columns), one
 * worker reads it whole and sends heap tuples instead (form_rows.c), and
 * the caller only inserts them.  A table the plan loads out of the feed's
 * order, or skips, is passed over.  The workers' segment, errors and end
 * are group.c's.  It must not decide what a restore creates.
 *-------------------------------------------------------------------------
 */
#include "parallel/feed_int.h"

#include "optimizer/paths.h"
#include "utils/builtins.h"

struct RestoreFeed
{
	WorkerGroup *group;
	FeedShared *shared;
	FeedForm   *form;
	int			n;				/* workers started */
	int			table;			/* the stream at hand, in shared->streams */
	bool		formed;			/* its rows come formed, from worker table % n */
	int64		chunk;			/* its next chunk */
	int			ends;			/* end messages taken for the stream */
	const char *cur;			/* the message at hand */
	Size		curlen;
	Size		curpos;
};

/*
 * Workers to open the chunks of tables (PointTable *, in the order the
 * restore loads them) of a point; NULL: the caller opens them itself.
 */
RestoreFeed *
restore_feed_begin(ChunkStore *store, VaultInfo *vault, Snapshot snapshot, int64 point_id,
				   List *tables, int degree)
{
	RestoreFeed *f;
	int			ntables = list_length(tables);
	int64		bytes = 0;
	Size		own[FEED_PARTS];
	void	   *space[FEED_PARTS];
	VaultKeys	keys;
	ListCell   *lc;
	int			i = 0;

	if (degree <= 0 || ntables == 0)
		return NULL;
	foreach(lc, tables)
		bytes += ((PointTable *) lfirst(lc))->logical_bytes;
	if (bytes < (int64) min_parallel_table_scan_size * BLCKSZ)
		return NULL;

	own[FEED_PART_SHARED] = add_size(offsetof(FeedShared, streams), mul_size(sizeof(FeedStream), ntables));
	own[FEED_PART_LABELS] = mul_size(FEED_LABEL_LEN, ntables);
	own[FEED_PART_FORM] = sizeof(FeedForm);
	chunk_store_keys(store, &keys);
	f = palloc0(sizeof(RestoreFeed));
	f->group = group_create("restore", degree, snapshot, &keys, vault->zstd_level, own, FEED_PARTS, space);
	explicit_bzero(&keys, sizeof(keys));
	if (f->group == NULL)
		return NULL;
	f->shared = space[FEED_PART_SHARED];
	f->form = space[FEED_PART_FORM];
	pg_atomic_init_u32(&f->shared->launched, 0);
	pg_atomic_init_u32(&f->shared->decided, 0);
	f->shared->point_id = point_id;
	f->shared->ntables = ntables;
	foreach(lc, tables)
	{
		PointTable *t = lfirst(lc);

		f->shared->streams[i].ordinal = t->ordinal;
		f->shared->streams[i].candidate = t->logical_bytes >= (int64) min_parallel_table_scan_size * BLCKSZ;
		strlcpy((char *) space[FEED_PART_LABELS] + i * FEED_LABEL_LEN,
				quote_qualified_identifier(t->schema_name, t->table_name), FEED_LABEL_LEN);
		i++;
	}
	f->n = group_launch(f->group, "vault_open_worker_main");
	if (f->n == 0)
		return NULL;
	pg_atomic_write_u32(&f->shared->launched, (uint32) f->n);
	f->table = -1;
	ereport(DEBUG1,
			(errmsg("vault: %d parallel workers open the chunks of %d tables", f->n, ntables)));
	return f;
}

/* The next message of the stream at hand: chunk f->chunk's worker's. */
static char
next_message(RestoreFeed *f)
{
	Size		len;
	void	   *data;

	(void) group_receive(f->group, (int) (f->chunk % f->n), &len, &data, false);
	if (len < 1 || (((char *) data)[0] != FEED_MSG_CHUNK && ((char *) data)[0] != FEED_MSG_END))
		elog(ERROR, "malformed message from a vault parallel restore worker");
	f->cur = (char *) data + 1;
	f->curlen = len - 1;
	f->curpos = 0;
	return ((char *) data)[0];
}

/* The next message from worker i of a formed stream. */
static char
next_formed_message(RestoreFeed *f, int i, Size *len, void **data)
{
	(void) group_receive(f->group, i, len, data, false);
	if (*len < 1 || (((char *) *data)[0] != FEED_MSG_ROWS && ((char *) *data)[0] != FEED_MSG_END))
		elog(ERROR, "malformed message from a vault parallel restore worker");
	return ((char *) *data)[0];
}

/* A formed stream's end: its worker's (taken), then every other worker's. */
static void
finish_formed(RestoreFeed *f)
{
	Size		len;
	void	   *data;

	if (f->ends == 0)
		while (next_formed_message(f, f->table % f->n, &len, &data) != FEED_MSG_END)
			;
	for (int i = 0; i < f->n; i++)
		if (i != f->table % f->n && next_formed_message(f, i, &len, &data) != FEED_MSG_END)
			elog(ERROR, "malformed message from a vault parallel restore worker");
	f->ends = f->n;
}

/* Pass over the rest of the stream at hand: every worker's end. */
static void
finish_table(RestoreFeed *f)
{
	if (f->formed)
	{
		if (f->ends < f->n)
			finish_formed(f);
		return;
	}
	while (f->ends < f->n)
	{
		if (next_message(f) == FEED_MSG_END)
			f->ends++;
		f->chunk++;
	}
}

/*
 * Tell the workers how the stream at hand comes: formed rows of these
 * columns, or (columns NULL) its bytes.  Only a candidate stream's workers
 * wait for this; the others' ordering is the same either way.
 */
static void
decide(RestoreFeed *f, const RowColumn *columns, int ncolumns)
{
	f->formed = columns != NULL && f->shared->streams[f->table].candidate;
	if (f->shared->streams[f->table].candidate)
	{
		f->form->formed = f->formed;
		f->form->ncolumns = f->formed ? ncolumns : 0;
		if (f->formed)
			memcpy(f->form->columns, columns, sizeof(RowColumn) * ncolumns);
		pg_write_barrier();
	}
	pg_atomic_write_u32(&f->shared->decided, (uint32) f->table + 1);
}

/*
 * The restore loads the stream of table ordinal next: true if the feed has
 * it (the streams before it are passed over), false if the caller must
 * read it itself.  columns (the target's, ncolumns of them) when the
 * target can take formed rows, else NULL; *formed says whether they come
 * so (restore_feed_rows) or as bytes (restore_feed_read).
 */
bool
restore_feed_table(RestoreFeed *f, int ordinal, const RowColumn *columns, int ncolumns,
				   bool *formed)
{
	int			t;

	*formed = false;
	for (t = f->table + 1; t < f->shared->ntables; t++)
	{
		if (f->shared->streams[t].ordinal == ordinal)
			break;
	}
	if (t == f->shared->ntables)
		return false;
	while (f->table < t)
	{
		if (f->table >= 0)
			finish_table(f);
		f->table++;
		f->chunk = 0;
		f->ends = 0;
		f->cur = NULL;
		f->curlen = f->curpos = 0;
		decide(f, f->table == t ? columns : NULL, ncolumns);
	}
	*formed = f->formed;
	return true;
}

/*
 * The next batch of the formed stream at hand: its tuples (each MAXALIGNed
 * after the one before), false at the stream's end.  The batch is valid
 * until the next call.
 */
bool
restore_feed_rows(RestoreFeed *f, const char **tuples, Size *len, uint32 *ntuples,
				  int64 *stream_bytes)
{
	Size		mlen;
	void	   *data;
	FeedRowsHead head;

	Assert(f->formed);
	if (f->ends > 0)
		return false;
	if (next_formed_message(f, f->table % f->n, &mlen, &data) == FEED_MSG_END)
	{
		f->ends = 1;
		finish_formed(f);
		return false;
	}
	if (mlen < sizeof(FeedRowsHead))
		elog(ERROR, "malformed message from a vault parallel restore worker");
	memcpy(&head, data, sizeof(head));
	*tuples = (const char *) data + sizeof(FeedRowsHead);
	*len = mlen - sizeof(FeedRowsHead);
	*ntuples = head.ntuples;
	*stream_bytes = (int64) head.stream_bytes;
	return true;
}

/* copy_data_source_cb semantics: at least minread bytes unless the stream ends. */
int
restore_feed_read(RestoreFeed *f, char *out, int minread, int maxread)
{
	int			got = 0;

	Assert(!f->formed);
	while (got < minread)
	{
		Size		n;

		if (f->curpos >= f->curlen)
		{
			if (f->ends > 0)
				break;			/* the stream has ended */
			if (next_message(f) == FEED_MSG_END)
			{
				/* the stream ends here; the other workers' ends follow */
				f->ends = 1;
				f->chunk++;
				finish_table(f);
				f->curlen = f->curpos = 0;
				break;
			}
			f->chunk++;
		}
		n = Min((Size) (maxread - got), f->curlen - f->curpos);
		memcpy(out + got, f->cur + f->curpos, n);
		f->curpos += n;
		got += n;
	}
	return got;
}

/*
 * The restore has loaded what it wanted: workers done with every stream
 * end on their own; any still at work are stopped.
 */
void
restore_feed_end(RestoreFeed *f)
{
	if (f->table == f->shared->ntables - 1 && f->ends == f->n)
		group_finish(f->group);
	else
		group_stop(f->group);
}
