/*-------------------------------------------------------------------------
 * chunker.h
 *	  FastCDC content-defined chunking, pure C.
 *
 * Owns: finding chunk boundaries in a byte buffer.  Knows nothing about
 * PostgreSQL, keys or storage; the gear table is handed in by the caller
 * (derived from the vault's MAC key, so boundaries reveal nothing).
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_CHUNKER_H
#define VAULT_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKER_DEFAULT_MIN		(16 * 1024)
#define CHUNKER_DEFAULT_AVG		(64 * 1024)
#define CHUNKER_DEFAULT_MAX		(256 * 1024)

typedef struct Chunker
{
	uint64_t	gear[256];		/* per-vault random gear table */
	size_t		min_size;
	size_t		avg_size;
	size_t		max_size;
	uint64_t	mask_s;			/* stricter mask, used before avg_size */
	uint64_t	mask_l;			/* looser mask, used after avg_size */
} Chunker;

/*
 * Set up a chunker.  min <= avg <= max, avg a power of two between 256 and
 * 64 MiB; returns 0 on success, -1 if the sizes are invalid.
 */
extern int	chunker_init(Chunker *c, const uint64_t gear[256],
						 size_t min_size, size_t avg_size, size_t max_size);

/*
 * Length of the first chunk in buf[0..len).  Always in [1, len] for len > 0,
 * never more than max_size.  If no boundary is found before len (and len <
 * max_size) it returns len: the caller decides whether more data may come
 * (then it should wait for more bytes) or the stream ended (then that tail
 * is the last chunk).  Deterministic: the same bytes give the same cut.
 */
extern size_t chunker_next_cut(const Chunker *c, const uint8_t *buf, size_t len);

/*
 * A hint: the rolling hash an earlier stream had at one of its cuts (the
 * *cut_hash chunker_next_cut_hinted gave for it) and the lengths between
 * which the chunk at hand would end where that cut was.
 */
typedef struct ChunkerHint
{
	uint64_t	hash;
	size_t		min_len;
	size_t		max_len;
} ChunkerHint;

/*
 * chunker_next_cut with hints, and the cut's hash.  The first position at
 * or past min_size whose hash equals a hint's, at a length within the
 * hint's bounds, is the cut: a stream cut again after small changes ends
 * its chunks where the earlier stream did, wherever the changes moved its
 * own candidates.  Without a hint found the cut is chunker_next_cut's.
 * *cut_hash gets the rolling hash at the cut (0 for a chunk no longer than
 * min_size, where none is computed).
 */
extern size_t chunker_next_cut_hinted(const Chunker *c, const uint8_t *buf, size_t len,
									  const ChunkerHint *hints, int nhints, uint64_t *cut_hash);

#endif							/* VAULT_CHUNKER_H */
