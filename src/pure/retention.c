/*-------------------------------------------------------------------------
 * retention.c
 *	  Grandfather-father-son retention rules, pure C.
 *
 * Owns: the retention grammar, its canonical text and the keep decision.
 * Grammar (case-insensitive), comma-separated rules, each kind at most once:
 *
 *	 daily N								N in 7..9999 days
 *	 weekly N [on <day>[,<day>...]]			N in 1..5163 weeks; default on sun
 *	 monthly N [on <dayspec>]				N in 1..1188 months; default on day 1
 *	 yearly N [in <month>[,...]] [on <dayspec>]	N in 1..99 years;
 *											default in jan on day 1
 *	 dayspec: day D (1..28) | day last | first|second|third|fourth|last <day>
 *
 * A comma followed by a rule keyword starts the next rule; followed by a
 * day or month name it continues a list.  No allocation, no time zones.
 *-------------------------------------------------------------------------
 */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const nth_words[6] = {"", "first", "second", "third", "fourth", "last"};

static bool
rule_count(PolicyLexer *lx, const char *kind, int lo, int hi, int *out, PolicyError *err)
{
	if (lx->tok.kind != PT_NUMBER)
		return policy_fail(err, &lx->tok, "expected a count after \"%s\"", kind);
	if (lx->tok.number < lo || lx->tok.number > hi)
		return policy_fail(err, &lx->tok, "%s count %ld is out of range %d-%d",
						   kind, lx->tok.number, lo, hi);
	*out = (int) lx->tok.number;
	policy_lex_next(lx);
	return true;
}

static int
word_day(PolicyLexer *lx)
{
	return lx->tok.kind == PT_WORD && lx->tok.length <= POLICY_WORD_LEN ?
		policy_day_name(lx->tok.word) : -1;
}

static int
word_month(PolicyLexer *lx)
{
	return lx->tok.kind == PT_WORD && lx->tok.length <= POLICY_WORD_LEN ?
		policy_month_name(lx->tok.word) : -1;
}

static bool
bad_name(PolicyLexer *lx, const char *what, PolicyError *err)
{
	char		buf[40];

	policy_token_text(&lx->tok, lx->text, buf, sizeof(buf));
	return policy_fail(err, &lx->tok, "unknown %s name \"%s\"", what, buf);
}

/*
 * A list of day (or month) names separated by commas; stops before a comma
 * that is followed by anything else (the next rule).
 */
static bool
name_list(PolicyLexer *lx, bool months, uint32_t *mask, PolicyError *err)
{
	*mask = 0;
	for (;;)
	{
		int			v = months ? word_month(lx) : word_day(lx);
		PolicyLexer peek;

		if (v < 0)
			return bad_name(lx, months ? "month" : "day", err);
		*mask |= (uint32_t) 1 << (months ? v + 1 : v);
		policy_lex_next(lx);
		if (lx->tok.kind != PT_COMMA)
			return true;
		peek = *lx;
		policy_lex_next(&peek);
		if ((months ? word_month(&peek) : word_day(&peek)) < 0)
			return true;		/* the comma ends this rule */
		*lx = peek;
	}
}

/* after "on": day D | day last | <nth> <day> */
static bool
day_spec(PolicyLexer *lx, DaySpec *spec, PolicyError *err)
{
	int			i;

	memset(spec, 0, sizeof(*spec));
	if (policy_lex_word(lx, "day"))
	{
		policy_lex_next(lx);
		if (policy_lex_word(lx, "last"))
			spec->kind = DAYSPEC_LAST_DAY;
		else if (lx->tok.kind == PT_NUMBER)
		{
			if (lx->tok.number < 1 || lx->tok.number > 28)
				return policy_fail(err, &lx->tok,
								   "day %ld is out of range 1-28 (use \"day last\" for the end of the month)",
								   lx->tok.number);
			spec->kind = DAYSPEC_DAY;
			spec->day = (int) lx->tok.number;
		}
		else
			return policy_fail(err, &lx->tok, "expected a day number 1-28 or \"last\" after \"day\"");
		policy_lex_next(lx);
		return true;
	}
	for (i = 1; i <= 5; i++)
		if (policy_lex_word(lx, nth_words[i]))
			break;
	if (i > 5)
		return policy_fail(err, &lx->tok,
						   "expected \"day\", \"first\", \"second\", \"third\", \"fourth\" or \"last\"");
	policy_lex_next(lx);
	spec->kind = DAYSPEC_WEEKDAY;
	spec->nth = i;
	spec->weekday = word_day(lx);
	if (spec->weekday < 0)
		return bad_name(lx, "day", err);
	policy_lex_next(lx);
	return true;
}

