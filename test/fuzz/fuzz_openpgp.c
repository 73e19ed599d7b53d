/*
 * fuzz_openpgp.c: libFuzzer target for the OpenPGP key parser.  Any input is
 * read both as armor (and, when that works, its binary as a key) and as a
 * binary key.  Nothing may crash or read out of bounds; a decoded armor is
 * never longer than its text; a status always has a text; an accepted key
 * has a primary algorithm and at most as many encryption keys as subkeys.
 */
#include <stdlib.h>
#include <string.h>

#include "openpgp.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_key(const uint8_t *data, size_t size)
{
	OpenpgpKeyInfo info;
	OpenpgpStatus st;
	char		hex[2 * OPENPGP_FPR_LEN + 1];

	st = openpgp_key_info(data, size, &info);
	if (openpgp_status_text(st)[0] == '\0')
		abort();
	if (st != OPENPGP_OK)
		return;
	if (info.primary_algo <= 0 || info.subkeys < (info.has_encryption_key ? 1 : 0))
		abort();
	if (info.has_encryption_key && info.encryption_algo <= 0)
		abort();
	if (info.primary_bits < 0 || info.encryption_bits < 0)
		abort();
	openpgp_fingerprint_hex(info.fingerprint, hex);
	if (strlen(hex) != 2 * OPENPGP_FPR_LEN)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *out;
	size_t		outlen = 0;
	OpenpgpBlock block;
	OpenpgpStatus st;

	/* an exact-size output, so that a write past the promise would show */
	out = malloc(size ? size : 1);
	if (out == NULL)
		return 0;
	st = openpgp_dearmor((const char *) data, size, out, &outlen, &block);
	if (openpgp_status_text(st)[0] == '\0')
		abort();
	if (st == OPENPGP_OK)
	{
		if (outlen == 0 || outlen * 4 > size * 3 || block == OPENPGP_BLOCK_OTHER)
			abort();
		check_key(out, outlen);
	}
	else if (outlen != 0 || block != OPENPGP_BLOCK_OTHER)
		abort();
	free(out);

	check_key(data, size);
	return 0;
}
