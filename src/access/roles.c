/*-------------------------------------------------------------------------
 * roles.c
 *	  Who may do what: access levels mapped onto PostgreSQL roles.
 *
 * Owns: the levels reader < operator < contributor < owner, a caller's
 * level on a vault (the highest of: superuser or member of the vault's
 * owner -> owner; membership in the built-in roles vault_reader /
 * vault_operator / vault_contributor, which apply to every vault; per-vault
 * grants to the caller or to any role it is a member of), the refusal when
 * it is too low, read from the per-vault grants table.  Every entry point
 * calls vault_require before it touches anything; this file does not decide
 * what an action needs beyond the level each entry point asks for, and
 * grants nothing (api/grants.c does).
 *-------------------------------------------------------------------------
 */
#include "access/access.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

static const char *const level_names[] = {"none", "reader", "operator", "contributor", "owner"};

const char *
vault_level_name(VaultLevel level)
{
	return level_names[level];
}

/* 'reader' / 'operator' / 'contributor' as a grantable level */
VaultLevel
vault_parse_grant_level(const char *text)
{
	VaultLevel	l;

	for (l = VAULT_READER; l <= VAULT_CONTRIBUTOR; l++)
		if (strcmp(text, level_names[l]) == 0)
			return l;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid vault access level \"%s\"", text),
			 errhint("The levels are reader, operator and contributor; the owner's rights "
					 "cannot be granted.")));
	return VAULT_NONE;			/* keep compiler quiet */
}

/* membership in the built-in role of that level (or a higher one) */
static bool
member_of_builtin(Oid role, VaultLevel level)
{
	Oid			builtin = get_role_oid(psprintf("vault_%s", level_names[level]), true);

	return OidIsValid(builtin) && has_privs_of_role(role, builtin);
}

/* The level of a role that applies to every vault (superuser: owner). */
VaultLevel
vault_global_level(Oid role)
{
	VaultLevel	l;

	if (superuser_arg(role))
		return VAULT_OWNER;
	for (l = VAULT_CONTRIBUTOR; l >= VAULT_READER; l--)
		if (member_of_builtin(role, l))
			return l;
	return VAULT_NONE;
}

/* A role's level on one vault. */
VaultLevel
vault_role_level(VaultCall *call, VaultInfo *vault, Oid role)
{
	VaultLevel	level = vault_global_level(role);
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	int64		granted;

	if (level == VAULT_OWNER || has_privs_of_role(role, vault->owner))
		return VAULT_OWNER;
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(role);
	vault_as_owner(call);
	granted = spi_int64("SELECT max(CASE g.level WHEN 'reader' THEN 1 WHEN 'operator' THEN 2 "
						"  WHEN 'contributor' THEN 3 END) "
						"FROM vault_internal.grants g WHERE g.vault_id = $1 "
						"AND pg_catalog.pg_has_role($2, g.role, 'USAGE')",
						2, types, values, NULL);
	vault_as_caller(call);
	if (granted > (int64) level)
		level = (VaultLevel) granted;
	return level;
}

static void
refuse(const char *vault_name, Oid role, VaultLevel need, VaultLevel have, const char *action)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 vault_name ?
			 errmsg("permission denied for vault \"%s\": %s needs the %s level",
					vault_name, action, level_names[need]) :
			 errmsg("permission denied: %s needs the %s level", action, level_names[need]),
			 have == VAULT_NONE ?
			 errdetail("Role \"%s\" holds no level%s.", GetUserNameFromId(role, false),
					   vault_name ? " on this vault" : " from the built-in vault roles") :
			 errdetail("Role \"%s\" holds the %s level%s.", GetUserNameFromId(role, false),
					   level_names[have], vault_name ? " on this vault" : " from the built-in vault roles"),
			 need == VAULT_OWNER ?
			 errhint("Only the vault's owner (its creator) or a superuser may do this.") :
			 vault_name ?
			 errhint("The vault's owner grants levels with vault_grant(vault, role, level); "
					 "the built-in roles vault_reader, vault_operator and vault_contributor "
					 "apply to every vault.") :
			 errhint("Membership in the built-in role vault_%s grants it.", level_names[need])));
}

/* The caller needs at least this level on the vault. */
void
vault_require(VaultCall *call, VaultInfo *vault, VaultLevel need, const char *action)
{
	VaultLevel	have = vault_role_level(call, vault, call->caller);

	if (have < need)
		refuse(vault->name, call->caller, need, have, action);
}

/* The caller needs at least this level everywhere (no vault involved). */
void
vault_require_global(VaultCall *call, VaultLevel need, const char *action)
{
	VaultLevel	have = vault_global_level(call->caller);

	if (have < need)
		refuse(NULL, call->caller, need, have, action);
}
