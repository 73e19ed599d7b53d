/*-------------------------------------------------------------------------
 * chunk_read.c
 *	  Chunks back into streams.
 *
 * Owns: the ChunkReader, which walks a stream's manifest, has every chunk
 * opened and authenticated (GCM tag, a delta's base, then the recomputed
 * id: chunk_delta.c and chunk_io.c) and hands back the plaintext stream,
 * or passes chunks over without opening them (a parallel restore worker
 * opens only its share); and the single-chunk checks verify makes.  It
 * never writes.  Memory: one manifest segment and the store's buffers.
 *-------------------------------------------------------------------------
 */
#include "store/chunk_store_int.h"

#include "catalog/pg_type.h"
#include "nodes/pg_list.h"

struct ChunkReader
{
	ChunkStore *store;
	int64		point_id;
	int			ordinal;
	const char *label;
	int64	   *seg;
	int			nseg;
	int			pos;
	int			segment;
	int64		chunk_index;
	bool		done;
	const char *cur;
	size_t		curlen;
	size_t		curpos;
};

ChunkReader *
chunk_reader_begin(ChunkStore *store, int64 point_id, int ordinal, const char *table_label)
{
	ChunkReader *r = palloc0(sizeof(ChunkReader));

	r->store = store;
	r->point_id = point_id;
	r->ordinal = ordinal;
	r->label = pstrdup(table_label);
	r->segment = -1;
	return r;
}

List *
manifest_chunk_nos(ChunkStore *store, int64 point_id, int ordinal, int segment, bool *found)
{
	int			n;
	int64	   *nos;
	List	   *result = NIL;
	int			i;

	MemoryContext cxt = CurrentMemoryContext;

	vault_as_owner(store->call);
	nos = segment_get(store, point_id, ordinal, segment, &n);
	vault_as_caller(store->call);
	MemoryContextSwitchTo(cxt);
	*found = (n >= 0);
	for (i = 0; i < n; i++)
	{
		int64	   *v = palloc(sizeof(int64));

		*v = nos[i];
		result = lappend(result, v);
	}
	return result;
}

ChunkCheck
chunk_store_check(ChunkStore *store, int64 chunk_no, const char **why, size_t *plain_len)
{
	const char *data;
	size_t		len = 0;
	ChunkCheck	res;
	MemoryContext cxt = CurrentMemoryContext;

	vault_as_owner(store->call);
	res = chunk_open_any(store, chunk_no, &data, &len, why);
	vault_as_caller(store->call);
	MemoryContextSwitchTo(cxt);
	*plain_len = res == CHUNK_GOOD ? len : 0;
	return res;
}

/* The next chunk number of the manifest, or -1 at its end (owner context). */
static int64
reader_next_no(ChunkReader *r)
{
	if (r->done)
		return -1;
	while (r->seg == NULL || r->pos >= r->nseg)
	{
		if (r->seg)
			pfree(r->seg);
		r->segment++;
		r->pos = 0;
		r->seg = segment_get(r->store, r->point_id, r->ordinal, r->segment, &r->nseg);
		if (r->nseg < 0)
		{
			r->done = true;
			return -1;
		}
	}
	r->chunk_index++;
	return r->seg[r->pos++];
}

/* Pass over the next chunk without opening it; false at the end. */
bool
chunk_reader_skip(ChunkReader *r)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		chunk_no;

	vault_as_owner(r->store->call);
	chunk_no = reader_next_no(r);
	vault_as_caller(r->store->call);
	MemoryContextSwitchTo(cxt);
	return chunk_no >= 0;
}

/* The next chunk's plaintext, or false at the end of the stream. */
bool
chunk_reader_next(ChunkReader *r, const char **data, size_t *len)
{
	ChunkStore *s = r->store;
	const char *why;
	int64		chunk_no;
	MemoryContext cxt = CurrentMemoryContext;

	vault_as_owner(s->call);
	chunk_no = reader_next_no(r);
	if (chunk_no < 0)
	{
		vault_as_caller(s->call);
		MemoryContextSwitchTo(cxt);
		return false;
	}
	if (chunk_open_any(s, chunk_no, data, len, &why) != CHUNK_GOOD)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("recovery point %lld is damaged: chunk %lld of table %s: %s",
						(long long) r->point_id, (long long) chunk_no, r->label, why),
				 errdetail("Chunk %lld of the table's stream could not be authenticated; nothing was restored.",
						   (long long) r->chunk_index),
				 errhint("Run vault_verify(%lld) to list every damaged chunk, and restore from another recovery point.",
						 (long long) r->point_id)));
	vault_as_caller(s->call);
	MemoryContextSwitchTo(cxt);
	return true;
}

/* copy_data_source_cb semantics: at least minread bytes unless the stream ends. */
int
chunk_reader_read(ChunkReader *r, char *out, int minread, int maxread)
{
	int			got = 0;

	while (got < minread)
	{
		size_t		n;

		if (r->cur == NULL || r->curpos >= r->curlen)
		{
			if (!chunk_reader_next(r, &r->cur, &r->curlen))
				break;
			r->curpos = 0;
		}
		n = Min((size_t) (maxread - got), r->curlen - r->curpos);
		memcpy(out + got, r->cur + r->curpos, n);
		r->curpos += n;
		got += n;
	}
	return got;
}
