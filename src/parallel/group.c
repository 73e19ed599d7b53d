/*-------------------------------------------------------------------------
 * group.c
 *	  A group of dynamic background workers on one shared memory segment,
 *	  as PostgreSQL's parallel query runs its workers.
 *
 * Owns, on the caller's side: the segment (the caller's snapshot, settings,
 * role and the vault's keys, then whatever the user of the group adds), a
 * data queue and an error queue per worker, starting the workers from
 * max_worker_processes' free slots, raising a worker's error or notice as
 * the caller's own, and stopping the workers and wiping the keys when the
 * segment is let go (at the end, or at an error or cancel of the caller).
 * On a worker's side: attaching, sending errors to the caller, connecting
 * as the caller's session user, joining its lock group and taking its
 * settings, role and snapshot; sending on its data queue.
 *
 * It knows nothing of what the workers do (pipeline.c and scan_worker.c
 * back up, feed.c and open_worker.c restore).
 *-------------------------------------------------------------------------
 */
#include "parallel/group.h"

#include "access/xact.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#define GROUP_KEY_SHARED	1
#define GROUP_KEY_SNAPSHOT	2
#define GROUP_KEY_GUC		3
#define GROUP_KEY_ERRORS	4
#define GROUP_KEY_DATA		5
#define GROUP_KEY_OWN		16	/* the user's parts: 16, 17, ... */

/* what the segment's detach must undo, kept where an abort still finds it */
struct GroupCleanup
{
	GroupShared *shared;
	BackgroundWorkerHandle **handles;
	int			nworkers;
};

/* ---------------------------------------------------------------- caller */

static void
group_detached(dsm_segment *seg, Datum arg)
{
	GroupCleanup *c = (GroupCleanup *) DatumGetPointer(arg);

	explicit_bzero(&c->shared->keys, sizeof(c->shared->keys));
	for (int i = 0; i < c->nworkers; i++)
		TerminateBackgroundWorker(c->handles[i]);
}

/*
 * A segment for nworkers workers under the caller's snapshot, with the
 * vault's keys, and nown parts of the sizes own[] for the group's user
 * (own_space[] gets where they are).  NULL when no segment can be had.
 */
