/*-------------------------------------------------------------------------
 * progress.c
 *	  The SQL function behind the view vault_progress: the running
 *	  backups, restores, verifies and exports of the whole cluster.
 *
 * Owns turning the board (monitor/progress.c) into rows, and who sees
 * which: a row of this database to whoever may see its vault (a level on
 * it, or a global one), rows of other databases (whose grants cannot be
 * read from here) to superusers and members of pg_read_all_stats, as
 * PostgreSQL shows other sessions' activity.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_progress_rows);

static bool
may_see(VaultCall *call, const ProgressRow *r, bool global)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	int64		seen;

	if (r->dbid != MyDatabaseId)
		return has_privs_of_role(call->caller, ROLE_PG_READ_ALL_STATS);
	if (global)
		return true;
	values[0] = Int64GetDatum(r->vault_id);
	values[1] = ObjectIdGetDatum(call->caller);
	vault_as_owner(call);
	seen = spi_int64("SELECT count(*) FROM vault_internal.vaults v WHERE v.vault_id = $1 "
					 "AND (pg_catalog.pg_has_role($2, v.owner, 'USAGE') OR EXISTS ("
					 "  SELECT 1 FROM vault_internal.grants g "
					 "  WHERE g.vault_id = v.vault_id AND pg_catalog.pg_has_role($2, g.role, 'USAGE')))",
					 2, types, values, NULL);
	vault_as_caller(call);
	return seen > 0;
}

Datum
vault_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProgressRow *rows;
	int			n;
	int			i;
	VaultCall	call;
	bool		global;

	InitMaterializedSRF(fcinfo, 0);
	n = progress_snapshot(&rows);
	vault_call_begin(&call);
	global = vault_global_level(call.caller) >= VAULT_READER;
	for (i = 0; i < n; i++)
	{
		ProgressRow *r = &rows[i];
		Datum		values[14];
		bool		nulls[14] = {0};
		char	   *db;

		if (!may_see(&call, r, global))
			continue;
		db = get_database_name(r->dbid);

		values[0] = Int32GetDatum(r->pid);
		values[1] = db ? CStringGetTextDatum(db) : (Datum) 0;
		nulls[1] = db == NULL;
		values[2] = Int64GetDatum(r->vault_id);
		values[3] = CStringGetTextDatum(r->vault);
		values[4] = CStringGetTextDatum(r->item);
		nulls[4] = r->item[0] == '\0';	/* a purge: the vault as a whole */
		values[5] = CStringGetTextDatum(r->operation);
		values[6] = CStringGetTextDatum(r->phase);
		values[7] = Int32GetDatum(r->tables_done);
		values[8] = Int32GetDatum(r->tables_total);
		values[9] = Int64GetDatum(r->bytes_done);
		values[10] = Int64GetDatum(r->bytes_total);
		nulls[10] = r->bytes_total == 0;
		values[11] = Int64GetDatum(r->chunks_new);
		values[12] = Int64GetDatum(r->chunks_reused);
		values[13] = TimestampTzGetDatum(r->started_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	vault_call_end(&call);
	return (Datum) 0;
}
