/*-------------------------------------------------------------------------
 * schedule.h
 *	  Backup schedules: cron expressions and friendly forms, pure C.
 *
 * Owns: parsing schedule text into sets of minutes, hours, days, months and
 * weekdays, printing it back in one canonical form, and finding the next
 * matching wall-clock minute.  Knows nothing of time zones: the server glue
 * (policy_types.c) maps civil times to instants across DST changes.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_SCHEDULE_H
#define VAULT_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"
#include "policy_lex.h"

typedef enum ScheduleKind
{
	SCHED_CRON,					/* five cron fields */
	SCHED_DAILY,				/* daily at HH:MM[,HH:MM...] */
	SCHED_WEEKLY,				/* weekly on <days> at HH:MM[,...] */
	SCHED_HOURS,				/* every N hours [from HH:MM [for M hours]] */
	SCHED_MINUTES				/* every N minutes */
} ScheduleKind;

typedef struct VaultSchedule
{
	ScheduleKind kind;
	uint64_t	minutes;		/* bit m: minute m, 0..59 */
	uint32_t	hours;			/* bit h: hour h, 0..23 */
	uint32_t	mdays;			/* bit d: day of month d, 1..31 */
	uint32_t	months;			/* bit m: month m, 1..12 */
	uint32_t	wdays;			/* bit w: weekday w, 0 = Sunday */
	/* cron: fields not starting with '*' (both restricted: either matches) */
	bool		mday_restricted;
	bool		wday_restricted;
	/* friendly forms: what to print back */
	int			every;			/* N of every N hours / minutes */
	int			from_minute;	/* every N hours: window start, minutes after 00:00 */
	int			for_hours;		/* every N hours: window length in hours */
} VaultSchedule;

/* Parse; false with err filled (message names the bad token) on bad text. */
extern bool schedule_parse(const char *text, size_t len, VaultSchedule *out, PolicyError *err);

/* Canonical text into buf (NUL-terminated, truncated to buflen); returns its length. */
extern size_t schedule_format(const VaultSchedule *s, char *buf, size_t buflen);

extern bool schedule_equal(const VaultSchedule *a, const VaultSchedule *b);

/* shared by the parser and the printer */
extern uint64_t schedule_bits(int lo, int hi, int step);	/* lo, lo+step, ... <= hi */
extern int	schedule_default_window(int from_minute);	/* "from HH:MM" without "for" */

/* Whether the civil minute c (seconds ignored) matches. */
extern bool schedule_matches(const VaultSchedule *s, const VaultCivil *c);

/*
 * The first matching civil minute strictly after 'after' (its seconds are
 * ignored, so 02:00:30 gives 02:01 at the earliest).  Always found for a
 * parsed schedule (the parser refuses schedules no date ever matches, such
 * as February 30th); false only for a hand-made one that never runs.
 */
extern bool schedule_next_civil(const VaultSchedule *s, const VaultCivil *after, VaultCivil *next);

#endif							/* VAULT_SCHEDULE_H */
