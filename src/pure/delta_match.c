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
 * bounded: linear in the target, and the searches may scan at most twice
 * the target's length (bytes found nowhere near become literals: a row
 * moved further than a search looks costs its own bytes, nothing more).
 *-------------------------------------------------------------------------
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* memmem */
#endif
#include "delta.h"

#include <string.h>

#define MATCH_MIN		32		/* shortest match worth a sequence */
#define PROBE			16		/* bytes of the target looked for in the base */
#define AHEAD			4096	/* how far ahead a resync looks, in either */
#define SHIFTS			48		/* target positions tried after a difference */
#define LONG_MATCH		512		/* a match that long needs no search */
#define MAX_SKIP		4096	/* the longest such jump */
#define BUDGET_SLACK	65536	/* search budget: twice the target, and this */

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

/* how far the target at t and the base at b run equal (0 past either end) */
static size_t
run_at(const uint8_t *base, size_t base_len, size_t b, const uint8_t *target, size_t target_len,
	   size_t t)
{
	if (b >= base_len || t >= target_len)
		return 0;
	return common_prefix(base + b, target + t,
						 base_len - b < target_len - t ? base_len - b : target_len - t);
}

/*
 * The first position in hay[from, to) holding the PROBE bytes at t whose
 * match with t (left bytes of it) runs MATCH_MIN; -1 when none, or when the
 * budget (bytes to scan) runs out.
 */
static long
search(const uint8_t *hay, size_t hay_len, size_t from, size_t to, const uint8_t *t, size_t left,
	   long *budget)
{
	const uint8_t *p = hay + from;

	if (left < MATCH_MIN)
		return -1;
	while (*budget > 0 && p + PROBE <= hay + to)
	{
		const uint8_t *q = memmem(p, (size_t) (hay + to - p), t, PROBE);
		size_t		avail;

		*budget -= (long) ((q ? q + PROBE : hay + to) - p);
		if (q == NULL)
			return -1;
		avail = hay_len - (size_t) (q - hay);
		if (common_prefix(q, t, avail < left ? avail : left) >= MATCH_MIN)
			return (long) (q - hay);
		p = q + 1;
	}
	return -1;
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
	long		budget = (long) (2 * target_len) + BUDGET_SLACK;	/* bytes searches may scan */
	size_t		skip = SHIFTS;	/* how far to jump over bytes not found */

	align->matched = 0;
	align->base_end = 0;
	align->target_end = 0;
	while (tp + MATCH_MIN <= target_len && n < cap)
	{
		size_t		len = run_at(base, base_len, bp, target, target_len, tp);

		if (len < MATCH_MIN)
		{
			size_t		best_t = 0;
			size_t		best_b = 0;
			size_t		best_len = 0;
			size_t		shift;
			long		q;

			/*
			 * A difference.  Where do the two go on together?  Bytes changed
			 * in place keep the alignment (tried at every shift: cheap); bytes
			 * gone from the target put its next bytes a little ahead in the
			 * base; bytes added to it put the base's next bytes a little ahead
			 * in the target.  The longest of these wins: in a table of similar
			 * rows a wrong alignment runs on for a row, the right one for many.
			 * The match found then runs back over the bytes passed.
			 */
			for (shift = 0; shift < SHIFTS && tp + shift + MATCH_MIN <= target_len; shift++)
			{
				size_t		same = bp + shift;
				size_t		l;

				if (same >= base_len)
					break;
				l = run_at(base, base_len, same, target, target_len, tp + shift);
				if (l >= MATCH_MIN && l > best_len)
				{
					best_t = tp + shift;
					best_b = same;
					best_len = l;
					if (l >= LONG_MATCH)
						break;
				}
			}
			if (best_len < LONG_MATCH && bp < base_len)
			{
				q = search(base, base_len, bp, bp + AHEAD < base_len ? bp + AHEAD : base_len,
						   target + tp, target_len - tp, &budget);
				if (q >= 0)
				{
					size_t		l = run_at(base, base_len, (size_t) q, target, target_len, tp);

					if (l > best_len)
					{
						best_t = tp;
						best_b = (size_t) q;
						best_len = l;
					}
				}
				q = search(target, target_len, tp, tp + AHEAD < target_len ? tp + AHEAD : target_len,
						   base + bp, base_len - bp, &budget);
				if (q >= 0)
				{
					size_t		l = run_at(base, base_len, bp, target, target_len, (size_t) q);

					if (l > best_len)
					{
						best_t = (size_t) q;
						best_b = bp;
						best_len = l;
					}
				}
			}
			if (best_len == 0)
			{
				/* new bytes: skip further each time, the next match runs back */
				tp += skip;
				skip = skip * 2 < MAX_SKIP ? skip * 2 : MAX_SKIP;
				if (budget <= 0)
					break;
				continue;
			}
			skip = SHIFTS;
			tp = best_t;
			bp = best_b;
			/* the match may also run back into the literals */
			{
				size_t		back = common_suffix(target + tp, base + bp,
												 tp - lit < bp ? tp - lit : bp);

				tp -= back;
				bp -= back;
			}
			len = run_at(base, base_len, bp, target, target_len, tp);
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
