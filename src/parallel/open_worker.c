/*-------------------------------------------------------------------------
 * open_worker.c
 *	  A parallel restore worker: chunks of a point fetched, authenticated,
 *	  decrypted and decompressed ahead of the caller's COPY.
 *
 * Owns: once a worker of the caller's group (group.c), walking the
 * manifest of each stream the caller will load, in its order, and opening
 * every n-th chunk (n workers, this one's share) through the chunk store
 * as the extension owner, with the keys its caller unwrapped: the GCM tag,
 * a delta's base (its own cache of bases), the recomputed id.  A stream the
 * caller wants as formed rows is read whole by one worker, which forms
 * them (form_rows.c).  A damaged chunk is an error, raised as the
 * caller's.  It reads only.
 *-------------------------------------------------------------------------
 */
#include "parallel/feed_int.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"

/* a millisecond's nap while the caller gets on */
static void
nap(void)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1,
					 PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/* how many workers the caller started: known once it has started them */
static int
workers_started(FeedShared *fs)
{
	uint32		n;

	while ((n = pg_atomic_read_u32(&fs->launched)) == 0)
		nap();
	return (int) n;
}

/*
 * Whether candidate stream t comes as formed rows: the caller decides when
 * it has the stream's target at hand.
 */
static bool
stream_formed(FeedShared *fs, FeedForm *form, int t)
{
	if (!fs->streams[t].candidate)
		return false;
	while (pg_atomic_read_u32(&fs->decided) <= (uint32) t)
		nap();
	pg_read_barrier();
	return form->formed;
}

void
vault_open_worker_main(Datum arg)
{
	GroupWorker w;
	FeedShared *fs;
	FeedForm   *form;
	char	   *labels;
	VaultCall	call;
	VaultInfo	vault;
	ChunkStore *store;
	int			n;
	char		end = FEED_MSG_END;

	group_worker_attach(&w, arg, "vault: parallel restore worker");
	fs = group_worker_space(&w, FEED_PART_SHARED);
	labels = group_worker_space(&w, FEED_PART_LABELS);
	form = group_worker_space(&w, FEED_PART_FORM);
	n = workers_started(fs);
	(void) stream_encoding_begin(); /* the values' text as the caller reads it */

	/* the vault as far as reading its chunks goes */
	memset(&vault, 0, sizeof(vault));
	vault.vault_id = w.shared->vault_id;
	vault.name = "";
	vault.redundancy = "local";
	vault.zstd_level = w.shared->zstd_level;
	vault_call_begin(&call);
	store = chunk_store_open_keys(&call, &vault, &w.shared->keys);

	for (int t = 0; t < fs->ntables; t++)
	{
		const char *label = labels + t * FEED_LABEL_LEN;
		ChunkReader *r;

		if (stream_formed(fs, form, t))
		{
			if (t % n == w.me)
				form_rows_send(&w, chunk_reader_begin(store, fs->point_id, fs->streams[t].ordinal, label),
							   form, label, fs->point_id);
			group_worker_send(&w, &end, 1, NULL, 0);
			continue;
		}
		r = chunk_reader_begin(store, fs->point_id, fs->streams[t].ordinal, label);
		for (int64 j = 0;; j++)
		{
			const char *data;
			size_t		len;
			char		type = FEED_MSG_CHUNK;

			CHECK_FOR_INTERRUPTS();
			if (j % n != w.me)
			{
				if (!chunk_reader_skip(r))
					break;
				continue;
			}
			if (!chunk_reader_next(r, &data, &len))
				break;
			group_worker_send(&w, &type, 1, data, len);
		}
		group_worker_send(&w, &end, 1, NULL, 0);
	}
	vault_call_end(&call);
	group_worker_exit(&w);
}
