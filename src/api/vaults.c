/*-------------------------------------------------------------------------
 * vaults.c
 *	  The SQL functions vault_create / vault_drop.
 *
 * Owns: creating a vault (with its wrapped keys) and dropping an empty one.
 * Lookups are store/catalog.c's, keys store/keys.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(vault_create);
PG_FUNCTION_INFO_V1(vault_drop);

/*
 * vault_create(vault text): a new, empty vault owned by the caller, with its
 * own random data and MAC keys wrapped by the platform key.
 */
Datum
vault_create(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "vault name");
	VaultCall	call;
	Oid			types[3] = {TEXTOID, OIDOID, BYTEAOID};
	Datum		values[3];
	int			ret;

	vault_check_name(name);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "creating a vault");

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	/* a platform key rotation in progress finishes first: wrap under its key */
	if (SPI_execute("LOCK TABLE vault_internal.vaults IN ROW EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock the vaults");
	values[2] = PointerGetDatum(keys_create_wrapped(name,
													spi_int64("SELECT count(*) FROM vault_internal.vaults",
															  0, NULL, NULL, NULL) == 0));
	ret = SPI_execute_with_args("INSERT INTO vault_internal.vaults (name, owner, wrapped_keys) "
								"VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
								3, types, values, NULL, false, 0);
	vault_as_caller(&call);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert vault");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("vault \"%s\" already exists", name)));
	audit_record(&call, vault_lookup(&call, name), NULL, "vault create", NULL);

	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * vault_drop(vault text): refused while the vault holds any item or
 * recovery point.
 */
Datum
vault_drop(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "vault name");
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		items;
	int64		points;
	int64		soft;

	vault_call_begin(&call);
	vault = vault_lookup(&call, name);
	vault_require(&call, vault, VAULT_OWNER, "dropping the vault");
	vault_refuse_replica(vault, "dropping the vault");

	values[0] = Int64GetDatum(vault->vault_id);
	vault_as_owner(&call);
	/* lock the vault row so no backup adds to it while we decide */
	(void) spi_int64("SELECT vault_id FROM vault_internal.vaults WHERE vault_id = $1 FOR UPDATE",
					 1, types, values, NULL);
	items = spi_int64("SELECT count(*) FROM vault_internal.items WHERE vault_id = $1",
					  1, types, values, NULL);
	points = spi_int64("SELECT count(*) FROM vault_internal.points WHERE vault_id = $1",
					   1, types, values, NULL);
	soft = call.catalog >= VAULT_CATALOG_1_1 ?
		spi_int64("SELECT count(*) FROM vault_internal.points WHERE vault_id = $1 AND state = 'soft-deleted'",
				  1, types, values, NULL) : 0;
	if (items > 0 || points > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop vault \"%s\" because it still holds %lld item(s) and %lld recovery point(s)",
						name, (long long) items, (long long) points),
				 soft > 0 ? errdetail("%lld of the points are soft-deleted: they go when purged.", (long long) soft) : 0,
				 errhint("Delete its recovery points and stop protecting its items first.")));
	(void) spi_int64("DELETE FROM vault_internal.chunks WHERE vault_id = $1", 1, types, values, NULL);
	(void) spi_int64("DELETE FROM vault_internal.vaults WHERE vault_id = $1", 1, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, NULL, "vault drop", NULL);

	vault_call_end(&call);
	PG_RETURN_VOID();
}
