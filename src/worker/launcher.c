/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher: one background worker for the cluster that keeps one
 *	  scheduler (scheduler.c) running in every database with the extension.
 *
 * Owns: the shared state of the workers (one slot per database: its
 * scheduler's pid, whether the extension is absent there, whether the
 * database is being dropped; the count of scheduled backups running), the
 * launcher's loop, the wake-up that CREATE EXTENSION sends, and stopping a
 * database's scheduler before DROP DATABASE (which a connected worker would
 * otherwise block).  Runs no jobs itself.
 *-------------------------------------------------------------------------
 */
#include "worker/worker.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <signal.h>

PG_FUNCTION_INFO_V1(vault_scheduler_wake);

#define ABSENT_RECHECK_SECS 600 /* databases without the extension: look again */

static VaultShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

/* launcher-local: the handles of the schedulers it started, by slot */
static BackgroundWorkerHandle *handles[VAULT_MAX_DATABASES];

static Size
shared_size(void)
{
	return sizeof(VaultShared);
}

static void
vault_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
}

static void
vault_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("vault workers", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		SpinLockInit(&shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

VaultShared *
vault_shared(void)
{
	return shared;
}

/* the slot of a database, created if asked; NULL if none (or no room) */
DbSlot *
vault_db_slot(Oid dboid, bool create)
{
	int			i;
	DbSlot	   *free_slot = NULL;

	for (i = 0; i < VAULT_MAX_DATABASES; i++)
	{
		if (shared->dbs[i].dboid == dboid)
			return &shared->dbs[i];
		if (shared->dbs[i].dboid == InvalidOid && free_slot == NULL)
			free_slot = &shared->dbs[i];
	}
	if (create && free_slot)
	{
		memset(free_slot, 0, sizeof(DbSlot));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}

static void
wake_launcher(void)
{
	if (shared->launcher_latch)
		SetLatch(shared->launcher_latch);
}

static bool wake_at_commit = false;	/* CREATE EXTENSION in this transaction */
static bool wake_at_abort = false;	/* DROP EXTENSION stopped the scheduler */
static bool withdraw_at_commit = false; /* DROP EXTENSION: off the cluster board */
static bool callback_registered = false;

/*
 * At commit of CREATE EXTENSION (only then is the extension there to find),
 * or at abort of a DROP EXTENSION that stopped the scheduler, wake the
 * launcher to start this database's scheduler.
 */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	DbSlot	   *slot;
	bool		wake;

	if (event == XACT_EVENT_COMMIT)
	{
		wake = wake_at_commit;
		if (withdraw_at_commit)
			cluster_withdraw();
	}
	else if (event == XACT_EVENT_ABORT)
		wake = wake_at_abort;
	else
		return;
	wake_at_commit = wake_at_abort = withdraw_at_commit = false;
	if (!wake)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = vault_db_slot(MyDatabaseId, true);
	if (slot)
	{
		slot->absent = false;
		slot->wake = true;
	}
	SpinLockRelease(&shared->mutex);
	wake_launcher();
}

/*
 * vault_internal.scheduler_wake(): called by CREATE EXTENSION so the
 * launcher starts this database's scheduler when the transaction commits.
 * A no-op when the library was not preloaded (no workers then).
 */
Datum
vault_scheduler_wake(PG_FUNCTION_ARGS)
{
	if (shared == NULL)
		PG_RETURN_BOOL(false);
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_BOOL(true);
}

/*
 * DROP DATABASE waits for no one, and DROP EXTENSION would deadlock with a
 * backup in progress: stop that database's scheduler first, and keep the
 * launcher from starting it again.
 */
static void
stop_scheduler_of(Oid dboid)
{
	DbSlot	   *slot;
	pid_t		pid = 0;
	int			i;

	if (!OidIsValid(dboid) || shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	slot = vault_db_slot(dboid, false);
	if (slot)
	{
		slot->absent = true;
		slot->absent_since = GetCurrentTimestamp();
		pid = slot->pid;
	}
	SpinLockRelease(&shared->mutex);
	if (pid == 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 1000; i++)	/* up to 10 s */
	{
		bool		gone;

		SpinLockAcquire(&shared->mutex);
		gone = slot->pid != pid;
		SpinLockRelease(&shared->mutex);
		if (gone)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000);
	}
}

static void
vault_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, DropdbStmt))
		stop_scheduler_of(get_database_oid(((DropdbStmt *) stmt)->dbname, true));
	else if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) stmt)->objects)
			if (strcmp(strVal(lfirst(lc)), "vault") == 0 && shared != NULL)
			{
				stop_scheduler_of(MyDatabaseId);
				if (!callback_registered)
				{
					RegisterXactCallback(wake_xact_callback, NULL);
					callback_registered = true;
				}
				wake_at_abort = true;
				withdraw_at_commit = true;
			}
	}
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* ---- the launcher ---- */

