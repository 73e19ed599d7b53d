/*-------------------------------------------------------------------------
 * schedule.c
 *	  Backup schedules: cron expressions and friendly forms, pure C.
 *
 * Owns: the schedule grammar and the next-run search in civil time (the
 * canonical text is schedule_text.c's).  Grammar (case-insensitive):
 *
 *	 cron:	 minute hour day-of-month month day-of-week
 *			 each field: a star (every value), a star with a step (/n), a
 *			 value, a range a-b, a-b/n, a/n (= a-max/n), or a comma list of
 *			 values and ranges; month and day names (jan..dec, sun..sat);
 *			 day-of-week 7 is Sunday.  As in Vixie cron, when both day
 *			 fields are restricted (do not start with a star) a day matching
 *			 either runs.
 *	 daily at HH:MM[,HH:MM...]
 *	 weekly on <day>[,<day>...] at HH:MM[,HH:MM...]
 *	 every N hours [from HH:MM [for M hours]]	(1 <= N <= 24; the window,
 *			 both ends included, must not cross midnight)
 *	 every N minutes							(1 <= N <= 60, as a stepped star)
 *	 hourly										(= every 1 hours)
 *
 * A list of times must share its minute (the schedule is a set of hours
 * times a set of minutes); other combinations need a cron expression.
 * No time zones here; no allocation; reads only the bytes it is given.
 *-------------------------------------------------------------------------
 */
#include "schedule.h"

#include <stdio.h>
#include <string.h>

/* days in the 400-year Gregorian cycle, after which weekdays and dates repeat */
#define SCHEDULE_CYCLE_DAYS 146097

typedef struct CronField
{
	const char *what;			/* for messages */
	int			lo;
	int			hi;
	int			names;			/* 0 none, 1 months, 2 days */
} CronField;

static const CronField cron_fields[5] = {
	{"minute", 0, 59, 0},
	{"hour", 0, 23, 0},
	{"day of month", 1, 31, 0},
	{"month", 1, 12, 1},
	{"day of week", 0, 7, 2},
};

uint64_t
schedule_bits(int lo, int hi, int step)
{
	uint64_t	m = 0;
	int			v;

	for (v = lo; v <= hi; v += step)
		m |= (uint64_t) 1 << v;
	return m;
}

/* a number or, where the field allows, a name */
static bool
cron_value(PolicyLexer *lx, const CronField *f, int *out, PolicyError *err)
{
	PolicyToken *t = &lx->tok;
	char		buf[40];

	if (t->kind == PT_NUMBER)
	{
		if (t->number < f->lo || t->number > f->hi)
			return policy_fail(err, t, "%s %ld is out of range %d-%d", f->what, t->number, f->lo, f->hi);
		*out = (int) t->number;
	}
	else if (t->kind == PT_WORD && f->names == 1 && policy_month_name(t->word) >= 0 &&
			 t->length <= POLICY_WORD_LEN)
		*out = policy_month_name(t->word) + 1;
	else if (t->kind == PT_WORD && f->names == 2 && policy_day_name(t->word) >= 0 &&
			 t->length <= POLICY_WORD_LEN)
		*out = policy_day_name(t->word);
	else
	{
		policy_token_text(t, lx->text, buf, sizeof(buf));
		if (t->kind == PT_WORD)
			return policy_fail(err, t, "unknown %s name \"%s\"", f->names == 1 ? "month" :
							   f->names == 2 ? "day" : f->what, buf);
		return policy_fail(err, t, "expected a %s value, found \"%s\"", f->what, buf);
	}
	policy_lex_next(lx);
	return true;
}

static bool
cron_step(PolicyLexer *lx, const CronField *f, int *step, PolicyError *err)
{
	*step = 1;
	if (lx->tok.kind != PT_SLASH)
		return true;
	policy_lex_next(lx);
	if (lx->tok.kind != PT_NUMBER)
		return policy_fail(err, &lx->tok, "expected a step after \"/\"");
	if (lx->tok.number < 1 || lx->tok.number > f->hi - f->lo + 1)
		return policy_fail(err, &lx->tok, "step %ld is out of range 1-%d", lx->tok.number,
						   f->hi - f->lo + 1);
	*step = (int) lx->tok.number;
	policy_lex_next(lx);
	return true;
}

