/*-------------------------------------------------------------------------
 * civil.h
 *	  Wall-clock (civil) dates and times, proleptic Gregorian, pure C.
 *
 * Owns: calendar arithmetic on local times without time zones: weekdays,
 * month lengths, adding days/months/years, comparing.  The schedule and
 * retention code work in civil time; turning a civil time into an instant
 * (time zones, daylight-saving gaps and repeats) is the server glue's job.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_CIVIL_H
#define VAULT_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct VaultCivil
{
	int			year;			/* e.g. 2026 */
	int			month;			/* 1..12 */
	int			day;			/* 1..31 */
	int			hour;			/* 0..23 */
	int			minute;			/* 0..59 */
	int			second;			/* 0..59 */
} VaultCivil;

extern bool civil_is_leap(int year);
extern int	civil_days_in_month(int year, int month);
extern int	civil_weekday(int year, int month, int day);	/* 0 = Sunday */
extern int64_t civil_day_number(int year, int month, int day);	/* days since 1970-01-01 */
extern void civil_from_day_number(int64_t days, int *year, int *month, int *day);
extern int	civil_compare(const VaultCivil *a, const VaultCivil *b);
extern void civil_add_days(VaultCivil *c, int64_t days);
extern void civil_add_minutes(VaultCivil *c, int64_t minutes);
extern void civil_add_months(VaultCivil *c, int months);	/* clamps the day */

#endif							/* VAULT_CIVIL_H */
