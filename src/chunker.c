/*-------------------------------------------------------------------------
 * chunker.c
 *	  FastCDC content-defined chunking (normalized chunking, level 2).
 *
 * Owns: finding chunk boundaries.  Pure C: no PostgreSQL, no keys, no I/O.
 *-------------------------------------------------------------------------
 */
#include "chunker.h"

static int
log2_exact(size_t v)
{
	int			b = 0;

	while (((size_t) 1 << b) < v)
		b++;
	return ((size_t) 1 << b) == v ? b : -1;
}

/* a mask with 'bits' one-bits spread over the top 48 bits of the word */
static uint64_t
spread_mask(int bits)
{
	uint64_t	m = 0;
	int			i;

	for (i = 0; i < bits; i++)
		m |= (uint64_t) 1 << (63 - (i * 48) / bits);
	return m;
}

int
chunker_init(Chunker *c, const uint64_t gear[256],
			 size_t min_size, size_t avg_size, size_t max_size)
{
	int			bits = log2_exact(avg_size);
	int			i;

	if (bits < 8 || bits > 26 || min_size < 64 || min_size > avg_size || avg_size > max_size)
		return -1;
	for (i = 0; i < 256; i++)
		c->gear[i] = gear[i];
	c->min_size = min_size;
	c->avg_size = avg_size;
	c->max_size = max_size;
	c->mask_s = spread_mask(bits + 2);
	c->mask_l = spread_mask(bits - 2);
	return 0;
}

size_t
chunker_next_cut(const Chunker *c, const uint8_t *buf, size_t len)
{
	uint64_t	h = 0;
	size_t		i = c->min_size;
	size_t		normal = c->avg_size;
	size_t		end = len < c->max_size ? len : c->max_size;

	if (len <= c->min_size)
		return len;
	if (normal > end)
		normal = end;
	for (; i < normal; i++)
	{
		h = (h << 1) + c->gear[buf[i]];
		if ((h & c->mask_s) == 0)
			return i + 1;
	}
	for (; i < end; i++)
	{
		h = (h << 1) + c->gear[buf[i]];
		if ((h & c->mask_l) == 0)
			return i + 1;
	}
	return end;
}
