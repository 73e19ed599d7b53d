/*-------------------------------------------------------------------------
 * progress.c
 *	  The operations running now, cluster-wide: one slot per backend in
 *	  shared memory, as pg_stat_progress_* keeps them.
 *
 * Owns the board (a slot per backend id, written only by its backend
 * under a change counter, read by anyone without a lock, as PostgreSQL's
 * own backend status is) and its life: an operation begins, moves through
 * its phases, counts tables, bytes and chunks, and ends; an error ends it
 * too (the transaction's abort clears the slot).  Writing is a few stores
 * per chunk, no lock and no system call.  Must not decide who may see a
 * row: the view does (api/, SQL).
 *-------------------------------------------------------------------------
 */
#include "monitor/monitor.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

typedef struct ProgressSlot
{
	uint32		changecount;	/* odd while its backend writes */
	ProgressRow row;
	/* the tables finished so far; row counts those plus the current one */
	int64		base_bytes;
	int64		base_new;
	int64		base_reused;
} ProgressSlot;

static ProgressSlot *board = NULL;
static int	board_slots = 0;
static ProgressSlot *mine = NULL;	/* this backend's slot while it reports */
static SubTransactionId mine_subxact;	/* where it began: an abort there ends it */
static bool callback_registered = false;

/* this backend's slot: backend ids count from 1 (PostgreSQL 17: proc numbers from 0) */
#if PG_VERSION_NUM >= 170000
#define MY_SLOT()	(MyProcNumber)
#else
#define MY_SLOT()	(MyBackendId - 1)
#endif

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
board_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(board_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	board = ShmemInitStruct("vault progress", board_size(), &found);
	if (!found)
		memset(board, 0, board_size());
	board_slots = MaxBackends;
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while the library is preloaded. */
void
progress_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

#define WRITE_BEGIN(s) \
	do { (s)->changecount++; pg_write_barrier(); } while (0)
#define WRITE_END(s) \
	do { pg_write_barrier(); (s)->changecount++; } while (0)

static void
progress_clear(void)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->row.pid = 0;
	WRITE_END(mine);
	mine = NULL;
}

/* an error, or a transaction that ends with an operation still on the board */
static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
		progress_clear();
}

static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && mine != NULL && mySubid == mine_subxact)
		progress_clear();
}

static void
copy_name(char *dst, const char *src, size_t len)
{
	strlcpy(dst, src ? src : "", len);
}

/*
 * An operation begins in this backend (a later begin replaces it: the
 * scheduler runs one job after the other).  Nothing if the library was not
 * preloaded (no board): the operation simply does not show.
 */
void
progress_begin(const VaultInfo *vault, const char *item, const char *operation, const char *phase)
{
	ProgressSlot *s;

	if (board == NULL || !vault_track_progress || MY_SLOT() < 0 || MY_SLOT() >= board_slots)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		RegisterSubXactCallback(progress_subxact_callback, NULL);
		callback_registered = true;
	}
	s = &board[MY_SLOT()];
	WRITE_BEGIN(s);
	memset(&s->row, 0, sizeof(s->row));
	s->base_bytes = s->base_new = s->base_reused = 0;
	s->row.pid = MyProcPid;
	s->row.dbid = MyDatabaseId;
	s->row.vault_id = vault->vault_id;
	copy_name(s->row.vault, vault->name, sizeof(s->row.vault));
	copy_name(s->row.item, item, sizeof(s->row.item));
	copy_name(s->row.operation, operation, sizeof(s->row.operation));
	copy_name(s->row.phase, phase, sizeof(s->row.phase));
	s->row.started_at = GetCurrentTimestamp();
	WRITE_END(s);
	mine = s;
	mine_subxact = GetCurrentSubTransactionId();
}

void
progress_phase(const char *phase)
{
	if (mine == NULL || strcmp(mine->row.phase, phase) == 0)
		return;
	WRITE_BEGIN(mine);
	copy_name(mine->row.phase, phase, sizeof(mine->row.phase));
	WRITE_END(mine);
}

void
progress_totals(int tables_total, int64 bytes_total)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->row.tables_total = tables_total;
	mine->row.bytes_total = bytes_total;
	WRITE_END(mine);
}

/* the current table's counts so far (absolute, for that table) */
void
progress_table(int64 bytes, int64 chunks_new, int64 chunks_reused)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->row.bytes_done = mine->base_bytes + bytes;
	mine->row.chunks_new = mine->base_new + chunks_new;
	mine->row.chunks_reused = mine->base_reused + chunks_reused;
	WRITE_END(mine);
}

/* the counts of the whole item, as a parallel backup knows them */
void
progress_counts(int tables_done, int64 bytes, int64 chunks_new, int64 chunks_reused)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->row.tables_done = tables_done;
	mine->row.bytes_done = mine->base_bytes = bytes;
	mine->row.chunks_new = mine->base_new = chunks_new;
	mine->row.chunks_reused = mine->base_reused = chunks_reused;
	WRITE_END(mine);
}

/* the current table is done: its counts stay, the next one adds to them */
void
progress_table_done(void)
{
	if (mine == NULL)
		return;
	WRITE_BEGIN(mine);
	mine->row.tables_done++;
	mine->base_bytes = mine->row.bytes_done;
	mine->base_new = mine->row.chunks_new;
	mine->base_reused = mine->row.chunks_reused;
	WRITE_END(mine);
}

void
progress_end(void)
{
	progress_clear();
}

/*
 * Every running operation on the board, each read consistently (a slot
 * being written is read again).
 */
int
progress_snapshot(ProgressRow **out)
{
	int			i;
	int			n = 0;

	*out = palloc(sizeof(ProgressRow) * Max(board_slots, 1));
	for (i = 0; i < board_slots; i++)
	{
		ProgressSlot *s = &board[i];
		ProgressRow row;

		for (;;)
		{
			uint32		before = s->changecount;

			pg_read_barrier();
			memcpy(&row, &s->row, sizeof(row));
			pg_read_barrier();
			if (before == s->changecount && (before & 1) == 0)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		if (row.pid != 0)
			(*out)[n++] = row;
	}
	return n;
}