bool
retention_parse(const char *text, size_t len, VaultRetention *out, PolicyError *err)
{
	PolicyLexer lx;

	memset(out, 0, sizeof(*out));
	policy_lex_init(&lx, text, len);
	if (lx.tok.kind == PT_END)
		return policy_fail(err, &lx.tok, "a retention rule must not be empty");
	for (;;)
	{
		PolicyToken kw = lx.tok;

		if (policy_lex_word(&lx, "daily"))
		{
			if (out->daily)
				return policy_fail(err, &kw, "more than one daily rule");
			policy_lex_next(&lx);
			if (!rule_count(&lx, "daily", RET_DAILY_MIN, RET_DAILY_MAX, &out->daily, err))
				return false;
		}
		else if (policy_lex_word(&lx, "weekly"))
		{
			if (out->weekly)
				return policy_fail(err, &kw, "more than one weekly rule");
			policy_lex_next(&lx);
			if (!rule_count(&lx, "weekly", RET_WEEKLY_MIN, RET_WEEKLY_MAX, &out->weekly, err))
				return false;
			out->weekly_days = 1;	/* sun */
			if (policy_lex_word(&lx, "on"))
			{
				policy_lex_next(&lx);
				if (!name_list(&lx, false, &out->weekly_days, err))
					return false;
			}
		}
		else if (policy_lex_word(&lx, "monthly"))
		{
			if (out->monthly)
				return policy_fail(err, &kw, "more than one monthly rule");
			policy_lex_next(&lx);
			if (!rule_count(&lx, "monthly", RET_MONTHLY_MIN, RET_MONTHLY_MAX, &out->monthly, err))
				return false;
			out->monthly_on.kind = DAYSPEC_DAY;
			out->monthly_on.day = 1;
			if (policy_lex_word(&lx, "on"))
			{
				policy_lex_next(&lx);
				if (!day_spec(&lx, &out->monthly_on, err))
					return false;
			}
		}
		else if (policy_lex_word(&lx, "yearly"))
		{
			if (out->yearly)
				return policy_fail(err, &kw, "more than one yearly rule");
			policy_lex_next(&lx);
			if (!rule_count(&lx, "yearly", RET_YEARLY_MIN, RET_YEARLY_MAX, &out->yearly, err))
				return false;
			out->yearly_months = 1 << 1;	/* jan */
			out->yearly_on.kind = DAYSPEC_DAY;
			out->yearly_on.day = 1;
			if (policy_lex_word(&lx, "in"))
			{
				policy_lex_next(&lx);
				if (!name_list(&lx, true, &out->yearly_months, err))
					return false;
			}
			if (policy_lex_word(&lx, "on"))
			{
				policy_lex_next(&lx);
				if (!day_spec(&lx, &out->yearly_on, err))
					return false;
			}
		}
		else
		{
			char		buf[40];

			policy_token_text(&lx.tok, lx.text, buf, sizeof(buf));
			return policy_fail(err, &lx.tok, "unexpected \"%s\": expected \"daily\", \"weekly\", "
							   "\"monthly\" or \"yearly\"", buf);
		}
		if (lx.tok.kind == PT_END)
			return true;
		if (lx.tok.kind != PT_COMMA)
		{
			char		buf[40];

			policy_token_text(&lx.tok, lx.text, buf, sizeof(buf));
			return policy_fail(err, &lx.tok, "unexpected \"%s\": rules are separated by commas", buf);
		}
		policy_lex_next(&lx);
	}
}

/* ---- canonical text ---- */

typedef struct Out
{
	char	   *buf;
	size_t		cap;
	size_t		len;
} Out;

static void
out_str(Out *o, const char *s)
{
	for (; *s; s++, o->len++)
		if (o->len + 1 < o->cap)
			o->buf[o->len] = *s;
}

static void
out_int(Out *o, const char *fmt, int v)
{
	char		tmp[24];

	snprintf(tmp, sizeof(tmp), fmt, v);
	out_str(o, tmp);
}

static void
out_names(Out *o, uint32_t mask, int lo, int hi, const char *const *names, int offset)
{
	int			v;
	bool		first = true;

	for (v = lo; v <= hi; v++)
		if (mask >> v & 1)
		{
			if (!first)
				out_str(o, ",");
			out_str(o, names[v - offset]);
			first = false;
		}
}

static void
out_dayspec(Out *o, const DaySpec *d)
{
	out_str(o, " on ");
	if (d->kind == DAYSPEC_DAY)
		out_int(o, "day %d", d->day);
	else if (d->kind == DAYSPEC_LAST_DAY)
		out_str(o, "day last");
	else
	{
		out_str(o, nth_words[d->nth]);
		out_str(o, " ");
		out_str(o, policy_day_abbrev[d->weekday]);
	}
}

