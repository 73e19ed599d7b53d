/*-------------------------------------------------------------------------
 * chunk_cut.c
 *	  A stream's bytes cut into content-defined chunks.
 *
 * Owns: the cutting buffer (twice the maximum chunk size) and the rule of
 * which cut is certain: a chunk is cut once max_size bytes follow its
 * start, or when the caller says the bytes end (the end of a stream, or of
 * a parallel worker's range).  Each chunk goes to a callback, with the
 * rolling hash at its cut when the content chose the cut (the hints of a
 * later backup's delta chunks need it).  Earlier cuts may be offered as
 * hints (chunk_delta.c's).  It knows nothing of ids, seals or storage: the
 * chunk writer (chunk_store.c) and the parallel workers (parallel/) stand
 * on it.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

void
chunk_cutter_init(ChunkCutter *c, const Chunker *chunker, CutHints hints, CutChunk chunk, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->chunker = chunker;
	c->cap = 2 * chunker->max_size;
	c->buf = palloc(c->cap);
	c->hints = hints;
	c->chunk = chunk;
	c->arg = arg;
}

/*
 * Cut every chunk whose end is certain: those starting max_size before the
 * end, or every one when the bytes end here.
 */
static void
cutter_cut(ChunkCutter *c, bool final)
{
	size_t		start = 0;

	while (c->len - start >= c->chunker->max_size || (final && c->len > start))
	{
		ChunkerHint hints[CUTTER_MAX_HINTS];
		int			nhints = c->hints ? c->hints(c->arg, hints) : 0;
		uint64		cut_hash;
		size_t		cut = chunker_next_cut_hinted(c->chunker, (const uint8 *) c->buf + start,
												  c->len - start, hints, nhints, &cut_hash);

		/*
		 * Only a cut the content chose has a hash worth a hint: not one at
		 * the maximum size, the end of the bytes, or within the minimum.
		 */
		c->chunk(c->arg, c->buf + start, cut,
				 cut > c->chunker->min_size && cut < c->chunker->max_size &&
				 start + cut < c->len, cut_hash);
		start += cut;
	}
	if (start > 0)
	{
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
	}
}

void
chunk_cutter_write(ChunkCutter *c, const char *data, size_t len)
{
	while (len > 0)
	{
		size_t		n = Min(len, c->cap - c->len);

		memcpy(c->buf + c->len, data, n);
		c->len += n;
		data += n;
		len -= n;
		if (c->len == c->cap)
			cutter_cut(c, false);
	}
}

/* The bytes end here (for now): cut what is buffered, to the last byte. */
void
chunk_cutter_flush(ChunkCutter *c)
{
	cutter_cut(c, true);
}
