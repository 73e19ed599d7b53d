/*-------------------------------------------------------------------------
 * delta.c
 *	  Delta chunks: zstd patches against a base chunk; see delta.h.
 *
 * Pure C over libzstd: no server headers, unit-tested and fuzzed alone.
 * The contexts are made once per process and reset for every patch.  The
 * matches come from delta_match.c and zstd codes them
 * (ZSTD_compressSequences, of zstd's advanced API); when they cover too
 * little of the target, zstd's own match finder is tried as well and the
 * smaller frame kept.  Either way the frame is an ordinary zstd frame over
 * the base as its prefix.
 *-------------------------------------------------------------------------
 */
#include "delta.h"

#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_compressSequences */
#include <zstd.h>

/* a window of 2^24 covers a base and a target of a chunk's size many times */
#define DELTA_WINDOW_LOG_MAX	24

static ZSTD_CCtx *cctx = NULL;
static ZSTD_DCtx *dctx = NULL;

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/*
 * The base's fingerprint: FNV-1a 64 over four interleaved lanes of
 * little-endian 64-bit words (byte by byte for the tail), the lanes folded
 * together at the end.  A guard against the wrong base, not a MAC: four
 * independent multiply chains keep it at memory speed.
 */
static uint64_t
base_fingerprint(const uint8_t *p, size_t len)
{
	const uint64_t prime = UINT64_C(1099511628211);
	uint64_t	lane[4];
	uint64_t	h;
	size_t		i = 0;

	for (int k = 0; k < 4; k++)
		lane[k] = UINT64_C(14695981039346656037) + (uint64_t) k;
	for (; i + 32 <= len; i += 32)
	{
		for (int k = 0; k < 4; k++)
		{
			uint64_t	w;

			memcpy(&w, p + i + 8 * k, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
			w = __builtin_bswap64(w);	/* the words are little-endian */
#endif
			lane[k] = (lane[k] ^ w) * prime;
		}
	}
	h = (uint64_t) len;
	for (int k = 0; k < 4; k++)
		h = (h ^ lane[k]) * prime;
	for (; i < len; i++)
		h = (h ^ p[i]) * prime;
	return h;
}

const char *
delta_strerror(DeltaStatus st)
{
	switch (st)
	{
		case DELTA_OK:
			return "ok";
		case DELTA_ERR_TOO_SHORT:
			return "delta patch is truncated";
		case DELTA_ERR_MAGIC:
			return "not a delta patch (bad magic or version)";
		case DELTA_ERR_HEADER:
			return "delta patch header is invalid";
		case DELTA_ERR_BASE:
			return "delta patch was made against another base chunk";
		case DELTA_ERR_CORRUPT:
			return "delta patch does not decode to its target";
		case DELTA_ERR_CAPACITY:
			return "output buffer too small";
		case DELTA_ERR_NOMEM:
			return "out of memory";
	}
	return "unknown delta error";
}

size_t
delta_bound(size_t target_len)
{
	return DELTA_HEADER_LEN + ZSTD_compressBound(target_len);
}

/* a zstd context for patches against base, at level */
static int
patch_context(const uint8_t *base, size_t base_len, int level)
{
	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL)
		return 0;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	return !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) &&
		!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)) &&
		!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, DELTA_WINDOW_LOG_MAX)) &&
		!ZSTD_isError(ZSTD_CCtx_refPrefix(cctx, base, base_len));
}

/* The frame from delta_match's sequences; 0 when zstd refused them. */
static size_t
frame_from_matches(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
				   int level, uint8_t *out, size_t out_cap, DeltaAlign *align)
{
	static DeltaSequence *seqs = NULL;
	static ZSTD_Sequence *zseqs = NULL;
	static size_t seqs_cap = 0;
	size_t		need = target_len / 32 + 1;
	size_t		n;
	size_t		i;
	size_t		z;

	memset(align, 0, sizeof(*align));
	if (seqs_cap < need)
	{
		DeltaSequence *s2 = realloc(seqs, need * sizeof(DeltaSequence));
		ZSTD_Sequence *z2;

		if (s2 == NULL)
			return 0;
		seqs = s2;
		z2 = realloc(zseqs, need * sizeof(ZSTD_Sequence));
		if (z2 == NULL)
			return 0;
		zseqs = z2;
		seqs_cap = need;
	}
	n = delta_match(base, base_len, target, target_len, seqs, seqs_cap, align);
	for (i = 0; i < n; i++)
	{
		zseqs[i].offset = seqs[i].offset;
		zseqs[i].litLength = seqs[i].literals;
		zseqs[i].matchLength = seqs[i].match;
		zseqs[i].rep = 0;
	}
	/*
	 * zstd's own check of external sequences does not count a prefix as
	 * reachable (1.5.4), so it stays off: delta_match's sequences are valid
	 * by construction (every match compared byte for byte, every offset
	 * inside base || target), and the unit tests and the fuzzer open every
	 * patch they make.
	 */
	if (!patch_context(base, base_len, level) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 4)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_validateSequences, 0)))
		return 0;
	z = ZSTD_compressSequences(cctx, out, out_cap, zseqs, n, target, target_len);
	return ZSTD_isError(z) ? 0 : z;
}

