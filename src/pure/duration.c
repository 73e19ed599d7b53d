/*-------------------------------------------------------------------------
 * duration.c
 *	  Parsing lengths of time written for people; see duration.h.
 *
 * Pure C: no server headers, so that it is unit-tested alone.
 *-------------------------------------------------------------------------
 */
#include "duration.h"

#include <ctype.h>
#include <string.h>

typedef struct DurationUnit
{
	const char *name;
	int64_t		seconds;
} DurationUnit;

/* singular names; a trailing 's' is accepted on the long ones */
static const DurationUnit units[] = {
	{"s", 1}, {"second", 1}, {"min", 60}, {"minute", 60}, {"h", 3600}, {"hour", 3600},
	{"d", 86400}, {"day", 86400}, {"w", 7 * 86400}, {"week", 7 * 86400},
	{"mon", 30 * 86400}, {"month", 30 * 86400}, {"y", 365 * 86400}, {"year", 365 * 86400},
};

static bool
unit_seconds(const char *word, size_t len, int64_t *seconds)
{
	size_t		i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
	{
		size_t		n = strlen(units[i].name);

		if ((len == n || (len == n + 1 && n > 1 && word[n] == 's')) &&
			strncmp(word, units[i].name, n) == 0)
		{
			*seconds = units[i].seconds;
			return true;
		}
	}
	return false;
}

bool
duration_parse(const char *text, int64_t *seconds)
{
	const char *p = text;
	int64_t		total = 0;
	int			pairs = 0;

	for (;;)
	{
		int64_t		count = 0;
		int64_t		unit;
		const char *word;
		char		lower[16];
		size_t		len;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
		{
			if (count > (INT64_C(1) << 40))
				return false;
			count = count * 10 + (*p++ - '0');
		}
		while (isspace((unsigned char) *p))
			p++;
		word = p;
		while (isalpha((unsigned char) *p))
			p++;
		len = (size_t) (p - word);
		if (len == 0 || len >= sizeof(lower))
			return false;
		for (size_t i = 0; i < len; i++)
			lower[i] = (char) tolower((unsigned char) word[i]);
		lower[len] = '\0';
		if (!unit_seconds(lower, len, &unit))
			return false;
		if (count > (INT64_C(1) << 40) / unit)
			return false;
		total += count * unit;
		if (total > (INT64_C(1) << 40))
			return false;
		pairs++;
	}
	if (pairs == 0)
		return false;
	*seconds = total;
	return true;
}
