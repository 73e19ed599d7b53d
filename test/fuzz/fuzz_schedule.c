/*
 * fuzz_schedule.c: libFuzzer target for the schedule parser.  Any input is
 * either refused with a message and an offset inside the text, or accepted;
 * an accepted schedule prints to a canonical text that parses back to the
 * same schedule and prints the same again, and its next run after a few
 * instants exists, matches, and lies strictly later.
 */
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VaultSchedule s,
				s2;
	PolicyError err;
	char		buf[512],
				buf2[512];
	size_t		len;
	static const VaultCivil afters[4] = {
		{2026, 12, 3, 6, 0, 0}, {2027, 2, 28, 23, 59, 30}, {2028, 2, 29, 0, 0, 0}, {2099, 12, 31, 23, 59, 0}
	};
	int			i;

	if (!schedule_parse((const char *) data, size, &s, &err))
	{
		if (err.offset < 0 || (size_t) err.offset > size || err.message[0] == '\0')
			abort();
		return 0;
	}
	len = schedule_format(&s, buf, sizeof(buf));
	if (len >= sizeof(buf) || strlen(buf) != len)
		abort();
	if (!schedule_parse(buf, len, &s2, &err) || !schedule_equal(&s, &s2))
		abort();
	schedule_format(&s2, buf2, sizeof(buf2));
	if (strcmp(buf, buf2) != 0)
		abort();
	for (i = 0; i < 4; i++)
	{
		VaultCivil	next;

		if (!schedule_next_civil(&s, &afters[i], &next))
			abort();
		if (!schedule_matches(&s, &next) || civil_compare(&next, &afters[i]) <= 0)
			abort();
	}
	return 0;
}
