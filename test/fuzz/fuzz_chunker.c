/*
 * fuzz_chunker.c: libFuzzer target for the FastCDC chunker.  Cutting any
 * input chunk by chunk must always make progress, never exceed max_size,
 * and cover the input exactly; with hints (taken from the input) too.
 */
#include <stdlib.h>

#include "chunker.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Chunker c;
	static int	ready = 0;
	size_t		pos = 0;

	if (!ready)
	{
		uint64_t	gear[256];
		uint64_t	x = 0x243f6a8885a308d3ULL;
		int			i;

		for (i = 0; i < 256; i++)
		{
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			gear[i] = x;
		}
		if (chunker_init(&c, gear, 64, 256, 1024) != 0)
			abort();
		ready = 1;
	}
	/* plainly, then with hints: the first pass's cut hashes, bounds from the input */
	for (int hinted = 0; hinted < 2; hinted++)
	{
		uint64_t	hashes[64];
		int			nhash = 0;

		pos = 0;
		while (pos < size)
		{
			size_t		left = size - pos;
			ChunkerHint hints[2];
			uint64_t	h = 0;
			size_t		cut;

			for (int k = 0; k < 2; k++)
			{
				hints[k].hash = nhash > 0 ? hashes[(pos + k) % nhash] : 0;
				hints[k].min_len = data[(pos + k) % size] * 4;
				hints[k].max_len = hints[k].min_len + data[(pos + k + 1) % size] * 8;
			}
			cut = chunker_next_cut_hinted(&c, data + pos, left, hints, hinted ? 2 : 0, &h);
			if (!hinted && cut != chunker_next_cut(&c, data + pos, left))
				abort();
			if (!hinted && nhash < 64)
				hashes[nhash++] = h;
			if (cut < 1 || cut > left || cut > c.max_size)
				abort();
			if (cut < c.min_size && cut != left)
				abort();
			pos += cut;
		}
		if (pos != size)
			abort();
	}
	return 0;
}
