/*-------------------------------------------------------------------------
 * audit.c
 *	  The audit trail: one row per state-changing call.
 *
 * Owns: writing vault_internal.audit in the caller's transaction (a change
 * and its record commit or roll back together), as the extension owner.
 * Nothing in the extension updates or deletes these rows.  A database whose
 * extension is still at 1.0 has no audit table: nothing is written there.
 * Must not decide what is audited (the entry points do).
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

/* One audit row: vault may be NULL (policies), item and detail too. */
void
audit_record(VaultCall *call, VaultInfo *vault, const char *item, const char *operation,
			 const char *detail)
{
	Oid			types[6] = {OIDOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	bool		nulls[6] = {false, vault == NULL, vault == NULL, item == NULL, false, detail == NULL};

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = ObjectIdGetDatum(call->caller);
	values[1] = vault ? Int64GetDatum(vault->vault_id) : (Datum) 0;
	values[2] = vault ? CStringGetTextDatum(vault->name) : (Datum) 0;
	values[3] = item ? CStringGetTextDatum(item) : (Datum) 0;
	values[4] = CStringGetTextDatum(operation);
	values[5] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	vault_as_owner(call);
	(void) spi_int64("INSERT INTO vault_internal.audit (role, vault_id, vault_name, item, operation, detail) "
					 "VALUES (pg_catalog.pg_get_userbyid($1), $2, $3, $4, $5, $6)", 6, types, values, nulls);
	vault_as_caller(call);
}
