/*
 * fuzz_retention.c: libFuzzer target for the retention parser.  Any input is
 * either refused with a message and an offset inside the text, or accepted;
 * an accepted rule prints to a canonical text that parses back to the same
 * rule, and keeps no point for less time than its own age (until > at).
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VaultRetention r,
				r2;
	PolicyError err;
	char		buf[512],
				buf2[512];
	size_t		len;
	VaultCivil	pts[64];
	RetentionKeep keep[64];
	RetentionWork work[64];
	int			i;

	if (!retention_parse((const char *) data, size, &r, &err))
	{
		if (err.offset < 0 || (size_t) err.offset > size || err.message[0] == '\0')
			abort();
		return 0;
	}
	len = retention_format(&r, buf, sizeof(buf));
	if (len >= sizeof(buf) || strlen(buf) != len)
		abort();
	if (!retention_parse(buf, len, &r2, &err) || !retention_equal(&r, &r2))
		abort();
	retention_format(&r2, buf2, sizeof(buf2));
	if (strcmp(buf, buf2) != 0)
		abort();
	/* 64 points, one every 5 days 17 hours from 2027-12-30 */
	for (i = 0; i < 64; i++)
	{
		VaultCivil	c = {2027, 12, 30, 0, 0, 0};

		civil_add_minutes(&c, (int64_t) i * (5 * 24 + 17) * 60);
		pts[i] = c;
	}
	retention_keep(&r, pts, 64, keep, work);
	for (i = 0; i < 64; i++)
	{
		if (r.daily && !(keep[i].rules & RET_DAILY))
			abort();			/* daily keeps every point */
		if (keep[i].rules && civil_compare(&keep[i].until, &pts[i]) <= 0)
			abort();
	}
	return 0;
}