DeltaStatus
delta_encode(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
			 int level, uint8_t *out, size_t out_cap, size_t *out_len)
{
	DeltaAlign	align;

	return delta_encode_aligned(base, base_len, target, target_len, level, out, out_cap, out_len,
								&align);
}

DeltaStatus
delta_encode_aligned(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
					 int level, uint8_t *out, size_t out_cap, size_t *out_len, DeltaAlign *align)
{
	size_t		n;

	if (base_len > DELTA_MAX_LEN || target_len > DELTA_MAX_LEN || level < 1 ||
		level > ZSTD_maxCLevel() || out_cap < delta_bound(target_len))
		return DELTA_ERR_CAPACITY;
	n = frame_from_matches(base, base_len, target, target_len, level,
						   out + DELTA_HEADER_LEN, out_cap - DELTA_HEADER_LEN, align);
	/* little of it found in order: let zstd's own match finder try as well */
	if (n == 0 || align->matched < target_len - target_len / 8)
	{
		uint8_t    *alt = out + DELTA_HEADER_LEN;
		size_t		m;

		if (n > 0 && n < (out_cap - DELTA_HEADER_LEN) / 2)
			alt = out + DELTA_HEADER_LEN + n;	/* the bound leaves room for both */
		if (!patch_context(base, base_len, level))
			return DELTA_ERR_NOMEM;
		m = ZSTD_compress2(cctx, alt, out_cap - (size_t) (alt - out), target, target_len);
		if (ZSTD_isError(m))
		{
			if (n == 0)
				return DELTA_ERR_CAPACITY;
		}
		else if (n == 0 || m < n)
		{
			memmove(out + DELTA_HEADER_LEN, alt, m);
			n = m;
		}
	}
	memcpy(out, "VDL1", 4);
	put_u32(out + 4, (uint32_t) target_len);
	put_u32(out + 8, (uint32_t) base_len);
	{
		uint64_t	h = base_fingerprint(base, base_len);

		put_u32(out + 12, (uint32_t) h);
		put_u32(out + 16, (uint32_t) (h >> 32));
	}
	put_u32(out + 20, 0);
	*out_len = DELTA_HEADER_LEN + n;
	return DELTA_OK;
}

DeltaStatus
delta_target_length(const uint8_t *patch, size_t patch_len, size_t *target_len)
{
	if (patch_len <= DELTA_HEADER_LEN)
		return DELTA_ERR_TOO_SHORT;
	if (memcmp(patch, "VDL1", 4) != 0)
		return DELTA_ERR_MAGIC;
	if (get_u32(patch + 20) != 0 || get_u32(patch + 4) > DELTA_MAX_LEN || get_u32(patch + 8) > DELTA_MAX_LEN)
		return DELTA_ERR_HEADER;
	*target_len = get_u32(patch + 4);
	return DELTA_OK;
}

DeltaStatus
delta_decode(const uint8_t *base, size_t base_len, const uint8_t *patch, size_t patch_len,
			 uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t		target_len;
	size_t		n;
	uint64_t	h;
	DeltaStatus st = delta_target_length(patch, patch_len, &target_len);

	if (st != DELTA_OK)
		return st;
	if (target_len > out_cap)
		return DELTA_ERR_CAPACITY;
	h = base_fingerprint(base, base_len);
	if (get_u32(patch + 8) != base_len || get_u32(patch + 12) != (uint32_t) h ||
		get_u32(patch + 16) != (uint32_t) (h >> 32))
		return DELTA_ERR_BASE;
	if (dctx == NULL && (dctx = ZSTD_createDCtx()) == NULL)
		return DELTA_ERR_NOMEM;
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, DELTA_WINDOW_LOG_MAX)) ||
		ZSTD_isError(ZSTD_DCtx_refPrefix(dctx, base, base_len)))
		return DELTA_ERR_NOMEM;
	/* at most target_len bytes out, whatever the frame claims */
	n = ZSTD_decompressDCtx(dctx, out, target_len, patch + DELTA_HEADER_LEN, patch_len - DELTA_HEADER_LEN);
	if (ZSTD_isError(n) || n != target_len)
		return DELTA_ERR_CORRUPT;
	*out_len = n;
	return DELTA_OK;
}
