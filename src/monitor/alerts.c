/*-------------------------------------------------------------------------
 * alerts.c
 *	  Alerts: raising, counting and resolving them.
 *
 * Owns the calls into the alert rows (vault_internal.alert_raise and
 * alert_resolve, which also NOTIFY channel vault_alerts).  Must not decide
 * which events are alerts: the entry points that see them do; failures in
 * a rolled-back transaction come through failures.c.
 *-------------------------------------------------------------------------
 */
#include "monitor/monitor.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* Raise an alert of 'kind' now, in this transaction (1.1 catalogs only). */
void
alert_raise(VaultCall *call, int64 vault_id, const char *item, const char *kind, const char *message,
			TimestampTz at)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[5];
	bool		nulls[5] = {false, item == NULL, false, false, false};

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	values[1] = item ? CStringGetTextDatum(item) : (Datum) 0;
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(message);
	values[4] = TimestampTzGetDatum(at);
	vault_as_owner(call);
	(void) spi_int64("SELECT vault_internal.alert_raise($1, $2, $3, $4, $5)", 5, types, values, nulls);
	vault_as_caller(call);
}

/* What ends an open alert of 'kind' on the item: a success, a purge. */
void
alert_resolve(VaultCall *call, int64 vault_id, const char *item, const char *kind, TimestampTz at)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	bool		nulls[4] = {false, item == NULL, false, false};

	if (call->catalog < VAULT_CATALOG_1_1)
		return;
	values[0] = Int64GetDatum(vault_id);
	values[1] = item ? CStringGetTextDatum(item) : (Datum) 0;
	values[2] = CStringGetTextDatum(kind);
	values[3] = TimestampTzGetDatum(at);
	vault_as_owner(call);
	(void) spi_int64("SELECT vault_internal.alert_resolve($1, $2, $3, $4)", 4, types, values, nulls);
	vault_as_caller(call);
}
