/*-------------------------------------------------------------------------
 * redundancy.c
 *	  A vault's redundancy settings: redundancy (local, zone, geo) and
 *	  cross-region restore.
 *
 * Owns when they may change: the redundancy only while the vault has never
 * held data (its points are then all made under one rule); cross-region
 * restore only on a geo vault, and once on, for good.  How a zone point
 * commits is replica/zone.c's; how a geo vault's storage reaches its
 * secondary is replica/geo.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

/*
 * vault_configure(vault, redundancy => ..., cross_region_restore => ...):
 * the settings given (NULL / has_crr false: unchanged), on a vault its
 * caller locked for update.
 */
void
redundancy_configure(VaultCall *call, VaultInfo *vault, const char *redundancy, bool has_crr, bool crr)
{
	Oid			types[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		values[3];
	bool		nulls[3] = {false, true, true};
	const char *before = vault->redundancy;

	if (redundancy && strcmp(redundancy, vault->redundancy) != 0)
	{
		if (vault_has_held_data(call, vault))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("vault \"%s\" already holds data: its redundancy can be chosen only before its first item",
							vault->name),
					 errhint("Create a new vault with the redundancy you need, then protect the items there.")));
		if (strcmp(redundancy, "geo") == 0)
		{
			geo_publish(call, vault);
			/* the key row first: the vault row names it */
			geo_mark_key(call, vault->key_id);
		}
		values[1] = CStringGetTextDatum(redundancy);
		nulls[1] = false;
	}
	if (has_crr && crr != vault->cross_region_restore)
	{
		if (!crr)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cross-region restore of vault \"%s\" is on and cannot be turned off", vault->name)));
		if (strcmp(redundancy ? redundancy : vault->redundancy, "geo") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("vault \"%s\" is not geo-redundant: cross-region restore needs a secondary copy",
							vault->name),
					 errhint("Cross-region restore is for geo vaults: vault_configure(vault, redundancy => 'geo') before the first item.")));
		values[2] = BoolGetDatum(true);
		nulls[2] = false;
	}
	if (nulls[1] && nulls[2])
		return;

	values[0] = Int64GetDatum(vault->vault_id);
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.vaults SET redundancy = coalesce($2, redundancy), "
					 "cross_region_restore = coalesce($3, cross_region_restore) WHERE vault_id = $1",
					 3, types, values, nulls);
	vault_as_caller(call);
	if (!nulls[1])
	{
		audit_record(call, vault, NULL, "configure", psprintf("redundancy %s -> %s", before, redundancy));
		vault->redundancy = pstrdup(redundancy);
	}
	if (!nulls[2])
	{
		audit_record(call, vault, NULL, "configure", "cross_region_restore off -> on");
		vault->cross_region_restore = true;
	}
}
