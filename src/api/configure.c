/*-------------------------------------------------------------------------
 * configure.c
 *	  vault_configure: a vault's settings, each named, each optional.
 *
 * Owns reading the arguments (a bad value or range is 22023, before
 * anything is looked at) and handing each setting to the file that owns
 * its rules: soft delete and immutability to protection.c, the encryption
 * key to keys.c, redundancy and cross-region restore to redundancy.c, job
 * alerts to alerts.c; the compression of new chunks is recorded here (the
 * codec, store/chunk_store.c, reads it as it seals).  The
 * vault row is locked for update once, for all of them, so that one call
 * changes its settings together or not at all.  Later
 * capabilities add their settings as further parameters here.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(vault_configure);

/* compression => 'lz4' | 'zstd' | 'zstd:<1..19>', for chunks stored from now on */
static void
compression_configure(VaultCall *call, VaultInfo *vault, const char *compression)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	vault_refuse_replica(vault, "changing its compression");
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(compression);
	vault_as_owner(call);
	if (spi_int64("WITH u AS (UPDATE vault_internal.vaults SET compression = $2 "
				  "  WHERE vault_id = $1 AND compression <> $2 RETURNING 1) SELECT count(*) FROM u",
				  2, types, values, NULL) > 0)
		audit_record(call, vault, NULL, "configure", psprintf("compression %s", compression));
	vault_as_caller(call);
}

/* argument argno as one of 'allowed', or NULL when not given */
static char *
arg_choice(FunctionCallInfo fcinfo, int argno, const char *setting, const char *const *allowed,
		   const char *listed)
{
	char	   *value;
	int			i;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	for (i = 0; allowed[i]; i++)
		if (strcmp(allowed[i], value) == 0)
			return value;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\"", setting, value),
			 errhint("%s is one of: %s.", setting, listed)));
	return NULL;				/* keep compiler quiet */
}

/*
 * vault_configure(vault, soft_delete, soft_delete_days, immutability,
 * encryption_key, redundancy, cross_region_restore, job_alerts,
 * compression): the settings given change, NULL keeps one.
 */
Datum
vault_configure(PG_FUNCTION_ARGS)
{
	static const char *const soft_values[] = {"on", "off", "always-on", NULL};
	static const char *const immut_values[] = {"off", "on", "locked", NULL};
	static const char *const redundancy_values[] = {"local", "zone", "geo", NULL};
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *soft = arg_choice(fcinfo, 1, "soft_delete", soft_values, "on, off, always-on");
	bool		has_days = PG_NARGS() > 2 && !PG_ARGISNULL(2);
	int			days = has_days ? PG_GETARG_INT32(2) : 0;
	char	   *immut = arg_choice(fcinfo, 3, "immutability", immut_values, "off, on, locked");
	char	   *key = PG_NARGS() > 4 && !PG_ARGISNULL(4) ? text_to_cstring(PG_GETARG_TEXT_PP(4)) : NULL;
	char	   *redundancy = arg_choice(fcinfo, 5, "redundancy", redundancy_values, "local, zone, geo");
	bool		has_crr = PG_NARGS() > 6 && !PG_ARGISNULL(6);
	bool		crr = has_crr ? PG_GETARG_BOOL(6) : false;
	bool		has_job_alerts = PG_NARGS() > 7 && !PG_ARGISNULL(7);
	char	   *compression = PG_NARGS() > 8 && !PG_ARGISNULL(8) ? text_to_cstring(PG_GETARG_TEXT_PP(8)) : NULL;
	VaultCall	call;
	VaultInfo  *vault;

	if (has_days && (days < 14 || days > 180))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid soft_delete_days %d", days),
				 errhint("Soft-deleted data is kept 14 to 180 days.")));
	if (key && strcmp(key, "platform") != 0)
		cmk_check_name(key);
	if (compression && vault_zstd_level(compression) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid compression \"%s\"", compression),
				 errhint("compression is one of: lz4, zstd, zstd:<level> with a level from 1 to %d.",
						 CODEC_ZSTD_MAX_LEVEL)));
	if (soft == NULL && !has_days && immut == NULL && key == NULL && redundancy == NULL && !has_crr &&
		!has_job_alerts && compression == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to change in vault \"%s\"", vname),
				 errhint("Name a setting: vault_configure(vault, soft_delete => ..., soft_delete_days => ..., "
						 "immutability => ..., encryption_key => ..., redundancy => ..., cross_region_restore => ..., "
						 "job_alerts => ..., compression => ...).")));

	vault_call_begin(&call);
	vault = vault_lookup_for_update(&call, vname, VAULT_CONTRIBUTOR, "configuring the vault");
	protection_configure(&call, vault, soft, has_days, days, immut);
	redundancy_configure(&call, vault, redundancy, has_crr, crr);
	if (key)
		encryption_configure(&call, vault, key);
	if (has_job_alerts)
		alerts_configure(&call, vault, PG_GETARG_BOOL(7));
	if (compression)
		compression_configure(&call, vault, compression);
	vault_call_end(&call);
	PG_RETURN_VOID();
}
