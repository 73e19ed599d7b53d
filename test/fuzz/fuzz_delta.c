/*
 * fuzz_delta.c: libFuzzer target for the delta patches (src/pure/delta.c).
 * Arbitrary bytes decoded as a patch against a fixed base must give a clean
 * error or a target of the recorded length, never an out-of-bounds access;
 * and the input cut into a base and a target must round-trip.
 */
#include <stdlib.h>
#include <string.h>

#include "delta.h"

#define CAP (1024 * 1024)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t base[] = "1,100.00,customer-1;2,200.00,customer-2;3,300.00,customer-3;";
	static uint8_t *out;
	static uint8_t *patch;
	size_t		olen = 0;
	size_t		tlen = 0;
	size_t		plen = 0;

	if (out == NULL)
	{
		out = malloc(CAP);
		patch = malloc(delta_bound(CAP));
	}

	/* arbitrary bytes as a patch */
	if (delta_decode(base, sizeof(base), data, size, out, CAP, &olen) == DELTA_OK &&
		(delta_target_length(data, size, &tlen) != DELTA_OK || tlen != olen))
		abort();

	/* the first half a base, the rest a target */
	if (size <= CAP)
	{
		size_t		half = size / 2;

		if (delta_encode(data, half, data + half, size - half, 1 + (int) (size % 3), patch,
						 delta_bound(CAP), &plen) != DELTA_OK)
			abort();
		if (delta_decode(data, half, patch, plen, out, CAP, &olen) != DELTA_OK ||
			olen != size - half || (olen > 0 && memcmp(out, data + half, olen) != 0))
			abort();
	}
	return 0;
}
