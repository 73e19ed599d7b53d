/*-------------------------------------------------------------------------
 * cmk.c
 *	  Customer-managed keys: a vault's keys wrapped by the customer's
 *	  OpenPGP RSA key, whose secret part never enters the database.
 *
 * Owns the registered keys' rows (public part, fingerprint, enabled), the
 * checks a public key must pass (an RSA key of 2048, 3072 or 4096 bits with
 * an RSA encryption subkey, the one pgcrypto encrypts to), wrapping with
 * pgcrypto's pgp_pub_encrypt_bytea, and unwrapping: the secret key comes
 * from vault.key_command (%k: the key's name) for one operation, must have
 * the registered fingerprint, and opens the vault's keys with
 * pgp_pub_decrypt_bytea.  A disabled key, a failing or silent command or
 * another key fails the operation closed, naming the vault and the key, and
 * is recorded in key_status.c.  Secret bytes live in buffers wiped with
 * their memory context (secret.c); nothing here logs or returns them.  Must
 * not decide who may use a key (the SQL entry points do).
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "openpgp.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/fd.h"
#include "fmgr.h"
#include "utils/builtins.h"

#define KEY_COMMAND_MAX_OUTPUT	(1024 * 1024)

/* Key names: 1-63 of letters, digits, '_', '-', '.', so that %k is shell-safe. */
void
cmk_check_name(const char *name)
{
	size_t		len = strlen(name);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.'))
			break;
	}
	if (len < 1 || len > 63 || i < len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid key name \"%s\"", name),
				 errdetail("A key name has 1 to 63 characters, each a letter, a digit, \"_\", \"-\" or \".\".")));
	if (strcmp(name, "platform") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid key name \"platform\""),
				 errdetail("\"platform\" names the platform key in vault_configure(encryption_key => ...).")));
}

/*
 * One of pgcrypto's OpenPGP functions, called directly rather than through
 * SQL: the keys it is given and gives back then pass through no executor
 * memory, only buffers this file wipes (pgcrypto wipes its own).
 */
static PGFunction
pgcrypto_function(const char *name)
{
	return load_external_function("$libdir/pgcrypto", name, true, NULL);
}

static CustomerKey *
key_fetch(VaultCall *call, const char *column, Oid type, Datum value, bool for_update)
{
	CustomerKey *k;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	vault_as_owner(call);
	ret = SPI_execute_with_args(psprintf("SELECT key_id, name, fingerprint, bits, enabled, public_key "
										 "FROM vault_internal.keys WHERE %s = $1 %s",
										 column,
										 for_update ? "FOR UPDATE" : RecoveryInProgress() ? "" : "FOR SHARE"),
								1, &type, &value, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "key lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return NULL;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	k = palloc0(sizeof(CustomerKey));
	k->key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	k->name = SPI_getvalue(tup, desc, 2);
	k->fingerprint = SPI_getvalue(tup, desc, 3);
	k->bits = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	k->enabled = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	k->public_key = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 6, &isnull));
	return k;
}

/* A registered key by name (42704 if there is none). */
CustomerKey *
cmk_lookup(VaultCall *call, const char *name, bool for_update)
{
	CustomerKey *k = key_fetch(call, "name", TEXTOID, CStringGetTextDatum(name), for_update);

	if (k == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("key \"%s\" does not exist", name),
				 errhint("Register a customer key with vault_key_add(name, public_key); the keys are listed in vault_keys.")));
	return k;
}

CustomerKey *
cmk_lookup_by_id(VaultCall *call, int64 key_id)
{
	CustomerKey *k = key_fetch(call, "key_id", INT8OID, Int64GetDatum(key_id), false);

	if (k == NULL)
		elog(ERROR, "key %lld vanished", (long long) key_id);
	return k;
}

static bool
rsa_algo(int algo)
{
	return algo == 1 || algo == 2 || algo == 3;
}

static bool
allowed_bits(int bits)
{
	return bits == 2048 || bits == 3072 || bits == 4096;
}

/*
 * Check an armored public key for registration: an OpenPGP public key
 * block (never a secret one), RSA of 2048, 3072 or 4096 bits with an RSA
 * encryption subkey of those sizes.  Returns it dearmored; its primary
 * fingerprint (41 bytes with the NUL) and the encryption subkey's bits.
 */
