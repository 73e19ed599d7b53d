/*-------------------------------------------------------------------------
 * scheduler.c
 *	  The per-database scheduler: a background worker that wakes every
 *	  vault.naptime, runs the scheduled backups that are due and applies
 *	  retention, with the real clock.
 *
 * Owns: the worker's loop and transactions.  Each due backup is three
 * steps: its job is committed as in-progress first (so a crash leaves a
 * trace, marked failed as "interrupted" when the scheduler starts again),
 * then the backup runs in its own transaction as the policy's owner, and a
 * failure is recorded in a fresh transaction after the rollback.  At most
 * vault.max_concurrent_backups scheduled backups run at once in the
 * cluster.  The scheduler exits when its database drops the extension.
 * What is due and how a backup runs is periodic.c's.
 *-------------------------------------------------------------------------
 */
#include "worker/worker.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

static DbSlot *my_slot = NULL;
static bool holds_backup_slot = false;


static void
release_backup_slot(void)
{
	VaultShared *sh = vault_shared();

	if (!holds_backup_slot)
		return;
	SpinLockAcquire(&sh->mutex);
	sh->running_backups--;
	SpinLockRelease(&sh->mutex);
	holds_backup_slot = false;
}

/* wait (up to naptime) for one of the cluster's scheduled-backup slots */
static bool
acquire_backup_slot(void)
{
	VaultShared *sh = vault_shared();
	int			waited;

	for (waited = 0; waited <= vault_naptime; waited++)
	{
		SpinLockAcquire(&sh->mutex);
		if (sh->running_backups < vault_max_concurrent_backups)
		{
			sh->running_backups++;
			holds_backup_slot = true;
		}
		SpinLockRelease(&sh->mutex);
		if (holds_backup_slot)
			return true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

static void
scheduler_exit(int code, Datum arg)
{
	VaultShared *sh = vault_shared();

	release_backup_slot();
	if (my_slot)
	{
		SpinLockAcquire(&sh->mutex);
		if (my_slot->pid == MyProcPid)
			my_slot->pid = 0;
		SpinLockRelease(&sh->mutex);
	}
}

/* the extension is gone from this database: say so, and stop */
static void
exit_if_extension_absent(void)
{
	VaultShared *sh = vault_shared();

	if (OidIsValid(get_extension_oid("vault", true)))
		return;
	SpinLockAcquire(&sh->mutex);
	my_slot->absent = true;
	my_slot->absent_since = GetCurrentTimestamp();
	SpinLockRelease(&sh->mutex);
	cluster_withdraw();
	if (IsTransactionState())
		AbortCurrentTransaction();
	ereport(LOG,
			(errmsg("vault scheduler for database %u stops: the extension is not installed there",
					MyDatabaseId)));
	proc_exit(0);
}

/*
 * Run the backup of a due item whose job is open, in its own transaction;
 * on failure, roll it back and record the failure in a fresh one.
 */
static void
run_one(int64 item_id, int64 job_id, TimestampTz now, MemoryContext round_cxt)
{
	char	   *volatile error = NULL;
	volatile int sqlerrcode = 0;

	PG_TRY();
	{
		VaultCall	call;
		DueItem    *d;
		BackupResult result = {0};

		worker_begin_xact();
		vault_call_begin(&call);
		d = periodic_item(&call, item_id);
		if (d == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the item is no longer protected")));
		pgstat_report_activity(STATE_RUNNING, "vault: scheduled backup");
		periodic_backup(d, now, &result);
		periodic_job_end(&call, d, job_id, now, &result, NULL, 0);
		vault_call_end(&call);
		worker_commit_xact();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(round_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		error = periodic_error_text(edata);
		sqlerrcode = edata->sqlerrcode;
		ereport(LOG,
				(errmsg("vault: scheduled backup (job %lld) failed: %s", (long long) job_id, error)));
		AbortCurrentTransaction();
	}
	PG_END_TRY();

	if (error)
	{
		VaultCall	call;
		DueItem    *d;

		worker_begin_xact();
		vault_call_begin(&call);
		d = periodic_item(&call, item_id);
		if (d)
			periodic_job_end(&call, d, job_id, now, NULL, error, sqlerrcode);
		else
			job_end(&call, job_id, NULL, error, sqlerrcode);
		vault_call_end(&call);
		worker_commit_xact();
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * One piece of the round's periodic work with the real clock, in a
 * transaction of its own (own_xacts: the step makes its own); a failure is
 * reported and the round goes on.
 */
static void
periodic_step(void (*step) (TimestampTz now), bool own_xacts, MemoryContext round_cxt)
{
	PG_TRY();
	{
		if (own_xacts)
			step(GetCurrentTimestamp());
		else
		{
			worker_begin_xact();
			exit_if_extension_absent();
			step(GetCurrentTimestamp());
			worker_commit_xact();
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(round_cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextReset(round_cxt);
}

/*
 * One round: every due backup, one after the other, then retention, purge,
 * the keys' status persisted, failures recorded, the daily reports, and the
 * new alerts handed over.
 */
static void
scheduler_round(MemoryContext round_cxt)
{
	TimestampTz now = GetCurrentTimestamp();
	int			done;

	for (done = 0; done < 1000; done++)
	{
		VaultCall	call;
		List	   *due;
		int64		item_id;
		int64		job_id;

		CHECK_FOR_INTERRUPTS();
		worker_begin_xact();
		exit_if_extension_absent();
		vault_call_begin(&call);
		due = periodic_due_items(&call, now, 1);
		if (due == NIL || !acquire_backup_slot())
		{
			vault_call_end(&call);
			worker_commit_xact();
			break;
		}
		item_id = periodic_item_id(linitial(due));
		job_id = periodic_job_begin(&call, linitial(due));
		vault_call_end(&call);
		worker_commit_xact();

		run_one(item_id, job_id, now, round_cxt);
		release_backup_slot();
		MemoryContextReset(round_cxt);
	}

	/*
	 * Retention, then the purge of soft-deleted data that is due, each in its
	 * own transaction with the real clock, skipping vaults busy with a backup
	 * or restore this round (the next round catches up).
	 */
	periodic_step(expiry_apply_retention, false, round_cxt);
	periodic_step(purge_apply, false, round_cxt);
	periodic_step(key_status_persist, false, round_cxt);
	periodic_step(failures_round, false, round_cxt);
	periodic_step(reports_round, false, round_cxt);
	periodic_step(cluster_round, false, round_cxt);
	periodic_step(advisor_round, false, round_cxt);
	/* last: the new alerts to vault.alert_command, each in its transactions */
	periodic_step(alert_sender_round, true, round_cxt);
}

void
vault_scheduler_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	VaultShared *sh = vault_shared();
	MemoryContext round_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&sh->mutex);
	my_slot = vault_db_slot(dboid, true);
	if (my_slot)
		my_slot->pid = MyProcPid;
	SpinLockRelease(&sh->mutex);
	if (my_slot == NULL)
		proc_exit(0);
	before_shmem_exit(scheduler_exit, 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("vault scheduler");
	round_cxt = AllocSetContextCreate(TopMemoryContext, "vault scheduler round",
									  ALLOCSET_DEFAULT_SIZES);

	/* jobs a crash or restart cut short */
	worker_begin_xact();
	exit_if_extension_absent();
	{
		VaultCall	call;
		int64		n;

		vault_call_begin(&call);
		n = jobs_mark_interrupted(&call);
		vault_call_end(&call);
		if (n > 0)
			ereport(LOG, (errmsg("vault: marked %lld interrupted job(s) as failed", (long long) n)));
	}
	worker_commit_xact();

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (vault_workers_enabled)
			scheduler_round(round_cxt);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 vault_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
