/*-------------------------------------------------------------------------
 * schedule_text.c
 *	  A parsed schedule printed back in its one canonical form, pure C.
 *
 * Owns: schedule_format.  The canonical text parses back to the same
 * schedule and prints the same again (the fuzzer checks both); cron fields
 * print as sorted lists with runs of three or more as ranges.
 *-------------------------------------------------------------------------
 */
#include "schedule.h"

#include <stdio.h>

/* ---- canonical text ---- */

typedef struct Out
{
	char	   *buf;
	size_t		cap;
	size_t		len;
} Out;

static void
out_add(Out *o, const char *fmt, int a, int b)
{
	char		tmp[32];
	int			n = snprintf(tmp, sizeof(tmp), fmt, a, b);
	size_t		i;

	for (i = 0; i < (size_t) n; i++, o->len++)
		if (o->len + 1 < o->cap)
			o->buf[o->len] = tmp[i];
}

/* a bit set as "a,b-c,...", runs of three or more as ranges */
static void
out_set(Out *o, uint64_t mask, int lo, int hi)
{
	bool		first = true;
	int			v = lo;

	while (v <= hi)
	{
		int			end = v;

		if (!(mask >> v & 1))
		{
			v++;
			continue;
		}
		while (end + 1 <= hi && (mask >> (end + 1) & 1))
			end++;
		if (!first)
			out_add(o, ",", 0, 0);
		if (end - v >= 2)
			out_add(o, "%d-%d", v, end);
		else if (end == v + 1)
			out_add(o, "%d,%d", v, end);
		else
			out_add(o, "%d", v, 0);
		first = false;
		v = end + 1;
	}
}

/*
 * A starred cron field: a star, or a star with a step (star fields are
 * exactly that).  A step so large only the first value is left prints as
 * the whole range's length, which parses back to the same set.
 */
static void
out_star(Out *o, uint64_t mask, int lo, int span)
{
	int			second = lo + 1;

	while (second < 64 && !(mask >> second & 1))
		second++;
	if (second - lo == 1)
		out_add(o, "*", 0, 0);
	else if (second >= 64)
		out_add(o, "*/%d", span, 0);
	else
		out_add(o, "*/%d", second - lo, 0);
}

static int
lowest_bit(uint64_t m)
{
	int			i;

	for (i = 0; i < 64; i++)
		if (m >> i & 1)
			return i;
	return 0;
}

static void
out_times(Out *o, uint32_t hours, int minute)
{
	int			h;
	bool		first = true;

	for (h = 0; h < 24; h++)
		if (hours >> h & 1)
		{
			out_add(o, first ? "%02d:%02d" : ",%02d:%02d", h, minute);
			first = false;
		}
}

size_t
schedule_format(const VaultSchedule *s, char *buf, size_t buflen)
{
	Out			o = {buf, buflen, 0};
	int			d;
	bool		first = true;

	switch (s->kind)
	{
		case SCHED_CRON:
			if (s->minutes == schedule_bits(0, 59, 1))
				out_add(&o, "*", 0, 0);
			else
				out_set(&o, s->minutes, 0, 59);
			out_add(&o, " ", 0, 0);
			if (s->hours == schedule_bits(0, 23, 1))
				out_add(&o, "*", 0, 0);
			else
				out_set(&o, s->hours, 0, 23);
			out_add(&o, " ", 0, 0);
			if (s->mday_restricted)
				out_set(&o, s->mdays, 1, 31);
			else
				out_star(&o, s->mdays, 1, 31);
			out_add(&o, " ", 0, 0);
			if (s->months == schedule_bits(1, 12, 1))
				out_add(&o, "*", 0, 0);
			else
				out_set(&o, s->months, 1, 12);
			out_add(&o, " ", 0, 0);
			if (s->wday_restricted)
				out_set(&o, s->wdays, 0, 6);
			else
				out_star(&o, s->wdays, 0, 8);
			break;
		case SCHED_DAILY:
			out_add(&o, "daily at ", 0, 0);
			out_times(&o, s->hours, lowest_bit(s->minutes));
			break;
		case SCHED_WEEKLY:
			out_add(&o, "weekly on ", 0, 0);
			for (d = 0; d < 7; d++)
				if (s->wdays >> d & 1)
				{
					char		fmt[8];

					snprintf(fmt, sizeof(fmt), "%s%s", first ? "" : ",", policy_day_abbrev[d]);
					out_add(&o, fmt, 0, 0);
					first = false;
				}
			out_add(&o, " at ", 0, 0);
			out_times(&o, s->hours, lowest_bit(s->minutes));
			break;
		case SCHED_HOURS:
			out_add(&o, "every %d hours from %02d:", s->every, s->from_minute / 60);
			if (s->for_hours == schedule_default_window(s->from_minute))
				out_add(&o, "%02d", s->from_minute % 60, 0);
			else
				out_add(&o, "%02d for %d hours", s->from_minute % 60, s->for_hours);
			break;
		case SCHED_MINUTES:
			out_add(&o, "every %d minutes", s->every, 0);
			break;
	}
	if (o.cap > 0)
		o.buf[o.len < o.cap ? o.len : o.cap - 1] = '\0';
	return o.len;
}