WorkerGroup *
group_create(const char *what, int nworkers, Snapshot snapshot, const VaultKeys *keys,
			 int zstd_level, const Size *own, int nown, void **own_space)
{
	WorkerGroup *g = palloc0(sizeof(WorkerGroup));
	shm_toc_estimator e;
	Size		snap_len = EstimateSnapshotSpace(snapshot);
	Size		guc_len = EstimateGUCStateSpace();
	Size		size;
	char	   *space;
	char	   *errq;
	char	   *dataq;
	int			i;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(GroupShared));
	shm_toc_estimate_chunk(&e, snap_len);
	shm_toc_estimate_chunk(&e, guc_len);
	shm_toc_estimate_chunk(&e, mul_size(GROUP_ERROR_QUEUE_SIZE, nworkers));
	shm_toc_estimate_chunk(&e, mul_size(GROUP_DATA_QUEUE_SIZE, nworkers));
	for (i = 0; i < nown; i++)
		shm_toc_estimate_chunk(&e, own[i]);
	shm_toc_estimate_keys(&e, 5 + nown);
	size = shm_toc_estimate(&e);
	g->seg = dsm_create(size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (g->seg == NULL)
		return NULL;
	g->what = what;
	g->planned = nworkers;
	g->toc = shm_toc_create(GROUP_MAGIC, dsm_segment_address(g->seg), size);

	g->shared = shm_toc_allocate(g->toc, sizeof(GroupShared));
	memset(g->shared, 0, sizeof(GroupShared));
	g->shared->database = MyDatabaseId;
	g->shared->authenticated_user = GetAuthenticatedUserId();
	GetUserIdAndSecContext(&g->shared->current_user, &g->shared->sec_context);
	g->shared->leader = MyProc;
	g->shared->leader_pid = MyProcPid;
	g->shared->vault_id = keys->vault_id;
	g->shared->zstd_level = zstd_level;
	g->shared->caller_xid = GetTopTransactionIdIfAny();
	g->shared->caller_subxids = MyProc->subxidStatus.count > 0 || MyProc->subxidStatus.overflowed;
	memcpy(&g->shared->keys, keys, sizeof(VaultKeys));
	shm_toc_insert(g->toc, GROUP_KEY_SHARED, g->shared);
	space = shm_toc_allocate(g->toc, snap_len);
	SerializeSnapshot(snapshot, space);
	shm_toc_insert(g->toc, GROUP_KEY_SNAPSHOT, space);
	space = shm_toc_allocate(g->toc, guc_len);
	SerializeGUCState(guc_len, space);
	shm_toc_insert(g->toc, GROUP_KEY_GUC, space);
	errq = shm_toc_allocate(g->toc, mul_size(GROUP_ERROR_QUEUE_SIZE, nworkers));
	shm_toc_insert(g->toc, GROUP_KEY_ERRORS, errq);
	dataq = shm_toc_allocate(g->toc, mul_size(GROUP_DATA_QUEUE_SIZE, nworkers));
	shm_toc_insert(g->toc, GROUP_KEY_DATA, dataq);
	for (i = 0; i < nown; i++)
	{
		own_space[i] = shm_toc_allocate(g->toc, own[i]);
		shm_toc_insert(g->toc, GROUP_KEY_OWN + i, own_space[i]);
	}

	/* from here on, an error or a cancel stops the workers and wipes the keys */
	g->cleanup = MemoryContextAllocZero(TopTransactionContext, sizeof(GroupCleanup));
	g->cleanup->shared = g->shared;
	g->cleanup->handles = MemoryContextAllocZero(TopTransactionContext,
												 sizeof(BackgroundWorkerHandle *) * nworkers);
	on_dsm_detach(g->seg, group_detached, PointerGetDatum(g->cleanup));

	g->data = palloc0(sizeof(shm_mq_handle *) * nworkers);
	g->errors = palloc0(sizeof(shm_mq_handle *) * nworkers);
	for (i = 0; i < nworkers; i++)
	{
		shm_mq	   *mq;

		mq = shm_mq_create(errq + (Size) i * GROUP_ERROR_QUEUE_SIZE, GROUP_ERROR_QUEUE_SIZE);
		shm_mq_set_receiver(mq, MyProc);
		mq = shm_mq_create(dataq + (Size) i * GROUP_DATA_QUEUE_SIZE, GROUP_DATA_QUEUE_SIZE);
		shm_mq_set_receiver(mq, MyProc);
	}
	return g;
}

/*
 * Start the workers, up to as many as the segment has queues for; how many
 * could be had.  None: the segment is let go, the caller works alone.
 */
int
group_launch(WorkerGroup *g, const char *function)
{
	BackgroundWorker bgw;
	MemoryContext old;
	char	   *errq = shm_toc_lookup(g->toc, GROUP_KEY_ERRORS, false);
	char	   *dataq = shm_toc_lookup(g->toc, GROUP_KEY_DATA, false);
	int			i;

	/* workers join this backend's lock group: their locks never wait on ours */
	if (MyProc->lockGroupLeader == NULL)
		BecomeLockGroupLeader();

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "vault");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "vault parallel worker");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "vault parallel worker (%s) for PID %d", g->what, MyProcPid);
	bgw.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(g->seg));
	bgw.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopTransactionContext);
	for (i = 0; i < g->planned; i++)
	{
		memcpy(bgw.bgw_extra, &i, sizeof(int));
		if (!RegisterDynamicBackgroundWorker(&bgw, &g->cleanup->handles[i]))
			break;
		g->cleanup->nworkers = i + 1;
	}
	MemoryContextSwitchTo(old);
	g->nworkers = g->cleanup->nworkers;
	if (g->nworkers == 0)
	{
		ereport(DEBUG1,
				(errmsg("vault: no background worker slot is free: the %s runs without workers", g->what)));
		dsm_detach(g->seg);
		return 0;
	}
	for (i = 0; i < g->nworkers; i++)
	{
		g->errors[i] = shm_mq_attach((shm_mq *) (errq + (Size) i * GROUP_ERROR_QUEUE_SIZE), g->seg,
									 g->cleanup->handles[i]);
		g->data[i] = shm_mq_attach((shm_mq *) (dataq + (Size) i * GROUP_DATA_QUEUE_SIZE), g->seg,
								   g->cleanup->handles[i]);
	}
	return g->nworkers;
}

