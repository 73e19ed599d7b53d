/*-------------------------------------------------------------------------
 * reports.c
 *	  The daily reports: filling vault_report_daily, and trimming history.
 *
 * Owns vault_report_refresh (explicit clock) and the scheduler's step that
 * does the same with the real clock, every 60 rounds and at every change
 * of day.  What a report row holds is vault_internal.report_fill's
 * business (SQL); must not read the storage tables itself.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "utils/timestamp.h"

/* The last refresh of this process (the scheduler's), with the real clock. */
static TimestampTz last_refresh = 0;

static void
report_fill(VaultCall *call, TimestampTz now)
{
	Oid			types[3] = {TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		values[3];

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(vault_job_history_secs);
	values[2] = Int64GetDatum(vault_report_history_secs);
	vault_as_owner(call);
	(void) spi_int64("SELECT 0 FROM vault_internal.report_fill($1, $2 * interval '1 second', "
					 "  $3 * interval '1 second')", 3, types, values, NULL);
	vault_as_caller(call);
}

PG_FUNCTION_INFO_V1(vault_report_refresh);

/* vault_report_refresh(now timestamptz) */
Datum
vault_report_refresh(PG_FUNCTION_ARGS)
{
	TimestampTz now = vault_arg_now(fcinfo);
	VaultCall	call;

	vault_call_begin(&call);
	if (call.catalog < VAULT_CATALOG_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the daily reports need the extension's version 1.1"),
				 errhint("Run ALTER EXTENSION vault UPDATE.")));
	/* it writes every vault's rows and trims every vault's history */
	vault_require_global(&call, VAULT_CONTRIBUTOR, "refreshing the daily reports");
	report_fill(&call, now);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * The scheduler's round: every 60 rounds (an hour at the default naptime),
 * and when the day has changed.
 */
void
reports_round(TimestampTz now)
{
	VaultCall	call;
	struct pg_tm tm_now,
				tm_last;
	fsec_t		fsec;
	int			tz;

	if (last_refresh != 0 && now - last_refresh < (int64) vault_naptime * 60 * USECS_PER_SEC &&
		timestamp2tm(now, &tz, &tm_now, &fsec, NULL, NULL) == 0 &&
		timestamp2tm(last_refresh, &tz, &tm_last, &fsec, NULL, NULL) == 0 &&
		tm_now.tm_mday == tm_last.tm_mday)
		return;
	vault_call_begin(&call);
	if (call.catalog >= VAULT_CATALOG_1_1)
		report_fill(&call, now);
	vault_call_end(&call);
	last_refresh = now;
}