static void
start_scheduler(int slotno, Oid dboid)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vault");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vault_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vault scheduler for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "vault scheduler");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handles[slotno]))
	{
		handles[slotno] = NULL;
		ereport(LOG,
				(errmsg("vault launcher could not start a scheduler for database %u", dboid),
				 errhint("Raise max_worker_processes.")));
	}
}

/* connectable databases, from the shared catalog */
static List *
list_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext outer = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(outer);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return dbs;
}

/*
 * One pass: note schedulers that stopped, then make sure every database
 * that should have one does (all of them on a rescan, else those woken).
 */
static void
launcher_pass(bool rescan)
{
	List	   *dbs = rescan ? list_databases() : NIL;
	ListCell   *lc;
	int			i;
	TimestampTz now = GetCurrentTimestamp();

	for (i = 0; i < VAULT_MAX_DATABASES; i++)
	{
		pid_t		pid;

		if (handles[i] && GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
		{
			pfree(handles[i]);
			handles[i] = NULL;
		}
	}
	SpinLockAcquire(&shared->mutex);
	foreach(lc, dbs)
		(void) vault_db_slot(lfirst_oid(lc), true);
	SpinLockRelease(&shared->mutex);

	for (i = 0; i < VAULT_MAX_DATABASES; i++)
	{
		DbSlot	   *slot = &shared->dbs[i];
		bool		start;
		Oid			dboid;

		SpinLockAcquire(&shared->mutex);
		dboid = slot->dboid;
		start = dboid != InvalidOid && handles[i] == NULL &&
			(slot->wake || (rescan && list_member_oid(dbs, dboid) &&
							(!slot->absent ||
							 TimestampDifferenceExceeds(slot->absent_since, now,
														ABSENT_RECHECK_SECS * 1000))));
		if (rescan && dboid != InvalidOid && !list_member_oid(dbs, dboid) && handles[i] == NULL)
			slot->dboid = InvalidOid;	/* the database is gone */
		if (start)
			slot->wake = false;
		SpinLockRelease(&shared->mutex);
		if (start)
			start_scheduler(i, dboid);
	}
}

static void
launcher_exit(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = NULL;
	SpinLockRelease(&shared->mutex);
}

void
vault_launcher_main(Datum main_arg)
{
	TimestampTz last_scan = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("vault launcher");

	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	shared->running_backups = 0;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(launcher_exit, 0);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		bool		rescan = last_scan == 0 ||
			TimestampDifferenceExceeds(last_scan, now, Max(vault_naptime, 60) * 1000);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (vault_workers_enabled)
		{
			launcher_pass(rescan);
			if (rescan)
				last_scan = now;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10 * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* _PG_init's part: shared memory, the hook, and the launcher itself */
void
launcher_init(void)
{
	BackgroundWorker worker;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = vault_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = vault_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = vault_process_utility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vault");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vault_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vault launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "vault launcher");
	RegisterBackgroundWorker(&worker);
}
