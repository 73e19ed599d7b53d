/*-------------------------------------------------------------------------
 * codec.c
 *	  The sealed-chunk codec: lz4 or zstd + AES-256-GCM, and the keyed
 *	  chunk id.
 *
 * Owns: the on-disk format of one chunk (see codec.h).  Pure C over liblz4,
 * libzstd and libcrypto; must not depend on PostgreSQL, and must never read
 * or write out of bounds whatever bytes it is handed.  zstd's contexts are
 * made once per process and reused (a backend seals one chunk at a time).
 *-------------------------------------------------------------------------
 */
#include "codec.h"

#include <string.h>

#include <lz4.h>
#include <zstd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

const char *
codec_strerror(CodecStatus st)
{
	switch (st)
	{
		case CODEC_OK:
			return "ok";
		case CODEC_ERR_TOO_SHORT:
			return "sealed chunk is truncated";
		case CODEC_ERR_MAGIC:
			return "not a sealed chunk (bad magic or version)";
		case CODEC_ERR_HEADER:
			return "sealed chunk header is invalid";
		case CODEC_ERR_AUTH:
			return "authentication failed (tampered data or wrong key)";
		case CODEC_ERR_DECOMPRESS:
			return "compressed payload is corrupt";
		case CODEC_ERR_CAPACITY:
			return "output buffer too small";
		case CODEC_ERR_CRYPTO:
			return "cryptographic library failure";
		case CODEC_ERR_DELTA:
			return "a delta record, which opens only with its base chunk";
	}
	return "unknown codec error";
}

size_t
codec_sealed_bound(size_t raw_len)
{
	size_t		lz = (size_t) LZ4_compressBound((int) (raw_len > (size_t) LZ4_MAX_INPUT_SIZE ? LZ4_MAX_INPUT_SIZE : raw_len));
	size_t		zs = ZSTD_compressBound(raw_len);
	size_t		most = lz > zs ? lz : zs;

	return CODEC_OVERHEAD + (most > raw_len ? most : raw_len);
}

static ZSTD_CCtx *zstd_cctx = NULL;
static ZSTD_DCtx *zstd_dctx = NULL;

/* raw -> scratch with zstd; its length, or 0 when it failed or did not shrink */
static size_t
zstd_squeeze(const uint8_t *raw, size_t raw_len, int level, uint8_t *scratch)
{
	size_t		n;

	if (zstd_cctx == NULL && (zstd_cctx = ZSTD_createCCtx()) == NULL)
		return 0;
	n = ZSTD_compressCCtx(zstd_cctx, scratch, ZSTD_compressBound(raw_len), raw, raw_len, level);
	return ZSTD_isError(n) || n >= raw_len ? 0 : n;
}

CodecStatus
codec_chunk_id(const uint8_t mac_key[CODEC_KEY_LEN], const uint8_t *data, size_t len,
			   uint8_t id[CODEC_ID_LEN])
{
	unsigned int outlen = 0;
	static const uint8_t empty = 0;

	if (HMAC(EVP_sha256(), mac_key, CODEC_KEY_LEN, len ? data : &empty, len, id, &outlen) == NULL ||
		outlen != CODEC_ID_LEN)
		return CODEC_ERR_CRYPTO;
	return CODEC_OK;
}

CodecStatus
codec_random(uint8_t *buf, size_t len)
{
	return RAND_bytes(buf, (int) len) == 1 ? CODEC_OK : CODEC_ERR_CRYPTO;
}

/* AES-256-GCM encrypt in[0..len) -> out, tag; aad may be two pieces. */
static CodecStatus
gcm_encrypt(const uint8_t *key, const uint8_t *nonce,
			const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2, size_t aad2_len,
			const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			n;
	CodecStatus st = CODEC_ERR_CRYPTO;

	if (ctx == NULL)
		return CODEC_ERR_CRYPTO;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CODEC_NONCE_LEN, NULL) != 1 ||
		EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto done;
	if (aad1_len && EVP_EncryptUpdate(ctx, NULL, &n, aad1, (int) aad1_len) != 1)
		goto done;
	if (aad2_len && EVP_EncryptUpdate(ctx, NULL, &n, aad2, (int) aad2_len) != 1)
		goto done;
	if (len && EVP_EncryptUpdate(ctx, out, &n, in, (int) len) != 1)
		goto done;
	if (EVP_EncryptFinal_ex(ctx, out + len, &n) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CODEC_TAG_LEN, tag) != 1)
		goto done;
	st = CODEC_OK;
done:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

