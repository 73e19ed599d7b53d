/*-------------------------------------------------------------------------
 * cluster.c
 *	  The cluster's status board: one slot per database with the extension.
 *
 * Each database's scheduler publishes its counts here every round (vaults,
 * items by health, active alerts, running jobs, the last job's end), so
 * that vault_cluster_status can be read from any database: a database
 * cannot read another's tables, but every backend sees shared memory.
 * Counts only: no names of vaults or items ever reach the board.  Owns
 * the board; must not compute the counts (the SQL function does).
 *-------------------------------------------------------------------------
 */
#include "monitor/monitor.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

typedef struct ClusterBoard
{
	LWLock	   *lock;
	ClusterSlot slots[CLUSTER_SLOTS];
} ClusterBoard;

static ClusterBoard *board = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
cluster_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(ClusterBoard));
	RequestNamedLWLockTranche("vault cluster board", 1);
}

static void
cluster_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	board = ShmemInitStruct("vault cluster board", sizeof(ClusterBoard), &found);
	if (!found)
	{
		memset(board, 0, sizeof(ClusterBoard));
		board->lock = &(GetNamedLWLockTranche("vault cluster board"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while the library is preloaded. */
void
cluster_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cluster_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cluster_shmem_startup;
}

/*
 * This database's counts onto the board: its own slot, a free one, or the
 * one published longest ago (a dropped database's, most likely).
 */
void
cluster_publish(const ClusterSlot *counts)
{
	ClusterSlot *slot = NULL;
	int			i;

	if (board == NULL)
		return;
	LWLockAcquire(board->lock, LW_EXCLUSIVE);
	for (i = 0; i < CLUSTER_SLOTS && slot == NULL; i++)
		if (board->slots[i].dbid == MyDatabaseId)
			slot = &board->slots[i];
	for (i = 0; i < CLUSTER_SLOTS && slot == NULL; i++)
		if (board->slots[i].dbid == InvalidOid)
			slot = &board->slots[i];
	if (slot == NULL)
	{
		slot = &board->slots[0];
		for (i = 1; i < CLUSTER_SLOTS; i++)
			if (board->slots[i].published_at < slot->published_at)
				slot = &board->slots[i];
	}
	*slot = *counts;
	slot->dbid = MyDatabaseId;
	slot->published_at = GetCurrentTimestamp();
	LWLockRelease(board->lock);
}

/* This database leaves the board (its extension is gone). */
void
cluster_withdraw(void)
{
	int			i;

	if (board == NULL)
		return;
	LWLockAcquire(board->lock, LW_EXCLUSIVE);
	for (i = 0; i < CLUSTER_SLOTS; i++)
		if (board->slots[i].dbid == MyDatabaseId)
			board->slots[i].dbid = InvalidOid;
	LWLockRelease(board->lock);
}

/* A copy of the used slots, palloc'd; returns how many. */
int
cluster_snapshot(ClusterSlot **out)
{
	int			n = 0;
	int			i;

	*out = palloc(sizeof(ClusterSlot) * CLUSTER_SLOTS);
	if (board == NULL)
		return 0;
	LWLockAcquire(board->lock, LW_SHARED);
	for (i = 0; i < CLUSTER_SLOTS; i++)
		if (board->slots[i].dbid != InvalidOid)
			(*out)[n++] = board->slots[i];
	LWLockRelease(board->lock);
	return n;
}
