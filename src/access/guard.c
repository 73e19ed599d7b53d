/*-------------------------------------------------------------------------
 * guard.c
 *	  Multi-user authorization: critical operations on a guarded vault need
 *	  a second person's approval.
 *
 * Owns: the check every critical operation makes (guard_require): on a
 * vault with a guard role, the caller must hold a request for exactly this
 * operation on exactly this vault, approved by a member of the guard role
 * other than the caller, still valid and not used; the call uses it (in its
 * own transaction: if the operation fails, the approval stays unused).
 * Without one the operation is refused (42501) whoever calls, a superuser
 * included, and the refusal goes to the server log, since the caller's
 * transaction, and any audit row in it, rolls back.  The requests table's
 * rows are written by api/requests.c; this file only uses them.
 *-------------------------------------------------------------------------
 */
#include "access/access.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"

static const char *const critical_operations[] = {
	"soft_delete_off", "soft_delete_days", "immutability_off", "guard_change",
	"delete_data", "reduce_retention", "legal_hold_release", "encryption_key", NULL
};

/* Whether 'op' names a critical operation (vault_request's 'operation'). */
bool
guard_is_operation(const char *op)
{
	int			i;

	for (i = 0; critical_operations[i]; i++)
		if (strcmp(critical_operations[i], op) == 0)
			return true;
	return false;
}

/*
 * The caller is about to perform critical operation 'op' ('action' says it
 * in words) on the vault: if it has a guard, use an approval or refuse.
 * Returns the request used, or 0 when the vault has no guard.
 */
int64
guard_require(VaultCall *call, VaultInfo *vault, const char *op, const char *action)
{
	Oid			types[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	int64		request;
	char	   *caller = GetUserNameFromId(call->caller, false);
	char	   *guard;

	Assert(guard_is_operation(op));
	if (!OidIsValid(vault->guard) || call->catalog < VAULT_CATALOG_1_1)
		return 0;
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(op);
	values[2] = ObjectIdGetDatum(call->caller);
	vault_as_owner(call);
	request = spi_int64("UPDATE vault_internal.requests SET used_at = now() "
						"WHERE request_id = (SELECT r.request_id FROM vault_internal.requests r "
						"  WHERE r.vault_id = $1 AND r.operation = $2 AND r.requested_by = $3 "
						"    AND r.approved_by IS NOT NULL AND r.valid_until > now() "
						"    AND r.used_at IS NULL "
						"  ORDER BY r.approved_at LIMIT 1 FOR UPDATE) "
						"RETURNING request_id", 3, types, values, NULL);
	vault_as_caller(call);
	if (request > 0)
		return request;

	guard = GetUserNameFromId(vault->guard, true);
	ereport(LOG,
			(errmsg("vault: refused critical operation %s on vault \"%s\" by role \"%s\": no approved request",
					op, vault->name, caller)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for vault \"%s\": %s needs an approved request",
					vault->name, action),
			 errdetail("The vault is guarded by role \"%s\": critical operation %s needs a request of role \"%s\" "
					   "approved by another member of the guard role, used once while it is valid.",
					   guard ? guard : "?", op, caller),
			 errhint("Ask with vault_request('%s', '%s', reason) and have a member of \"%s\" approve it with vault_approve(request).",
					 vault->name, op, guard ? guard : "?")));
	return 0;					/* keep compiler quiet */
}
