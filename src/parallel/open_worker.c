/*-------------------------------------------------------------------------
 * open_worker.c
 *	  A parallel restore worker: chunks of a point fetched, authenticated,
 *	  decrypted and decompressed ahead of the caller's COPY.
 *
 * Owns: once a worker of the caller's group (group.c), walking the
 * manifest of each stream the caller will load, in its order, and opening
 * every n-th chunk (n workers, this one's share) through the chunk store
 * as the extension owner, with the keys its caller unwrapped: the GCM tag,
 * a delta's base (its own cache of bases), the recomputed id.  A damaged
 * chunk is an error, raised as the caller's.  It reads only.
 *-------------------------------------------------------------------------
 */
#include "parallel/feed_int.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"

/* how many workers the caller started: known once it has started them */
static int
workers_started(FeedShared *fs)
{
	uint32		n;

	while ((n = pg_atomic_read_u32(&fs->launched)) == 0)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return (int) n;
}

void
vault_open_worker_main(Datum arg)
{
	GroupWorker w;
	FeedShared *fs;
	char	   *labels;
	VaultCall	call;
	VaultInfo	vault;
	ChunkStore *store;
	int			n;
	char		end = FEED_MSG_END;

	group_worker_attach(&w, arg, "vault: parallel restore worker");
	fs = group_worker_space(&w, FEED_PART_SHARED);
	labels = group_worker_space(&w, FEED_PART_LABELS);
	n = workers_started(fs);

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
		ChunkReader *r = chunk_reader_begin(store, fs->point_id, fs->ordinals[t],
											labels + t * FEED_LABEL_LEN);

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
