/*-------------------------------------------------------------------------
 * secondary.c
 *	  The SQL functions of a geo vault's secondary: vault_secondary_attach,
 *	  vault_secondary_detach, and the trigger that takes the rows its
 *	  subscription applies.
 *
 * Owns who may call them (a superuser: they make and drop a subscription
 * and a replication slot on another cluster) and the audit of both.  How
 * subscribing works and what a secondary accepts is replica/secondary.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "fmgr.h"

PG_FUNCTION_INFO_V1(vault_secondary_attach);
PG_FUNCTION_INFO_V1(vault_secondary_detach);
PG_FUNCTION_INFO_V1(vault_replica_apply);

static void
require_superuser(VaultCall *call, const char *what)
{
	if (!vault_caller_is_superuser(call))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("It makes or drops a subscription and a replication slot on the primary: superuser only.")));
}

/* vault_secondary_attach(conninfo): subscribe this database to a primary */
Datum
vault_secondary_attach(PG_FUNCTION_ARGS)
{
	char	   *conninfo = vault_arg_text(fcinfo, 0, "conninfo");
	VaultCall	call;

	vault_call_begin(&call);
	require_superuser(&call, "attach a secondary");
	secondary_attach(&call, conninfo);
	/* the conninfo may hold a password: the audit names no more than the act */
	audit_record(&call, NULL, NULL, "secondary attach", NULL);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* vault_secondary_detach(): stop being a secondary, keeping what arrived */
Datum
vault_secondary_detach(PG_FUNCTION_ARGS)
{
	VaultCall	call;

	vault_call_begin(&call);
	require_superuser(&call, "detach a secondary");
	secondary_detach(&call);
	audit_record(&call, NULL, NULL, "secondary detach", NULL);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* the trigger replica_apply (fires only in the subscription's apply worker) */
Datum
vault_replica_apply(PG_FUNCTION_ARGS)
{
	return replica_apply(fcinfo);
}