/* One field: comma-separated items.  Sets *mask and *starred. */
static bool
cron_field(PolicyLexer *lx, const CronField *f, uint64_t *mask, bool *starred, PolicyError *err)
{
	*mask = 0;
	*starred = lx->tok.kind == PT_STAR;
	for (;;)
	{
		int			lo;
		int			hi;
		int			step;
		PolicyToken first = lx->tok;

		if (lx->tok.kind == PT_STAR)
		{
			policy_lex_next(lx);
			lo = f->lo;
			hi = f->hi;
		}
		else
		{
			if (!cron_value(lx, f, &lo, err))
				return false;
			hi = lo;
			if (lx->tok.kind == PT_DASH)
			{
				policy_lex_next(lx);
				if (!cron_value(lx, f, &hi, err))
					return false;
				if (hi < lo)
					return policy_fail(err, &first, "%s range %d-%d is backwards", f->what, lo, hi);
			}
		}
		if (!cron_step(lx, f, &step, err))
			return false;
		if (step > 1 && first.kind != PT_STAR && hi == lo)
			hi = f->hi;			/* a/n means a-max/n */
		*mask |= schedule_bits(lo, hi, step);
		if (lx->tok.kind != PT_COMMA)
			break;
		policy_lex_next(lx);
		if (*starred)
			return policy_fail(err, &lx->tok, "a %s field starting with \"*\" cannot be a list", f->what);
	}
	return true;
}

static bool day_matches(const VaultSchedule *s, int y, int m, int d);

/*
 * Whether any date ever matches.  The Gregorian calendar repeats every 400
 * years, so one cycle decides; the common cases are settled without it.
 */
static bool
runs_ever(const VaultSchedule *s)
{
	int64_t		day;
	int			y;
	int			m;
	int			d;

	if (s->wdays == 0 || s->mdays == 0 || s->months == 0)
		return false;
	if ((s->mdays & 0x1ffffffe) == 0x1ffffffe || (s->wdays & 0x7f) == 0x7f)
	{
		/* every weekday occurs in every month: any existing day of month does */
		static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

		for (m = 1; m <= 12; m++)
			if ((s->months >> m & 1) && (s->mdays & (uint32_t) schedule_bits(1, longest[m], 1)))
				return true;
		return false;
	}
	for (day = 0; day < SCHEDULE_CYCLE_DAYS; day++)
	{
		civil_from_day_number(day, &y, &m, &d);
		if (day_matches(s, y, m, d))
			return true;
	}
	return false;
}

static bool
parse_cron(PolicyLexer *lx, VaultSchedule *s, PolicyError *err)
{
	uint64_t	masks[5];
	bool		starred[5];
	PolicyToken starts[5];
	int			i;

	for (i = 0; i < 5; i++)
	{
		if (lx->tok.kind == PT_END)
			return policy_fail(err, &lx->tok, "expected 5 cron fields, found %d", i);
		starts[i] = lx->tok;
		if (!cron_field(lx, &cron_fields[i], &masks[i], &starred[i], err))
			return false;
	}
	if (lx->tok.kind != PT_END)
		return policy_fail(err, &lx->tok, "expected 5 cron fields, found more");
	s->kind = SCHED_CRON;
	s->minutes = masks[0];
	s->hours = (uint32_t) masks[1];
	s->mdays = (uint32_t) masks[2];
	s->months = (uint32_t) masks[3];
	/* 7 is Sunday */
	s->wdays = (uint32_t) ((masks[4] & 0x7f) | ((masks[4] >> 7) & 1));
	s->mday_restricted = !starred[2];
	s->wday_restricted = !starred[4];
	if (!runs_ever(s))
		return policy_fail(err, &starts[2], "the schedule never runs: no date matches its "
						   "day of month, month and day of week fields");
	return true;
}

/* "at HH:MM[,HH:MM...]": hours and minute sets; the minute must be shared */
static bool
parse_at_times(PolicyLexer *lx, VaultSchedule *s, PolicyError *err)
{
	int			minute = -1;

	if (!policy_lex_word(lx, "at"))
		return policy_fail(err, &lx->tok, "expected \"at\"");
	policy_lex_next(lx);
	for (;;)
	{
		if (lx->tok.kind != PT_TIME)
			return policy_fail(err, &lx->tok, "expected a time HH:MM");
		if (lx->tok.number < 0)
			return policy_fail(err, &lx->tok, "time is out of range 00:00-23:59");
		if (minute >= 0 && lx->tok.number % 60 != minute)
			return policy_fail(err, &lx->tok,
							   "times in a list must share their minute; use a cron expression");
		minute = (int) (lx->tok.number % 60);
		s->hours |= (uint32_t) 1 << (lx->tok.number / 60);
		policy_lex_next(lx);
		if (lx->tok.kind != PT_COMMA)
			break;
		policy_lex_next(lx);
	}
	s->minutes = (uint64_t) 1 << minute;
	return true;
}