static CodecStatus
gcm_decrypt(const uint8_t *key, const uint8_t *nonce,
			const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2, size_t aad2_len,
			const uint8_t *in, size_t len, const uint8_t *tag, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			n;
	CodecStatus st = CODEC_ERR_CRYPTO;
	uint8_t		tagcopy[CODEC_TAG_LEN];

	if (ctx == NULL)
		return CODEC_ERR_CRYPTO;
	memcpy(tagcopy, tag, CODEC_TAG_LEN);
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CODEC_NONCE_LEN, NULL) != 1 ||
		EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto done;
	if (aad1_len && EVP_DecryptUpdate(ctx, NULL, &n, aad1, (int) aad1_len) != 1)
		goto done;
	if (aad2_len && EVP_DecryptUpdate(ctx, NULL, &n, aad2, (int) aad2_len) != 1)
		goto done;
	if (len && EVP_DecryptUpdate(ctx, out, &n, in, (int) len) != 1)
		goto done;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CODEC_TAG_LEN, tagcopy) != 1)
		goto done;
	st = EVP_DecryptFinal_ex(ctx, out + len, &n) == 1 ? CODEC_OK : CODEC_ERR_AUTH;
done:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

/* header (flags, plaintext length, a fresh nonce), then payload sealed under key */
static CodecStatus
seal_payload(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len, uint8_t flags,
			 size_t plain_len, const uint8_t *payload, size_t payload_len,
			 uint8_t *out, size_t *out_len)
{
	CodecStatus st;

	memcpy(out, "VCK1", 4);
	out[4] = flags;
	out[5] = out[6] = out[7] = 0;
	put_u32(out + 8, (uint32_t) plain_len);
	if ((st = codec_random(out + 12, CODEC_NONCE_LEN)) != CODEC_OK)
		return st;
	st = gcm_encrypt(key, out + 12, aad, aad_len, out, CODEC_HEADER_LEN,
					 payload, payload_len, out + CODEC_HEADER_LEN,
					 out + CODEC_HEADER_LEN + payload_len);
	if (st != CODEC_OK)
		return st;
	*out_len = CODEC_OVERHEAD + payload_len;
	return CODEC_OK;
}

CodecStatus
codec_seal(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
		   const uint8_t *raw, size_t raw_len, uint8_t *out, size_t *out_len,
		   uint8_t *scratch)
{
	return codec_seal_level(key, aad, aad_len, raw, raw_len, 0, out, out_len, scratch);
}

CodecStatus
codec_seal_level(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
				 const uint8_t *raw, size_t raw_len, int zstd_level,
				 uint8_t *out, size_t *out_len, uint8_t *scratch)
{
	const uint8_t *payload = raw;
	size_t		payload_len = raw_len;
	uint8_t		flags = 0;

	if (raw_len > CODEC_MAX_PLAIN || zstd_level < 0 || zstd_level > CODEC_ZSTD_MAX_LEVEL)
		return CODEC_ERR_CAPACITY;
	if (raw_len > 0 && zstd_level > 0)
	{
		size_t		clen = zstd_squeeze(raw, raw_len, zstd_level, scratch);

		if (clen > 0)
		{
			payload = scratch;
			payload_len = clen;
			flags |= CODEC_FLAG_ZSTD;
		}
	}
	else if (raw_len > 0)
	{
		int			bound = LZ4_compressBound((int) raw_len);
		int			clen = LZ4_compress_default((const char *) raw, (char *) scratch,
												(int) raw_len, bound);

		if (clen > 0 && (size_t) clen < raw_len)
		{
			payload = scratch;
			payload_len = (size_t) clen;
			flags |= CODEC_FLAG_LZ4;
		}
	}
	return seal_payload(key, aad, aad_len, flags, raw_len, payload, payload_len, out, out_len);
}

CodecStatus
codec_plain_length(const uint8_t *sealed, size_t sealed_len, size_t *raw_len)
{
	uint32_t	plain;
	size_t		payload_len;

	if (sealed_len < CODEC_OVERHEAD)
		return CODEC_ERR_TOO_SHORT;
	if (memcmp(sealed, "VCK1", 4) != 0)
		return CODEC_ERR_MAGIC;
	if (sealed[5] || sealed[6] || sealed[7])
		return CODEC_ERR_HEADER;
	plain = get_u32(sealed + 8);
	payload_len = sealed_len - CODEC_OVERHEAD;
	if (plain > CODEC_MAX_PLAIN)
		return CODEC_ERR_HEADER;
	if (sealed[4] == CODEC_FLAG_DELTA)
	{
		/* a base id and at least one byte of patch, for a non-empty chunk */
		if (payload_len <= CODEC_ID_LEN || plain == 0)
			return CODEC_ERR_HEADER;
		*raw_len = plain;
		return CODEC_OK;
	}
	if ((sealed[4] & ~(CODEC_FLAG_LZ4 | CODEC_FLAG_ZSTD)) != 0 ||
		sealed[4] == (CODEC_FLAG_LZ4 | CODEC_FLAG_ZSTD))
		return CODEC_ERR_HEADER;
	if (sealed[4] == 0 && payload_len != plain)
		return CODEC_ERR_HEADER;
	if (sealed[4] != 0 && (payload_len == 0 || payload_len >= plain))
		return CODEC_ERR_HEADER;
	*raw_len = plain;
	return CODEC_OK;
}

