/*-------------------------------------------------------------------------
 * health.c
 *	  The health of each item: how its backups have been ending.
 *
 * Owns the calls into vault_internal.item_health (health_record: a
 * backup's success or failure, with the SQLSTATE that tells a user error
 * from a vault-side one).  The view vault_health reads it; failures of
 * on-demand backups, which roll back with their callers, come through
 * failures.c.  Must not decide when a backup has ended: its runner does.
 *-------------------------------------------------------------------------
 */
#include "monitor/monitor.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* A backup of item_id ended at 'at': a success (error NULL) or a failure. */
void
health_record(VaultCall *call, int64 item_id, TimestampTz at, const char *error, int sqlerrcode)
{
	Oid			types[4] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		nulls[4] = {false, false, error == NULL, error == NULL};

	if (call->catalog < VAULT_CATALOG_1_1 || item_id <= 0)
		return;
	values[0] = Int64GetDatum(item_id);
	values[1] = TimestampTzGetDatum(at);
	values[2] = error ? CStringGetTextDatum(error) : (Datum) 0;
	values[3] = error ? CStringGetTextDatum(unpack_sql_state(sqlerrcode)) : (Datum) 0;
	vault_as_owner(call);
	(void) spi_int64("SELECT 0 FROM vault_internal.health_record($1, $2, $3, $4)", 4, types, values, nulls);
	vault_as_caller(call);
}