bytea *
cmk_parse_public(const char *name, const char *armored, char *fingerprint, int *bits)
{
	size_t		len = strlen(armored);
	bytea	   *bin;
	size_t		binlen;
	OpenpgpBlock block;
	OpenpgpKeyInfo info;
	OpenpgpStatus st;

	if (len > OPENPGP_MAX_INPUT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("public key for key \"%s\" is too large", name)));
	bin = palloc(VARHDRSZ + len + 1);
	st = openpgp_dearmor(armored, len, (uint8 *) VARDATA(bin), &binlen, &block);
	if (st != OPENPGP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid public key for key \"%s\": %s", name, openpgp_status_text(st)),
				 errhint("Pass the ASCII-armored public key, as gpg --armor --export prints it.")));
	if (block == OPENPGP_BLOCK_SECRET)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key \"%s\" was given as a secret key", name),
				 errdetail("The database keeps only the public part of a customer key."),
				 errhint("Pass the output of gpg --armor --export, and keep the secret key in the store vault.key_command reads.")));
	SET_VARSIZE(bin, VARHDRSZ + binlen);
	st = openpgp_key_info((const uint8 *) VARDATA(bin), binlen, &info);
	if (st != OPENPGP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid public key for key \"%s\": %s", name, openpgp_status_text(st))));
	if (info.secret)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key \"%s\" was given as a secret key", name),
				 errdetail("The database keeps only the public part of a customer key.")));
	if (!rsa_algo(info.primary_algo) || !allowed_bits(info.primary_bits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key \"%s\" is not an RSA key of 2048, 3072 or 4096 bits", name),
				 errdetail("Its primary key uses OpenPGP algorithm %d with %d bits.", info.primary_algo,
						   info.primary_bits)));
	if (!info.has_encryption_key || !rsa_algo(info.encryption_algo) || !allowed_bits(info.encryption_bits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key \"%s\" has no RSA encryption subkey of 2048, 3072 or 4096 bits", name),
				 info.has_encryption_key ?
				 errdetail("Its encryption subkey uses OpenPGP algorithm %d with %d bits.",
						   info.encryption_algo, info.encryption_bits) :
				 errdetail("It has no encryption subkey; pgcrypto encrypts to a subkey."),
				 errhint("Generate it with an RSA encryption subkey, e.g. gpg --quick-add-key <fingerprint> rsa3072 encr.")));
	openpgp_fingerprint_hex(info.fingerprint, fingerprint);
	*bits = info.encryption_bits;
	return bin;
}

/*
 * pgcrypto must be able to encrypt to the key (it refuses some shapes the
 * checks above let through, such as a further subkey of another
 * algorithm): a trial encryption, its failure reported as a bad key.
 */
void
cmk_check_encrypts(const char *name, bytea *public_key)
{
	MemoryContext cxt = CurrentMemoryContext;
	PGFunction	encrypt = pgcrypto_function("pgp_pub_encrypt_bytea");
	bytea	   *probe = palloc(VARHDRSZ + 1);

	SET_VARSIZE(probe, VARHDRSZ + 1);
	VARDATA(probe)[0] = 0;
	PG_TRY();
	{
		(void) DirectFunctionCall2(encrypt, PointerGetDatum(probe), PointerGetDatum(public_key));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key \"%s\" cannot be used by pgcrypto: %s", name, edata->message),
				 errhint("Use an RSA key whose only subkey is an RSA encryption subkey.")));
	}
	PG_END_TRY();
}

/* The secret wrapped with the key's public part (pgp_pub_encrypt_bytea). */
bytea *
cmk_wrap(VaultCall *call, int64 key_id, const uint8 *secret, size_t len)
{
	CustomerKey *k = cmk_lookup_by_id(call, key_id);
	bytea	   *plain = secret_alloc(VARHDRSZ + len);

	SET_VARSIZE(plain, VARHDRSZ + len);
	memcpy(VARDATA(plain), secret, len);
	return DatumGetByteaPP(DirectFunctionCall3(pgcrypto_function("pgp_pub_encrypt_bytea"),
											   PointerGetDatum(plain), PointerGetDatum(k->public_key),
											   CStringGetTextDatum("cipher-algo=aes256, compress-algo=0")));
}

/*
 * Fail the operation closed: the key cannot be had.  Recorded as the key's
 * last error (shared memory: the caller's transaction rolls back).
 */
static void
key_unavailable(const CustomerKey *k, const VaultInfo *vault, const char *why, const char *hint)
{
	key_status_record(k->name, false, why);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not get key \"%s\" for vault \"%s\": %s", k->name, vault->name, why),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * vault.key_command with %k = the key's name; its standard output (the
 * armored secret key) into a buffer wiped with the current memory context.
 */
