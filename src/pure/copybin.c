/*-------------------------------------------------------------------------
 * copybin.c
 *	  The COPY BINARY framing, read in place; see copybin.h.
 *
 * Pure C: no server headers, unit-tested and fuzzed alone.  Integers are
 * big-endian, as the format has them.  It allocates nothing.
 *-------------------------------------------------------------------------
 */
#include "copybin.h"

#include <string.h>

static const uint8_t signature[COPYBIN_SIGNATURE_LEN] = "PGCOPY\n\377\r\n";

static uint32_t
get_u32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/*
 * The header at buf: the signature, the flags (no OIDs, no critical bit
 * this reader does not know) and the extension area, which is skipped.
 */
CopyBinStatus
copybin_header(const uint8_t *buf, size_t avail, size_t *used, const char **why)
{
	uint32_t	flags;
	uint32_t	ext;
	size_t		need = COPYBIN_SIGNATURE_LEN + 8;

	*why = NULL;
	if (avail < need)
	{
		*used = need;
		return COPYBIN_MORE;
	}
	if (memcmp(buf, signature, COPYBIN_SIGNATURE_LEN) != 0)
	{
		*why = "no COPY BINARY signature";
		return COPYBIN_BAD;
	}
	flags = get_u32(buf + COPYBIN_SIGNATURE_LEN);
	if (flags & (1u << 16))
	{
		*why = "rows with OIDs";
		return COPYBIN_BAD;
	}
	if (flags & 0xFFFE0000u)
	{
		*why = "an unknown critical flag in the header";
		return COPYBIN_BAD;
	}
	ext = get_u32(buf + COPYBIN_SIGNATURE_LEN + 4);
	if (ext > COPYBIN_FIELD_MAX)
	{
		*why = "a header extension past the size limit";
		return COPYBIN_BAD;
	}
	need += ext;
	*used = need;
	return avail < need ? COPYBIN_MORE : COPYBIN_ROW;
}

/*
 * One row at buf, of nfields fields: their places in fields[], its length
 * in *used.  The trailer (a field count of -1) is COPYBIN_END, *used 2.
 */
CopyBinStatus
copybin_row(const uint8_t *buf, size_t avail, int nfields, CopyBinField *fields,
			size_t *used, const char **why)
{
	int16_t		count;
	size_t		pos = 2;

	*why = NULL;
	if (avail < 2)
	{
		*used = 2;
		return COPYBIN_MORE;
	}
	count = (int16_t) (((uint16_t) buf[0] << 8) | buf[1]);
	if (count == -1)
	{
		*used = 2;
		return COPYBIN_END;
	}
	if (count != nfields)
	{
		*why = "a row with another number of fields than the table has columns";
		return COPYBIN_BAD;
	}
	for (int i = 0; i < nfields; i++)
	{
		int32_t		len;

		if (avail < pos + 4)
		{
			*used = pos + 4;
			return COPYBIN_MORE;
		}
		len = (int32_t) get_u32(buf + pos);
		pos += 4;
		if (len < -1 || len > COPYBIN_FIELD_MAX)
		{
			*why = "a field length out of range";
			return COPYBIN_BAD;
		}
		fields[i].off = pos;
		fields[i].len = len;
		if (len > 0)
			pos += (size_t) len;
	}
	*used = pos;
	return avail < pos ? COPYBIN_MORE : COPYBIN_ROW;
}