/*
 * "every N hours from HH:MM" without "for": the window runs to the end of
 * the day (whole hours; 24 from midnight).  Printed back without "for".
 */
int
schedule_default_window(int from_minute)
{
	return 24 - (from_minute + 59) / 60;
}

static bool
parse_every(PolicyLexer *lx, VaultSchedule *s, PolicyError *err)
{
	PolicyToken ntok = lx->tok;

	if (lx->tok.kind != PT_NUMBER)
		return policy_fail(err, &lx->tok, "expected a number after \"every\"");
	policy_lex_next(lx);
	if (policy_lex_word(lx, "minutes") || policy_lex_word(lx, "minute"))
	{
		if (ntok.number < 1 || ntok.number > 60)
			return policy_fail(err, &ntok, "every %ld minutes: the interval must be 1-60 minutes",
							   ntok.number);
		policy_lex_next(lx);
		s->kind = SCHED_MINUTES;
		s->every = (int) ntok.number;
		s->minutes = schedule_bits(0, 59, s->every);
		s->hours = (uint32_t) schedule_bits(0, 23, 1);
		return true;
	}
	if (policy_lex_word(lx, "hours") || policy_lex_word(lx, "hour"))
	{
		int			from = 0;
		int			span = 24;
		PolicyToken from_tok;

		if (ntok.number < 1 || ntok.number > 24)
			return policy_fail(err, &ntok, "every %ld hours: the interval must be 1-24 hours",
							   ntok.number);
		policy_lex_next(lx);
		from_tok = lx->tok;
		if (policy_lex_word(lx, "from"))
		{
			policy_lex_next(lx);
			from_tok = lx->tok;
			if (lx->tok.kind != PT_TIME || lx->tok.number < 0)
				return policy_fail(err, &lx->tok, "expected a start time HH:MM after \"from\"");
			from = (int) lx->tok.number;
			policy_lex_next(lx);
			if (policy_lex_word(lx, "for"))
			{
				policy_lex_next(lx);
				if (lx->tok.kind != PT_NUMBER || lx->tok.number < 1 || lx->tok.number > 24)
					return policy_fail(err, &lx->tok, "expected a window of 1-24 hours after \"for\"");
				span = (int) lx->tok.number;
				policy_lex_next(lx);
				if (!policy_lex_word(lx, "hours") && !policy_lex_word(lx, "hour"))
					return policy_fail(err, &lx->tok, "expected \"hours\"");
				policy_lex_next(lx);
			}
			else
				span = schedule_default_window(from);
		}
		if (from + span * 60 > 24 * 60)
			return policy_fail(err, &from_tok, "the window from %02d:%02d for %d hours crosses midnight",
							   from / 60, from % 60, span);
		s->kind = SCHED_HOURS;
		s->every = (int) ntok.number;
		s->from_minute = from;
		s->for_hours = span;
		s->minutes = (uint64_t) 1 << (from % 60);
		{
			int			h;

			for (h = from / 60; h * 60 + from % 60 <= from + span * 60 && h <= 23; h += s->every)
				s->hours |= (uint32_t) 1 << h;
		}
		return true;
	}
	return policy_fail(err, &lx->tok, "expected \"minutes\" or \"hours\"");
}

