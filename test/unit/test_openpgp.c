/*
 * test_openpgp.c: unit tests of the OpenPGP key parser (openpgp.c), run
 * without a server.  Armor edge cases; synthetic keys built here packet by
 * packet (old and new headers, every length form, v3 keys, two primaries,
 * secret keys, MPI sizes, every truncation); a real ed25519 key made by gpg
 * as a fixed known answer; and, when gpg is on PATH, fresh RSA and ed25519
 * keys made by gpg in a temporary home, checked against gpg's own listing.
 * Prints one line per failed check and, last, "openpgp: N passed, M failed";
 * exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include "openpgp.h"

#include "check.h"

/*
 * A public key made by gpg 2.2 (Key-Type EDDSA, ed25519; Subkey-Type ECDH,
 * cv25519), with the fingerprints gpg --with-colons printed for it; the
 * same key is test/fuzz/corpus_openpgp/ed25519_pub.asc.
 */
static const char ed25519_pub[] =
"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
"\n"
"mDMEaxOSwBYJKwYBBAHaRw8BAQdAHFWFjNOPBg/OGIN6nYg7G3GnJAwWrG7cUwUp\n"
"95/6/nG0MVZhdWx0IFRlc3QgRWQyNTUxOSA8dGVzdC1lZDI1NTE5QGV4YW1wbGUu\n"
"aW52YWxpZD6IkAQTFggAOBYhBGAz9Xx6NZokW8HzlIpbAz1bvt8eBQJrE5LAAhsj\n"
"BQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJEIpbAz1bvt8emYoBAMYe89zMEOKc\n"
"d/A78qWfzKvdAbmQrDqkOVRi90enX+sLAPsGQ4BoXo2VSdaGRibZ/E4AisLOal1Q\n"
"4XoxzVc7mmTiDLg4BGsTksASCisGAQQBl1UBBQEBB0AWRnVfip2r1k5Et3JlphNx\n"
"iTYpFVdYWm7DM4WcFrpJOQMBCAeIeAQYFggAIBYhBGAz9Xx6NZokW8HzlIpbAz1b\n"
"vt8eBQJrE5LAAhsMAAoJEIpbAz1bvt8eZWUA/3rU9SJ/OcHakA8pyVQd/JBpPZBj\n"
"5LDRXZqko4EOovJEAP9w/bt5nWNNMUjmnh3mjl6ydZO2v/tomKkHyc9meQ91CQ==\n"
"=F0Hi\n"
"-----END PGP PUBLIC KEY BLOCK-----\n";
static const char ed25519_fpr[] = "6033F57C7A359A245BC1F3948A5B033D5BBEDF1E";
static const char ed25519_sub_fpr[] = "57C2A994DF6E347E20E434C5FD20ED8AA1222CAB";

static const char begin_pub[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
static const char end_pub[] = "-----END PGP PUBLIC KEY BLOCK-----";

/* ------------------------------------------------------------- helpers */

static uint32_t rng_state = 0x2545F491u;

static uint8_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (uint8_t) (rng_state >> 8);
}

typedef struct Buf
{
	uint8_t		d[32768];
	size_t		n;
} Buf;

