/*-------------------------------------------------------------------------
 * delta.h
 *	  Delta chunks: a chunk written as a zstd patch against a base chunk
 *	  (zstd with the base as its prefix dictionary, the mechanism of
 *	  `zstd --patch-from`), pure C over libzstd.
 *
 * Owns the patch format and its checks; knows nothing of where chunks live,
 * how they are sealed (codec.h seals a patch like any payload) or which base
 * a chunk should use.
 *
 * Patch format, version 1 (integers little-endian):
 *	 0	4	magic "VDL1"
 *	 4	4	target length
 *	 8	4	base length
 *	12	8	the base's fingerprint (FNV-1a 64 over four lanes of 64-bit
 *			words, see delta.c): a patch never opens against another base
 *	20	4	reserved, zero
 *	24	n	one zstd frame with its content checksum, the base as prefix
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_DELTA_H
#define VAULT_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define DELTA_HEADER_LEN	24
#define DELTA_MAX_LEN		(64 * 1024 * 1024)	/* a chunk's sanity cap, as codec.h's */

typedef enum DeltaStatus
{
	DELTA_OK = 0,
	DELTA_ERR_TOO_SHORT,		/* shorter than a header and a frame */
	DELTA_ERR_MAGIC,			/* not a patch / unknown version */
	DELTA_ERR_HEADER,			/* reserved bits, or a length past the cap */
	DELTA_ERR_BASE,				/* the base is not the one the patch was made against */
	DELTA_ERR_CORRUPT,			/* the frame does not decode to the target */
	DELTA_ERR_CAPACITY,			/* output buffer too small, or input past the cap */
	DELTA_ERR_NOMEM				/* zstd could not allocate its context */
} DeltaStatus;

extern const char *delta_strerror(DeltaStatus st);

/* Worst-case patch size for a target of target_len bytes. */
extern size_t delta_bound(size_t target_len);

/*
 * target as a patch against base, at zstd level (1..19), into out (at least
 * delta_bound(target_len) bytes).
 */
extern DeltaStatus delta_encode(const uint8_t *base, size_t base_len,
								const uint8_t *target, size_t target_len, int level,
								uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * The match finder (delta_match.c): target's stretches found in base, in
 * order, as (literals, match length, offset) sequences, the offset counted
 * back from the match's place in base || target.  seqs needs room for
 * target_len / 32 + 1.  Returns how many, and in *align the bytes the
 * matches cover and where the last one ends in each (0, 0 without one).
 */
typedef struct DeltaSequence
{
	uint32_t	literals;
	uint32_t	match;
	uint32_t	offset;
} DeltaSequence;

typedef struct DeltaAlign
{
	size_t		matched;		/* target bytes the matches cover */
	size_t		base_end;		/* the last match ends here in the base */
	size_t		target_end;		/* and here in the target */
} DeltaAlign;

extern size_t delta_match(const uint8_t *base, size_t base_len, const uint8_t *target,
						  size_t target_len, DeltaSequence *seqs, size_t cap, DeltaAlign *align);

/* delta_encode, telling where the target's last match ended in the base */
extern DeltaStatus delta_encode_aligned(const uint8_t *base, size_t base_len,
										const uint8_t *target, size_t target_len, int level,
										uint8_t *out, size_t out_cap, size_t *out_len,
										DeltaAlign *align);

/* The target length a patch records (after its header's checks). */
extern DeltaStatus delta_target_length(const uint8_t *patch, size_t patch_len, size_t *target_len);

/*
 * The target back from base and patch, into out (out_cap bytes).  Never
 * reads or writes out of bounds, and never allocates more than a bounded
 * window, whatever the patch says.
 */
extern DeltaStatus delta_decode(const uint8_t *base, size_t base_len,
								const uint8_t *patch, size_t patch_len,
								uint8_t *out, size_t out_cap, size_t *out_len);

#endif							/* VAULT_DELTA_H */
