/*-------------------------------------------------------------------------
 * keys.c
 *	  The platform key and each vault's data and MAC keys.
 *
 * Owns: the platform key file (vault.platform_key_file, created 0600 on
 * first use, outside the database tables), wrapping fresh per-vault keys
 * under it, unwrapping them for a backup or restore, and deriving the
 * chunker's gear table from the MAC key.  Must never log or return key
 * material; must not know how chunks are stored.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"

#define KEYFILE_MAGIC		"vault-platform-key-v1\n"
#define WRAP_VERSION		1
#define WRAP_AAD_PREFIX		"vault-keys-v1:"
#define WRAPPED_LEN			(1 + CODEC_WRAP_OVERHEAD + 2 * CODEC_KEY_LEN)

static bool platform_key_loaded = false;
static uint8 platform_key[CODEC_KEY_LEN];
static char platform_key_path_loaded[MAXPGPATH];

static void
keyfile_path(char *path)
{
	const char *p = vault_platform_key_file;

	if (p == NULL || p[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("vault.platform_key_file is not set")));
	if (is_absolute_path(p))
		strlcpy(path, p, MAXPGPATH);
	else
		snprintf(path, MAXPGPATH, "%s/%s", DataDir, p);
}

static void
hex_encode_key(const uint8 *key, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < CODEC_KEY_LEN; i++)
	{
		out[2 * i] = hexd[key[i] >> 4];
		out[2 * i + 1] = hexd[key[i] & 15];
	}
	out[2 * CODEC_KEY_LEN] = '\n';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Create the key file with a fresh random key; fails if it exists. */
static void
platform_key_create(const char *path)
{
	uint8		key[CODEC_KEY_LEN];
	char		buf[sizeof(KEYFILE_MAGIC) - 1 + 2 * CODEC_KEY_LEN + 1];
	int			fd;

	if (codec_random(key, sizeof(key)) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random platform key")));
	memcpy(buf, KEYFILE_MAGIC, sizeof(KEYFILE_MAGIC) - 1);
	hex_encode_key(key, buf + sizeof(KEYFILE_MAGIC) - 1);
	explicit_bzero(key, sizeof(key));

	fd = OpenTransientFilePerm(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		if (errno == EEXIST)
			return;				/* someone else created it first: use theirs */
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create platform key file \"%s\": %m", path)));
	}
	if (write(fd, buf, sizeof(buf)) != sizeof(buf) || pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		unlink(path);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write platform key file \"%s\": %m", path)));
	}
	explicit_bzero(buf, sizeof(buf));
	CloseTransientFile(fd);
	ereport(LOG,
			(errmsg("vault: created platform key file \"%s\"", path),
			 errhint("Back this file up separately from the database: without it no vault can be opened.")));
}

/* Load (creating on first use) the platform key into memory. */
static const uint8 *
platform_key_get(bool create)
{
	char		path[MAXPGPATH];
	char		buf[sizeof(KEYFILE_MAGIC) - 1 + 2 * CODEC_KEY_LEN + 1 + 1];
	int			fd;
	int			n;
	int			i;
	const char *hex;

	keyfile_path(path);
	if (platform_key_loaded && strcmp(path, platform_key_path_loaded) == 0)
		return platform_key;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0 && errno == ENOENT && create)
	{
		platform_key_create(path);
		fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	}
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open platform key file \"%s\": %m", path),
				 errhint("The vault's keys are wrapped by this file; restore it from your key backup or set vault.platform_key_file.")));
	n = read(fd, buf, sizeof(buf));
	CloseTransientFile(fd);
	hex = buf + sizeof(KEYFILE_MAGIC) - 1;
	if (n != sizeof(buf) - 1 ||
		memcmp(buf, KEYFILE_MAGIC, sizeof(KEYFILE_MAGIC) - 1) != 0 ||
		hex[2 * CODEC_KEY_LEN] != '\n')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("platform key file \"%s\" is not a vault platform key", path)));
	for (i = 0; i < CODEC_KEY_LEN; i++)
	{
		int			hi = hexval(hex[2 * i]);
		int			lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("platform key file \"%s\" is not a vault platform key", path)));
		platform_key[i] = (uint8) (hi << 4 | lo);
	}
	explicit_bzero(buf, sizeof(buf));
	strlcpy(platform_key_path_loaded, path, MAXPGPATH);
	platform_key_loaded = true;
	return platform_key;
}

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

/*
 * Fresh random data and MAC keys for a new vault, wrapped by the platform
 * key.  The key file is created only for the first vault: once vaults
 * exist, a missing key file is an error, never silently a new key.
 */
bytea *
keys_create_wrapped(const char *vault_name, bool first_vault)
{
	const uint8 *kek = platform_key_get(first_vault);
	uint8		secret[2 * CODEC_KEY_LEN];
	uint8		aad[256];
	size_t		aadlen = wrap_aad(vault_name, aad, sizeof(aad));
	bytea	   *out = palloc(VARHDRSZ + WRAPPED_LEN);
	uint8	   *p = (uint8 *) VARDATA(out);

	SET_VARSIZE(out, VARHDRSZ + WRAPPED_LEN);
	if (codec_random(secret, sizeof(secret)) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate vault keys")));
	p[0] = WRAP_VERSION;
	if (codec_wrap(kek, aad, aadlen, secret, sizeof(secret), p + 1) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not wrap vault keys")));
	explicit_bzero(secret, sizeof(secret));
	return out;
}

void
keys_unwrap(VaultInfo *vault, VaultKeys *keys)
{
	const uint8 *kek = platform_key_get(false);
	uint8		secret[2 * CODEC_KEY_LEN];
	uint8		aad[256];
	size_t		aadlen = wrap_aad(vault->name, aad, sizeof(aad));
	const uint8 *p = (const uint8 *) VARDATA_ANY(vault->wrapped_keys);
	size_t		len = VARSIZE_ANY_EXHDR(vault->wrapped_keys);

	if (len != WRAPPED_LEN || p[0] != WRAP_VERSION ||
		codec_unwrap(kek, aad, aadlen, p + 1, len - 1, secret) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not unwrap the keys of vault \"%s\"", vault->name),
				 errdetail("The platform key in vault.platform_key_file is not the one this vault was created with, or the vault's key record is damaged."),
				 errhint("Restore the platform key file that was in use when the vault was created.")));
	keys->vault_id = vault->vault_id;
	memcpy(keys->data_key, secret, CODEC_KEY_LEN);
	memcpy(keys->mac_key, secret + CODEC_KEY_LEN, CODEC_KEY_LEN);
	explicit_bzero(secret, sizeof(secret));
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
