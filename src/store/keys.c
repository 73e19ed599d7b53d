/*-------------------------------------------------------------------------
 * keys.c
 *	  Each vault's data and MAC keys: making them, wrapping them under the
 *	  platform key or a customer key, unwrapping them for one operation.
 *
 * Owns the vault keys' life in memory: they exist unwrapped only in the
 * memory of the operation that needs them, and are wiped when that memory
 * goes, an error included (secret.c).  Which key wraps a vault is
 * its row's key_id: none, the platform key (platform_key.c; AES-256-GCM,
 * bound to the vault's name), or a customer key (cmk.c; OpenPGP).  Also
 * derives the chunker's gear table from the MAC key.  Must never log or
 * return key material; must not know how chunks are stored.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#define WRAP_VERSION		1
#define WRAP_AAD_PREFIX		"vault-keys-v1:"
#define WRAPPED_LEN			(1 + CODEC_WRAP_OVERHEAD + VAULT_KEYS_LEN)

static size_t
wrap_aad(const char *vault_name, uint8 *aad, size_t cap)
{
	size_t		plen = strlen(WRAP_AAD_PREFIX);
	size_t		nlen = strlen(vault_name);

	Assert(plen + nlen <= cap);
	memcpy(aad, WRAP_AAD_PREFIX, plen);
	memcpy(aad + plen, vault_name, nlen);
	return plen + nlen;
}

/* The keys as one secret: data key, then MAC key (the customer-wrapped form). */
static void
keys_pack(const VaultKeys *keys, uint8 *secret)
{
	memcpy(secret, keys->data_key, CODEC_KEY_LEN);
	memcpy(secret + CODEC_KEY_LEN, keys->mac_key, CODEC_KEY_LEN);
}

static void
keys_unpack(const uint8 *secret, VaultKeys *keys)
{
	memcpy(keys->data_key, secret, CODEC_KEY_LEN);
	memcpy(keys->mac_key, secret + CODEC_KEY_LEN, CODEC_KEY_LEN);
}

/* Fresh random keys for a vault that holds nothing yet. */
void
keys_generate(VaultKeys *keys)
{
	if (codec_random(keys->data_key, CODEC_KEY_LEN) != CODEC_OK ||
		codec_random(keys->mac_key, CODEC_KEY_LEN) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate vault keys")));
}

/* The keys wrapped by the platform key 'kek', bound to the vault's name. */
bytea *
keys_wrap_platform(const char *vault_name, const VaultKeys *keys, const uint8 *kek)
{
	uint8		secret[VAULT_KEYS_LEN];
	uint8		aad[256];
	size_t		aadlen = wrap_aad(vault_name, aad, sizeof(aad));
	bytea	   *out = palloc(VARHDRSZ + WRAPPED_LEN);
	uint8	   *p = (uint8 *) VARDATA(out);
	int			rc;

	SET_VARSIZE(out, VARHDRSZ + WRAPPED_LEN);
	p[0] = WRAP_VERSION;
	keys_pack(keys, secret);
	rc = codec_wrap(kek, aad, aadlen, secret, sizeof(secret), p + 1);
	explicit_bzero(secret, sizeof(secret));
	if (rc != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not wrap vault keys")));
	return out;
}

/* Unwrap platform-wrapped keys with 'kek'; false if it is not their key. */
static bool
keys_unwrap_platform(VaultInfo *vault, const uint8 *kek, VaultKeys *keys)
{
	uint8		secret[VAULT_KEYS_LEN];
	uint8		aad[256];
	size_t		aadlen = wrap_aad(vault->name, aad, sizeof(aad));
	const uint8 *p = (const uint8 *) VARDATA_ANY(vault->wrapped_keys);
	size_t		len = VARSIZE_ANY_EXHDR(vault->wrapped_keys);
	bool		ok;

	ok = len == WRAPPED_LEN && p[0] == WRAP_VERSION &&
		codec_unwrap(kek, aad, aadlen, p + 1, len - 1, secret) == CODEC_OK;
	if (ok)
		keys_unpack(secret, keys);
	explicit_bzero(secret, sizeof(secret));
	return ok;
}

/*
 * Fresh data and MAC keys for a new vault, wrapped by the platform key.
 * The key file is created only for the first vault: once vaults exist, a
 * missing key file is an error, never silently a new key.
 */
bytea *
keys_create_wrapped(const char *vault_name, bool first_vault)
{
	const uint8 *kek = platform_key_get(first_vault);
	VaultKeys  *keys = secret_alloc(sizeof(VaultKeys));

	keys_generate(keys);
	return keys_wrap_platform(vault_name, keys, kek);
}

/*
 * The vault's keys wrapped for storage under customer key 'key_id', or
 * under the platform key when key_id is 0.
 */
bytea *
keys_wrap(VaultCall *call, VaultInfo *vault, const VaultKeys *keys, int64 key_id)
{
	uint8	   *secret;

	if (key_id == 0)
		return keys_wrap_platform(vault->name, keys, platform_key_get(false));
	secret = secret_alloc(VAULT_KEYS_LEN);
	keys_pack(keys, secret);
	return cmk_wrap(call, key_id, secret, VAULT_KEYS_LEN);
}

/*
 * The vault's keys for one operation, into 'keys' (which the caller wipes
 * with its memory: keys_wipe_with).  A customer-keyed vault asks the
 * customer's key store (cmk.c: fails closed, naming the vault and the key).
 */
void
keys_unwrap(VaultCall *call, VaultInfo *vault, VaultKeys *keys)
{
	const uint8 *candidates[32];
	int			n;
	int			i;

	keys->vault_id = vault->vault_id;
	if (vault->key_id != 0)
	{
		uint8	   *secret = secret_alloc(VAULT_KEYS_LEN);

		cmk_unwrap(call, vault, secret, VAULT_KEYS_LEN);
		keys_unpack(secret, keys);
		return;
	}
	/* the current platform key, or one a rotation under way still keeps */
	n = platform_key_candidates(candidates, lengthof(candidates));
	for (i = 0; i < n; i++)
		if (keys_unwrap_platform(vault, candidates[i], keys))
			return;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("could not unwrap the keys of vault \"%s\"", vault->name),
			 errdetail("The platform key in vault.platform_key_file is not the one this vault's keys were wrapped with, or the vault's key record is damaged."),
			 errhint("Restore the platform key file that was in use when the vault's keys were last wrapped.")));
}

/*
 * The chunker's gear table, derived from the MAC key so that chunk
 * boundaries reveal nothing about the data to whoever sees chunk sizes.
 */
void
keys_gear_table(const VaultKeys *keys, uint64 gear[256])
{
	int			i;

	for (i = 0; i < 256; i++)
	{
		uint8		msg[16] = "vault-gear-v1:";
		uint8		out[CODEC_ID_LEN];

		msg[14] = (uint8) i;
		msg[15] = 0;
		if (codec_chunk_id(keys->mac_key, msg, sizeof(msg), out) != CODEC_OK)
			elog(ERROR, "could not derive the chunker table");
		memcpy(&gear[i], out, sizeof(uint64));
	}
}
