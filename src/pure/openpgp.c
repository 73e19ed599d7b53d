/*-------------------------------------------------------------------------
 * openpgp.c
 *	  Transferable keys of OpenPGP (RFC 4880), read for the few facts the
 *	  vault needs.  See openpgp.h; the armor around them is pgp_armor.c's.
 *
 * Owns: the packet walk over a binary key, its fingerprints, and the
 * status texts.  Pure C over libcrypto's SHA-1; must not depend on PostgreSQL,
 * must not allocate or print, and must never read or write out of bounds
 * whatever bytes it is handed (it is fuzzed with ASan and UBSan).
 *-------------------------------------------------------------------------
 */
#include "openpgp.h"

#include <string.h>

#include <openssl/evp.h>

/* RFC 4880 packet tags and public-key algorithms used here */
#define TAG_SECRET_KEY		5
#define TAG_PUBLIC_KEY		6
#define TAG_SECRET_SUBKEY	7
#define TAG_PUBLIC_SUBKEY	14

#define ALGO_RSA			1
#define ALGO_RSA_ENCRYPT	2
#define ALGO_RSA_SIGN		3
#define ALGO_ELGAMAL		16
#define ALGO_DSA			17
#define ALGO_ECDH			18
#define ALGO_ECDSA			19
#define ALGO_EDDSA			22
#define ALGO_X25519			25
#define ALGO_X448			26
#define ALGO_ED25519		27
#define ALGO_ED448			28


const char *
openpgp_status_text(OpenpgpStatus status)
{
	switch (status)
	{
		case OPENPGP_OK:
			return "ok";
		case OPENPGP_ERR_ARMOR:
			return "bad or missing OpenPGP key block armor";
		case OPENPGP_ERR_CRC:
			return "bad armor checksum";
		case OPENPGP_ERR_PACKET:
			return "truncated or malformed OpenPGP packet";
		case OPENPGP_ERR_NOT_KEY:
			return "not an OpenPGP key (first packet is not a key packet)";
		case OPENPGP_ERR_VERSION:
			return "not a version 4 OpenPGP key";
		case OPENPGP_ERR_MULTIPLE:
			return "more than one primary key";
		case OPENPGP_ERR_TOO_LARGE:
			return "OpenPGP key data too large";
		case OPENPGP_ERR_ALGORITHM:
			return "unknown OpenPGP public-key algorithm";
		case OPENPGP_ERR_MIXED:
			return "public and secret key packets mixed";
		case OPENPGP_ERR_MULTIPLE_SUBKEYS:
			return "more than one encryption subkey";
		case OPENPGP_ERR_CRYPTO:
			return "cryptographic library failure";
	}
	return "unknown OpenPGP error";
}

