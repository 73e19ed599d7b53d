/*-------------------------------------------------------------------------
 * vault.c
 *	  Module entry: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * Owns only the settings and the set-up of shared memory (key_status.c,
 * monitor/) and of the workers (launcher.c);
 * every capability lives in its own file.
 *-------------------------------------------------------------------------
 */
#include "vault.h"
#include "monitor/monitor.h"
#include "store/store.h"
#include "worker/worker.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "duration.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

char	   *vault_platform_key_file = NULL;
char	   *vault_key_command = NULL;
char	   *vault_alert_command = NULL;
bool		vault_workers_enabled = true;
bool		vault_track_progress = true;
int			vault_naptime = 60;
int			vault_max_concurrent_backups = 2;
int			vault_max_parallel_workers = 2;
int			vault_parallel_range_size = 2048;
int			vault_debug_parallel_fail = -1;
bool		vault_parallel_leader_participation = true;
#define DAY_SECS	INT64CONST(86400)

char	   *vault_job_history = NULL;
char	   *vault_report_history = NULL;
int64		vault_job_history_secs = 30 * DAY_SECS;
int64		vault_report_history_secs = 400 * DAY_SECS;
char	   *vault_advisor_interval = NULL;
int64		vault_advisor_interval_secs = 3600;

/* A length of time written for people ("30 days") of at least min_secs. */
static bool
check_duration(char **newval, void **extra, int64 min_secs, const char *too_short)
{
	int64_t		secs;
	int64	   *keep;

	if (!duration_parse(*newval, &secs))
	{
		GUC_check_errdetail("\"%s\" is not a length of time.", *newval);
		GUC_check_errhint("Write it as for example '30 days', '1 year' or '12 weeks'.");
		return false;
	}
	if (secs < min_secs)
	{
		GUC_check_errdetail("%s", too_short);
		return false;
	}
	keep = malloc(sizeof(int64));	/* guc.c frees a check hook's extra */
	if (keep == NULL)
		return false;
	*keep = secs;
	*extra = keep;
	return true;
}

/* vault.job_history, vault.report_history: at least a day */
static bool
check_history(char **newval, void **extra, GucSource source)
{
	return check_duration(newval, extra, DAY_SECS, "History is kept at least one day.");
}

/* vault.advisor_interval: at least a second */
static bool
check_advisor_interval(char **newval, void **extra, GucSource source)
{
	return check_duration(newval, extra, 1, "The advisor refreshes at most every second.");
}

static void
assign_advisor_interval(const char *newval, void *extra)
{
	vault_advisor_interval_secs = *(int64 *) extra;
}

static void
assign_job_history(const char *newval, void *extra)
{
	vault_job_history_secs = *(int64 *) extra;
}

static void
assign_report_history(const char *newval, void *extra)
{
	vault_report_history_secs = *(int64 *) extra;
}

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("vault.platform_key_file",
							   "Path of the platform key that wraps every vault's keys.",
							   "Relative paths are relative to the data directory. "
							   "The file is created with mode 0600 on first use.",
							   &vault_platform_key_file,
							   "vault_platform.key",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("vault.key_command",
							   "Command that prints a customer key's armored OpenPGP secret key.",
							   "%k is replaced by the key's name, %% by %. Run once per operation "
							   "on a vault with a customer key; a failure or no output fails it.",
							   &vault_key_command,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("vault.alert_command",
							   "Command each new alert is handed to, as JSON on its standard input.",
							   "Run by the scheduler worker once per alert; a failure is retried "
							   "with back-off, a success is never repeated.",
							   &vault_alert_command,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("vault.scheduler",
							 "Runs scheduled backups and retention in background workers.",
							 "Off: the workers idle; vault_run_due and vault_apply_retention "
							 "still work when called.",
							 &vault_workers_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("vault.track_progress",
							 "Shows this session's backups, restores, verifies, exports and purges "
							 "in vault_progress.",
							 "Like track_activities: off hides them (and spares the updates).",
							 &vault_track_progress,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("vault.naptime",
							"How long each database's scheduler sleeps between rounds.",
							NULL,
							&vault_naptime,
							60, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("vault.max_concurrent_backups",
							"Scheduled backups that may run at once, across all databases.",
							NULL,
							&vault_max_concurrent_backups,
							2, 1, 64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("vault.max_parallel_workers",
							"Workers a backup may read its tables with, besides its own backend.",
							"0 backs up in the calling backend alone.  Bounded by "
							"max_worker_processes; a call's parallel argument may ask for fewer.",
							&vault_max_parallel_workers,
							2, 0, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("vault.parallel_range_size",
							"How much of a table one parallel worker reads at a time.",
							"A range's end is also a chunk boundary, so a change moves the "
							"boundaries of tables larger than one range (their next backup "
							"stores the chunks at the ends of each range anew).",
							&vault_parallel_range_size,
							2048, 1, INT_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_BLOCKS,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("vault.parallel_leader_participation",
							 "Whether the calling backend of a parallel backup also reads tables' ranges.",
							 "While its workers have sent nothing for it to store, it reads, cuts "
							 "and seals the next range of a table the workers seal itself, as "
							 "parallel query's leader takes part in its plan.",
							 &vault_parallel_leader_participation,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("vault.debug_parallel_fail",
							"For tests: the parallel worker (or calling backend) that reads this range of a backup, or the worker that forms this row of a restore, fails.",
							NULL,
							&vault_debug_parallel_fail,
							-1, -1, INT_MAX,
							PGC_SUSET,
							GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	DefineCustomStringVariable("vault.job_history",
							   "How long finished jobs and resolved alerts are kept.",
							   "The daily reports keep their figures after they go.",
							   &vault_job_history,
							   "30 days",
							   PGC_SIGHUP,
							   0,
							   check_history, assign_job_history, NULL);
	DefineCustomStringVariable("vault.report_history",
							   "How long the rows of vault_report_daily are kept.",
							   NULL,
							   &vault_report_history,
							   "400 days",
							   PGC_SIGHUP,
							   0,
							   check_history, assign_report_history, NULL);
	DefineCustomStringVariable("vault.advisor_interval",
							   "How often the scheduler refreshes the advisor's recommendations.",
							   NULL,
							   &vault_advisor_interval,
							   "1 hour",
							   PGC_SIGHUP,
							   0,
							   check_advisor_interval, assign_advisor_interval, NULL);
	MarkGUCPrefixReserved("vault");

	/*
	 * The workers, the keys' status and the progress board exist only when
	 * the library is preloaded.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		key_status_shmem_init();
		progress_shmem_init();
		failures_shmem_init();
		cluster_shmem_init();
		launcher_init();
	}
}