CodecStatus
codec_open(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
		   const uint8_t *sealed, size_t sealed_len,
		   uint8_t *out, size_t out_cap, size_t *raw_len, uint8_t *scratch)
{
	size_t		plain;
	size_t		payload_len;
	CodecStatus st = codec_plain_length(sealed, sealed_len, &plain);
	int			n;

	if (st != CODEC_OK)
		return st;
	if (sealed[4] == CODEC_FLAG_DELTA)
		return CODEC_ERR_DELTA;
	if (plain > out_cap)
		return CODEC_ERR_CAPACITY;
	payload_len = sealed_len - CODEC_OVERHEAD;
	/* authenticate first: decrypt into scratch (or out when raw) */
	st = gcm_decrypt(key, sealed + 12, aad, aad_len, sealed, CODEC_HEADER_LEN,
					 sealed + CODEC_HEADER_LEN, payload_len,
					 sealed + CODEC_HEADER_LEN + payload_len,
					 sealed[4] != 0 ? scratch : out);
	if (st != CODEC_OK)
		return st;
	if (sealed[4] & CODEC_FLAG_LZ4)
	{
		n = LZ4_decompress_safe((const char *) scratch, (char *) out, (int) payload_len, (int) plain);
		if (n < 0 || (size_t) n != plain)
			return CODEC_ERR_DECOMPRESS;
	}
	else if (sealed[4] & CODEC_FLAG_ZSTD)
	{
		size_t		z;

		if (zstd_dctx == NULL && (zstd_dctx = ZSTD_createDCtx()) == NULL)
			return CODEC_ERR_CRYPTO;
		/* never more than plain bytes into out, whatever the frame claims */
		z = ZSTD_decompressDCtx(zstd_dctx, out, plain, scratch, payload_len);
		if (ZSTD_isError(z) || z != plain)
			return CODEC_ERR_DECOMPRESS;
	}
	*raw_len = plain;
	return CODEC_OK;
}

CodecStatus
codec_seal_delta(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
				 const uint8_t *payload, size_t payload_len, size_t plain_len,
				 uint8_t *out, size_t *out_len)
{
	if (plain_len == 0 || plain_len > CODEC_MAX_PLAIN || payload_len <= CODEC_ID_LEN ||
		payload_len > CODEC_MAX_PLAIN)
		return CODEC_ERR_CAPACITY;
	return seal_payload(key, aad, aad_len, CODEC_FLAG_DELTA, plain_len, payload, payload_len,
						out, out_len);
}

int
codec_is_delta(const uint8_t *sealed, size_t sealed_len)
{
	return sealed_len >= CODEC_OVERHEAD && memcmp(sealed, "VCK1", 4) == 0 &&
		sealed[4] == CODEC_FLAG_DELTA;
}

CodecStatus
codec_open_delta(const uint8_t key[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
				 const uint8_t *sealed, size_t sealed_len,
				 uint8_t *out, size_t out_cap, size_t *payload_len, size_t *plain_len)
{
	size_t		plain;
	size_t		n;
	CodecStatus st = codec_plain_length(sealed, sealed_len, &plain);

	if (st != CODEC_OK)
		return st;
	if (sealed[4] != CODEC_FLAG_DELTA)
		return CODEC_ERR_HEADER;
	n = sealed_len - CODEC_OVERHEAD;
	if (n > out_cap)
		return CODEC_ERR_CAPACITY;
	st = gcm_decrypt(key, sealed + 12, aad, aad_len, sealed, CODEC_HEADER_LEN,
					 sealed + CODEC_HEADER_LEN, n, sealed + CODEC_HEADER_LEN + n, out);
	if (st != CODEC_OK)
		return st;
	*payload_len = n;
	*plain_len = plain;
	return CODEC_OK;
}

CodecStatus
codec_wrap(const uint8_t kek[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
		   const uint8_t *secret, size_t len, uint8_t *out)
{
	CodecStatus st = codec_random(out, CODEC_NONCE_LEN);

	if (st != CODEC_OK)
		return st;
	return gcm_encrypt(kek, out, aad, aad_len, NULL, 0, secret, len,
					   out + CODEC_NONCE_LEN, out + CODEC_NONCE_LEN + len);
}

CodecStatus
codec_unwrap(const uint8_t kek[CODEC_KEY_LEN], const uint8_t *aad, size_t aad_len,
			 const uint8_t *wrapped, size_t wrapped_len, uint8_t *secret)
{
	size_t		len;

	if (wrapped_len < CODEC_WRAP_OVERHEAD)
		return CODEC_ERR_TOO_SHORT;
	len = wrapped_len - CODEC_WRAP_OVERHEAD;
	return gcm_decrypt(kek, wrapped, aad, aad_len, NULL, 0, wrapped + CODEC_NONCE_LEN, len,
					   wrapped + CODEC_NONCE_LEN + len, secret);
}
