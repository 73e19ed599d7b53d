/*
 * test_copybin.c: unit tests of the COPY BINARY framing (src/pure/copybin.c):
 * a stream of header, rows (with NULLs and empty fields) and trailer read
 * whole and cut at every byte, and clean errors for a wrong signature, rows
 * with OIDs, an unknown critical flag, a wrong field count and field
 * lengths out of range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copybin.h"

#include "check.h"

static uint8_t stream[256];
static size_t stream_len;

static void
put16(int v)
{
	stream[stream_len++] = (uint8_t) ((v >> 8) & 0xff);
	stream[stream_len++] = (uint8_t) (v & 0xff);
}

static void
put32(int32_t v)
{
	uint32_t	u = (uint32_t) v;

	stream[stream_len++] = (uint8_t) (u >> 24);
	stream[stream_len++] = (uint8_t) (u >> 16);
	stream[stream_len++] = (uint8_t) (u >> 8);
	stream[stream_len++] = (uint8_t) u;
}

static void
put_field(const char *s)
{
	if (s == NULL)
	{
		put32(-1);
		return;
	}
	put32((int32_t) strlen(s));
	memcpy(stream + stream_len, s, strlen(s));
	stream_len += strlen(s);
}

/* header (with a 3-byte extension), rows {"1","abc"}, {NULL,""}, trailer */
static size_t
build(void)
{
	stream_len = 0;
	memcpy(stream, "PGCOPY\n\377\r\n", 11);
	stream_len = 11;
	put32(0);
	put32(3);
	memcpy(stream + stream_len, "xyz", 3);
	stream_len += 3;
	put16(2);
	put_field("1");
	put_field("abc");
	put16(2);
	put_field(NULL);
	put_field("");
	put16(-1);
	return 11 + 8 + 3;
}

/* read the stream with only the first avail bytes visible at each step */
static int
read_all(size_t cut)
{
	size_t		pos = 0;
	size_t		used;
	const char *why;
	CopyBinField f[2];
	int			rows = 0;
	CopyBinStatus st;

	st = copybin_header(stream, cut < stream_len ? cut : stream_len, &used, &why);
	if (st == COPYBIN_MORE)
	{
		CHECK(used > cut, "header wants %zu having %zu", used, cut);
		st = copybin_header(stream, stream_len, &used, &why);
	}
	CHECK(st == COPYBIN_ROW && used == 22, "header: %d used %zu", st, used);
	pos = used;
	for (;;)
	{
		size_t		avail = stream_len - pos;

		if (cut < avail)
		{
			size_t		seen = cut;

			/* as a reader does: more bytes, as many as the row said it needs */
			while ((st = copybin_row(stream + pos, seen, 2, f, &used, &why)) == COPYBIN_MORE)
			{
				CHECK(used > seen && used <= avail, "row wants %zu having %zu of %zu", used, seen, avail);
				if (used <= seen || used > avail)
					return -1;
				seen = used;
			}
		}
		else
			st = copybin_row(stream + pos, avail, 2, f, &used, &why);
		if (st == COPYBIN_END)
			break;
		if (st != COPYBIN_ROW)
			return -1;
		if (rows == 0)
			CHECK(f[0].len == 1 && stream[pos + f[0].off] == '1' && f[1].len == 3 &&
				  memcmp(stream + pos + f[1].off, "abc", 3) == 0, "row 1 fields (cut %zu)", cut);
		else
			CHECK(f[0].len == -1 && f[1].len == 0, "row 2 fields (cut %zu)", cut);
		rows++;
		pos += used;
	}
	CHECK(pos + used == stream_len, "trailer at the end (cut %zu)", cut);
	return rows;
}

static void
expect_bad(const char *what)
{
	size_t		used;
	const char *why = NULL;
	CopyBinField f[2];
	CopyBinStatus st = copybin_header(stream, stream_len, &used, &why);

	if (st == COPYBIN_ROW)
		st = copybin_row(stream + used, stream_len - used, 2, f, &used, &why);
	CHECK(st == COPYBIN_BAD && why != NULL, "%s: status %d", what, st);
}

int
main(void)
{
	size_t		rows_at = build();

	for (size_t cut = 0; cut <= stream_len; cut++)
		CHECK(read_all(cut) == 2, "two rows read with %zu bytes visible", cut);

	build();
	stream[0] = 'X';
	expect_bad("signature");
	build();
	stream[11 + 1] = 1;			/* flag bit 16: OIDs */
	expect_bad("oids");
	build();
	stream[11] = 0x80;			/* a critical bit */
	expect_bad("critical flag");
	build();
	stream[rows_at + 1] = 3;	/* three fields */
	expect_bad("field count");
	build();
	stream[rows_at + 2] = 0xff;	/* length 0xff000001: negative */
	expect_bad("negative length");
	build();
	stream[rows_at + 2] = 0x40;	/* 1 GB and more */
	expect_bad("huge length");

	printf("copybin: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
