/*-------------------------------------------------------------------------
 * alerts.c
 *	  The SQL side of alerts: vault_alert_ack, and the job_alerts setting.
 *
 * Owns who may acknowledge an alert (operator on its vault; a global
 * operator for an alert of a vault that is gone) and the per-vault switch
 * for job alerts.  Raising and resolving is monitor/alerts.c's; which
 * events raise which alert is decided where they happen.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_alert_ack);

/* vault_alert_ack(alert): an operator has seen it; it stays until resolved */
Datum
vault_alert_ack(PG_FUNCTION_ARGS)
{
	VaultCall	call;
	int64		alert;
	int64		vault_id;
	char	   *state = NULL;
	Oid			types[2] = {INT8OID, NAMEOID};
	Datum		values[2];
	bool		isnull = true;

	vault_arg_not_null(fcinfo, 0, "alert");
	alert = PG_GETARG_INT64(0);
	vault_call_begin(&call);
	values[0] = Int64GetDatum(alert);
	vault_as_owner(&call);
	if (SPI_execute_with_args("SELECT a.state, v.vault_id FROM vault_internal.alerts a "
							  "LEFT JOIN vault_internal.vaults v USING (vault_id) WHERE a.alert_id = $1 FOR UPDATE OF a",
							  1, types, values, NULL, false, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		vault_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	vault_as_caller(&call);
	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("alert %lld does not exist", (long long) alert),
				 errhint("The alerts you can see are listed in the view vault_alerts.")));
	if (isnull)
		vault_require_global(&call, VAULT_OPERATOR, "acknowledging an alert");
	else
		vault_require(&call, vault_lookup_by_id(&call, vault_id), VAULT_OPERATOR, "acknowledging an alert");
	if (strcmp(state, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("alert %lld is already %s", (long long) alert, state)));
	values[1] = CStringGetDatum(GetUserNameFromId(call.caller, false));
	values[1] = DirectFunctionCall1(namein, values[1]);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.alerts SET state = 'acknowledged', acknowledged_by = $2, "
					 "acknowledged_at = pg_catalog.now() WHERE alert_id = $1", 2, types, values, NULL);
	vault_as_caller(&call);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * The scheduler's round (and the explicit-clock functions): failures that
 * rolled back with their callers' transactions, recorded now (a failed
 * job, the item's health, the alert).
 */
void
failures_round(TimestampTz now)
{
	VaultCall	call;

	vault_call_begin(&call);
	failures_flush(&call);
	vault_call_end(&call);
}

/*
 * vault.alert_command, step one: the next alert to hand over (raised in the
 * last day, never handed over, not in flight, and if it failed before, due
 * for its retry), claimed in this transaction: its caller commits the claim
 * before it runs the command, so that a crash during the run leaves the
 * alert claimed and it is never handed over twice.  0: none; *json gets it.
 */
int64
alerts_claim_next(TimestampTz now, char **json)
{
	VaultCall	call;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	int64		id = 0;
	MemoryContext cxt = CurrentMemoryContext;

	vault_call_begin(&call);
	if (call.catalog < VAULT_CATALOG_1_1)
	{
		vault_call_end(&call);
		return 0;
	}
	values[0] = TimestampTzGetDatum(now);
	vault_as_owner(&call);
	if (SPI_execute_with_args("WITH next AS (SELECT alert_id FROM vault_internal.alerts "
							  "  WHERE sent_at IS NULL AND raised_at > $1 - interval '1 day' "
							  "    AND send_attempts < " CppAsString2(ALERT_SEND_ATTEMPTS) " "
							  "    AND (send_started_at IS NULL OR (send_error IS NOT NULL AND send_next_at <= $1)) "
							  "  ORDER BY alert_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
							  "UPDATE vault_internal.alerts a SET send_started_at = $1, "
							  "  send_attempts = send_attempts + 1, send_error = NULL "
							  "FROM next WHERE a.alert_id = next.alert_id "
							  "RETURNING a.alert_id, vault_internal.alert_json(a.alert_id)",
							  1, types, values, NULL, false, 1) == SPI_OK_UPDATE_RETURNING &&
		SPI_processed == 1)
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*json = MemoryContextStrdup(cxt,
									SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	vault_as_caller(&call);
	vault_call_end(&call);
	return id;
}

/*
 * Step two: the command's outcome.  error NULL: handed over.  Otherwise it
 * is tried again after 5 s, 10 s, 20 s, ... (at most an hour), up to
 * ALERT_SEND_ATTEMPTS times in all.
 */
void
alerts_sent(int64 alert, const char *error, TimestampTz now)
{
	VaultCall	call;
	Oid			types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		nulls[3] = {false, error == NULL, false};

	values[0] = Int64GetDatum(alert);
	values[1] = error ? CStringGetTextDatum(error) : (Datum) 0;
	values[2] = TimestampTzGetDatum(now);
	vault_call_begin(&call);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.alerts SET "
					 "  sent_at = CASE WHEN $2 IS NULL THEN $3 END, send_error = $2, "
					 "  send_next_at = CASE WHEN $2 IS NOT NULL THEN $3 + least(interval '5 seconds' "
					 "    * power(2, send_attempts - 1), interval '1 hour') END "
					 "WHERE alert_id = $1", 3, types, values, nulls);
	vault_as_caller(&call);
	vault_call_end(&call);
}

/* vault_configure(vault, job_alerts => ...) on a vault its caller locked */
void
alerts_configure(VaultCall *call, VaultInfo *vault, bool job_alerts)
{
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2];

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = BoolGetDatum(job_alerts);
	vault_as_owner(call);
	if (spi_int64("WITH u AS (UPDATE vault_internal.vaults SET job_alerts = $2 "
				  "  WHERE vault_id = $1 AND job_alerts <> $2 RETURNING 1) SELECT count(*) FROM u",
				  2, types, values, NULL) > 0)
	{
		vault_as_caller(call);
		audit_record(call, vault, NULL, "configure", psprintf("job_alerts %s", job_alerts ? "on" : "off"));
		return;
	}
	vault_as_caller(call);
}
