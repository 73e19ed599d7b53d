/*-------------------------------------------------------------------------
 * grants.c
 *	  The SQL functions vault_grant / vault_revoke, and vault_can_see for the
 *	  views.
 *
 * Owns: writing and removing per-vault grants (the owner's act), and the
 * per-query visibility test the views use.  What a level allows is
 * access/roles.c's; this file only records who holds which level.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(vault_grant);
PG_FUNCTION_INFO_V1(vault_revoke);
PG_FUNCTION_INFO_V1(vault_can_see);

/* vault_grant(vault, role regrole, level): the owner grants a level on a vault */
Datum
vault_grant(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *ltext = vault_arg_text(fcinfo, 2, "level");
	Oid			role;
	VaultLevel	level;
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[4] = {INT8OID, OIDOID, TEXTOID, OIDOID};
	Datum		values[4];

	vault_arg_not_null(fcinfo, 1, "role");
	role = PG_GETARG_OID(1);
	level = vault_parse_grant_level(ltext);

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OWNER, "granting access");
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(role);
	values[2] = CStringGetTextDatum(vault_level_name(level));
	values[3] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	(void) spi_int64("INSERT INTO vault_internal.grants (vault_id, role, level, granted_by) "
					 "VALUES ($1, $2, $3, $4) ON CONFLICT (vault_id, role) DO UPDATE "
					 "SET level = EXCLUDED.level, granted_by = EXCLUDED.granted_by, granted_at = now()",
					 4, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, NULL, "grant",
				 psprintf("%s to role %s", vault_level_name(level), GetUserNameFromId(role, false)));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* vault_revoke(vault, role regrole, level DEFAULT NULL): take a grant back */
Datum
vault_revoke(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	Oid			role;
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[3] = {INT8OID, OIDOID, TEXTOID};
	Datum		values[3];
	bool		nulls[3] = {false, false, PG_ARGISNULL(2)};
	int64		removed;

	vault_arg_not_null(fcinfo, 1, "role");
	role = PG_GETARG_OID(1);
	if (!PG_ARGISNULL(2))
		(void) vault_parse_grant_level(text_to_cstring(PG_GETARG_TEXT_PP(2)));

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OWNER, "revoking access");
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(role);
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	vault_as_owner(&call);
	removed = spi_int64("WITH d AS (DELETE FROM vault_internal.grants WHERE vault_id = $1 AND role = $2 "
						"  AND ($3::text IS NULL OR level = $3) RETURNING 1) SELECT count(*) FROM d",
						3, types, values, nulls);
	vault_as_caller(&call);
	if (removed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" holds no %sgrant on vault \"%s\"",
						GetUserNameFromId(role, false),
						PG_ARGISNULL(2) ? "" : psprintf("%s ", text_to_cstring(PG_GETARG_TEXT_PP(2))),
						vault->name),
				 errhint("The grants are listed in the view vault_access.")));
	audit_record(&call, vault, NULL, "revoke", psprintf("role %s", GetUserNameFromId(role, false)));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* what vault_can_see learns once per query: the caller and its grants */
typedef struct SeeCache
{
	Oid			user;
	bool		all;			/* superuser or a built-in vault role */
	int			nvaults;
	int64	   *vaults;			/* vaults with a grant to the caller */
} SeeCache;

/*
 * vault_internal.can_see(vault_id, owner): whether the current role holds
 * any level on the vault, for the views (NULLs, a row of no vault: whether
 * it holds a global level).  The caller's grants are read once
 * per query (as the extension owner); nothing about other roles is answered.
 */
Datum
vault_can_see(PG_FUNCTION_ARGS)
{
	SeeCache   *c = (SeeCache *) fcinfo->flinfo->fn_extra;
	Oid			user = GetUserId();
	int64		vault_id;
	Oid			owner;
	int			i;

	/* rows of no vault (a dropped one, a policy): global levels only */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(vault_global_level(user) >= VAULT_READER);
	vault_id = PG_GETARG_INT64(0);
	owner = PG_GETARG_OID(1);
	if (c == NULL || c->user != user)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		c = palloc0(sizeof(SeeCache));
		c->user = user;
		c->all = vault_global_level(user) >= VAULT_READER;
		MemoryContextSwitchTo(old);
		if (!c->all)
		{
			VaultCall	call;
			Oid			types[1] = {OIDOID};
			Datum		values[1];
			int			ret;

			vault_call_begin(&call);
			values[0] = ObjectIdGetDatum(user);
			vault_as_owner(&call);
			ret = SPI_execute_with_args("SELECT DISTINCT g.vault_id FROM vault_internal.grants g "
										"WHERE pg_catalog.pg_has_role($1, g.role, 'USAGE')",
										1, types, values, NULL, true, 0);
			vault_as_caller(&call);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "could not read the grants");
			c->nvaults = (int) SPI_processed;
			c->vaults = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(int64) * Max(c->nvaults, 1));
			for (i = 0; i < c->nvaults; i++)
			{
				bool		isnull;

				c->vaults[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
			}
			vault_call_end(&call);
		}
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->all || has_privs_of_role(user, owner))
		PG_RETURN_BOOL(true);
	for (i = 0; i < c->nvaults; i++)
		if (c->vaults[i] == vault_id)
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}