static void
put(Buf *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->d))
	{
		printf("test buffer overflow\n");
		exit(2);
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void
put_byte(Buf *b, int v)
{
	uint8_t		c = (uint8_t) v;

	put(b, &c, 1);
}

/* an MPI of exactly 'bits' bits (top bit set), other bits random */
static void
put_mpi(Buf *b, int bits)
{
	int			nbytes = (bits + 7) / 8;
	int			i;

	put_byte(b, bits >> 8);
	put_byte(b, bits & 0xFF);
	for (i = 0; i < nbytes; i++)
	{
		uint8_t		c = rnd();

		if (i == 0)
		{
			int			top = bits - 8 * (nbytes - 1);	/* 1..8 */

			c = (uint8_t) ((c & ((1 << (top - 1)) - 1)) | (1 << (top - 1)));
		}
		put_byte(b, c);
	}
}

/* public part of a v4 key: version, time, algorithm, public fields */
static void
put_pub_part(Buf *b, int version, int algo, int bits)
{
	int			i;

	put_byte(b, version);
	put_byte(b, 0x5F);
	put_byte(b, rnd());
	put_byte(b, rnd());
	put_byte(b, rnd());
	if (version == 3)
	{
		put_byte(b, 0);			/* v3: validity days */
		put_byte(b, 0);
	}
	put_byte(b, algo);
	switch (algo)
	{
		case 1:
		case 2:
		case 3:
			put_mpi(b, bits);
			put_mpi(b, 17);		/* e = 65537 in size */
			break;
		case 16:
			for (i = 0; i < 3; i++)
				put_mpi(b, i == 1 ? 3 : 2048);
			break;
		case 17:
			for (i = 0; i < 4; i++)
				put_mpi(b, i == 1 ? 256 : 2048);
			break;
		case 25:
			for (i = 0; i < 32; i++)
				put_byte(b, rnd());
			break;
		default:
			put_mpi(b, 64);
			break;
	}
}

/* a secret key body: the public part, S2K usage 0, d p q u, checksum */
static void
put_secret_tail(Buf *b, int bits)
{
	put_byte(b, 0);
	put_mpi(b, bits);
	put_mpi(b, bits / 2);
	put_mpi(b, bits / 2);
	put_mpi(b, bits / 2);
	put_byte(b, rnd());
	put_byte(b, rnd());
}

/* the expected fingerprint, computed here the one-shot way */
static void
expected_fpr(const uint8_t *pub, size_t publen, uint8_t fpr[OPENPGP_FPR_LEN])
{
	static uint8_t buf[70000];
	unsigned int mdlen = 0;

	buf[0] = 0x99;
	buf[1] = (uint8_t) (publen >> 8);
	buf[2] = (uint8_t) publen;
	memcpy(buf + 3, pub, publen);
	if (EVP_Digest(buf, publen + 3, fpr, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
	{
		printf("SHA-1 failed\n");
		exit(2);
	}
}

typedef enum Form
{
	OLD_SHORT,					/* old format, smallest length form */
	OLD_LONG,					/* old format, 4-byte length */
	NEW_SHORT,					/* new format, smallest length form */
	NEW_LONG					/* new format, 5-byte length */
} Form;

static const char *const form_names[] = {"old short", "old 4-byte", "new short", "new 5-byte"};

static void
put_packet(Buf *b, int tag, const uint8_t *body, size_t n, Form form)
{
	if (form == OLD_SHORT || form == OLD_LONG)
	{
		if (form == OLD_SHORT && n < 256)
		{
			put_byte(b, 0x80 | tag << 2);
			put_byte(b, (int) n);
		}
		else if (form == OLD_SHORT && n < 65536)
		{
			put_byte(b, 0x80 | tag << 2 | 1);
			put_byte(b, (int) (n >> 8));
			put_byte(b, (int) (n & 0xFF));
		}
		else
		{
			put_byte(b, 0x80 | tag << 2 | 2);
			put_byte(b, (int) (n >> 24));
			put_byte(b, (int) (n >> 16) & 0xFF);
			put_byte(b, (int) (n >> 8) & 0xFF);
			put_byte(b, (int) (n & 0xFF));
		}
	}
	else
	{
		put_byte(b, 0xC0 | tag);
		if (form == NEW_SHORT && n < 192)
			put_byte(b, (int) n);
		else if (form == NEW_SHORT && n < 8384)
		{
			put_byte(b, (int) ((n - 192) >> 8) + 192);
			put_byte(b, (int) ((n - 192) & 0xFF));
		}
		else
		{
			put_byte(b, 0xFF);
			put_byte(b, (int) (n >> 24));
			put_byte(b, (int) (n >> 16) & 0xFF);
			put_byte(b, (int) (n >> 8) & 0xFF);
			put_byte(b, (int) (n & 0xFF));
		}
	}
	put(b, body, n);
}

/* a dummy packet of n random bytes */
static void
put_filler(Buf *b, int tag, size_t n, Form form)
{
	uint8_t		body[512];
	size_t		i;

	for (i = 0; i < n && i < sizeof(body); i++)
		body[i] = rnd();
	put_packet(b, tag, body, n, form);
}

/*
 * A transferable key: primary (tag 5 or 6), user id, signature, then one
 * subkey per entry of sub_algo (tag 7 or 14) each with a binding signature.
 * Records the fingerprints expected and the offsets where packets end.
 */
typedef struct Key
{
	Buf			data;
	uint8_t		fpr[OPENPGP_FPR_LEN];
	uint8_t		sub_fpr[4][OPENPGP_FPR_LEN];
	size_t		ends[16];
	int			nends;
} Key;

static void
mark_end(Key *k)
{
	k->ends[k->nends++] = k->data.n;
}

static void
build_key(Key *k, Form form, bool secret, int algo, int bits,
		  int nsub, const int *sub_algo, const int *sub_bits)
{
	static Buf	body;
	int			i;
	uint32_t	base = rng_state;

	memset(k, 0, sizeof(*k));

	/* the public parts depend only on the state at entry */
	body.n = 0;
	put_pub_part(&body, 4, algo, bits);
	expected_fpr(body.d, body.n, k->fpr);
	if (secret)
		put_secret_tail(&body, bits ? bits : 256);
	put_packet(&k->data, secret ? 5 : 6, body.d, body.n, form);
	mark_end(k);
	put_packet(&k->data, 13, (const uint8_t *) "Vault Test <t@example.invalid>", 30, form);
	mark_end(k);
	put_filler(&k->data, 2, 300, form);
	mark_end(k);
	for (i = 0; i < nsub; i++)
	{
		body.n = 0;
		rng_state = (base ^ (0x9E3779B9u * (uint32_t) (i + 1))) | 1;
		put_pub_part(&body, 4, sub_algo[i], sub_bits[i]);
		expected_fpr(body.d, body.n, k->sub_fpr[i]);
		if (secret)
			put_secret_tail(&body, sub_bits[i] ? sub_bits[i] : 256);
		put_packet(&k->data, secret ? 7 : 14, body.d, body.n, form);
		mark_end(k);
		put_filler(&k->data, 2, 150, form);
		mark_end(k);
	}
	rng_state = (base * 1664525u + 1013904223u) | 1;
}

static bool
fpr_equal(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, OPENPGP_FPR_LEN) == 0;
}

/* ----------------------------------------------------- armor (test side) */

static const char b64_digits[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint32_t
test_crc24(const uint8_t *p, size_t n)
{
	uint32_t	crc = 0xB704CE;
	size_t		i;
	int			j;

	for (i = 0; i < n; i++)
	{
		crc ^= (uint32_t) p[i] << 16;
		for (j = 0; j < 8; j++)
		{
			crc <<= 1;
			if (crc & 0x1000000)
				crc ^= 0x1864CFB;
		}
	}
	return crc & 0xFFFFFF;
}

/* base64 of n bytes, 'width' digits a line, each line ended by 'eol' */
static size_t
b64_encode(char *out, const uint8_t *p, size_t n, int width, const char *eol)
{
	size_t		o = 0;
	size_t		i;
	int			col = 0;

	for (i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) p[i] << 16;
		int			k;

		if (i + 1 < n)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		for (k = 0; k < 4; k++)
		{
			if (k <= (int) (n - i))
				out[o++] = b64_digits[(v >> (18 - 6 * k)) & 0x3F];
			else
				out[o++] = '=';
		}
		col += 4;
		if (col >= width && i + 3 < n)
		{
			o += (size_t) sprintf(out + o, "%s", eol);
			col = 0;
		}
	}
	o += (size_t) sprintf(out + o, "%s", eol);
	return o;
}

typedef enum CrcMode
{
	CRC_GOOD,
	CRC_NONE,
	CRC_BAD
} CrcMode;

/* an armored public key block of the data; returns its length */
static size_t
armor(char *out, const uint8_t *p, size_t n, const char *eol,
	  const char *headers, CrcMode crc)
{
	size_t		o = 0;
	uint32_t	c = test_crc24(p, n);
	uint8_t		cb[3];

	if (crc == CRC_BAD)
		c ^= 0x000100;
	cb[0] = (uint8_t) (c >> 16);
	cb[1] = (uint8_t) (c >> 8);
	cb[2] = (uint8_t) c;
	o += (size_t) sprintf(out + o, "%s%s%s%s", begin_pub, eol, headers, eol);
	o += b64_encode(out + o, p, n, 64, eol);
	if (crc != CRC_NONE)
	{
		out[o++] = '=';
		o += b64_encode(out + o, cb, 3, 64, eol);
	}
	o += (size_t) sprintf(out + o, "%s%s", end_pub, eol);
	return o;
}

static OpenpgpStatus
dearmor_str(const char *text, uint8_t *out, size_t *outlen, OpenpgpBlock *block)
{
	return openpgp_dearmor(text, strlen(text), out, outlen, block);
}

/* ----------------------------------------------------------------- tests */

static void
test_texts(void)
{
	int			s,
				t;
	uint8_t		fpr[OPENPGP_FPR_LEN];
	char		hex[2 * OPENPGP_FPR_LEN + 1];

	for (s = OPENPGP_OK; s <= OPENPGP_ERR_CRYPTO; s++)
	{
		const char *a = openpgp_status_text((OpenpgpStatus) s);

		CHECK(a != NULL && a[0] != '\0', "status %d has a text", s);
		for (t = OPENPGP_OK; t < s; t++)
			CHECK(strcmp(a, openpgp_status_text((OpenpgpStatus) t)) != 0,
				  "status %d and %d have different texts", s, t);
	}
	CHECK(strstr(openpgp_status_text(OPENPGP_ERR_CRC), "checksum") != NULL,
		  "the CRC text says checksum");
	for (s = 0; s < OPENPGP_FPR_LEN; s++)
		fpr[s] = (uint8_t) (s * 0x11 + 0x0A);
	memset(hex, 'x', sizeof(hex));
	openpgp_fingerprint_hex(fpr, hex);
	CHECK(strcmp(hex, "0A1B2C3D4E5F708192A3B4C5D6E7F8091A2B3C4D") == 0,
		  "uppercase hex fingerprint: %s", hex);
}

/* the gpg-made ed25519 key: armor checksum, fingerprints, algorithms */
static void
test_known_key(void)
{
	uint8_t		bin[sizeof(ed25519_pub)];
	size_t		binlen = 0;
	OpenpgpBlock block;
	OpenpgpKeyInfo info;
	OpenpgpStatus st;
	char		hex[2 * OPENPGP_FPR_LEN + 1];

	st = dearmor_str(ed25519_pub, bin, &binlen, &block);
	CHECK(st == OPENPGP_OK, "gpg armor decodes: %s", openpgp_status_text(st));
	CHECK(block == OPENPGP_BLOCK_PUBLIC, "gpg armor is a public key block");
	CHECK(binlen == 430 && bin[0] == 0x98, "gpg armor gives 430 bytes (%zu)", binlen);
	st = openpgp_key_info(bin, binlen, &info);
	CHECK(st == OPENPGP_OK, "gpg ed25519 key parses: %s", openpgp_status_text(st));
	openpgp_fingerprint_hex(info.fingerprint, hex);
	CHECK(strcmp(hex, ed25519_fpr) == 0, "gpg ed25519 fingerprint %s", hex);
	openpgp_fingerprint_hex(info.encryption_fingerprint, hex);
	CHECK(strcmp(hex, ed25519_sub_fpr) == 0, "gpg cv25519 subkey fingerprint %s", hex);
	CHECK(!info.secret && info.primary_algo == 22 && info.primary_bits == 0,
		  "EdDSA primary (algo %d, bits %d)", info.primary_algo, info.primary_bits);
	CHECK(info.has_encryption_key && info.encryption_algo == 18 && info.encryption_bits == 0,
		  "ECDH encryption subkey (algo %d, bits %d)", info.encryption_algo, info.encryption_bits);
	CHECK(info.subkeys == 1, "one subkey (%d)", info.subkeys);
}

static void
test_base64(void)
{
	static const struct
	{
		const char *b64;
		const char *bin;
	}			v[] = {
		{"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"Zm9vYg==", "foob"},
		{"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"}, {"Zm9v\nYmFy", "foobar"},
		{"Zm\n 9vYmFy \t", "foobar"}, {"Zm9v\n\nYmFy", "foobar"}
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9vY", "Z===", "=Zg=", "Zg==Zm9v", "Zg==\nZm9v",
		"Zm 9v", "Zm9v!mFy", "Zm9v\xc3\xa9", "Zg=a"
	};
	char		text[256];
	uint8_t		out[256];
	size_t		outlen;
	OpenpgpBlock block;
	OpenpgpStatus st;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		snprintf(text, sizeof(text), "%s\n\n%s\n%s\n", begin_pub, v[i].b64, end_pub);
		st = dearmor_str(text, out, &outlen, &block);
		CHECK(st == OPENPGP_OK && outlen == strlen(v[i].bin) &&
			  memcmp(out, v[i].bin, outlen) == 0,
			  "base64 \"%s\" decodes to \"%s\" (%s)", v[i].b64, v[i].bin,
			  openpgp_status_text(st));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		snprintf(text, sizeof(text), "%s\n\n%s\n%s\n", begin_pub, bad[i], end_pub);
		st = dearmor_str(text, out, &outlen, &block);
		CHECK(st == OPENPGP_ERR_ARMOR && block == OPENPGP_BLOCK_OTHER && outlen == 0,
			  "bad base64 \"%s\" refused (%s)", bad[i], openpgp_status_text(st));
	}
}

static void
test_armor(void)
{
	static char text[8192];
	static char text2[16384];
	static uint8_t out[8192];
	uint8_t		data[600];
	size_t		n = sizeof(data);
	size_t		len;
	size_t		outlen;
	OpenpgpBlock block;
	OpenpgpStatus st;
	size_t		i;
	size_t		end_at;
	int			bad;
	char	   *p;

	for (i = 0; i < n; i++)
		data[i] = rnd();

	/* LF, no headers, CRC */
	len = armor(text, data, n, "\n", "", CRC_GOOD);
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == n && memcmp(out, data, n) == 0 &&
		  block == OPENPGP_BLOCK_PUBLIC, "plain armor round trip (%s)", openpgp_status_text(st));

	/* CRLF, headers */
	len = armor(text, data, n, "\r\n", "Version: GnuPG v2\r\nComment: a: b\r\n", CRC_GOOD);
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == n && memcmp(out, data, n) == 0,
		  "CRLF armor with headers (%s)", openpgp_status_text(st));

	/* no CRC line */
	len = armor(text, data, n, "\n", "Comment: x\n", CRC_NONE);
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == n && memcmp(out, data, n) == 0,
		  "armor without CRC line (%s)", openpgp_status_text(st));

	/* wrong CRC */
	len = armor(text, data, n, "\n", "", CRC_BAD);
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_CRC && block == OPENPGP_BLOCK_OTHER, "wrong CRC (%s)", openpgp_status_text(st));
	len = armor(text, data, n, "\r\n", "", CRC_BAD);
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_CRC, "wrong CRC, CRLF (%s)", openpgp_status_text(st));

	/* one flipped data digit: the CRC catches it */
	len = armor(text, data, n, "\n", "", CRC_GOOD);
	p = text + strlen(begin_pub) + 2 + 10;
	*p = (*p == 'A') ? 'B' : 'A';
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_CRC, "a changed digit fails the CRC (%s)", openpgp_status_text(st));

	/* leading and trailing text, indentation */
	len = armor(text, data, n, "\n", "", CRC_GOOD);
	snprintf(text2, sizeof(text2), "Here is my key:\n-----BEGIN PGP PUBLIC KEY BLOCK----- x\n\n%s\nthanks\n-----END PGP PUBLIC KEY BLOCK-----\n", text);
	st = openpgp_dearmor(text2, strlen(text2), out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == n && memcmp(out, data, n) == 0,
		  "text around the block (%s)", openpgp_status_text(st));
	for (i = 0, p = text2; i < len; i++)
	{
		if (i == 0 || text[i - 1] == '\n')
			*p++ = ' ';
		*p++ = text[i];
	}
	*p = '\0';
	st = openpgp_dearmor(text2, strlen(text2), out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == n, "indented block (%s)", openpgp_status_text(st));

	/* a private key block */
	len = armor(text, data, n, "\n", "", CRC_GOOD);
	memcpy(text2, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n", 38);
	memcpy(text2 + 38, text + strlen(begin_pub) + 1, len - strlen(begin_pub) - 1 - strlen(end_pub) - 1);
	strcpy(text2 + 38 + len - strlen(begin_pub) - 1 - strlen(end_pub) - 1, "-----END PGP PRIVATE KEY BLOCK-----");
	st = openpgp_dearmor(text2, strlen(text2), out, &outlen, &block);
	CHECK(st == OPENPGP_OK && block == OPENPGP_BLOCK_SECRET && outlen == n,
		  "private key block, no final newline (%s)", openpgp_status_text(st));

	/* the END of the other kind */
	strcpy(text2 + 38 + len - strlen(begin_pub) - 1 - strlen(end_pub) - 1, end_pub);
	st = openpgp_dearmor(text2, strlen(text2), out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR && block == OPENPGP_BLOCK_OTHER, "wrong END label (%s)", openpgp_status_text(st));

	/* no END */
	len = armor(text, data, n, "\n", "", CRC_GOOD);
	len -= strlen(end_pub) + 1;
	st = openpgp_dearmor(text, len, out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "missing END (%s)", openpgp_status_text(st));

	/* other labels, garbage, nothing */
	st = dearmor_str("-----BEGIN PGP MESSAGE-----\n\nZm9v\n-----END PGP MESSAGE-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "a PGP MESSAGE is no key block (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP SIGNATURE-----\n\nZm9v\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "no BEGIN line (%s)", openpgp_status_text(st));
	st = dearmor_str("mQENBFxyz\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "bare base64 (%s)", openpgp_status_text(st));
	st = openpgp_dearmor("", 0, out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "empty text (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "a block without data (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=twTO\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "only a CRC line (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n=ABC\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "short CRC line (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n=AB!D\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "bad digit in the CRC line (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n=ABCD\nZm9v\n-----END PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "data after the CRC line (%s)", openpgp_status_text(st));
	st = dearmor_str("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n", out, &outlen, &block);
	CHECK(st == OPENPGP_ERR_ARMOR, "a BEGIN inside the block (%s)", openpgp_status_text(st));

	/* the CRC of "foo" (computed here), CRC line then blank line then END */
	{
		uint32_t	c = test_crc24((const uint8_t *) "foo", 3);
		uint8_t		cb[3] = {(uint8_t) (c >> 16), (uint8_t) (c >> 8), (uint8_t) c};
		char		crcline[16];

		crcline[0] = '=';
		b64_encode(crcline + 1, cb, 3, 64, "");
		snprintf(text2, sizeof(text2), "%s\nVersion: x\n\nZm9v\n%s\n\n%s", begin_pub, crcline, end_pub);
		st = dearmor_str(text2, out, &outlen, &block);
		CHECK(st == OPENPGP_OK && outlen == 3, "CRC of foo %s (%s)", crcline, openpgp_status_text(st));
	}

	/* headers without the blank line (tolerated), and the first block only */
	snprintf(text2, sizeof(text2), "%s\nVersion: x\nZm9v\n%s\n%s\n\nYmFy\n%s\n", begin_pub, end_pub, begin_pub, end_pub);
	st = dearmor_str(text2, out, &outlen, &block);
	CHECK(st == OPENPGP_OK && outlen == 3 && memcmp(out, "foo", 3) == 0,
		  "headers without blank line, first block only (%s)", openpgp_status_text(st));

	/* too large */
	{
		char	   *big = calloc(OPENPGP_MAX_INPUT + 1, 1);

		st = openpgp_dearmor(big, OPENPGP_MAX_INPUT + 1, (uint8_t *) big, &outlen, &block);
		CHECK(st == OPENPGP_ERR_TOO_LARGE, "armor over the limit (%s)", openpgp_status_text(st));
		free(big);
	}

	/* every truncation of the gpg armor fails until the END line is whole */
	len = strlen(ed25519_pub);
	end_at = (size_t) (strstr(ed25519_pub, end_pub) - ed25519_pub) + strlen(end_pub);
	bad = 0;
	for (i = 0; i <= len; i++)
	{
		st = openpgp_dearmor(ed25519_pub, i, out, &outlen, &block);
		if ((st == OPENPGP_OK) != (i >= end_at))
			bad++;
	}
	CHECK(bad == 0, "armor truncated at every byte: %d wrong results", bad);
}

/* an RSA key in each header form; fields and fingerprints */
static void
test_rsa_forms(void)
{
	static Key	k;
	static const int bits[] = {2048, 3072, 4096, 2047, 1024};
	int			f,
				b;

	for (f = OLD_SHORT; f <= NEW_LONG; f++)
	{
		for (b = 0; b < 5; b++)
		{
			int			sub_algo = 1;
			int			sub_bits = bits[(b + 1) % 5];
			OpenpgpKeyInfo info;
			OpenpgpStatus st;

			build_key(&k, (Form) f, false, 1, bits[b], 1, &sub_algo, &sub_bits);
			st = openpgp_key_info(k.data.d, k.data.n, &info);
			CHECK(st == OPENPGP_OK, "%s RSA %d: %s", form_names[f], bits[b], openpgp_status_text(st));
			CHECK(!info.secret && info.primary_algo == 1 && info.primary_bits == bits[b],
				  "%s primary RSA %d (algo %d, bits %d)", form_names[f], bits[b], info.primary_algo, info.primary_bits);
			CHECK(fpr_equal(info.fingerprint, k.fpr), "%s primary fingerprint", form_names[f]);
			CHECK(info.has_encryption_key && info.encryption_algo == 1 && info.encryption_bits == sub_bits,
				  "%s encryption subkey RSA %d (bits %d)", form_names[f], sub_bits, info.encryption_bits);
			CHECK(fpr_equal(info.encryption_fingerprint, k.sub_fpr[0]), "%s subkey fingerprint", form_names[f]);
			CHECK(info.subkeys == 1, "%s one subkey (%d)", form_names[f], info.subkeys);
		}
	}
}

/* the secret key packets give the fingerprints of the public ones */
static void
test_secret(void)
{
	static Key	pub,
				sec;
	int			sub_algo = 1;
	int			sub_bits = 3072;
	uint32_t	seed = rng_state;
	OpenpgpKeyInfo pi,
				si;
	OpenpgpStatus st;
	Buf			b;

	build_key(&pub, NEW_SHORT, false, 1, 4096, 1, &sub_algo, &sub_bits);
	rng_state = seed;
	build_key(&sec, OLD_SHORT, true, 1, 4096, 1, &sub_algo, &sub_bits);
	CHECK(fpr_equal(pub.fpr, sec.fpr), "test keys share their public part");
	st = openpgp_key_info(pub.data.d, pub.data.n, &pi);
	CHECK(st == OPENPGP_OK, "public key: %s", openpgp_status_text(st));
	st = openpgp_key_info(sec.data.d, sec.data.n, &si);
	CHECK(st == OPENPGP_OK, "secret key: %s", openpgp_status_text(st));
	CHECK(si.secret && !pi.secret, "secret flag");
	CHECK(fpr_equal(pi.fingerprint, si.fingerprint) && fpr_equal(si.fingerprint, sec.fpr),
		  "secret primary has the public fingerprint");
	CHECK(fpr_equal(pi.encryption_fingerprint, si.encryption_fingerprint) &&
		  si.has_encryption_key && si.encryption_bits == 3072 && si.primary_bits == 4096,
		  "secret subkey has the public fingerprint and sizes");

	/* a secret key packet with nothing after its public part */
	b.n = 0;
	rng_state = seed;
	{
		static Buf	body;

		body.n = 0;
		put_pub_part(&body, 4, 1, 2048);
		put_packet(&b, 5, body.d, body.n, NEW_SHORT);
	}
	st = openpgp_key_info(b.d, b.n, &si);
	CHECK(st == OPENPGP_ERR_PACKET, "secret key packet without secret part (%s)", openpgp_status_text(st));
}

/* every cut of a key is an error, except at a packet end */
static void
test_truncation(void)
{
	static Key	k;
	static const int sub_algo[2] = {3, 2};
	static const int sub_bits[2] = {2048, 3072};
	int			f;

	for (f = OLD_SHORT; f <= NEW_LONG; f++)
	{
		int			secret;

		for (secret = 0; secret < 2; secret++)
		{
			size_t		cut;
			int			wrong = 0;
			int			badfpr = 0;

			build_key(&k, (Form) f, secret, 1, 2048, 2, sub_algo, sub_bits);
			for (cut = 0; cut <= k.data.n; cut++)
			{
				OpenpgpKeyInfo info;
				OpenpgpStatus st;
				bool		boundary = false;
				int			e;
				uint8_t    *copy = malloc(cut ? cut : 1);

				/* an exact-size copy, so that a reader past the end would show */
				memcpy(copy, k.data.d, cut);
				for (e = 0; e < k.nends; e++)
					if (k.ends[e] == cut)
						boundary = true;
				st = openpgp_key_info(copy, cut, &info);
				if ((st == OPENPGP_OK) != boundary)
					wrong++;
				if (st == OPENPGP_OK && !fpr_equal(info.fingerprint, k.fpr))
					badfpr++;
				free(copy);
			}
			CHECK(wrong == 0 && badfpr == 0, "%s %s key cut at every byte: %d wrong, %d bad fingerprints",
				  form_names[f], secret ? "secret" : "public", wrong, badfpr);
		}
	}
}

static OpenpgpStatus
info_of(const Buf *b, OpenpgpKeyInfo *info)
{
	return openpgp_key_info(b->d, b->n, info);
}

/* packets of every kind and shape */
static void
test_packets(void)
{
	static Buf	b,
				body;
	static Key	k;
	OpenpgpKeyInfo info;
	OpenpgpStatus st;
	int			algos[3];
	int			bits[3];

	/* v3 primary, v3 subkey, v5 primary */
	b.n = 0;
	body.n = 0;
	put_pub_part(&body, 3, 1, 2048);
	put_packet(&b, 6, body.d, body.n, OLD_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_VERSION, "v3 key (%s)", openpgp_status_text(st));
	algos[0] = 1;
	bits[0] = 2048;
	build_key(&k, NEW_SHORT, false, 1, 2048, 0, algos, bits);
	put_packet(&k.data, 14, body.d, body.n, NEW_SHORT);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_ERR_VERSION, "v3 subkey (%s)", openpgp_status_text(st));
	body.d[0] = 5;
	b.n = 0;
	put_packet(&b, 6, body.d, body.n, NEW_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_VERSION, "v5 key (%s)", openpgp_status_text(st));

	/* two primaries, public then public, public then secret */
	build_key(&k, NEW_SHORT, false, 1, 2048, 1, algos, bits);
	b = k.data;
	put(&b, k.data.d, k.data.n);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_MULTIPLE, "two public keys (%s)", openpgp_status_text(st));
	body.n = 0;
	put_pub_part(&body, 4, 1, 2048);
	put_secret_tail(&body, 2048);
	b = k.data;
	put_packet(&b, 5, body.d, body.n, OLD_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_MULTIPLE, "a public then a secret key (%s)", openpgp_status_text(st));

	/* a primary alone; unknown packets are skipped */
	build_key(&k, NEW_LONG, false, 1, 3072, 0, algos, bits);
	put_filler(&k.data, 60, 20, NEW_SHORT);
	put_filler(&k.data, 12, 2, OLD_SHORT);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_OK && !info.has_encryption_key && info.subkeys == 0 &&
		  info.primary_bits == 3072 && fpr_equal(info.fingerprint, k.fpr),
		  "primary without subkey (%s)", openpgp_status_text(st));

	/* not a key first */
	b.n = 0;
	put_packet(&b, 13, (const uint8_t *) "uid", 3, NEW_SHORT);
	put(&b, k.data.d, k.data.n);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_NOT_KEY, "user id first (%s)", openpgp_status_text(st));
	st = openpgp_key_info((const uint8_t *) "-----BEGIN", 10, &info);
	CHECK(st == OPENPGP_ERR_NOT_KEY, "armor text is not a key (%s)", openpgp_status_text(st));
	st = openpgp_key_info((const uint8_t *) "", 0, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "no data (%s)", openpgp_status_text(st));

	/* bad lengths: partial, indeterminate, past the end; tag 0 */
	build_key(&k, NEW_SHORT, false, 1, 2048, 0, algos, bits);
	b = k.data;
	put_byte(&b, 0xC2);
	put_byte(&b, 0xE1);			/* partial body length 2 */
	put_byte(&b, 0);
	put_byte(&b, 0);
	put_byte(&b, 0x00);			/* a last 0-byte part */
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "partial body length (%s)", openpgp_status_text(st));
	b = k.data;
	put_byte(&b, 0x80 | 2 << 2 | 3);	/* old format, indeterminate */
	put_byte(&b, 0);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "indeterminate length (%s)", openpgp_status_text(st));
	b = k.data;
	put_byte(&b, 0xC2);
	put_byte(&b, 0xFF);
	put_byte(&b, 0x80);
	put_byte(&b, 0);
	put_byte(&b, 0);
	put_byte(&b, 1);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "length past the end (%s)", openpgp_status_text(st));
	b = k.data;
	put_byte(&b, 0xC0);
	put_byte(&b, 0);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "tag 0 (%s)", openpgp_status_text(st));
	b = k.data;
	put_byte(&b, 0x7F);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "a byte that is no packet header (%s)", openpgp_status_text(st));

	/* MPIs: the bit count must be that of the value */
	{
		static const struct
		{
			uint8_t		mpi[4];
			size_t		len;
			OpenpgpStatus want;
			int			bits;
		}			m[] = {
			{{0x00, 0x09, 0x01, 0xFF}, 4, OPENPGP_OK, 9},
			{{0x00, 0x09, 0x00, 0xFF}, 4, OPENPGP_ERR_PACKET, 0},
			{{0x00, 0x09, 0x02, 0xFF}, 4, OPENPGP_ERR_PACKET, 0},
			{{0x00, 0x10, 0x7F, 0xFF}, 4, OPENPGP_ERR_PACKET, 0},
			{{0x00, 0x10, 0x80, 0x00}, 4, OPENPGP_OK, 16},
			{{0x00, 0x01, 0x01}, 3, OPENPGP_OK, 1},
			{{0x00, 0x00}, 2, OPENPGP_OK, 0},
			{{0x00, 0x11, 0x01, 0x00}, 4, OPENPGP_ERR_PACKET, 0},
		};
		size_t		i;

		for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		{
			body.n = 0;
			put_byte(&body, 4);
			put(&body, "\x60\x00\x00\x00\x01", 5);
			put(&body, m[i].mpi, m[i].len);
			put(&body, "\x00\x11\x01\x00\x01", 5);	/* e */
			b.n = 0;
			put_packet(&b, 6, body.d, body.n, NEW_SHORT);
			st = info_of(&b, &info);
			CHECK(st == m[i].want && (st != OPENPGP_OK || info.primary_bits == m[i].bits),
				  "MPI %zu: %s, bits %d", i, openpgp_status_text(st), info.primary_bits);
		}
	}

	/* a public key packet with a byte after its fields */
	body.n = 0;
	put_pub_part(&body, 4, 1, 2048);
	put_byte(&body, 0);
	b.n = 0;
	put_packet(&b, 6, body.d, body.n, NEW_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "trailing byte in a public key packet (%s)", openpgp_status_text(st));

	/* unknown algorithms */
	body.n = 0;
	put_pub_part(&body, 4, 99, 0);
	b.n = 0;
	put_packet(&b, 6, body.d, body.n, NEW_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_ALGORITHM && info.primary_algo == 99, "algorithm 99 (%s)", openpgp_status_text(st));
	algos[0] = 20;
	bits[0] = 0;
	build_key(&k, OLD_SHORT, false, 1, 2048, 0, algos, bits);
	body.n = 0;
	put_pub_part(&body, 4, 20, 0);
	put_packet(&k.data, 14, body.d, body.n, OLD_SHORT);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_ERR_ALGORITHM, "subkey algorithm 20 (%s)", openpgp_status_text(st));

	/* a sign-only subkey, then the encryption subkey */
	algos[0] = 3;
	bits[0] = 2048;
	algos[1] = 2;
	bits[1] = 4096;
	build_key(&k, NEW_SHORT, false, 1, 2048, 2, algos, bits);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_OK && info.subkeys == 2 && info.has_encryption_key &&
		  info.encryption_algo == 2 && info.encryption_bits == 4096 &&
		  fpr_equal(info.encryption_fingerprint, k.sub_fpr[1]),
		  "RSA sign-only subkey skipped for encryption (%s)", openpgp_status_text(st));

	/* only a sign-only subkey */
	build_key(&k, NEW_SHORT, false, 1, 2048, 1, algos, bits);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_OK && info.subkeys == 1 && !info.has_encryption_key,
		  "no encryption subkey (%s)", openpgp_status_text(st));

	/* two subkeys that can encrypt: pgcrypto refuses them */
	algos[0] = 1;
	bits[0] = 2048;
	algos[1] = 1;
	bits[1] = 3072;
	build_key(&k, NEW_SHORT, false, 1, 2048, 2, algos, bits);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_ERR_MULTIPLE_SUBKEYS && info.has_encryption_key &&
		  info.encryption_bits == 2048 && fpr_equal(info.encryption_fingerprint, k.sub_fpr[0]),
		  "two encryption subkeys (%s), the first reported", openpgp_status_text(st));

	/* DSA primary with ElGamal subkey; X25519 subkey */
	algos[0] = 16;
	bits[0] = 0;
	build_key(&k, OLD_LONG, false, 17, 0, 1, algos, bits);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_OK && info.primary_algo == 17 && info.primary_bits == 0 &&
		  info.encryption_algo == 16 && info.encryption_bits == 0 &&
		  fpr_equal(info.fingerprint, k.fpr) && fpr_equal(info.encryption_fingerprint, k.sub_fpr[0]),
		  "DSA + ElGamal (%s)", openpgp_status_text(st));
	algos[0] = 25;
	build_key(&k, NEW_SHORT, false, 1, 2048, 1, algos, bits);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_OK && info.encryption_algo == 25 &&
		  fpr_equal(info.encryption_fingerprint, k.sub_fpr[0]),
		  "X25519 subkey (%s)", openpgp_status_text(st));

	/* public and secret packets mixed */
	algos[0] = 1;
	bits[0] = 2048;
	build_key(&k, NEW_SHORT, false, 1, 2048, 0, algos, bits);
	body.n = 0;
	put_pub_part(&body, 4, 1, 2048);
	put_secret_tail(&body, 2048);
	put_packet(&k.data, 7, body.d, body.n, NEW_SHORT);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_ERR_MIXED, "secret subkey under a public key (%s)", openpgp_status_text(st));
	build_key(&k, NEW_SHORT, true, 1, 2048, 0, algos, bits);
	body.n = 0;
	put_pub_part(&body, 4, 1, 2048);
	put_packet(&k.data, 14, body.d, body.n, NEW_SHORT);
	st = info_of(&k.data, &info);
	CHECK(st == OPENPGP_ERR_MIXED, "public subkey under a secret key (%s)", openpgp_status_text(st));

	/* an over-long ECDH field, a zero-length OID */
	body.n = 0;
	put(&body, "\x04\x60\x00\x00\x01\x12\x0A\x2B", 8);	/* OID of length 10, only 1 byte */
	b.n = 0;
	put_packet(&b, 6, body.d, body.n, NEW_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "OID past the packet (%s)", openpgp_status_text(st));
	body.n = 0;
	put(&body, "\x04\x60\x00\x00\x01\x16\x00\x00\x00", 9);
	b.n = 0;
	put_packet(&b, 6, body.d, body.n, NEW_SHORT);
	st = info_of(&b, &info);
	CHECK(st == OPENPGP_ERR_PACKET, "zero-length OID (%s)", openpgp_status_text(st));

	/* too large */
	{
		uint8_t    *big = calloc(OPENPGP_MAX_INPUT + 1, 1);

		big[0] = 0x99;
		st = openpgp_key_info(big, OPENPGP_MAX_INPUT + 1, &info);
		CHECK(st == OPENPGP_ERR_TOO_LARGE, "key over the limit (%s)", openpgp_status_text(st));
		free(big);
	}

	/* every single-byte change of a key: any answer, but no crash */
	algos[0] = 1;
	bits[0] = 2048;
	build_key(&k, NEW_SHORT, false, 1, 2048, 1, algos, bits);
	{
		size_t		i;
		int			ok = 0;

		for (i = 0; i < k.data.n; i++)
		{
			uint8_t		save = k.data.d[i];

			k.data.d[i] ^= (uint8_t) (1 + i % 255);
			if (info_of(&k.data, &info) == OPENPGP_OK)
				ok++;
			k.data.d[i] = save;
		}
		CHECK(info_of(&k.data, &info) == OPENPGP_OK, "mutations survived (%d still parse)", ok);
	}
}

