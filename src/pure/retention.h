/*-------------------------------------------------------------------------
 * retention.h
 *	  Grandfather-father-son retention rules, pure C.
 *
 * Owns: parsing and printing rules such as "daily 30, weekly 12 on sun,
 * monthly 12 on day 1, yearly 10 in jan on day 1", and deciding, for a set
 * of recovery point times (civil, local), which rules keep each point and
 * until when.  Whether a kept point has expired (its until <= now) and all
 * time-zone work are the caller's.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_RETENTION_H
#define VAULT_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"
#include "policy_lex.h"

#define RET_DAILY	0x01
#define RET_WEEKLY	0x02
#define RET_MONTHLY 0x04
#define RET_YEARLY	0x08

/* the cloud's ranges */
#define RET_DAILY_MIN	7
#define RET_DAILY_MAX	9999
#define RET_WEEKLY_MIN	1
#define RET_WEEKLY_MAX	5163
#define RET_MONTHLY_MIN 1
#define RET_MONTHLY_MAX 1188
#define RET_YEARLY_MIN	1
#define RET_YEARLY_MAX	99

typedef enum DaySpecKind
{
	DAYSPEC_DAY,				/* on day D (1..28) */
	DAYSPEC_LAST_DAY,			/* on day last */
	DAYSPEC_WEEKDAY				/* on first|second|third|fourth|last <day> */
} DaySpecKind;

typedef struct DaySpec
{
	DaySpecKind kind;
	int			day;			/* DAYSPEC_DAY */
	int			nth;			/* DAYSPEC_WEEKDAY: 1..4, 5 = last */
	int			weekday;		/* DAYSPEC_WEEKDAY: 0 = Sunday */
} DaySpec;

typedef struct VaultRetention
{
	int			daily;			/* days; 0 = no daily rule */
	int			weekly;			/* weeks; 0 = none */
	uint32_t	weekly_days;	/* bit w: weekday w */
	int			monthly;		/* months; 0 = none */
	DaySpec		monthly_on;
	int			yearly;			/* years; 0 = none */
	uint32_t	yearly_months;	/* bit m: month m, 1..12 */
	DaySpec		yearly_on;
} VaultRetention;

#define RET_RULES	4			/* daily, weekly, monthly, yearly */

typedef struct RetentionKeep
{
	int			rules;			/* RET_* bits of the rules that select the point */
	VaultCivil	until;			/* latest time any of them keeps it until */
	VaultCivil	rule_until[RET_RULES];	/* per rule (bit 1 << i), where selected */
} RetentionKeep;

typedef struct RetentionWork
{
	VaultCivil	at;
	int			index;
} RetentionWork;

extern bool retention_parse(const char *text, size_t len, VaultRetention *out, PolicyError *err);
extern size_t retention_format(const VaultRetention *r, char *buf, size_t buflen);
extern bool retention_equal(const VaultRetention *a, const VaultRetention *b);
extern bool retention_keeps_fewer(const VaultRetention *a, const VaultRetention *b);

/*
 * For n points (any order) fill keep[i] for points[i].  work is caller
 * scratch space for n entries.  daily N keeps every point for N days;
 * weekly, monthly and yearly rules each select the last point of every
 * matching date and keep it for N weeks, months or years.
 */
extern void retention_keep(const VaultRetention *r, const VaultCivil *points, int n,
						   RetentionKeep *keep, RetentionWork *work);

#endif							/* VAULT_RETENTION_H */
