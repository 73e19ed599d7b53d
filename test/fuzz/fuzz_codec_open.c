/*
 * fuzz_codec_open.c: libFuzzer target for the sealed-chunk decoder.
 * Arbitrary bytes must never make codec_plain_length / codec_open read or
 * write out of bounds, and sealing (lz4 or zstd) then opening any input must
 * give it back.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define OUT_CAP (1024 * 1024)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[CODEC_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	static const uint8_t aad[8] = {'f', 'u', 'z', 'z', 0, 1, 2, 3};
	static uint8_t *out;
	static uint8_t *scratch;
	static uint8_t *sealed;
	size_t		plain = 0;
	size_t		olen = 0;
	size_t		slen = 0;

	if (out == NULL)
	{
		out = malloc(OUT_CAP);
		scratch = malloc(codec_sealed_bound(OUT_CAP) + OUT_CAP);
		sealed = malloc(codec_sealed_bound(OUT_CAP));
	}

	/*
	 * Decode arbitrary bytes: no crash, no out-of-bounds access (ASan), and
	 * whatever opens (the seeds are real chunks under this key) agrees with
	 * its header.
	 */
	if (codec_plain_length(data, size, &plain) == CODEC_OK && plain > CODEC_MAX_PLAIN)
		abort();
	if (size <= codec_sealed_bound(OUT_CAP) + OUT_CAP &&
		codec_open(key, aad, sizeof(aad), data, size, out, OUT_CAP, &olen, scratch) == CODEC_OK &&
		olen != plain)
		abort();

	/* a delta record's opener, on the same bytes */
	if (size <= OUT_CAP)
	{
		size_t		plen = 0;

		if (codec_open_delta(key, aad, sizeof(aad), data, size, out, OUT_CAP, &plen, &plain) == CODEC_OK &&
			(plen <= CODEC_ID_LEN || plen + CODEC_OVERHEAD != size))
			abort();
	}

	/* round trip */
	if (size <= OUT_CAP)
	{
		if (codec_seal(key, aad, sizeof(aad), data, size, sealed, &slen, scratch) != CODEC_OK)
			abort();
		if (codec_open(key, aad, sizeof(aad), sealed, slen, out, OUT_CAP, &olen, scratch) != CODEC_OK ||
			olen != size || (size > 0 && memcmp(out, data, size) != 0))
			abort();
		/* and with zstd, at a level the input picks (the fast ones) */
		if (codec_seal_level(key, aad, sizeof(aad), data, size, 1 + (int) (size % 5), sealed, &slen,
							 scratch) != CODEC_OK)
			abort();
		if (codec_open(key, aad, sizeof(aad), sealed, slen, out, OUT_CAP, &olen, scratch) != CODEC_OK ||
			olen != size || (size > 0 && memcmp(out, data, size) != 0))
			abort();
		/* and as a delta record's payload */
		if (size > CODEC_ID_LEN)
		{
			size_t		plen = 0;

			if (codec_seal_delta(key, aad, sizeof(aad), data, size, size, sealed, &slen) != CODEC_OK ||
				codec_open_delta(key, aad, sizeof(aad), sealed, slen, out, OUT_CAP, &plen, &plain) != CODEC_OK ||
				plen != size || plain != size || memcmp(out, data, size) != 0)
				abort();
		}
	}
	return 0;
}