/*
 * A message from worker i's error queue: an error becomes the caller's,
 * with the worker's SQLSTATE and text; a notice is passed on.
 */
static void
relay_message(WorkerGroup *g, int i, const char *data, Size len)
{
	StringInfoData msg;
	char		type;
	ErrorData	edata;

	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, len);
	type = pq_getmsgbyte(&msg);
	if (type != 'E' && type != 'N')
		return;					/* nothing else is sent */
	pq_parse_errornotice(&msg, &edata);
	edata.elevel = Min(edata.elevel, ERROR);
	edata.context = edata.context ?
		psprintf("%s\nvault parallel %s worker %d", edata.context, g->what, i) :
		psprintf("vault parallel %s worker %d", g->what, i);
	ThrowErrorData(&edata);
}

/* Raise what worker i has reported, if anything. */
static void
relay_errors(WorkerGroup *g, int i)
{
	Size		len;
	void	   *data;

	while (shm_mq_receive(g->errors[i], &len, &data, true) == SHM_MQ_SUCCESS)
		relay_message(g, i, data, len);
}

/*
 * The next message of worker i; false if nowait and it has none yet.  A
 * worker gone with a message owed raises its error, or this one.
 */
bool
group_receive(WorkerGroup *g, int i, Size *len, void **data, bool nowait)
{
	shm_mq_result res = shm_mq_receive(g->data[i], len, data, nowait);

	if (res == SHM_MQ_SUCCESS)
		return true;
	if (res == SHM_MQ_WOULD_BLOCK)
		return false;
	relay_errors(g, i);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("vault parallel %s worker %d exited before it finished its part", g->what, i),
			 errdetail("Nothing of this %s is kept.", g->what),
			 errhint("See the server log for the worker's end; vault.max_parallel_workers = 0 works without workers.")));
	return false;				/* keep compiler quiet */
}

/*
 * Nothing to take from any worker: pass on what they reported and sleep
 * until one sends (or a second passes).  True when every worker has
 * exited: what they sent may still wait in their queues, so the caller
 * takes it, and calls group_fail if work is left after that.
 */
bool
group_wait(WorkerGroup *g)
{
	bool		alive = false;
	pid_t		pid;

	for (int i = 0; i < g->nworkers; i++)
		relay_errors(g, i);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
					 PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	for (int i = 0; i < g->nworkers; i++)
		alive |= GetBackgroundWorkerPid(g->cleanup->handles[i], &pid) != BGWH_STOPPED;
	return !alive;
}

/* Every worker is gone with work left (unfinished says what). */
void
group_fail(WorkerGroup *g, const char *unfinished)
{
	/* one of them failed, and may have said why */
	for (int i = 0; i < g->nworkers; i++)
		relay_errors(g, i);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the vault's parallel %s workers exited with %s", g->what, unfinished),
			 errhint("See the server log; vault.max_parallel_workers = 0 works without workers.")));
}

/* Everything is in: let the workers end, pass on their last words, let go. */
void
group_finish(WorkerGroup *g)
{
	for (int i = 0; i < g->nworkers; i++)
		(void) WaitForBackgroundWorkerShutdown(g->cleanup->handles[i]);
	for (int i = 0; i < g->nworkers; i++)
		relay_errors(g, i);
	dsm_detach(g->seg);
}

/* Stop the workers wherever they are (the segment's detach) and let go. */
void
group_stop(WorkerGroup *g)
{
	dsm_detach(g->seg);
}

/* ---------------------------------------------------------------- worker */

/*
 * The caller's snapshot, with the caller's own transaction running in it.
 *
 * A snapshot leaves out the transaction that took it: its writes are told
 * apart by the transaction's own id.  A worker has a transaction of its
 * own, so to it the caller's id would look neither running nor committed,
 * that is aborted: reading a row the caller wrote (a chunk the backup just
 * stored, when a worker looks a chunk up) would not just miss it but mark
 * it on its page as written by an aborted transaction, for every later
 * reader.  So the caller's id (never below the snapshot's xmin, which
 * counts it) goes into the snapshot's running ones, and
 * when it has subtransactions with ids, the snapshot counts as overflowed:
 * each id is then taken to its top transaction (pg_subtrans) first.  Ids
 * the caller takes later are past the snapshot's horizon, running to it
 * anyway.
 */
