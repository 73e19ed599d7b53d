/*-------------------------------------------------------------------------
 * delta_match.c
 *	  Finding a target's stretches in its base, in order: the match finder
 *	  of delta patches.
 *
 * Owns: turning (base, target) into zstd sequences whose matches point
 * into the base, for ZSTD_compressSequences.  A target is its base with
 * rows gone, added or changed here and there, in the same order, so the
 * finder walks both at once: it extends the match at the expected place,
 * and after a difference looks for the next bytes of the target a little
 * ahead in the base.  zstd's own match finders at their fast levels
 * settle for the nearest repeat (the row before, in a table of similar
 * rows) and give a sequence per row; this gives one per difference.
 *
 * Pure C, no allocation: the caller hands the sequence array in.  Work is
 * bounded: linear in the target, and a fixed budget of searches.
 *-------------------------------------------------------------------------
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* memmem */
#endif
#include "delta.h"

#include <string.h>

#define MATCH_MIN		32		/* shortest match worth a sequence */
#define PROBE			16		/* bytes of the target looked for in the base */
#define AHEAD			16384	/* how far ahead in the base a resync looks */
#define BEHIND			4096	/* and how far back (rows moved earlier) */
#define SHIFTS			48		/* target positions tried after a difference */
#define LONG_MATCH		512		/* a match that long needs no search */
#define MAX_SKIP		4096	/* the longest such jump */
#define TRIES_PER_KIB	8		/* search budget: probes per KiB of target */

/* bytes equal at the start of a and b, up to n */
static size_t
common_prefix(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t		i = 0;

	while (i + 8 <= n)
	{
		uint64_t	x;
		uint64_t	y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + (size_t) (__builtin_ctzll(x ^ y) >> 3);
		i += 8;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* bytes equal at the end of a and b (a, b point past them), up to n */
static size_t
common_suffix(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t		i = 0;

	while (i < n && a[-1 - (ptrdiff_t) i] == b[-1 - (ptrdiff_t) i])
		i++;
	return i;
}

/* the first base position in [from, to) holding the PROBE bytes at t whose match runs MATCH_MIN */
static long
search(const uint8_t *base, size_t base_len, size_t from, size_t to, const uint8_t *t, size_t left,
	   long *budget)
{
	const uint8_t *p = base + from;

	while (*budget > 0 && p + PROBE <= base + to)
	{
		const uint8_t *q = memmem(p, (size_t) (base + to - p), t, PROBE);
		size_t		avail;

		(*budget)--;
		if (q == NULL)
			return -1;
		avail = base_len - (size_t) (q - base);
		if (common_prefix(q, t, avail < left ? avail : left) >= MATCH_MIN)
			return (long) (q - base);
		p = q + 1;
	}
	return -1;
}

/*
 * Where the target's bytes at t (left of them) continue in the base around
 * bp: ahead (bytes gone), else a little behind (bytes added or moved).  -1
 * when none.
 */
static long
resync(const uint8_t *base, size_t base_len, const uint8_t *t, size_t left, size_t bp, long *budget)
{
	size_t		to = bp + AHEAD < base_len ? bp + AHEAD : base_len;
	long		found;

	if (left < MATCH_MIN)
		return -1;
	found = search(base, base_len, bp < base_len ? bp : base_len, to, t, left, budget);
	if (found < 0 && bp > 0)
		found = search(base, base_len, bp > BEHIND ? bp - BEHIND : 0,
					   bp + PROBE - 1 < base_len ? bp + PROBE - 1 : base_len, t, left, budget);
	return found;
}

/*
 * The sequences of target against base into seqs (room for cap, at least
 * target_len / MATCH_MIN + 1), offsets counted back from each match's place
 * in base || target as zstd's prefix does.  Returns how many, and in
 * *align what they cover.  Bytes after the last sequence are literals.
 */
size_t
delta_match(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
			DeltaSequence *seqs, size_t cap, DeltaAlign *align)
{
	size_t		n = 0;
	size_t		tp = 0;			/* next target byte */
	size_t		bp = 0;			/* where it is expected in the base */
	size_t		lit = 0;		/* first target byte not yet in a sequence */
	long		budget = (long) (TRIES_PER_KIB * (target_len / 1024 + 1)) + SHIFTS;
	size_t		skip = SHIFTS;	/* how far to jump over bytes not found */

	align->matched = 0;
	align->base_end = 0;
	align->target_end = 0;
	while (tp + MATCH_MIN <= target_len && n < cap)
	{
		size_t		len = bp < base_len ?
			common_prefix(target + tp, base + bp, (target_len - tp < base_len - bp ?
												   target_len - tp : base_len - bp)) : 0;

		if (len < MATCH_MIN)
		{
			long		found = -1;
			size_t		found_len = 0;
			size_t		found_shift = 0;
			size_t		shift;

			/*
			 * The difference: find where the target goes on in the base.
			 * Bytes changed in place keep the alignment (tried at every
			 * shift, cheap); in a table of similar rows a wrong alignment
			 * runs on for a row, so a short one yields to what a search
			 * finds.  The match found then runs back over the bytes
			 * skipped.
			 */
			for (shift = 0; shift < SHIFTS && tp + shift + MATCH_MIN <= target_len; shift++)
			{
				size_t		same = bp + shift;
				size_t		l;

				if (same >= base_len)
					break;
				l = common_prefix(base + same, target + tp + shift,
								  base_len - same < target_len - tp - shift ?
								  base_len - same : target_len - tp - shift);
				if (l >= MATCH_MIN && l > found_len)
				{
					found = (long) same;
					found_len = l;
					found_shift = shift;
					if (l >= LONG_MATCH)
						break;
				}
			}
			if (found_len < LONG_MATCH)
			{
				for (shift = 0; shift < SHIFTS && tp + shift + MATCH_MIN <= target_len && budget > 0;
					 shift += SHIFTS / 4)
				{
					long		q = resync(base, base_len, target + tp + shift, target_len - tp - shift,
										   bp, &budget);

					if (q >= 0)
					{
						size_t		l = common_prefix(base + q, target + tp + shift,
													  base_len - (size_t) q < target_len - tp - shift ?
													  base_len - (size_t) q : target_len - tp - shift);

						if (l > found_len)
						{
							found = q;
							found_len = l;
							found_shift = shift;
						}
						break;
					}
				}
			}
			shift = found_shift;
			if (found < 0)
			{
				/* new bytes: skip further each time, the next match runs back */
				tp += skip;
				skip = skip * 2 < MAX_SKIP ? skip * 2 : MAX_SKIP;
				if (budget <= 0)
					break;
				continue;
			}
			skip = SHIFTS;
			tp += shift;
			bp = (size_t) found;
			/* the match may also run back into the literals */
			{
				size_t		back = common_suffix(target + tp, base + bp,
												 tp - lit < bp ? tp - lit : bp);

				tp -= back;
				bp -= back;
			}
			len = common_prefix(target + tp, base + bp, (target_len - tp < base_len - bp ?
														 target_len - tp : base_len - bp));
		}
		seqs[n].literals = (uint32_t) (tp - lit);
		seqs[n].match = (uint32_t) len;
		/* the match's distance back from tp in base || target */
		seqs[n].offset = (uint32_t) (base_len - bp + tp);
		n++;
		align->matched += len;
		tp += len;
		bp += len;
		lit = tp;
		align->base_end = bp;
		align->target_end = tp;
	}
	return n;
}