void
openpgp_fingerprint_hex(const uint8_t fpr[OPENPGP_FPR_LEN],
						char out[2 * OPENPGP_FPR_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	int			i;

	for (i = 0; i < OPENPGP_FPR_LEN; i++)
	{
		out[2 * i] = hex[fpr[i] >> 4];
		out[2 * i + 1] = hex[fpr[i] & 0x0F];
	}
	out[2 * OPENPGP_FPR_LEN] = '\0';
}

/* -------------------------------------------------------------- packets */

/*
 * The packet header at *pos: its tag and body.  On success *pos is past the
 * body.  Partial and indeterminate lengths are refused: a key has neither.
 */
static OpenpgpStatus
read_packet(const uint8_t *data, size_t len, size_t *pos, int *tag,
			const uint8_t **body, size_t *bodylen)
{
	size_t		p = *pos;
	size_t		avail;
	uint32_t	n;
	uint8_t		h;

	if (p >= len)
		return OPENPGP_ERR_PACKET;
	h = data[p++];
	avail = len - p;
	if (!(h & 0x80))
		return OPENPGP_ERR_PACKET;
	if (h & 0x40)
	{
		/* new format */
		uint8_t		o1;

		*tag = h & 0x3F;
		if (avail < 1)
			return OPENPGP_ERR_PACKET;
		o1 = data[p];
		if (o1 < 192)
		{
			n = o1;
			p += 1;
		}
		else if (o1 < 224)
		{
			if (avail < 2)
				return OPENPGP_ERR_PACKET;
			n = (((uint32_t) o1 - 192) << 8) + data[p + 1] + 192;
			p += 2;
		}
		else if (o1 == 255)
		{
			if (avail < 5)
				return OPENPGP_ERR_PACKET;
			n = (uint32_t) data[p + 1] << 24 | (uint32_t) data[p + 2] << 16 |
				(uint32_t) data[p + 3] << 8 | data[p + 4];
			p += 5;
		}
		else
			return OPENPGP_ERR_PACKET;	/* partial body length */
	}
	else
	{
		/* old format */
		*tag = (h >> 2) & 0x0F;
		switch (h & 0x03)
		{
			case 0:
				if (avail < 1)
					return OPENPGP_ERR_PACKET;
				n = data[p];
				p += 1;
				break;
			case 1:
				if (avail < 2)
					return OPENPGP_ERR_PACKET;
				n = (uint32_t) data[p] << 8 | data[p + 1];
				p += 2;
				break;
			case 2:
				if (avail < 4)
					return OPENPGP_ERR_PACKET;
				n = (uint32_t) data[p] << 24 | (uint32_t) data[p + 1] << 16 |
					(uint32_t) data[p + 2] << 8 | data[p + 3];
				p += 4;
				break;
			default:
				return OPENPGP_ERR_PACKET;	/* indeterminate length */
		}
	}
	if (*tag == 0)
		return OPENPGP_ERR_PACKET;	/* reserved, never valid */
	if (n > len - p)
		return OPENPGP_ERR_PACKET;
	*body = data + p;
	*bodylen = n;
	*pos = p + n;
	return OPENPGP_OK;
}

/*
 * One MPI at *pos: a two-byte bit count and the bytes of the value, the
 * first of which must hold exactly the top bit the count says (RFC 4880
 * 3.2), so that the bytes and the number agree.
 */
static OpenpgpStatus
read_mpi(const uint8_t *b, size_t len, size_t *pos, int *bits)
{
	size_t		p = *pos;
	unsigned	nbits;
	size_t		nbytes;

	if (len - p < 2)
		return OPENPGP_ERR_PACKET;
	nbits = (unsigned) b[p] << 8 | b[p + 1];
	nbytes = (nbits + 7) / 8;
	p += 2;
	if (len - p < nbytes)
		return OPENPGP_ERR_PACKET;
	if (nbits > 0)
	{
		unsigned	topbits = nbits - 8 * (unsigned) (nbytes - 1);	/* 1..8 */

		if ((b[p] >> (topbits - 1)) != 1)
			return OPENPGP_ERR_PACKET;
	}
	*pos = p + nbytes;
	if (bits)
		*bits = (int) nbits;
	return OPENPGP_OK;
}

/* a one-byte length and that many bytes (a curve OID, the ECDH KDF) */
static OpenpgpStatus
read_field(const uint8_t *b, size_t len, size_t *pos)
{
	size_t		p = *pos;
	size_t		n;

	if (len - p < 1)
		return OPENPGP_ERR_PACKET;
	n = b[p++];
	if (n == 0 || n == 0xFF)
		return OPENPGP_ERR_PACKET;	/* reserved (RFC 6637 9) */
	if (len - p < n)
		return OPENPGP_ERR_PACKET;
	*pos = p + n;
	return OPENPGP_OK;
}

static bool
algo_can_encrypt(int algo)
{
	return algo == ALGO_RSA || algo == ALGO_RSA_ENCRYPT ||
		algo == ALGO_ELGAMAL || algo == ALGO_ECDH ||
		algo == ALGO_X25519 || algo == ALGO_X448;
}

typedef struct KeyFacts
{
	int			algo;
	int			bits;			/* RSA only */
	uint8_t		fpr[OPENPGP_FPR_LEN];
} KeyFacts;

/* SHA-1 over 0x99, the two-byte length and the public part */
static OpenpgpStatus
fingerprint(const uint8_t *pub, size_t publen, uint8_t fpr[OPENPGP_FPR_LEN])
{
	uint8_t		hdr[3];
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int			ok;

	if (publen > 0xFFFF)
		return OPENPGP_ERR_PACKET;
	hdr[0] = 0x99;
	hdr[1] = (uint8_t) (publen >> 8);
	hdr[2] = (uint8_t) publen;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return OPENPGP_ERR_CRYPTO;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) == 1 &&
		EVP_DigestUpdate(ctx, pub, publen) == 1 &&
		EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
		mdlen == OPENPGP_FPR_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return OPENPGP_ERR_CRYPTO;
	memcpy(fpr, md, OPENPGP_FPR_LEN);
	return OPENPGP_OK;
}

/*
 * The body of a key packet: version, algorithm, RSA size and fingerprint.
 * A public key packet must end with its public fields; a secret one goes on
 * with the secret part, which is not looked at.
 */
