/*-------------------------------------------------------------------------
 * civil.c
 *	  Wall-clock (civil) calendar arithmetic, pure C.
 *
 * Owns: the proleptic Gregorian calendar.  No time zones, no I/O, no
 * PostgreSQL.  Day numbers use the days-from-civil algorithm (counting
 * 400-year eras), valid far beyond any date a backup policy meets.
 *-------------------------------------------------------------------------
 */
#include "civil.h"

bool
civil_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
civil_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && civil_is_leap(year))
		return 29;
	return days[month - 1];
}

int64_t
civil_day_number(int year, int month, int day)
{
	int64_t		y = (int64_t) year - (month <= 2);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		yoe = y - era * 400;
	int64_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
civil_from_day_number(int64_t days, int *year, int *month, int *day)
{
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = (int) (yoe + era * 400 + (m <= 2));
}

int
civil_weekday(int year, int month, int day)
{
	int64_t		d = civil_day_number(year, month, day);

	/* 1970-01-01 was a Thursday (4) */
	return (int) (((d % 7) + 7 + 4) % 7);
}

int
civil_compare(const VaultCivil *a, const VaultCivil *b)
{
	const int	av[6] = {a->year, a->month, a->day, a->hour, a->minute, a->second};
	const int	bv[6] = {b->year, b->month, b->day, b->hour, b->minute, b->second};
	int			i;

	for (i = 0; i < 6; i++)
		if (av[i] != bv[i])
			return av[i] < bv[i] ? -1 : 1;
	return 0;
}

void
civil_add_days(VaultCivil *c, int64_t days)
{
	civil_from_day_number(civil_day_number(c->year, c->month, c->day) + days,
						  &c->year, &c->month, &c->day);
}

void
civil_add_minutes(VaultCivil *c, int64_t minutes)
{
	int64_t		total = (int64_t) c->hour * 60 + c->minute + minutes;
	int64_t		days = total >= 0 ? total / 1440 : -((-total + 1439) / 1440);

	total -= days * 1440;
	c->hour = (int) (total / 60);
	c->minute = (int) (total % 60);
	if (days != 0)
		civil_add_days(c, days);
}

void
civil_add_months(VaultCivil *c, int months)
{
	int64_t		m = (int64_t) c->year * 12 + (c->month - 1) + months;
	int			dim;

	c->year = (int) (m >= 0 ? m / 12 : -((-m + 11) / 12));
	c->month = (int) (m - (int64_t) c->year * 12) + 1;
	dim = civil_days_in_month(c->year, c->month);
	if (c->day > dim)
		c->day = dim;
}