static Snapshot
caller_snapshot(GroupWorker *w)
{
	Snapshot	snap = RestoreSnapshot(shm_toc_lookup(w->toc, GROUP_KEY_SNAPSHOT, false));
	TransactionId xid = w->shared->caller_xid;
	TransactionId *xip;

	if (!TransactionIdIsValid(xid) || snap->takenDuringRecovery)
		return snap;
	xip = MemoryContextAlloc(TopTransactionContext, sizeof(TransactionId) * (snap->xcnt + 1));
	memcpy(xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
	xip[snap->xcnt] = xid;
	snap->xip = xip;
	snap->xcnt++;
	if (w->shared->caller_subxids)
		snap->suboverflowed = true;
	return snap;
}

/*
 * Become a worker of the caller's group: attach, send every error and
 * notice to the caller, connect as its session user, join its lock group,
 * take its settings, its role and its snapshot (pushed as the active one,
 * in a transaction that stays open until group_worker_exit).
 */
void
group_worker_attach(GroupWorker *w, Datum arg, const char *activity)
{
	shm_mq	   *mq;

	memset(w, 0, sizeof(*w));
	memcpy(&w->me, MyBgworkerEntry->bgw_extra, sizeof(int));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "vault parallel worker");
	w->seg = dsm_attach(DatumGetUInt32(arg));
	if (w->seg == NULL)
		proc_exit(0);			/* the caller is gone already */
	w->toc = shm_toc_attach(GROUP_MAGIC, dsm_segment_address(w->seg));
	if (w->toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invalid magic number in the vault's parallel worker segment")));
	w->shared = shm_toc_lookup(w->toc, GROUP_KEY_SHARED, false);

	/* from here on, errors and notices go to the caller */
	mq = (shm_mq *) ((char *) shm_toc_lookup(w->toc, GROUP_KEY_ERRORS, false) +
					 (Size) w->me * GROUP_ERROR_QUEUE_SIZE);
	shm_mq_set_sender(mq, MyProc);
	pq_redirect_to_shm_mq(w->seg, shm_mq_attach(mq, w->seg, NULL));
	mq = (shm_mq *) ((char *) shm_toc_lookup(w->toc, GROUP_KEY_DATA, false) +
					 (Size) w->me * GROUP_DATA_QUEUE_SIZE);
	shm_mq_set_sender(mq, MyProc);
	w->out = shm_mq_attach(mq, w->seg, NULL);

	BackgroundWorkerInitializeConnectionByOid(w->shared->database, w->shared->authenticated_user, 0);
	if (!BecomeLockGroupMember(w->shared->leader, w->shared->leader_pid))
		proc_exit(0);			/* the caller's backend has moved on */
	SetClientEncoding(GetDatabaseEncoding());

	/* the caller's settings, as its parallel query workers would take them */
	StartTransactionCommand();
	RestoreGUCState(shm_toc_lookup(w->toc, GROUP_KEY_GUC, false));
	CommitTransactionCommand();

	/* its role and snapshot: one instant for everything the worker reads */
	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	SetUserIdAndSecContext(w->shared->current_user, w->shared->sec_context);
	RestoreTransactionSnapshot(caller_snapshot(w), w->shared->leader);
	w->snapshot = GetTransactionSnapshot();
	PushActiveSnapshot(w->snapshot);
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Part i of what the group's user put in the segment. */
void *
group_worker_space(GroupWorker *w, int i)
{
	return shm_toc_lookup(w->toc, GROUP_KEY_OWN + i, false);
}

/* Send one message; a caller that has gone away ends the worker quietly. */
void
group_worker_send(GroupWorker *w, const void *head, Size head_len, const void *body, Size body_len)
{
	shm_mq_iovec iov[2];

	iov[0].data = head;
	iov[0].len = head_len;
	iov[1].data = body;
	iov[1].len = body_len;
	if (shm_mq_sendv(w->out, iov, body_len > 0 ? 2 : 1, false, true) != SHM_MQ_SUCCESS)
		proc_exit(0);			/* the caller detached: it failed or was
								 * cancelled, and says so itself */
}

void
group_worker_exit(GroupWorker *w)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	proc_exit(0);
}
