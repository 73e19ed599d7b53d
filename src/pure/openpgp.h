/*-------------------------------------------------------------------------
 * openpgp.h
 *	  A small OpenPGP key parser, pure C (OpenSSL's libcrypto for SHA-1, no
 *	  PostgreSQL server headers, no allocation).
 *
 * Owns: reading an ASCII-armored key block (RFC 4880 6.2) into its binary
 * form, and reading a binary transferable public or secret key (RFC 4880
 * 11.1, 11.2) for the facts the vault needs about a customer's key: the v4
 * fingerprint of the primary key, whether it is a public or a secret key,
 * and the subkey pgcrypto's pgp_pub_encrypt_bytea would encrypt to (the
 * first subkey packet whose algorithm can encrypt), with algorithm and size.
 *
 * Does not: verify signatures, self-signatures, key flags, expiry or
 * revocation; decrypt or even look at secret key material; decide which
 * keys are acceptable (that is the caller's policy).  Never reads or writes
 * out of bounds whatever bytes it is handed, and prints nothing.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_OPENPGP_H
#define VAULT_OPENPGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPENPGP_FPR_LEN 20

typedef enum OpenpgpStatus
{
	OPENPGP_OK = 0,
	OPENPGP_ERR_ARMOR,			/* no BEGIN/END PGP ... KEY BLOCK lines, bad
								 * base64, wrong END label */
	OPENPGP_ERR_CRC,			/* the armor checksum line does not match */
	OPENPGP_ERR_PACKET,			/* truncated or malformed packet / length /
								 * MPI */
	OPENPGP_ERR_NOT_KEY,		/* first packet is not a public or secret key
								 * packet */
	OPENPGP_ERR_VERSION,		/* a key packet that is not version 4 */
	OPENPGP_ERR_MULTIPLE,		/* more than one primary key in the data */
	OPENPGP_ERR_TOO_LARGE,		/* input larger than OPENPGP_MAX_INPUT */
	/* beyond the agreed interface: */
	OPENPGP_ERR_ALGORITHM,		/* a key packet of an unknown public-key
								 * algorithm (no fingerprint possible) */
	OPENPGP_ERR_MIXED,			/* a secret subkey under a public primary key,
								 * or a public subkey under a secret one
								 * (pgcrypto refuses both) */
	OPENPGP_ERR_MULTIPLE_SUBKEYS,	/* more than one subkey that can encrypt
									 * (pgcrypto: "Several subkeys not
									 * supported") */
	OPENPGP_ERR_CRYPTO			/* libcrypto failed to compute SHA-1 */
} OpenpgpStatus;

#define OPENPGP_MAX_INPUT (1024 * 1024)

typedef enum OpenpgpBlock
{
	OPENPGP_BLOCK_PUBLIC,
	OPENPGP_BLOCK_SECRET,
	OPENPGP_BLOCK_OTHER			/* reported whenever openpgp_dearmor fails */
} OpenpgpBlock;

/*
 * ASCII armor -> binary.  'out' must hold at least 'len' bytes (binary is
 * always shorter).  Accepts "-----BEGIN PGP PUBLIC KEY BLOCK-----" and
 * "-----BEGIN PGP PRIVATE KEY BLOCK-----" (block kind reported), optional
 * armor headers ("Version: ...", "Comment: ...") up to the first blank line,
 * CRLF or LF line ends, leading/trailing text around the block, an optional
 * "=XXXX" CRC-24 line (verified when present, RFC 4880 6.1), and the matching
 * END line.  Only the first key block of the text is read.  Spaces and tabs
 * around a line are ignored; a line with a colon before the first base64
 * line is a header even without the blank line that should follow.  An
 * armor without data, base64 not in whole 4-character groups, or data after
 * the '=' padding is OPENPGP_ERR_ARMOR.
 */
extern OpenpgpStatus openpgp_dearmor(const char *text, size_t len, uint8_t *out,
									 size_t *outlen, OpenpgpBlock *block);

typedef struct OpenpgpKeyInfo
{
	bool		secret;			/* the primary key packet is a secret key
								 * packet (tag 5) */
	int			primary_algo;	/* RFC 4880 public-key algorithm id */
	int			primary_bits;	/* RSA: bit count of n; 0 for other
								 * algorithms */
	uint8_t		fingerprint[OPENPGP_FPR_LEN];	/* v4 fingerprint of the
												 * primary key */
	bool		has_encryption_key; /* a subkey pgcrypto would encrypt to */
	int			encryption_algo;
	int			encryption_bits;	/* RSA: bit count of n; 0 otherwise */
	uint8_t		encryption_fingerprint[OPENPGP_FPR_LEN];
	int			subkeys;		/* public or secret subkey packets seen */
} OpenpgpKeyInfo;

/*
 * Binary transferable key (RFC 4880 11.1/11.2) -> facts.  Old- and
 * new-format packet headers (1-, 2-, 5-byte new lengths; partial body
 * lengths and the old indeterminate length are malformed for key data);
 * packets other than keys (user ids, signatures, trust, ...) are skipped by
 * length.
 *
 * Fingerprint (RFC 4880 12.2): SHA-1 over 0x99, a two-byte big-endian length
 * and the public-key part of the packet body (version 4, 4-byte time,
 * algorithm, the public fields); for a secret key packet that is the prefix
 * of its body up to the end of the public fields.  Public fields: RSA
 * (1,2,3) n,e; DSA (17) p,q,g,y; ElGamal (16) p,g,y; ECDH (18), ECDSA (19),
 * EdDSA (22): an OID (1-byte length + bytes) then one MPI, and for ECDH the
 * KDF parameters (1-byte length + bytes); X25519 (25), X448 (26), Ed25519
 * (27), Ed448 (28): 32, 56, 32, 57 raw bytes.  An MPI whose bit count is not
 * that of its value, or a public key packet with bytes after its public
 * fields, is malformed (its fingerprint would be ambiguous).
 *
 * Algorithms that can encrypt, for the encryption subkey: RSA 1 and 2,
 * ElGamal 16, ECDH 18, X25519 25, X448 26 (pgcrypto itself only handles
 * 1, 2 and 16 and fails on a key holding any other subkey algorithm).
 *
 * On an error '*info' holds what was read before it; on
 * OPENPGP_ERR_MULTIPLE_SUBKEYS that is the whole primary key and the first
 * encryption subkey.
 */
extern OpenpgpStatus openpgp_key_info(const uint8_t *data, size_t len,
									  OpenpgpKeyInfo *info);

/* a short English phrase, e.g. "bad armor checksum" */
extern const char *openpgp_status_text(OpenpgpStatus status);

/* uppercase hex like gpg, NUL-terminated */
extern void openpgp_fingerprint_hex(const uint8_t fpr[OPENPGP_FPR_LEN],
									char out[2 * OPENPGP_FPR_LEN + 1]);

#endif							/* VAULT_OPENPGP_H */
