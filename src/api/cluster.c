/*-------------------------------------------------------------------------
 * cluster.c
 *	  vault_cluster_status: every database's vaults at a glance.
 *
 * Owns the scheduler's step that counts this database (vault_internal.
 * cluster_counts) and publishes it on the board (monitor/cluster.c), and
 * the rows of the view: this database counted live, the others as their
 * schedulers last published them.  Counts only, so every role may read
 * them; names stay behind each database's own views and their levels.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_cluster_status_rows);

#define COUNTS 7

/* the counts of a slot in the order of the view's columns */
static void
count_fields(ClusterSlot *s, int64 *fields[COUNTS])
{
	fields[0] = &s->vaults;
	fields[1] = &s->items;
	fields[2] = &s->healthy;
	fields[3] = &s->degraded;
	fields[4] = &s->unhealthy;
	fields[5] = &s->active_alerts;
	fields[6] = &s->running_jobs;
}

/* This database's counts, as the extension owner. */
static bool
count_here(VaultCall *call, ClusterSlot *out)
{
	bool		isnull;
	int64	   *fields[COUNTS];
	int			i;

	memset(out, 0, sizeof(*out));
	count_fields(out, fields);
	if (call->catalog < VAULT_CATALOG_1_1)
		return false;
	vault_as_owner(call);
	if (SPI_execute("SELECT vaults, items, healthy, degraded, unhealthy, active_alerts, running_jobs, "
					"  last_job_end FROM vault_internal.cluster_counts()", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "vault_internal.cluster_counts() returned no row");
	for (i = 0; i < COUNTS; i++)
	{
		int64		v = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  i + 1, &isnull));

		*fields[i] = isnull ? 0 : v;
	}
	out->last_job_end = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, COUNTS + 1,
														  &isnull));
	if (isnull)
		out->last_job_end = 0;
	vault_as_caller(call);
	return true;
}

/* The scheduler's round: this database's counts onto the board. */
void
cluster_round(TimestampTz now)
{
	VaultCall	call;
	ClusterSlot counts;

	vault_call_begin(&call);
	if (count_here(&call, &counts))
		cluster_publish(&counts);
	vault_call_end(&call);
}

static void
put_row(ReturnSetInfo *rsinfo, ClusterSlot *s)
{
	Datum		values[10];
	bool		nulls[10] = {0};
	char	   *db = get_database_name(s->dbid);
	int64	   *fields[COUNTS];
	int			i;

	if (db == NULL)
		return;					/* dropped since it last published */
	count_fields(s, fields);
	values[0] = CStringGetTextDatum(db);
	for (i = 0; i < COUNTS; i++)
		values[1 + i] = Int64GetDatum(*fields[i]);
	values[8] = TimestampTzGetDatum(s->last_job_end);
	nulls[8] = s->last_job_end == 0;
	values[9] = TimestampTzGetDatum(s->published_at);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
vault_cluster_status_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ClusterSlot *slots;
	ClusterSlot here;
	VaultCall	call;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	vault_call_begin(&call);
	if (count_here(&call, &here))
	{
		here.dbid = MyDatabaseId;
		here.published_at = GetCurrentTimestamp();
		put_row(rsinfo, &here);
	}
	vault_call_end(&call);
	n = cluster_snapshot(&slots);
	for (i = 0; i < n; i++)
		if (slots[i].dbid != MyDatabaseId)
			put_row(rsinfo, &slots[i]);
	return (Datum) 0;
}
