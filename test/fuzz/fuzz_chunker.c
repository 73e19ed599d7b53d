/*
 * fuzz_chunker.c: libFuzzer target for the FastCDC chunker.  Cutting any
 * input chunk by chunk must always make progress, never exceed max_size,
 * and cover the input exactly.
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
	while (pos < size)
	{
		size_t		left = size - pos;
		size_t		cut = chunker_next_cut(&c, data + pos, left);

		if (cut < 1 || cut > left || cut > c.max_size)
			abort();
		if (cut < c.min_size && cut != left)
			abort();
		pos += cut;
	}
	if (pos != size)
		abort();
	return 0;
}
