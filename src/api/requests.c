/*-------------------------------------------------------------------------
 * requests.c
 *	  Multi-user authorization, the SQL side: vault_guard_set, vault_request,
 *	  vault_approve.
 *
 * Owns: naming a vault's guard role (its owner's act; changing or removing
 * it once set is itself a critical operation), writing a request for a
 * critical operation (operator level), and its approval by a member of the
 * guard role who is not the requester (no level on the vault needed;
 * membership is explicit: a superuser who is not a member does not approve),
 * valid for at most 24 hours.  Using an approval is access/guard.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_guard_set);
PG_FUNCTION_INFO_V1(vault_request);
PG_FUNCTION_INFO_V1(vault_approve);

static char *
role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("(role %u)", role);
}

/* vault_guard_set(vault, guard regrole): NULL removes the guard */
Datum
vault_guard_set(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	Oid			guard = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	bool		nulls[2] = {false, !OidIsValid(guard)};

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OWNER, "setting the vault's guard");
	vault_refuse_replica(vault, "setting the guard");
	if (guard == vault->guard)
	{
		if (OidIsValid(guard))
			ereport(NOTICE,
					(errmsg("role \"%s\" already guards vault \"%s\": nothing changes", role_name(guard),
							vault->name)));
		else
			ereport(NOTICE,
					(errmsg("vault \"%s\" has no guard: nothing changes", vault->name)));
		vault_call_end(&call);
		PG_RETURN_VOID();
	}
	if (OidIsValid(vault->guard))
		(void) guard_require(&call, vault, "guard_change",
							 OidIsValid(guard) ? "changing the vault's guard" : "removing the vault's guard");
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = ObjectIdGetDatum(guard);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.vaults SET guard = $2 WHERE vault_id = $1", 2, types, values, nulls);
	vault_as_caller(&call);
	if (OidIsValid(vault->guard) && !OidIsValid(guard))
		alert_raise(&call, vault->vault_id, NULL, "guard removed",
					psprintf("the guard role %s of vault %s was removed by %s: critical operations need no approval now",
							 role_name(vault->guard), vault->name, GetUserNameFromId(call.caller, false)),
					GetCurrentTimestamp());
	audit_record(&call, vault, NULL, "guard",
				 !OidIsValid(vault->guard) ? psprintf("guard set to role %s", role_name(guard)) :
				 OidIsValid(guard) ? psprintf("guard changed from role %s to %s", role_name(vault->guard),
											  role_name(guard)) :
				 psprintf("guard role %s removed", role_name(vault->guard)));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* vault_request(vault, operation, reason) -> request id */
Datum
vault_request(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *op = vault_arg_text(fcinfo, 1, "operation");
	char	   *reason = vault_arg_text(fcinfo, 2, "reason");
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[4];
	int64		request;

	if (!guard_is_operation(op))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a critical operation", op),
				 errhint("The critical operations are soft_delete_off, soft_delete_days, immutability_off, "
						 "guard_change, delete_data, reduce_retention, legal_hold_release and encryption_key.")));
	if (reason[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a request needs a reason"),
				 errhint("The guard reads it before approving.")));
	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OPERATOR, "requesting a critical operation");
	vault_refuse_replica(vault, "requesting a critical operation");
	if (!OidIsValid(vault->guard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" has no guard: its critical operations need no approval", vault->name),
				 errhint("Its owner names a guard role with vault_guard_set(vault, role).")));
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(op);
	values[2] = CStringGetTextDatum(reason);
	values[3] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	request = spi_int64("INSERT INTO vault_internal.requests (vault_id, operation, reason, requested_by) "
						"VALUES ($1, $2, $3, $4) RETURNING request_id", 4, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, NULL, "request", psprintf("request %lld for %s: %s", (long long) request, op, reason));
	vault_call_end(&call);
	PG_RETURN_INT64(request);
}

/* vault_approve(request, valid_for): a guard member approves someone else's request */
Datum
vault_approve(PG_FUNCTION_ARGS)
{
	int64		request;
	Interval   *valid_for;
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[3] = {INT8OID, OIDOID, INTERVALOID};
	Datum		values[3];
	int			ret;
	int64		vault_id;
	char	   *op;
	Oid			requester;
	char	   *state;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz until;

	vault_arg_not_null(fcinfo, 0, "request");
	vault_arg_not_null(fcinfo, 1, "valid_for");
	request = PG_GETARG_INT64(0);
	valid_for = PG_GETARG_INTERVAL_P(1);
	until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
													IntervalPGetDatum(valid_for)));
	if (until <= now || until > now + 24 * USECS_PER_HOUR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an approval is valid for more than nothing and at most 24 hours"),
				 errdetail("valid_for is %s.", DatumGetCString(DirectFunctionCall1(interval_out,
																				 IntervalPGetDatum(valid_for))))));

	vault_call_begin(&call);
	values[0] = Int64GetDatum(request);
	vault_as_owner(&call);
	ret = SPI_execute_with_args("SELECT vault_id, operation, requested_by, "
								"  vault_internal.request_state(approved_at, valid_until, used_at, requested_at) "
								"FROM vault_internal.requests WHERE request_id = $1 FOR UPDATE",
								1, types, values, NULL, false, 1);
	vault_as_caller(&call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "request lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("request %lld does not exist", (long long) request),
				 errhint("The requests you may see are listed in the view vault_requests.")));
	{
		bool		isnull;

		vault_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		op = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		requester = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	}
	vault = vault_lookup_by_id(&call, vault_id);
	if (!OidIsValid(vault->guard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" has no guard any more: request %lld needs no approval", vault->name,
						(long long) request)));
	if (!is_member_of_role_nosuper(call.caller, vault->guard))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to approve request %lld of vault \"%s\"", (long long) request, vault->name),
				 errdetail("Approving needs membership in the vault's guard role \"%s\"; role \"%s\" is not a member.",
						   role_name(vault->guard), role_name(call.caller))));
	if (call.caller == requester)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to approve request %lld of vault \"%s\": it is your own", (long long) request,
						vault->name),
				 errdetail("A request is approved by another member of the guard role, whoever asked.")));
	if (strcmp(state, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("request %lld of vault \"%s\" is %s, not pending", (long long) request, vault->name, state),
				 errhint("A request is approved once, within 24 hours of being made.")));
	values[1] = ObjectIdGetDatum(call.caller);
	values[2] = PointerGetDatum(valid_for);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.requests SET approved_by = $2, approved_at = now(), "
					 "valid_until = now() + $3 WHERE request_id = $1", 3, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, NULL, "approve",
				 psprintf("request %lld for %s of role %s approved until %s", (long long) request, op,
						  role_name(requester), timestamptz_to_str(until)));
	vault_call_end(&call);
	PG_RETURN_VOID();
}