/* ------------------------------------------------------- real gpg keys */

static size_t
read_file(const char *path, char *buf, size_t cap)
{
	FILE	   *f = fopen(path, "rb");
	size_t		n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static int
run(const char *cmd)
{
	int			rc = system(cmd);

	return (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
}

/* gpg --with-colons: fingerprints and sizes of the primary and first subkey */
typedef struct GpgKey
{
	char		fpr[41];
	char		sub_fpr[41];
	int			algo;
	int			bits;
	int			sub_algo;
	int			sub_bits;
} GpgKey;

static bool
parse_colons(char *text, GpgKey *g)
{
	char	   *line;
	char	   *save = NULL;
	int			last = 0;		/* 1 after pub, 2 after the first sub */
	int			nsub = 0;

	memset(g, 0, sizeof(*g));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *field[12];
		int			n = 0;
		char	   *p = line;

		while (n < 12)
		{
			field[n++] = p;
			p = strchr(p, ':');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (n >= 4 && strcmp(field[0], "pub") == 0)
		{
			g->bits = atoi(field[2]);
			g->algo = atoi(field[3]);
			last = 1;
		}
		else if (n >= 4 && strcmp(field[0], "sub") == 0)
		{
			last = ++nsub == 1 ? 2 : 0;
			if (last == 2)
			{
				g->sub_bits = atoi(field[2]);
				g->sub_algo = atoi(field[3]);
			}
		}
		else if (n >= 10 && strcmp(field[0], "fpr") == 0 && strlen(field[9]) == 40)
		{
			if (last == 1)
				strcpy(g->fpr, field[9]);
			else if (last == 2)
				strcpy(g->sub_fpr, field[9]);
			last = 0;
		}
	}
	return g->fpr[0] != '\0' && g->sub_fpr[0] != '\0';
}

/*
 * Make a key with gpg in home, export it armored (public and secret) and
 * binary, and check what the parser says against gpg's listing.
 */
static void
check_gpg_key(const char *home, const char *name, const char *params,
			  int algo, int sub_algo, int bits)
{
	static char text[65536];
	static char bin[65536];
	static uint8_t out[65536];
	char		cmd[1024];
	char		path[512];
	GpgKey		g;
	size_t		len;
	size_t		binlen;
	size_t		outlen;
	OpenpgpBlock block;
	OpenpgpKeyInfo info;
	OpenpgpStatus st;
	char		hex[2 * OPENPGP_FPR_LEN + 1];
	FILE	   *f;
	int			secret;

	snprintf(path, sizeof(path), "%s/params", home);
	f = fopen(path, "w");
	if (f == NULL)
	{
		CHECK(false, "%s: cannot write %s", name, path);
		return;
	}
	fputs(params, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gpg --homedir '%s' --batch --quiet --gen-key '%s' >/dev/null 2>&1", home, path);
	if (run(cmd) != 0)
	{
		CHECK(false, "%s: gpg --gen-key failed", name);
		return;
	}
	snprintf(cmd, sizeof(cmd),
			 "cd '%s' && gpg --homedir . --batch --with-colons --list-keys > list 2>/dev/null && "
			 "gpg --homedir . --batch --armor --export > pub.asc 2>/dev/null && "
			 "gpg --homedir . --batch --armor --export-secret-keys > sec.asc 2>/dev/null && "
			 "gpg --homedir . --batch --export > pub.gpg 2>/dev/null && "
			 "gpg --homedir . --batch --export-secret-keys > sec.gpg 2>/dev/null", home);
	if (run(cmd) != 0)
	{
		CHECK(false, "%s: gpg export failed", name);
		return;
	}
	snprintf(path, sizeof(path), "%s/list", home);
	read_file(path, text, sizeof(text));
	if (!parse_colons(text, &g))
	{
		CHECK(false, "%s: no pub/sub fingerprints in gpg's listing", name);
		return;
	}
	CHECK(g.algo == algo && g.sub_algo == sub_algo, "%s: gpg made algorithms %d/%d", name, g.algo, g.sub_algo);

	for (secret = 0; secret < 2; secret++)
	{
		const char *kind = secret ? "secret" : "public";

		snprintf(path, sizeof(path), "%s/%s.asc", home, secret ? "sec" : "pub");
		len = read_file(path, text, sizeof(text));
		snprintf(path, sizeof(path), "%s/%s.gpg", home, secret ? "sec" : "pub");
		binlen = read_file(path, bin, sizeof(bin));

		st = openpgp_dearmor(text, len, out, &outlen, &block);
		CHECK(st == OPENPGP_OK, "%s %s armor: %s", name, kind, openpgp_status_text(st));
		CHECK(block == (secret ? OPENPGP_BLOCK_SECRET : OPENPGP_BLOCK_PUBLIC), "%s %s block kind", name, kind);
		CHECK(outlen == binlen && binlen > 0 && memcmp(out, bin, binlen) == 0,
			  "%s %s armor decodes to gpg's binary export (%zu, %zu bytes)", name, kind, outlen, binlen);

		st = openpgp_key_info(out, outlen, &info);
		CHECK(st == OPENPGP_OK, "%s %s key: %s", name, kind, openpgp_status_text(st));
		CHECK(info.secret == (secret != 0), "%s %s flag", name, kind);
		openpgp_fingerprint_hex(info.fingerprint, hex);
		CHECK(strcmp(hex, g.fpr) == 0, "%s %s fingerprint %s, gpg %s", name, kind, hex, g.fpr);
		CHECK(info.has_encryption_key, "%s %s has an encryption subkey", name, kind);
		openpgp_fingerprint_hex(info.encryption_fingerprint, hex);
		CHECK(strcmp(hex, g.sub_fpr) == 0, "%s %s subkey fingerprint %s, gpg %s", name, kind, hex, g.sub_fpr);
		CHECK(info.primary_algo == g.algo && info.encryption_algo == g.sub_algo,
			  "%s %s algorithms %d/%d, gpg %d/%d", name, kind, info.primary_algo, info.encryption_algo, g.algo, g.sub_algo);
		if (bits)
			CHECK(info.primary_bits == g.bits && info.encryption_bits == g.sub_bits && g.bits == bits,
				  "%s %s sizes %d/%d, gpg %d/%d", name, kind, info.primary_bits, info.encryption_bits, g.bits, g.sub_bits);
		else
			CHECK(info.primary_bits == 0 && info.encryption_bits == 0,
				  "%s %s sizes 0/0 (%d/%d)", name, kind, info.primary_bits, info.encryption_bits);
		CHECK(info.subkeys == 1, "%s %s one subkey (%d)", name, kind, info.subkeys);
	}
}

static void
test_gpg(void)
{
	char		dir[512];
	char		home[600];
	char		cmd[1400];
	const char *tmp = getenv("TMPDIR");
	int			i;
	static const char *const names[2] = {"rsa", "ed25519"};

	if (run("command -v gpg >/dev/null 2>&1") != 0)
	{
		printf("openpgp: gpg is not on PATH, the real-key checks were skipped\n");
		return;
	}
	/* a short path: gpg-agent's socket lives in the home */
	snprintf(dir, sizeof(dir), "%s/vault-pgp-XXXXXX",
			 (tmp && tmp[0] && strlen(tmp) < 60) ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
	{
		CHECK(false, "cannot make a temporary directory");
		return;
	}
	for (i = 0; i < 2; i++)
	{
		snprintf(home, sizeof(home), "%s/%s", dir, names[i]);
		snprintf(cmd, sizeof(cmd), "mkdir -m 700 '%s'", home);
		if (run(cmd) != 0)
		{
			CHECK(false, "cannot make %s", home);
			continue;
		}
		if (i == 0)
			check_gpg_key(home, "gpg RSA",
						  "%no-protection\n"
						  "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign,cert\n"
						  "Subkey-Type: RSA\nSubkey-Length: 2048\nSubkey-Usage: encrypt\n"
						  "Name-Real: Vault Unit Test RSA\nName-Email: rsa@example.invalid\n"
						  "Expire-Date: 0\n%commit\n",
						  1, 1, 2048);
		else
			check_gpg_key(home, "gpg ed25519",
						  "%no-protection\n"
						  "Key-Type: EDDSA\nKey-Curve: ed25519\n"
						  "Subkey-Type: ECDH\nSubkey-Curve: cv25519\n"
						  "Name-Real: Vault Unit Test Ed25519\nName-Email: ed@example.invalid\n"
						  "Expire-Date: 0\n%commit\n",
						  22, 18, 0);
		snprintf(cmd, sizeof(cmd), "gpgconf --homedir '%s' --kill all >/dev/null 2>&1", home);
		run(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(run(cmd) == 0, "temporary gpg home removed");
}

int
main(void)
{
	test_texts();
	test_known_key();
	test_base64();
	test_armor();
	test_rsa_forms();
	test_secret();
	test_truncation();
	test_packets();
	test_gpg();
	printf("openpgp: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