static char *
key_command_run(const CustomerKey *k, const VaultInfo *vault, size_t *outlen)
{
	StringInfoData cmd;
	const char *p;
	char	   *out;
	size_t		len = 0;
	FILE	   *fh;
	int			rc;

	if (vault_key_command == NULL || vault_key_command[0] == '\0')
		key_unavailable(k, vault, "vault.key_command is not set",
						"Set vault.key_command to a command that prints the armored secret key named by %k.");
	initStringInfo(&cmd);
	for (p = vault_key_command; *p; p++)
	{
		if (p[0] == '%' && p[1] == 'k')
		{
			appendStringInfoString(&cmd, k->name);
			p++;
		}
		else if (p[0] == '%' && p[1] == '%')
		{
			appendStringInfoChar(&cmd, '%');
			p++;
		}
		else
			appendStringInfoChar(&cmd, *p);
	}

	out = secret_alloc(KEY_COMMAND_MAX_OUTPUT + 1);
	fflush(NULL);
	errno = 0;
	fh = OpenPipeStream(cmd.data, "r");
	if (fh == NULL)
		key_unavailable(k, vault, psprintf("could not run vault.key_command: %m"), NULL);
	for (;;)
	{
		size_t		n = fread(out + len, 1, KEY_COMMAND_MAX_OUTPUT + 1 - len, fh);

		len += n;
		if (n == 0 || len > KEY_COMMAND_MAX_OUTPUT)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	rc = ClosePipeStream(fh);
	if (rc != 0)
		key_unavailable(k, vault, psprintf("vault.key_command %s", wait_result_to_str(rc)),
						"The key store did not give the key out: it may have been revoked.");
	if (len > KEY_COMMAND_MAX_OUTPUT)
		key_unavailable(k, vault, "vault.key_command printed more than 1 MB", NULL);
	if (len == 0)
		key_unavailable(k, vault, "vault.key_command printed nothing",
						"The key store did not give the key out: it may have been revoked.");
	out[len] = '\0';
	*outlen = len;
	return out;
}

typedef struct UnwrapContext
{
	const char *vault;
	const char *key;
} UnwrapContext;

/* what pgcrypto's own errors are about */
static void
unwrap_error_context(void *arg)
{
	UnwrapContext *c = (UnwrapContext *) arg;

	errcontext("unwrapping the keys of vault \"%s\" with key \"%s\"", c->vault, c->key);
}

/*
 * Unwrap the vault's keys with its customer key: the secret key from
 * vault.key_command, checked against the registered fingerprint.
 */
void
cmk_unwrap(VaultCall *call, VaultInfo *vault, uint8 *secret, size_t len)
{
	CustomerKey *k = cmk_lookup_by_id(call, vault->key_id);
	char	   *armored;
	size_t		armored_len;
	bytea	   *seckey;
	size_t		seckey_len;
	OpenpgpBlock block;
	OpenpgpKeyInfo info;
	char		fpr[2 * OPENPGP_FPR_LEN + 1];
	PGFunction	decrypt;
	UnwrapContext unwrap_context;
	ErrorContextCallback errcb;

	if (!k->enabled)
	{
		key_status_record(k->name, false, "the key is disabled");
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" of vault \"%s\" is disabled", k->name, vault->name),
				 errhint("vault_key_enable('%s') gives access back.", k->name)));
	}

	armored = key_command_run(k, vault, &armored_len);
	seckey = secret_alloc(VARHDRSZ + armored_len);
	if (openpgp_dearmor(armored, armored_len, (uint8 *) VARDATA(seckey), &seckey_len, &block) != OPENPGP_OK ||
		openpgp_key_info((const uint8 *) VARDATA(seckey), seckey_len, &info) != OPENPGP_OK)
		key_unavailable(k, vault, "vault.key_command did not print an armored OpenPGP key", NULL);
	SET_VARSIZE(seckey, VARHDRSZ + seckey_len);
	openpgp_fingerprint_hex(info.fingerprint, fpr);
	if (strcmp(fpr, k->fingerprint) != 0)
		key_unavailable(k, vault, psprintf("vault.key_command printed key %s, not the registered %s", fpr,
										   k->fingerprint), NULL);
	if (!info.secret)
		key_unavailable(k, vault, "vault.key_command printed the public key, not the secret key", NULL);

	decrypt = pgcrypto_function("pgp_pub_decrypt_bytea");
	unwrap_context.vault = vault->name;
	unwrap_context.key = k->name;
	errcb.callback = unwrap_error_context;
	errcb.arg = &unwrap_context;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	PG_TRY();
	{
		bytea	   *plain;

		plain = DatumGetByteaPP(DirectFunctionCall2(decrypt, PointerGetDatum(vault->wrapped_keys),
													PointerGetDatum(seckey)));
		if (VARSIZE_ANY_EXHDR(plain) != len)
		{
			explicit_bzero(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain));
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the keys of vault \"%s\" unwrapped with key \"%s\" have the wrong size",
							vault->name, k->name)));
		}
		memcpy(secret, VARDATA_ANY(plain), len);
		explicit_bzero(VARDATA_ANY(plain), len);
	}
	PG_CATCH();
	{
		key_status_record(k->name, false, "the key did not open the vault's keys");
		PG_RE_THROW();
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;
	key_status_record(k->name, true, NULL);
}
