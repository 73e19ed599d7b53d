/*-------------------------------------------------------------------------
 * jobs.c
 *	  The job records: one row in vault_internal.jobs per backup, restore,
 *	  retention run and expiry.
 *
 * Owns: opening a job (in-progress, with the backend's pid), closing it as
 * completed with its figures or as failed with its error, recording a job
 * that ran entirely inside the caller's transaction, and marking jobs whose
 * backend is gone (a crash, a kill) as failed.  Writes only the jobs table,
 * always as the extension owner; must not decide what runs (periodic.c).
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * The five outcome columns (recovery_point, rows, logical_bytes, new_bytes,
 * freed_bytes) as parameters; all NULL without an outcome.
 */
static void
outcome_params(const JobOutcome *out, Datum *values, bool *nulls)
{
	values[0] = Int64GetDatum(out ? out->recovery_point : 0);
	nulls[0] = out == NULL || out->recovery_point <= 0;
	values[1] = Int64GetDatum(out ? out->rows : 0);
	values[2] = Int64GetDatum(out ? out->logical_bytes : 0);
	values[3] = Int64GetDatum(out ? out->new_bytes : 0);
	nulls[1] = nulls[2] = nulls[3] = out == NULL;
	values[4] = Int64GetDatum(out ? out->freed_bytes : 0);
	nulls[4] = out == NULL || out->freed_bytes < 0;
}

/*
 * A new job row: in progress (no outcome yet), or recorded with its
 * outcome straight away.  Runs in the current transaction.
 */
static int64
job_insert(VaultCall *call, const JobInfo *job, const char *state, const JobOutcome *out)
{
	Oid			types[15] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		OIDOID, INT4OID, TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[15];
	bool		nulls[15] = {0};
	int64		job_id;

	values[0] = Int64GetDatum(job->vault_id);
	nulls[0] = job->vault_id <= 0;
	values[1] = text_or_null(job->vault_name, &nulls[1]);
	values[2] = Int64GetDatum(job->item_id);
	nulls[2] = job->item_id <= 0;
	values[3] = text_or_null(job->item_name, &nulls[3]);
	values[4] = CStringGetTextDatum(job->operation);
	values[5] = CStringGetTextDatum(job->trigger);
	values[6] = CStringGetTextDatum(state);
	values[7] = ObjectIdGetDatum(job->run_as);
	values[8] = Int32GetDatum(MyProcPid);
	nulls[8] = out != NULL;		/* only a running job names its backend */
	values[9] = TimestampTzGetDatum(job->started_at);
	outcome_params(out, &values[10], &nulls[10]);
	vault_as_owner(call);
	job_id = spi_int64("INSERT INTO vault_internal.jobs (vault_id, vault_name, item_id, item_name, "
					   "  operation, trigger, state, run_as, pid, started_at, recovery_point, "
					   "  rows, logical_bytes, new_bytes, ended_at, freed_bytes) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
					   "  CASE WHEN $7 = 'in-progress' THEN NULL ELSE pg_catalog.clock_timestamp() END, "
					   "  $15) RETURNING job_id",
					   15, types, values, nulls);
	vault_as_caller(call);
	return job_id;
}

int64
job_begin(VaultCall *call, const JobInfo *job)
{
	return job_insert(call, job, "in-progress", NULL);
}

/* A job that ran whole in the current transaction: recorded as completed. */
int64
job_record(VaultCall *call, const JobInfo *job, const JobOutcome *out)
{
	return job_insert(call, job, "completed", out);
}

/*
 * Close an in-progress job: completed with its figures, or failed with
 * error and its SQLSTATE (cancelled when the error starts with
 * JOB_CANCELLED_PREFIX).  The SQLSTATE is kept from 1.1 on.
 */
void
job_end(VaultCall *call, int64 job_id, const JobOutcome *out, const char *error, int sqlerrcode)
{
	Oid			types[8] = {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[8];
	bool		nulls[8] = {0};

	values[0] = Int64GetDatum(job_id);
	values[1] = text_or_null(error, &nulls[1]);
	outcome_params(out, &values[2], &nulls[2]);
	values[7] = text_or_null(error ? unpack_sql_state(sqlerrcode) : NULL, &nulls[7]);
	vault_as_owner(call);
	(void) spi_int64(call->catalog >= VAULT_CATALOG_1_1 ?
					 "UPDATE vault_internal.jobs SET "
					 "  state = CASE WHEN $2 IS NULL THEN 'completed' "
					 "    WHEN starts_with($2, '" JOB_CANCELLED_PREFIX "') THEN 'cancelled' ELSE 'failed' END, "
					 "  error = $2, recovery_point = $3, rows = $4, logical_bytes = $5, "
					 "  new_bytes = $6, freed_bytes = $7, pid = NULL, sqlstate = $8, "
					 "  ended_at = pg_catalog.clock_timestamp() "
					 "WHERE job_id = $1" :
					 "UPDATE vault_internal.jobs SET "
					 "  state = CASE WHEN $2 IS NULL THEN 'completed' "
					 "    WHEN starts_with($2, '" JOB_CANCELLED_PREFIX "') THEN 'cancelled' ELSE 'failed' END, "
					 "  error = $2, recovery_point = $3, rows = $4, logical_bytes = $5, "
					 "  new_bytes = $6, freed_bytes = $7, pid = NULL, "
					 "  ended_at = pg_catalog.clock_timestamp() "
					 "WHERE job_id = $1",
					 8, types, values, nulls);
	vault_as_caller(call);
}

/*
 * Jobs left in progress by a backend that is gone (the server crashed or
 * restarted, or the backend was killed) are failed: "interrupted".
 * Returns how many.
 */
int64
jobs_mark_interrupted(VaultCall *call)
{
	int64		n;

	vault_as_owner(call);
	n = spi_int64("WITH f AS (UPDATE vault_internal.jobs SET state = 'failed', "
				  "  ended_at = pg_catalog.clock_timestamp(), pid = NULL, "
				  "  error = 'interrupted: the backend running the job ended before it finished "
				  "(server crash, restart or a killed process)' "
				  "WHERE state = 'in-progress' AND NOT EXISTS "
				  "  (SELECT 1 FROM pg_catalog.pg_stat_activity a "
				  "   WHERE a.pid = jobs.pid AND a.backend_start <= jobs.started_at) RETURNING 1) "
				  "SELECT count(*) FROM f",
				  0, NULL, NULL, NULL);
	vault_as_caller(call);
	return n;
}
