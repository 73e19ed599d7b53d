/*-------------------------------------------------------------------------
 * store/chunk_store_int.h
 *	  What the chunk store's four files share and no one else does: the
 *	  ChunkStore itself, chunk_io.c's steps (the lowest, used by all
 *	  others), and chunk_delta.c's (the writer's side used by chunk_store.c,
 *	  the reader's by chunk_read.c).
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_CHUNK_STORE_INT_H
#define VAULT_CHUNK_STORE_INT_H

#include "store/store.h"

#include "chunker.h"
#include "executor/spi.h"

#define MANIFEST_SEGMENT	1024	/* chunk numbers per manifest row */
#define AAD_LEN				(8 + CODEC_ID_LEN)
#define BASE_CACHE_SLOTS	4		/* bases kept open while reading a stream */

/* one opened base chunk, kept while deltas of the stream may need it */
typedef struct BaseSlot
{
	int64		chunk_no;		/* -1: empty */
	uint8		id[CODEC_ID_LEN];
	uint8	   *data;
	size_t		len;
	size_t		cap;
	uint64		used;			/* last use, for eviction */
} BaseSlot;

struct ChunkStore
{
	VaultCall  *call;
	VaultInfo  *vault;
	VaultKeys	keys;
	Chunker		chunker;
	MemoryContext cxt;
	bool		deltas;			/* the catalog has delta chunks (1.1) */
	bool		worker;			/* a parallel worker's: reads under its
								 * caller's snapshot, never writes */
	int			delta_level;	/* zstd level of patches */
	SPIPlanPtr	plan_lookup;
	SPIPlanPtr	plan_insert;
	SPIPlanPtr	plan_fetch;
	SPIPlanPtr	plan_segment_put;
	SPIPlanPtr	plan_segment_get;
	SPIPlanPtr	plan_track;
	uint8	   *scratch;		/* codec work area */
	size_t		scratch_cap;
	bytea	   *sealed;			/* sealing output, as a bytea */
	size_t		sealed_cap;
	uint8	   *plain;			/* opened chunk */
	size_t		plain_cap;
	uint8	   *payload;		/* a delta record: base id + patch */
	size_t		payload_cap;
	BaseSlot	bases[BASE_CACHE_SLOTS];
	uint64		base_clock;
	int64		bases_read;		/* base chunks opened (cache misses) */
};

/* chunk_io.c: one chunk row, one manifest segment */
extern void chunk_aad(ChunkStore *s, const uint8 *id, uint8 *aad);
extern void chunk_payload_reserve(ChunkStore *s, size_t need);
extern int64 *segment_get(ChunkStore *s, int64 point_id, int ordinal, int segment, int *n);
extern size_t chunk_seal_whole(ChunkStore *s, const uint8 *id, const char *data, size_t len);
extern ChunkCheck chunk_open_row(ChunkStore *s, int64 chunk_no, uint8 *id_out, uint8 **buf,
								 size_t *cap, size_t *len, bool *is_delta, int64 *base_no,
								 size_t *payload_len, const char **why);
extern ChunkCheck chunk_check_id(ChunkStore *s, const uint8 *id, const uint8 *data, size_t len,
								 const char **why);
extern ChunkCheck chunk_open_whole(ChunkStore *s, int64 chunk_no, uint8 *id_out, uint8 **buf,
								   size_t *cap, size_t *len, const char **why);

/* chunk_delta.c: the writer's side */
typedef struct BaseTrack BaseTrack;

extern BaseTrack *base_track_begin(ChunkStore *s, int64 point_id, int ordinal);
extern BaseTrack *base_track_begin_range(ChunkStore *s, int64 point_id, int ordinal, int64 first,
										 int64 last);
#define BASE_HINTS	2			/* earlier cuts offered to the chunker */
extern int	base_track_hints(BaseTrack *t, int64 offset, ChunkerHint *hints);
extern int64 base_track_match(BaseTrack *t, int64 offset, size_t len, int64 chunk_no,
							  bool has_hash, uint64 cut_hash);
extern bool chunk_seal_best(ChunkStore *s, BaseTrack *t, int64 base_no, const uint8 *id,
							const char *data, size_t len, size_t *sealed_len);

/* chunk_delta.c: the reader's side */
extern ChunkCheck chunk_open_any(ChunkStore *s, int64 chunk_no, const char **data, size_t *len,
								 const char **why);
extern ChunkCheck delta_apply(ChunkStore *s, int64 base_no, size_t payload_len, size_t plain_len,
							  uint8 **buf, size_t *cap, size_t *len, const char **why);

#endif							/* VAULT_CHUNK_STORE_INT_H */