static bool
parse_friendly(PolicyLexer *lx, VaultSchedule *s, PolicyError *err)
{
	if (policy_lex_word(lx, "daily"))
	{
		policy_lex_next(lx);
		s->kind = SCHED_DAILY;
		if (!parse_at_times(lx, s, err))
			return false;
	}
	else if (policy_lex_word(lx, "weekly"))
	{
		policy_lex_next(lx);
		s->kind = SCHED_WEEKLY;
		if (!policy_lex_word(lx, "on"))
			return policy_fail(err, &lx->tok, "expected \"on\"");
		policy_lex_next(lx);
		for (;;)
		{
			int			d = lx->tok.kind == PT_WORD && lx->tok.length <= POLICY_WORD_LEN ?
				policy_day_name(lx->tok.word) : -1;
			char		buf[40];

			if (d < 0)
			{
				policy_token_text(&lx->tok, lx->text, buf, sizeof(buf));
				return policy_fail(err, &lx->tok, "unknown day name \"%s\"", buf);
			}
			s->wdays |= (uint32_t) 1 << d;
			policy_lex_next(lx);
			if (lx->tok.kind != PT_COMMA)
				break;
			policy_lex_next(lx);
		}
		s->wday_restricted = true;
		if (!parse_at_times(lx, s, err))
			return false;
	}
	else if (policy_lex_word(lx, "every"))
	{
		policy_lex_next(lx);
		if (!parse_every(lx, s, err))
			return false;
	}
	else if (policy_lex_word(lx, "hourly"))
	{
		policy_lex_next(lx);
		s->kind = SCHED_HOURS;
		s->every = 1;
		s->for_hours = 24;
		s->minutes = 1;
		s->hours = (uint32_t) schedule_bits(0, 23, 1);
	}
	else
	{
		char		buf[40];

		policy_token_text(&lx->tok, lx->text, buf, sizeof(buf));
		return policy_fail(err, &lx->tok, "unexpected \"%s\": expected a cron expression, "
						   "\"daily\", \"weekly\", \"every\" or \"hourly\"", buf);
	}
	if (lx->tok.kind != PT_END)
	{
		char		buf[40];

		policy_token_text(&lx->tok, lx->text, buf, sizeof(buf));
		return policy_fail(err, &lx->tok, "unexpected \"%s\" after the schedule", buf);
	}
	if (s->kind != SCHED_WEEKLY)
		s->wdays = (uint32_t) schedule_bits(0, 6, 1);
	s->mdays = (uint32_t) schedule_bits(1, 31, 1);
	s->months = (uint32_t) schedule_bits(1, 12, 1);
	return true;
}

bool
schedule_parse(const char *text, size_t len, VaultSchedule *out, PolicyError *err)
{
	PolicyLexer lx;

	memset(out, 0, sizeof(*out));
	policy_lex_init(&lx, text, len);
	if (lx.tok.kind == PT_END)
		return policy_fail(err, &lx.tok, "a schedule must not be empty");
	if (lx.tok.kind == PT_WORD)
		return parse_friendly(&lx, out, err);
	return parse_cron(&lx, out, err);
}

bool
schedule_equal(const VaultSchedule *a, const VaultSchedule *b)
{
	return a->kind == b->kind && a->minutes == b->minutes && a->hours == b->hours &&
		a->mdays == b->mdays && a->months == b->months && a->wdays == b->wdays &&
		a->mday_restricted == b->mday_restricted && a->wday_restricted == b->wday_restricted &&
		a->every == b->every && a->from_minute == b->from_minute && a->for_hours == b->for_hours;
}

/* ---- matching and the next run ---- */

static bool
day_matches(const VaultSchedule *s, int y, int m, int d)
{
	bool		mday;
	bool		wday;

	if (!(s->months >> m & 1))
		return false;
	mday = s->mdays >> d & 1;
	wday = s->wdays >> civil_weekday(y, m, d) & 1;
	if (s->kind == SCHED_CRON && s->mday_restricted && s->wday_restricted)
		return mday || wday;
	return mday && wday;
}

bool
schedule_matches(const VaultSchedule *s, const VaultCivil *c)
{
	return day_matches(s, c->year, c->month, c->day) &&
		(s->hours >> c->hour & 1) && (s->minutes >> c->minute & 1);
}

/* first matching minute of a day at or after hour:minute, or -1 */
static int
first_time_from(const VaultSchedule *s, int hour, int minute)
{
	int			h;
	int			m;

	for (h = hour; h < 24; h++)
	{
		if (!(s->hours >> h & 1))
			continue;
		for (m = (h == hour ? minute : 0); m < 60; m++)
			if (s->minutes >> m & 1)
				return h * 60 + m;
	}
	return -1;
}

bool
schedule_next_civil(const VaultSchedule *s, const VaultCivil *after, VaultCivil *next)
{
	int64_t		day = civil_day_number(after->year, after->month, after->day);
	int64_t		last = day + SCHEDULE_CYCLE_DAYS;
	int			from = after->hour * 60 + after->minute + 1;	/* strictly after */

	for (; day <= last; day++, from = 0)
	{
		int			y;
		int			m;
		int			d;
		int			t;

		if (from >= 24 * 60)
			continue;
		civil_from_day_number(day, &y, &m, &d);
		if (!day_matches(s, y, m, d))
			continue;
		t = first_time_from(s, from / 60, from % 60);
		if (t < 0)
			continue;
		next->year = y;
		next->month = m;
		next->day = d;
		next->hour = t / 60;
		next->minute = t % 60;
		next->second = 0;
		return true;
	}
	return false;
}
