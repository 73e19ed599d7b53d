/*
 * test_policy.c: unit tests of the pure-C policy parts (civil calendar,
 * schedule and retention parsers, next-run search, keep decisions), run
 * without a server.  Prints one line per failed check and, last,
 * "N passed, M failed"; exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "duration.h"
#include "retention.h"
#include "schedule.h"

#include "check.h"

static VaultCivil
civ(int y, int mo, int d, int h, int mi)
{
	VaultCivil	c = {y, mo, d, h, mi, 0};

	return c;
}

static char *
civ_text(const VaultCivil *c)
{
	static char buf[4][32];
	static int	n = 0;
	char	   *b = buf[n++ % 4];

	snprintf(b, 32, "%04d-%02d-%02d %02d:%02d", c->year, c->month, c->day, c->hour, c->minute);
	return b;
}

/* ---- civil calendar ---- */

static void
test_civil(void)
{
	int64_t		d;
	int			y,
				m,
				dd;
	bool		ok = true;
	VaultCivil	c;

	CHECK(civil_day_number(1970, 1, 1) == 0, "epoch is day 0");
	CHECK(civil_day_number(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
	CHECK(civil_weekday(2026, 12, 3) == 4, "2026-12-03 is a Thursday");
	CHECK(civil_weekday(2000, 2, 29) == 2, "2000-02-29 was a Tuesday");
	CHECK(civil_is_leap(2000) && !civil_is_leap(1900) && civil_is_leap(2028) && !civil_is_leap(2027),
		  "leap years");
	CHECK(civil_days_in_month(2028, 2) == 29 && civil_days_in_month(2100, 2) == 28 &&
		  civil_days_in_month(2026, 4) == 30, "month lengths");
	/* day numbers round-trip over four centuries, and consecutive days are consecutive */
	for (d = -50000; d < 150000 && ok; d++)
	{
		civil_from_day_number(d, &y, &m, &dd);
		if (civil_day_number(y, m, dd) != d || dd < 1 || dd > civil_days_in_month(y, m))
			ok = false;
	}
	CHECK(ok, "day numbers round-trip (failed at %lld)", (long long) d);

	c = civ(2026, 1, 31, 10, 0);
	civil_add_months(&c, 1);
	CHECK(c.year == 2026 && c.month == 2 && c.day == 28, "Jan 31 + 1 month = Feb 28 (%s)", civ_text(&c));
	c = civ(2028, 2, 29, 10, 0);
	civil_add_months(&c, 12);
	CHECK(c.year == 2029 && c.month == 2 && c.day == 28, "Feb 29 + 12 months = Feb 28 (%s)", civ_text(&c));
	c = civ(2026, 12, 31, 23, 50);
	civil_add_minutes(&c, 20);
	CHECK(c.year == 2027 && c.month == 1 && c.day == 1 && c.hour == 0 && c.minute == 10,
		  "minutes carry into the next year (%s)", civ_text(&c));
	c = civ(2026, 1, 1, 0, 5);
	civil_add_minutes(&c, -10);
	CHECK(c.year == 2025 && c.month == 12 && c.day == 31 && c.hour == 23 && c.minute == 55,
		  "negative minutes borrow (%s)", civ_text(&c));
}

/* ---- schedules ---- */

static bool
sched(const char *text, VaultSchedule *s, PolicyError *err)
{
	return schedule_parse(text, strlen(text), s, err);
}

/* parse, print, and check the canonical text parses back to the same schedule */
static void
check_canonical(const char *text, const char *canonical)
{
	VaultSchedule s,
				s2;
	PolicyError err;
	char		buf[256];

	if (!sched(text, &s, &err))
	{
		CHECK(false, "\"%s\" should parse: %s", text, err.message);
		return;
	}
	schedule_format(&s, buf, sizeof(buf));
	CHECK(strcmp(buf, canonical) == 0, "\"%s\" prints as \"%s\", expected \"%s\"", text, buf, canonical);
	CHECK(sched(buf, &s2, &err) && schedule_equal(&s, &s2), "\"%s\" parses back to the same schedule", buf);
}

static void
check_bad_schedule(const char *text, int offset, const char *fragment)
{
	VaultSchedule s;
	PolicyError err;

	if (sched(text, &s, &err))
	{
		CHECK(false, "\"%s\" should be refused", text);
		return;
	}
	CHECK(err.offset == offset, "\"%s\": error at %d, expected %d (%s)", text, err.offset, offset, err.message);
	CHECK(strstr(err.message, fragment) != NULL, "\"%s\": message \"%s\" lacks \"%s\"", text, err.message, fragment);
}

static void
check_next(const char *text, VaultCivil after, VaultCivil expect)
{
	VaultSchedule s;
	PolicyError err;
	VaultCivil	next;

	if (!sched(text, &s, &err))
	{
		CHECK(false, "\"%s\" should parse: %s", text, err.message);
		return;
	}
	CHECK(schedule_next_civil(&s, &after, &next) && civil_compare(&next, &expect) == 0,
		  "\"%s\" after %s: got %s, expected %s", text, civ_text(&after), civ_text(&next), civ_text(&expect));
}

static void
test_schedule(void)
{
	VaultSchedule s;
	PolicyError err;
	VaultCivil	c,
				next;
	int			i,
				runs;

	check_canonical("*/15 * * * *", "0,15,30,45 * * * *");
	check_canonical("0 2 * * *", "0 2 * * *");
	check_canonical("30 23 * * sun,wed", "30 23 * * 0,3");
	check_canonical("0 0 1 jan-mar,dec *", "0 0 1 1-3,12 *");
	check_canonical("0 0 * * 7", "0 0 * * 0");
	check_canonical("5/20 * * * *", "5,25,45 * * * *");
	check_canonical("0 8-18/2 * * mon-fri", "0 8,10,12,14,16,18 * * 1-5");
	check_canonical("0 0 */2 * *", "0 0 */2 * *");
	check_canonical("0 0 * * */3", "0 0 * * */3");
	check_canonical("daily at 02:00", "daily at 02:00");
	check_canonical("Daily At 2:00", "daily at 02:00");
	check_canonical("daily at 02:30,14:30", "daily at 02:30,14:30");
	check_canonical("weekly on sun,wed at 23:30", "weekly on sun,wed at 23:30");
	check_canonical("weekly on Wednesday,sunday at 23:30", "weekly on sun,wed at 23:30");
	check_canonical("every 4 hours from 08:00 for 12 hours", "every 4 hours from 08:00 for 12 hours");
	check_canonical("every 4 hours", "every 4 hours from 00:00");
	check_canonical("every 4 hours from 08:00 for 16 hours", "every 4 hours from 08:00");
	check_canonical("hourly", "every 1 hours from 00:00");
	/* found by the fuzzer: a start in the last hour leaves a window of 0 hours */
	check_canonical("every3 hours from 23:02", "every 3 hours from 23:02");
	check_canonical("every 15 minutes", "every 15 minutes");
	check_canonical("every 1 minute", "every 1 minutes");

	/* every 4 hours from 08:00 for 12 hours: 08, 12, 16 and 20 o'clock, both ends included */
	CHECK(sched("every 4 hours from 08:00 for 12 hours", &s, &err) &&
		  s.hours == ((1u << 8) | (1u << 12) | (1u << 16) | (1u << 20)) && s.minutes == 1,
		  "window hours are 8,12,16,20");

	check_bad_schedule("", 0, "must not be empty");
	check_bad_schedule("61 * * * *", 0, "minute 61 is out of range 0-59");
	check_bad_schedule("0 24 * * *", 2, "hour 24 is out of range 0-23");
	check_bad_schedule("0 0 0 * *", 4, "day of month 0 is out of range 1-31");
	check_bad_schedule("* * * *", 7, "expected 5 cron fields, found 4");
	check_bad_schedule("* * * * * *", 10, "found more");
	check_bad_schedule("0 0 * foo *", 6, "unknown month name \"foo\"");
	check_bad_schedule("0 0 * * funday", 8, "unknown day name \"funday\"");
	check_bad_schedule("30-10 * * * *", 0, "backwards");
	check_bad_schedule("*/0 * * * *", 2, "step 0 is out of range");
	check_bad_schedule("*,5 * * * *", 2, "cannot be a list");
	check_bad_schedule("0 0 30 2 *", 4, "never runs");
	check_bad_schedule("0 0 31 4,6,9,11 *", 4, "never runs");
	/* a starred day of week with a step restricts by AND (Vixie cron): rare but real */
	check_next("0 0 5 1 */8", civ(2026, 12, 3, 0, 0), civ(2031, 1, 5, 0, 0));
	check_next("0 0 29 2 */7", civ(2026, 12, 3, 0, 0), civ(2032, 2, 29, 0, 0));
	check_bad_schedule("daily at 25:00", 9, "out of range");
	check_bad_schedule("daily 02:00", 6, "expected \"at\"");
	check_bad_schedule("daily at 02:00,03:30", 15, "share their minute");
	check_bad_schedule("daily at 02:00 please", 15, "unexpected \"please\"");
	check_bad_schedule("weekly on funday at 01:00", 10, "unknown day name \"funday\"");
	check_bad_schedule("every 0 minutes", 6, "1-60");
	check_bad_schedule("every 25 hours", 6, "1-24");
	check_bad_schedule("every 4 hours from 20:00 for 8 hours", 19, "crosses midnight");
	check_bad_schedule("every 4 days", 8, "expected \"minutes\" or \"hours\"");
	check_bad_schedule("monthly", 0, "unexpected \"monthly\"");
	check_bad_schedule("0 0 * * 1 ;", 10, "found more");
	check_bad_schedule("0 0 # * *", 4, "expected a day of month value");

	/* next runs */
	check_next("daily at 02:00", civ(2026, 12, 3, 1, 59), civ(2026, 12, 3, 2, 0));
	check_next("daily at 02:00", civ(2026, 12, 3, 2, 0), civ(2026, 12, 4, 2, 0));
	check_next("daily at 02:00", civ(2026, 12, 31, 3, 0), civ(2027, 1, 1, 2, 0));
	check_next("weekly on sun,wed at 23:30", civ(2026, 12, 3, 0, 0), civ(2026, 12, 6, 23, 30));
	check_next("weekly on sun,wed at 23:30", civ(2026, 12, 6, 23, 30), civ(2026, 12, 9, 23, 30));
	check_next("every 4 hours from 08:00 for 12 hours", civ(2026, 12, 3, 20, 0), civ(2026, 12, 4, 8, 0));
	check_next("every 4 hours from 08:00 for 12 hours", civ(2026, 12, 3, 12, 1), civ(2026, 12, 3, 16, 0));
	check_next("every 15 minutes", civ(2026, 12, 3, 23, 59), civ(2026, 12, 4, 0, 0));
	check_next("0 0 29 2 *", civ(2026, 3, 1, 0, 0), civ(2028, 2, 29, 0, 0));
	check_next("0 0 29 2 *", civ(2096, 3, 1, 0, 0), civ(2104, 2, 29, 0, 0));
	/* Vixie cron: both day fields restricted -> either matches (the 13th, or a Friday) */
	check_next("0 0 13 * fri", civ(2026, 12, 3, 0, 0), civ(2026, 12, 4, 0, 0));
	check_next("0 0 13 * fri", civ(2026, 12, 11, 0, 0), civ(2026, 12, 13, 0, 0));
	/* day of month restricted, weekday starred -> the day of month only */
	check_next("0 0 13 * *", civ(2026, 12, 3, 0, 0), civ(2026, 12, 13, 0, 0));
	check_next("0 0 13 * */1", civ(2026, 12, 3, 0, 0), civ(2026, 12, 13, 0, 0));

	/* every 15 minutes over a day: 96 runs, every one of them matching */
	sched("every 15 minutes", &s, &err);
	c = civ(2026, 12, 2, 23, 59);
	for (i = 0, runs = 0; i < 200; i++)
	{
		if (!schedule_next_civil(&s, &c, &next) || next.day != 3)
			break;
		CHECK(schedule_matches(&s, &next) && civil_compare(&next, &c) > 0, "run %s matches", civ_text(&next));
		runs++;
		c = next;
	}
	CHECK(runs == 96, "every 15 minutes runs 96 times a day (%d)", runs);
}

/* ---- retention ---- */

static bool
ret(const char *text, VaultRetention *r, PolicyError *err)
{
	return retention_parse(text, strlen(text), r, err);
}

static void
check_ret_canonical(const char *text, const char *canonical)
{
	VaultRetention r,
				r2;
	PolicyError err;
	char		buf[256];

	if (!ret(text, &r, &err))
	{
		CHECK(false, "\"%s\" should parse: %s", text, err.message);
		return;
	}
	retention_format(&r, buf, sizeof(buf));
	CHECK(strcmp(buf, canonical) == 0, "\"%s\" prints as \"%s\", expected \"%s\"", text, buf, canonical);
	CHECK(ret(buf, &r2, &err) && retention_equal(&r, &r2), "\"%s\" parses back to the same rule", buf);
}

static void
check_bad_ret(const char *text, int offset, const char *fragment)
{
	VaultRetention r;
	PolicyError err;

	if (ret(text, &r, &err))
	{
		CHECK(false, "\"%s\" should be refused", text);
		return;
	}
	CHECK(err.offset == offset, "\"%s\": error at %d, expected %d (%s)", text, err.offset, offset, err.message);
	CHECK(strstr(err.message, fragment) != NULL, "\"%s\": message \"%s\" lacks \"%s\"", text, err.message, fragment);
}

static void
test_retention(void)
{
	VaultRetention r;
	PolicyError err;
	VaultCivil *pts;
	RetentionKeep *keep;
	RetentionWork *work;
	VaultCivil	now = civ(2026, 12, 31, 12, 0);
	int			n = 0;
	int			i;
	int			kept = 0,
				daily = 0,
				weekly = 0,
				monthly = 0,
				yearly = 0;

	check_ret_canonical("daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan",
						"daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan on day 1");
	check_ret_canonical("daily 7", "daily 7");
	check_ret_canonical("weekly 4", "weekly 4 on sun");
	check_ret_canonical("Weekly 4 on Sat,Sunday", "weekly 4 on sun,sat");
	check_ret_canonical("monthly 6 on last fri", "monthly 6 on last fri");
	check_ret_canonical("monthly 6 on day last, daily 9999", "daily 9999, monthly 6 on day last");
	check_ret_canonical("yearly 99 in mar,jan on first mon", "yearly 99 in jan,mar on first mon");
	check_ret_canonical("yearly 1 in dec, weekly 5163 on mon", "weekly 5163 on mon, yearly 1 in dec on day 1");

	check_bad_ret("", 0, "must not be empty");
	check_bad_ret("daily 6", 6, "daily count 6 is out of range 7-9999");
	check_bad_ret("daily 10000", 6, "out of range 7-9999");
	check_bad_ret("weekly 0", 7, "out of range 1-5163");
	check_bad_ret("weekly 5164", 7, "out of range 1-5163");
	check_bad_ret("monthly 1189", 8, "out of range 1-1188");
	check_bad_ret("yearly 100", 7, "out of range 1-99");
	check_bad_ret("daily 30 weekly 4", 9, "separated by commas");
	check_bad_ret("daily 30, daily 40", 10, "more than one daily rule");
	check_bad_ret("monthly 1 on day 29", 17, "out of range 1-28");
	check_bad_ret("weekly 4 on funday", 12, "unknown day name \"funday\"");
	check_bad_ret("yearly 4 in smarch", 12, "unknown month name \"smarch\"");
	check_bad_ret("hourly 5", 0, "unexpected \"hourly\"");
	check_bad_ret("daily", 5, "expected a count");
	check_bad_ret("monthly 3 on fifth mon", 13, "expected \"day\"");

	/*
	 * Two years of daily backups at 02:00, now 2026-12-31 12:00, under
	 * "daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan".
	 * By hand: daily keeps Dec 2-31 2026 (30); weekly keeps the Sundays
	 * Oct 11 - Dec 27 (12, of which Dec 6/13/20/27 are also daily); monthly
	 * keeps the 1st of Jan-Dec 2026 (12; Nov 1 is a Sunday, also weekly);
	 * yearly keeps Jan 1 2025 and 2026 (2026 also monthly).  Distinct:
	 * 30 + 8 + 11 + 1 = 50.
	 */
	ret("daily 30, weekly 12 on sun, monthly 12 on day 1, yearly 10 in jan", &r, &err);
	pts = calloc(800, sizeof(VaultCivil));
	keep = calloc(800, sizeof(RetentionKeep));
	work = calloc(800, sizeof(RetentionWork));
	/* fed newest first, to show order does not matter */
	for (i = 0;; i++)
	{
		VaultCivil	c = civ(2026, 12, 31, 2, 0);

		civil_add_days(&c, -i);
		if (c.year < 2025)
			break;
		pts[n++] = c;
	}
	CHECK(n == 730, "730 daily points (%d)", n);
	retention_keep(&r, pts, n, keep, work);
	for (i = 0; i < n; i++)
	{
		if (keep[i].rules == 0 || civil_compare(&keep[i].until, &now) <= 0)
			continue;
		kept++;
		/* a rule counts if it alone would keep the point past now */
		if (keep[i].rules & RET_DAILY)
		{
			VaultCivil	u = pts[i];

			civil_add_days(&u, 30);
			daily += civil_compare(&u, &now) > 0;
		}
		if (keep[i].rules & RET_WEEKLY)
		{
			VaultCivil	u = pts[i];

			civil_add_days(&u, 84);
			weekly += civil_compare(&u, &now) > 0;
		}
		if (keep[i].rules & RET_MONTHLY)
		{
			VaultCivil	u = pts[i];

			civil_add_months(&u, 12);
			monthly += civil_compare(&u, &now) > 0;
		}
		if (keep[i].rules & RET_YEARLY)
		{
			VaultCivil	u = pts[i];

			civil_add_months(&u, 120);
			yearly += civil_compare(&u, &now) > 0;
		}
	}
	CHECK(kept == 50, "GFS keeps 50 of 730 points (%d)", kept);
	CHECK(daily == 30 && weekly == 12 && monthly == 12 && yearly == 2,
		  "per rule 30/12/12/2 (%d/%d/%d/%d)", daily, weekly, monthly, yearly);
	/* the oldest kept point is 2025-01-01, kept by the yearly rule until 2035-01-01 02:00 */
	for (i = 0; i < n; i++)
		if (pts[i].year == 2025 && pts[i].month == 1 && pts[i].day == 1)
			CHECK(keep[i].rules == (RET_DAILY | RET_MONTHLY | RET_YEARLY) &&
				  keep[i].rule_until[3].year == 2035 && keep[i].until.year == 2035 && keep[i].until.month == 1 && keep[i].until.month == 1 &&
				  keep[i].until.day == 1 && keep[i].until.hour == 2,
				  "2025-01-01 kept by yearly until %s", civ_text(&keep[i].until));

	/* several points a day: weekly/monthly/yearly keep only the last of the day */
	n = 0;
	pts[n++] = civ(2026, 11, 1, 2, 0);
	pts[n++] = civ(2026, 11, 1, 14, 0);
	pts[n++] = civ(2026, 11, 1, 8, 0);
	ret("weekly 4 on sun, monthly 2", &r, &err);
	retention_keep(&r, pts, n, keep, work);
	CHECK(keep[0].rules == 0 && keep[2].rules == 0 && keep[1].rules == (RET_WEEKLY | RET_MONTHLY) &&
		  keep[1].rule_until[1].month == 11 && keep[1].rule_until[1].day == 29,
		  "only the day's last point is kept (%d %d %d)", keep[0].rules, keep[1].rules, keep[2].rules);
	CHECK(keep[1].until.year == 2027 && keep[1].until.month == 1 && keep[1].until.day == 1,
		  "kept until the later of the two rules (%s)", civ_text(&keep[1].until));

	/* last fri / day last / fourth mon */
	n = 0;
	pts[n++] = civ(2026, 12, 25, 2, 0); /* last Friday of Dec 2026 */
	pts[n++] = civ(2026, 12, 18, 2, 0); /* a Friday, not the last */
	pts[n++] = civ(2026, 12, 31, 2, 0); /* last day */
	pts[n++] = civ(2026, 12, 28, 2, 0); /* fourth Monday */
	ret("monthly 1 on last fri", &r, &err);
	retention_keep(&r, pts, n, keep, work);
	CHECK(keep[0].rules && !keep[1].rules && !keep[2].rules && !keep[3].rules, "last fri");
	ret("monthly 1 on day last", &r, &err);
	retention_keep(&r, pts, n, keep, work);
	CHECK(!keep[0].rules && !keep[1].rules && keep[2].rules && !keep[3].rules, "day last");
	ret("monthly 1 on fourth mon", &r, &err);
	retention_keep(&r, pts, n, keep, work);
	CHECK(!keep[0].rules && !keep[1].rules && !keep[2].rules && keep[3].rules, "fourth mon");

	free(pts);
	free(keep);
	free(work);
}

/* a rule b keeps fewer future points than rule a */
static void
check_fewer(const char *a, const char *b, bool expected)
{
	VaultRetention ra,
				rb;
	PolicyError err;

	if (!ret(a, &ra, &err) || !ret(b, &rb, &err))
	{
		CHECK(false, "\"%s\" / \"%s\" should parse", a, b);
		return;
	}
	CHECK(retention_keeps_fewer(&ra, &rb) == expected, "\"%s\" -> \"%s\": keeps fewer %s, expected %s",
		  a, b, retention_keeps_fewer(&ra, &rb) ? "yes" : "no", expected ? "yes" : "no");
}

static void
test_retention_reduction(void)
{
	check_fewer("daily 30", "daily 30", false);
	check_fewer("daily 30", "daily 31", false);
	check_fewer("daily 30", "daily 29", true);
	check_fewer("daily 30, weekly 4", "daily 30", true);			/* a rule removed */
	check_fewer("daily 30", "daily 30, weekly 4", false);			/* a rule added */
	check_fewer("weekly 4 on sun,wed", "weekly 4 on sun", true);	/* a day no longer kept */
	check_fewer("weekly 4 on sun", "weekly 4 on sun,wed", false);
	check_fewer("weekly 4 on sun", "weekly 9 on mon", true);
	check_fewer("monthly 12 on day 1", "monthly 12 on day last", false);	/* as many, other days */
	check_fewer("monthly 12", "monthly 11", true);
	check_fewer("yearly 5 in jan,jul", "yearly 5 in jan", true);
	check_fewer("yearly 5 in jan", "yearly 6 in jan,jul", false);
	check_fewer("daily 7, yearly 5", "daily 7, monthly 60", true);
}

static void
check_duration(const char *text, bool ok, int64_t want)
{
	int64_t		got = -1;
	bool		parsed = duration_parse(text, &got);

	CHECK(parsed == ok && (!ok || got == want), "duration \"%s\": parsed %d, %lld seconds",
		  text, parsed, (long long) got);
}

static void
test_duration(void)
{
	check_duration("30 days", true, 30 * 86400);
	check_duration("400 days", true, 400 * 86400);
	check_duration("1 day", true, 86400);
	check_duration("  2 Weeks  ", true, 14 * 86400);
	check_duration("1 year 6 months", true, (365 + 180) * 86400);
	check_duration("36h", true, 36 * 3600);
	check_duration("90 min 30 s", true, 90 * 60 + 30);
	check_duration("1 days 1 hour", true, 90000);
	check_duration("", false, 0);
	check_duration("days", false, 0);
	check_duration("30", false, 0);
	check_duration("30 dayz", false, 0);
	check_duration("-1 day", false, 0);
	check_duration("1.5 days", false, 0);
	check_duration("99999999999999999999 days", false, 0);
	check_duration("1000000000 years", false, 0);
	check_duration("30 ds", false, 0);			/* no plural of an abbreviation */
}

int
main(void)
{
	test_duration();
	test_civil();
	test_schedule();
	test_retention();
	test_retention_reduction();
	printf("policy: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
