/*-------------------------------------------------------------------------
 * delta.c
 *	  Delta chunks: zstd patches against a base chunk; see delta.h.
 *
 * Pure C over libzstd: no server headers, unit-tested and fuzzed alone.
 * The contexts are made once per process and reset for every patch.
 *-------------------------------------------------------------------------
 */
#include "delta.h"

#include <string.h>

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

static uint64_t
fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= UINT64_C(1099511628211);
	}
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

DeltaStatus
delta_encode(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
			 int level, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t		n;

	if (base_len > DELTA_MAX_LEN || target_len > DELTA_MAX_LEN || level < 1 ||
		level > ZSTD_maxCLevel() || out_cap < delta_bound(target_len))
		return DELTA_ERR_CAPACITY;
	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL)
		return DELTA_ERR_NOMEM;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, DELTA_WINDOW_LOG_MAX)) ||
		ZSTD_isError(ZSTD_CCtx_refPrefix(cctx, base, base_len)))
		return DELTA_ERR_NOMEM;
	n = ZSTD_compress2(cctx, out + DELTA_HEADER_LEN, out_cap - DELTA_HEADER_LEN, target, target_len);
	if (ZSTD_isError(n))
		return DELTA_ERR_CAPACITY;
	memcpy(out, "VDL1", 4);
	put_u32(out + 4, (uint32_t) target_len);
	put_u32(out + 8, (uint32_t) base_len);
	{
		uint64_t	h = fnv1a64(base, base_len);

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
	h = fnv1a64(base, base_len);
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
