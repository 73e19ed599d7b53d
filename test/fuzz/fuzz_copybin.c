/*
 * fuzz_copybin.c: libFuzzer target for the COPY BINARY framing
 * (src/pure/copybin.c).  Arbitrary bytes read as a stream of rows of 1 to 4
 * fields (the first byte picks how many) must end in a clean status, with
 * every field inside the row it belongs to and each row ending past its
 * start, never an out-of-bounds access.
 */
#include <stdlib.h>

#include "copybin.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CopyBinField f[4];
	const char *why;
	size_t		used;
	size_t		pos;
	int			nfields;

	if (size < 1)
		return 0;
	nfields = 1 + data[0] % 4;
	data++;
	size--;
	if (copybin_header(data, size, &used, &why) != COPYBIN_ROW)
		return 0;
	if (used > size)
		abort();
	for (pos = used; pos < size; pos += used)
	{
		CopyBinStatus st = copybin_row(data + pos, size - pos, nfields, f, &used, &why);

		if (st == COPYBIN_BAD && why == NULL)
			abort();
		if (st != COPYBIN_ROW)
			break;
		if (used < 2 || used > size - pos)
			abort();
		for (int i = 0; i < nfields; i++)
			if (f[i].len >= 0 && (f[i].off > used || (size_t) f[i].len > used - f[i].off))
				abort();
	}
	return 0;
}