size_t
retention_format(const VaultRetention *r, char *buf, size_t buflen)
{
	Out			o = {buf, buflen, 0};
	const char *sep = "";

	if (r->daily)
	{
		out_int(&o, "daily %d", r->daily);
		sep = ", ";
	}
	if (r->weekly)
	{
		out_str(&o, sep);
		out_int(&o, "weekly %d on ", r->weekly);
		out_names(&o, r->weekly_days, 0, 6, policy_day_abbrev, 0);
		sep = ", ";
	}
	if (r->monthly)
	{
		out_str(&o, sep);
		out_int(&o, "monthly %d", r->monthly);
		out_dayspec(&o, &r->monthly_on);
		sep = ", ";
	}
	if (r->yearly)
	{
		out_str(&o, sep);
		out_int(&o, "yearly %d in ", r->yearly);
		out_names(&o, r->yearly_months, 1, 12, policy_month_abbrev, 1);
		out_dayspec(&o, &r->yearly_on);
	}
	if (o.cap > 0)
		o.buf[o.len < o.cap ? o.len : o.cap - 1] = '\0';
	return o.len;
}

static bool
dayspec_equal(const DaySpec *a, const DaySpec *b)
{
	return a->kind == b->kind && a->day == b->day && a->nth == b->nth && a->weekday == b->weekday;
}

bool
retention_equal(const VaultRetention *a, const VaultRetention *b)
{
	return a->daily == b->daily && a->weekly == b->weekly && a->weekly_days == b->weekly_days &&
		a->monthly == b->monthly && dayspec_equal(&a->monthly_on, &b->monthly_on) &&
		a->yearly == b->yearly && a->yearly_months == b->yearly_months &&
		dayspec_equal(&a->yearly_on, &b->yearly_on);
}

/*
 * Whether rule b keeps fewer future points than rule a: a rule of a
 * removed, its count lowered, or weekly days or yearly months of a no
 * longer selected.  (Moving a monthly or yearly rule to another day keeps
 * as many points, only other ones.)
 */
bool
retention_keeps_fewer(const VaultRetention *a, const VaultRetention *b)
{
	return b->daily < a->daily || b->weekly < a->weekly || b->monthly < a->monthly ||
		b->yearly < a->yearly ||
		(a->weekly > 0 && (a->weekly_days & ~b->weekly_days) != 0) ||
		(a->yearly > 0 && (a->yearly_months & ~b->yearly_months) != 0);
}

/* ---- which points each rule keeps ---- */

static bool
dayspec_matches(const DaySpec *d, const VaultCivil *c)
{
	int			dim = civil_days_in_month(c->year, c->month);

	switch (d->kind)
	{
		case DAYSPEC_DAY:
			return c->day == d->day;
		case DAYSPEC_LAST_DAY:
			return c->day == dim;
		case DAYSPEC_WEEKDAY:
			if (civil_weekday(c->year, c->month, c->day) != d->weekday)
				return false;
			if (d->nth == 5)
				return c->day + 7 > dim;
			return (c->day - 1) / 7 + 1 == d->nth;
	}
	return false;
}

static int
work_cmp(const void *pa, const void *pb)
{
	const RetentionWork *a = pa;
	const RetentionWork *b = pb;
	int			c = civil_compare(&a->at, &b->at);

	if (c != 0)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

static void
keep_until(RetentionKeep *k, int rule, const VaultCivil *at, int months, int days)
{
	VaultCivil	u = *at;
	int			i;

	if (months)
		civil_add_months(&u, months);
	if (days)
		civil_add_days(&u, days);
	if (k->rules == 0 || civil_compare(&u, &k->until) > 0)
		k->until = u;
	k->rules |= rule;
	for (i = 0; i < RET_RULES; i++)
		if (rule == 1 << i)
			k->rule_until[i] = u;
}

void
retention_keep(const VaultRetention *r, const VaultCivil *points, int n,
			   RetentionKeep *keep, RetentionWork *work)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		work[i].at = points[i];
		work[i].index = i;
		memset(&keep[i], 0, sizeof(keep[i]));
	}
	qsort(work, n, sizeof(RetentionWork), work_cmp);

	for (i = 0; i < n; i++)
	{
		const VaultCivil *c = &work[i].at;
		RetentionKeep *k = &keep[work[i].index];
		bool		last_of_date;

		if (r->daily)
			keep_until(k, RET_DAILY, c, 0, r->daily);

		last_of_date = i == n - 1 || work[i + 1].at.year != c->year ||
			work[i + 1].at.month != c->month || work[i + 1].at.day != c->day;
		if (!last_of_date)
			continue;
		if (r->weekly && (r->weekly_days >> civil_weekday(c->year, c->month, c->day) & 1))
			keep_until(k, RET_WEEKLY, c, 0, 7 * r->weekly);
		if (r->monthly && dayspec_matches(&r->monthly_on, c))
			keep_until(k, RET_MONTHLY, c, r->monthly, 0);
		if (r->yearly && (r->yearly_months >> c->month & 1) && dayspec_matches(&r->yearly_on, c))
			keep_until(k, RET_YEARLY, c, 12 * r->yearly, 0);
	}
}
