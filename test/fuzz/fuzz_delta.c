/*
 * fuzz_delta.c: libFuzzer target for the delta patches (src/pure/delta.c).
 * Arbitrary bytes decoded as a patch against a fixed base must give a clean
 * error or a target of the recorded length, never an out-of-bounds access;
 * the input cut into a base and a target must round-trip, and so must the
 * input against itself edited as backups see it (bytes gone, changed,
 * added, at places the input picks), which keeps the match finder busy.
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

	/* the input against an edited copy of itself */
	if (size > 0 && size <= CAP / 2)
	{
		static uint8_t *edited;
		size_t		n = 0;
		size_t		step = 16 + data[0] % 200;

		if (edited == NULL)
			edited = malloc(CAP);
		for (size_t i = 0; i < size; i++)
		{
			size_t		k = i % step;

			if (k == 3)
				continue;		/* gone */
			edited[n++] = k == 7 ? (uint8_t) (data[i] ^ 0x55) : data[i];	/* changed */
			if (k == 11 && i % 3 == 0)
				edited[n++] = (uint8_t) i;	/* added */
		}
		if (delta_encode(data, size, edited, n, 1, patch, delta_bound(CAP), &plen) != DELTA_OK ||
			delta_decode(data, size, patch, plen, out, CAP, &olen) != DELTA_OK ||
			olen != n || (n > 0 && memcmp(out, edited, n) != 0))
			abort();
	}
	return 0;
}
