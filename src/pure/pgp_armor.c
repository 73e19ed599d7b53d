/*-------------------------------------------------------------------------
 * pgp_armor.c
 *	  OpenPGP ASCII armor (RFC 4880 section 6): the text around a key block,
 *	  decoded to its binary packets.  See openpgp.h.
 *
 * Owns: finding the key block's BEGIN and END lines, skipping its headers,
 * base64 and the CRC-24 check.  Pure C; must not depend on PostgreSQL,
 * must not allocate or print, and must never read or write out of bounds
 * whatever text it is handed (it is fuzzed with ASan and UBSan).  What the
 * packets mean is openpgp.c's.
 *-------------------------------------------------------------------------
 */
#include "openpgp.h"

#include <string.h>

#define CRC24_INIT			0xB704CEu
#define CRC24_POLY			0x1864CFBu

static const char begin_public[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
static const char begin_secret[] = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
static const char end_public[] = "-----END PGP PUBLIC KEY BLOCK-----";
static const char end_secret[] = "-----END PGP PRIVATE KEY BLOCK-----";

static uint32_t
crc24(const uint8_t *data, size_t len)
{
	uint32_t	crc = CRC24_INIT;
	size_t		i;
	int			j;

	for (i = 0; i < len; i++)
	{
		crc ^= (uint32_t) data[i] << 16;
		for (j = 0; j < 8; j++)
		{
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= CRC24_POLY;
		}
	}
	return crc & 0xFFFFFFu;
}

/* value of a base64 digit, or -1 */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* base64 decoder state across the lines of the armor */
typedef struct B64
{
	uint32_t	acc;			/* the digits of the current group */
	int			ndigits;		/* digits (and pads) in the current group */
	int			npad;			/* '=' in the current group */
	bool		done;			/* a padded group ended the data */
	uint8_t    *out;
	size_t		outlen;
	size_t		cap;
} B64;

static bool
b64_feed(B64 *b, const char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		int			v;

		if (b->done)
			return false;		/* data after the padding */
		if (s[i] == '=')
		{
			if (b->ndigits < 2)
				return false;
			b->npad++;
			v = 0;
		}
		else
		{
			v = b64_value(s[i]);
			if (v < 0 || b->npad > 0)
				return false;
		}
		b->acc = (b->acc << 6) | (uint32_t) v;
		if (++b->ndigits == 4)
		{
			int			nbytes = 3 - b->npad;

			if (b->cap - b->outlen < (size_t) nbytes)
				return false;	/* cannot happen: 4 chars give <= 3 bytes */
			b->out[b->outlen++] = (uint8_t) (b->acc >> 16);
			if (nbytes > 1)
				b->out[b->outlen++] = (uint8_t) (b->acc >> 8);
			if (nbytes > 2)
				b->out[b->outlen++] = (uint8_t) b->acc;
			if (b->npad > 0)
				b->done = true;
			b->acc = 0;
			b->ndigits = 0;
			b->npad = 0;
		}
	}
	return true;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The next line of text from *pos, without its line end and without spaces,
 * tabs and carriage returns around it.  False at the end of the text.
 */
static bool
next_line(const char *text, size_t len, size_t *pos, const char **line,
		  size_t *linelen)
{
	size_t		start = *pos;
	size_t		end = start;

	if (start >= len)
		return false;
	while (end < len && text[end] != '\n')
		end++;
	*pos = end < len ? end + 1 : end;
	while (start < end && is_space(text[start]))
		start++;
	while (end > start && is_space(text[end - 1]))
		end--;
	*line = text + start;
	*linelen = end - start;
	return true;
}

static bool
line_is(const char *line, size_t linelen, const char *s)
{
	size_t		n = strlen(s);

	return linelen == n && memcmp(line, s, n) == 0;
}

typedef enum ArmorState
{
	ARMOR_HEADERS,				/* after BEGIN, before the first data line */
	ARMOR_DATA,					/* base64 lines */
	ARMOR_AFTER_CRC				/* only the END line may follow */
} ArmorState;

OpenpgpStatus
openpgp_dearmor(const char *text, size_t len, uint8_t *out, size_t *outlen,
				OpenpgpBlock *block)
{
	size_t		pos = 0;
	const char *line;
	size_t		linelen;
	const char *end_label = NULL;
	OpenpgpBlock kind = OPENPGP_BLOCK_OTHER;
	ArmorState	state = ARMOR_HEADERS;
	bool		have_crc = false;
	uint32_t	crc = 0;
	B64			b64;

	*outlen = 0;
	*block = OPENPGP_BLOCK_OTHER;
	if (len > OPENPGP_MAX_INPUT)
		return OPENPGP_ERR_TOO_LARGE;

	/* leading text up to the BEGIN line */
	while (end_label == NULL)
	{
		if (!next_line(text, len, &pos, &line, &linelen))
			return OPENPGP_ERR_ARMOR;
		if (line_is(line, linelen, begin_public))
		{
			end_label = end_public;
			kind = OPENPGP_BLOCK_PUBLIC;
		}
		else if (line_is(line, linelen, begin_secret))
		{
			end_label = end_secret;
			kind = OPENPGP_BLOCK_SECRET;
		}
	}

	memset(&b64, 0, sizeof(b64));
	b64.out = out;
	b64.cap = len;

	for (;;)
	{
		if (!next_line(text, len, &pos, &line, &linelen))
			return OPENPGP_ERR_ARMOR;	/* no END line */

		if (linelen >= 5 && memcmp(line, "-----", 5) == 0)
		{
			if (!line_is(line, linelen, end_label))
				return OPENPGP_ERR_ARMOR;	/* wrong END, or a BEGIN inside */
			break;
		}
		if (state == ARMOR_HEADERS)
		{
			if (linelen == 0)
			{
				state = ARMOR_DATA;
				continue;
			}
			if (memchr(line, ':', linelen) != NULL)
				continue;		/* "Version: ...", "Comment: ..." */
			state = ARMOR_DATA;
		}
		if (linelen == 0)
			continue;
		if (state == ARMOR_AFTER_CRC)
			return OPENPGP_ERR_ARMOR;
		if (line[0] == '=')
		{
			/* the checksum: '=' and 4 base64 digits */
			int			i;

			if (linelen != 5)
				return OPENPGP_ERR_ARMOR;
			for (i = 1; i < 5; i++)
			{
				int			v = b64_value(line[i]);

				if (v < 0)
					return OPENPGP_ERR_ARMOR;
				crc = (crc << 6) | (uint32_t) v;
			}
			have_crc = true;
			state = ARMOR_AFTER_CRC;
			continue;
		}
		if (!b64_feed(&b64, line, linelen))
			return OPENPGP_ERR_ARMOR;
	}

	if (b64.ndigits != 0 || b64.outlen == 0)
		return OPENPGP_ERR_ARMOR;	/* a partial group, or no data at all */
	if (have_crc && crc24(out, b64.outlen) != crc)
		return OPENPGP_ERR_CRC;
	*outlen = b64.outlen;
	*block = kind;
	return OPENPGP_OK;
}
