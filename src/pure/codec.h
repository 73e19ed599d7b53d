/*-------------------------------------------------------------------------
 * codec.h
 *	  The sealed-chunk codec: lz4 or zstd compression + AES-256-GCM sealing,
 *	  pure C (liblz4, libzstd and OpenSSL's libcrypto, no PostgreSQL server
 *	  headers).
 *
 * Owns: the versioned on-disk format of one chunk and the keyed hash that
 * names it.  Does not know where chunks are stored or where keys come from.
 *
 * Sealed chunk format, version 1 (all integers little-endian):
 *	 0	4	magic "VCK1"
 *	 4	1	flags: bit 0 = payload is lz4-compressed, bit 1 = zstd-compressed
 *			(at most one; neither: raw); bit 2 alone = a delta record: the
 *			payload is the 32-byte id of its base chunk followed by a patch
 *			(delta.h) that turns the base into the plaintext
 *	 5	3	reserved, zero
 *	 8	4	plaintext length
 *	12 12	random 96-bit GCM nonce
 *	24	n	ciphertext of the (compressed or raw) payload
 *	24+n 16 GCM tag
 * AAD = caller's AAD (vault id || chunk id) followed by header bytes 0..23,
 * so the header, the vault and the chunk id are all authenticated.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_CODEC_H
#define VAULT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define CODEC_KEY_LEN		32
#define CODEC_ID_LEN		32	/* HMAC-SHA256 */
#define CODEC_NONCE_LEN		12
#define CODEC_TAG_LEN		16
#define CODEC_HEADER_LEN	24
#define CODEC_OVERHEAD		(CODEC_HEADER_LEN + CODEC_TAG_LEN)
#define CODEC_MAX_PLAIN		(64 * 1024 * 1024)	/* sanity cap on one chunk */
#define CODEC_FLAG_LZ4		0x01
#define CODEC_FLAG_ZSTD		0x02
#define CODEC_FLAG_DELTA	0x04
#define CODEC_ZSTD_MAX_LEVEL 19

typedef enum CodecStatus
{
	CODEC_OK = 0,
	CODEC_ERR_TOO_SHORT,		/* input shorter than header + tag */
	CODEC_ERR_MAGIC,			/* not a sealed chunk / unknown version */
	CODEC_ERR_HEADER,			/* bad flags, reserved bits or lengths */
	CODEC_ERR_AUTH,				/* GCM tag mismatch: tampered or wrong key */
	CODEC_ERR_DECOMPRESS,		/* lz4 payload corrupt or wrong length */
	CODEC_ERR_CAPACITY,			/* output buffer too small */
	CODEC_ERR_CRYPTO,			/* OpenSSL failure (allocation, RNG) */
	CODEC_ERR_DELTA				/* a delta record: open it with codec_open_delta */
} CodecStatus;

/* Human-readable text for a status, static storage. */
extern const char *codec_strerror(CodecStatus st);

/* Worst-case sealed size for a plaintext of raw_len bytes. */
extern size_t codec_sealed_bound(size_t raw_len);

/* HMAC-SHA256(mac_key, data) -> id[32]. Returns CODEC_OK or CODEC_ERR_CRYPTO. */
extern CodecStatus codec_chunk_id(const uint8_t mac_key[CODEC_KEY_LEN],
								  const uint8_t *data, size_t len,
								  uint8_t id[CODEC_ID_LEN]);

/*
 * Seal raw[0..raw_len): compress with lz4 (kept raw when that does not
 * shrink it), encrypt with AES-256-GCM under key with a fresh random nonce.
 * out must hold codec_sealed_bound(raw_len) bytes; *out_len gets the size.
 * scratch must hold codec_sealed_bound(raw_len) bytes (lz4 work area).
 */
extern CodecStatus codec_seal(const uint8_t key[CODEC_KEY_LEN],
							  const uint8_t *aad, size_t aad_len,
							  const uint8_t *raw, size_t raw_len,
							  uint8_t *out, size_t *out_len,
							  uint8_t *scratch);

/*
 * The same with zstd at zstd_level (1..CODEC_ZSTD_MAX_LEVEL) instead of
 * lz4; zstd_level 0 is lz4 (codec_seal).
 */
extern CodecStatus codec_seal_level(const uint8_t key[CODEC_KEY_LEN],
									const uint8_t *aad, size_t aad_len,
									const uint8_t *raw, size_t raw_len, int zstd_level,
									uint8_t *out, size_t *out_len,
									uint8_t *scratch);

/* Plaintext length recorded in a sealed chunk's header (after checks). */
extern CodecStatus codec_plain_length(const uint8_t *sealed, size_t sealed_len,
									  size_t *raw_len);

/*
 * Authenticate and open a sealed chunk.  out must hold the plaintext length
 * (codec_plain_length); out_cap is its size.  scratch must hold sealed_len
 * bytes.  Never reads or writes out of bounds whatever the input.
 */
extern CodecStatus codec_open(const uint8_t key[CODEC_KEY_LEN],
							  const uint8_t *aad, size_t aad_len,
							  const uint8_t *sealed, size_t sealed_len,
							  uint8_t *out, size_t out_cap, size_t *raw_len,
							  uint8_t *scratch);

/*
 * Delta records.  codec_seal_delta seals payload (the base chunk's id
 * followed by the patch, CODEC_ID_LEN + n bytes) for a plaintext of
 * plain_len bytes; out must hold CODEC_OVERHEAD + payload_len bytes.
 * codec_is_delta says whether a sealed chunk's header marks a delta record
 * (no authentication: only to choose between the two openers).
 * codec_open_delta authenticates and decrypts a delta record's payload into
 * out (out_cap bytes), and returns the payload length and the plaintext
 * length the record declares; codec_open refuses a delta record with
 * CODEC_ERR_DELTA.
 */
extern CodecStatus codec_seal_delta(const uint8_t key[CODEC_KEY_LEN],
									const uint8_t *aad, size_t aad_len,
									const uint8_t *payload, size_t payload_len, size_t plain_len,
									uint8_t *out, size_t *out_len);
extern int	codec_is_delta(const uint8_t *sealed, size_t sealed_len);
extern CodecStatus codec_open_delta(const uint8_t key[CODEC_KEY_LEN],
									const uint8_t *aad, size_t aad_len,
									const uint8_t *sealed, size_t sealed_len,
									uint8_t *out, size_t out_cap, size_t *payload_len,
									size_t *plain_len);

/*
 * Generic AES-256-GCM wrap/unwrap of a small secret (vault keys under the
 * platform key): out = nonce(12) || ciphertext || tag(16).
 */
#define CODEC_WRAP_OVERHEAD (CODEC_NONCE_LEN + CODEC_TAG_LEN)
extern CodecStatus codec_wrap(const uint8_t kek[CODEC_KEY_LEN],
							  const uint8_t *aad, size_t aad_len,
							  const uint8_t *secret, size_t len, uint8_t *out);
extern CodecStatus codec_unwrap(const uint8_t kek[CODEC_KEY_LEN],
								const uint8_t *aad, size_t aad_len,
								const uint8_t *wrapped, size_t wrapped_len,
								uint8_t *secret);

/* Cryptographically strong random bytes (OpenSSL RAND_bytes). */
extern CodecStatus codec_random(uint8_t *buf, size_t len);

#endif							/* VAULT_CODEC_H */