static OpenpgpStatus
read_key(const uint8_t *b, size_t len, bool secret, KeyFacts *k)
{
	size_t		pos = 6;
	int			nmpi = 0;
	size_t		nraw = 0;
	int			i;
	OpenpgpStatus st;

	k->algo = 0;
	k->bits = 0;
	if (len < 1)
		return OPENPGP_ERR_PACKET;
	if (b[0] != 4)
		return OPENPGP_ERR_VERSION;
	if (len < 6)
		return OPENPGP_ERR_PACKET;
	k->algo = b[5];

	switch (k->algo)
	{
		case ALGO_RSA:
		case ALGO_RSA_ENCRYPT:
		case ALGO_RSA_SIGN:
			st = read_mpi(b, len, &pos, &k->bits);	/* n */
			if (st != OPENPGP_OK)
				return st;
			nmpi = 1;			/* e */
			break;
		case ALGO_ELGAMAL:
			nmpi = 3;			/* p, g, y */
			break;
		case ALGO_DSA:
			nmpi = 4;			/* p, q, g, y */
			break;
		case ALGO_ECDH:
		case ALGO_ECDSA:
		case ALGO_EDDSA:
			st = read_field(b, len, &pos);	/* curve OID */
			if (st != OPENPGP_OK)
				return st;
			nmpi = 1;			/* the point */
			break;
		case ALGO_X25519:
		case ALGO_ED25519:
			nraw = 32;
			break;
		case ALGO_X448:
			nraw = 56;
			break;
		case ALGO_ED448:
			nraw = 57;
			break;
		default:
			return OPENPGP_ERR_ALGORITHM;
	}
	for (i = 0; i < nmpi; i++)
	{
		st = read_mpi(b, len, &pos, NULL);
		if (st != OPENPGP_OK)
			return st;
	}
	if (k->algo == ALGO_ECDH)
	{
		st = read_field(b, len, &pos);	/* KDF parameters */
		if (st != OPENPGP_OK)
			return st;
	}
	if (len - pos < nraw)
		return OPENPGP_ERR_PACKET;
	pos += nraw;

	if (secret ? pos >= len : pos != len)
		return OPENPGP_ERR_PACKET;
	return fingerprint(b, pos, k->fpr);
}

/* the tag of a packet header byte, or 0 if it is not one */
static int
header_tag(uint8_t h)
{
	if (!(h & 0x80))
		return 0;
	return (h & 0x40) ? (h & 0x3F) : ((h >> 2) & 0x0F);
}

OpenpgpStatus
openpgp_key_info(const uint8_t *data, size_t len, OpenpgpKeyInfo *info)
{
	size_t		pos = 0;
	int			first;
	bool		have_primary = false;

	memset(info, 0, sizeof(*info));
	if (len > OPENPGP_MAX_INPUT)
		return OPENPGP_ERR_TOO_LARGE;
	if (len == 0)
		return OPENPGP_ERR_PACKET;
	first = header_tag(data[0]);
	if (first != TAG_PUBLIC_KEY && first != TAG_SECRET_KEY)
		return OPENPGP_ERR_NOT_KEY;

	while (pos < len)
	{
		int			tag;
		const uint8_t *body;
		size_t		bodylen;
		KeyFacts	k;
		OpenpgpStatus st;

		st = read_packet(data, len, &pos, &tag, &body, &bodylen);
		if (st != OPENPGP_OK)
			return st;

		switch (tag)
		{
			case TAG_PUBLIC_KEY:
			case TAG_SECRET_KEY:
				if (have_primary)
					return OPENPGP_ERR_MULTIPLE;
				have_primary = true;
				info->secret = (tag == TAG_SECRET_KEY);
				st = read_key(body, bodylen, info->secret, &k);
				info->primary_algo = k.algo;
				if (st != OPENPGP_OK)
					return st;
				info->primary_bits = k.bits;
				memcpy(info->fingerprint, k.fpr, OPENPGP_FPR_LEN);
				break;

			case TAG_PUBLIC_SUBKEY:
			case TAG_SECRET_SUBKEY:
				if ((tag == TAG_SECRET_SUBKEY) != info->secret)
					return OPENPGP_ERR_MIXED;
				st = read_key(body, bodylen, info->secret, &k);
				if (st != OPENPGP_OK)
					return st;
				info->subkeys++;
				if (algo_can_encrypt(k.algo))
				{
					if (info->has_encryption_key)
						return OPENPGP_ERR_MULTIPLE_SUBKEYS;
					info->has_encryption_key = true;
					info->encryption_algo = k.algo;
					info->encryption_bits = k.bits;
					memcpy(info->encryption_fingerprint, k.fpr,
						   OPENPGP_FPR_LEN);
				}
				break;

			default:
				/* user ids, signatures, trust, ...: skipped */
				break;
		}
	}
	return OPENPGP_OK;
}
