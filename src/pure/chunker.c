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

/*
 * The gear hash h = (h << 1) + gear[byte] is one long dependency chain.  Two
 * bytes per step break it: with ga, gb the gear values of bytes i and i+1,
 * h(i) = (h << 1) + ga and h(i+1) = (h << 2) + ((ga << 1) + gb), where the
 * inner sum does not depend on h, so the chain is one shift and one add per
 * two bytes.  Both positions are still tested: the cuts are exactly those
 * of the one-byte loop (the unit tests compare the two).
 */
static inline size_t
scan_mask(const uint64_t *gear, const uint8_t *buf, size_t i, size_t end,
		  uint64_t mask, uint64_t *hp, int *found)
{
	uint64_t	h = *hp;

	for (; i + 1 < end; i += 2)
	{
		uint64_t	ga = gear[buf[i]];
		uint64_t	gb = gear[buf[i + 1]];
		uint64_t	h1 = (h << 1) + ga;

		h = (h << 2) + ((ga << 1) + gb);
		if ((h1 & mask) == 0)
		{
			*hp = h1;
			*found = 1;
			return i + 1;
		}
		if ((h & mask) == 0)
		{
			*hp = h;
			*found = 1;
			return i + 2;
		}
	}
	if (i < end)
	{
		h = (h << 1) + gear[buf[i]];
		i++;
		if ((h & mask) == 0)
		{
			*hp = h;
			*found = 1;
			return i;
		}
	}
	*hp = h;
	*found = 0;
	return i;
}

static size_t
next_cut(const Chunker *c, const uint8_t *buf, size_t len, uint64_t *cut_hash)
{
	uint64_t	h = 0;
	size_t		i;
	size_t		normal = c->avg_size;
	size_t		end = len < c->max_size ? len : c->max_size;
	int			found;

	*cut_hash = 0;
	if (len <= c->min_size)
		return len;
	if (normal > end)
		normal = end;
	i = scan_mask(c->gear, buf, c->min_size, normal, c->mask_s, &h, &found);
	if (!found)
		i = scan_mask(c->gear, buf, i, end, c->mask_l, &h, &found);
	/* not found: i == end, and h is the hash there */
	*cut_hash = h;
	return i;
}

size_t
chunker_next_cut(const Chunker *c, const uint8_t *buf, size_t len)
{
	uint64_t	h;

	return next_cut(c, buf, len, &h);
}

size_t
chunker_next_cut_hinted(const Chunker *c, const uint8_t *buf, size_t len,
						const ChunkerHint *hints, int nhints, uint64_t *cut_hash)
{
	size_t		end = len < c->max_size ? len : c->max_size;

	if (nhints > 0 && len > c->min_size)
	{
		size_t		first = end;
		size_t		last = 0;
		size_t		i;
		uint64_t	h = 0;

		/* only the hints' windows need a look */
		for (int k = 0; k < nhints; k++)
		{
			if (hints[k].min_len < first)
				first = hints[k].min_len;
			if (hints[k].max_len > last)
				last = hints[k].max_len;
		}
		if (first <= c->min_size)
			first = c->min_size + 1;
		if (last > end)
			last = end;

		/*
		 * The rolling hash at a position depends on the 64 bytes before it
		 * alone (each step shifts older bytes further out), so it may start
		 * 64 bytes before the first position that matters and still be
		 * scan_mask's hash there, which starts at min_size.
		 */
		i = first - 1 >= c->min_size + 64 ? first - 1 - 64 : c->min_size;
		for (; i < last; i++)
		{
			h = (h << 1) + c->gear[buf[i]];
			if (i + 1 < first)
				continue;
			for (int k = 0; k < nhints; k++)
			{
				if (h == hints[k].hash && i + 1 >= hints[k].min_len && i + 1 <= hints[k].max_len)
				{
					*cut_hash = h;
					return i + 1;
				}
			}
		}
	}
	return next_cut(c, buf, len, cut_hash);
}
