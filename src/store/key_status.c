/*-------------------------------------------------------------------------
 * key_status.c
 *	  Each customer key's last successful use and last failure, in shared
 *	  memory.
 *
 * Owns a small table in shared memory, one entry per (database, key name),
 * written when an operation gets or fails to get a key.  It lives outside
 * any transaction on purpose: a failure rolls its caller's transaction
 * back, and a success must not lock the key's row for the length of a
 * backup.  vault_keys reads it live (vault_internal.key_status()) and the
 * scheduler copies it into vault_internal.keys every round, so that it
 * outlives a restart.  Without shared_preload_libraries there is no table
 * and nothing is recorded.  Must not hold anything secret: names, times
 * and error texts only.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#define KEY_STATUS_ENTRIES	128

typedef struct KeyStatusEntry
{
	Oid			dboid;			/* InvalidOid: free */
	KeyStatus	status;
} KeyStatusEntry;

typedef struct KeyStatusShared
{
	LWLock	   *lock;
	KeyStatusEntry entries[KEY_STATUS_ENTRIES];
} KeyStatusShared;

static KeyStatusShared *key_status = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
key_status_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(KeyStatusShared));
	RequestNamedLWLockTranche("vault key status", 1);
}

static void
key_status_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	key_status = ShmemInitStruct("vault key status", sizeof(KeyStatusShared), &found);
	if (!found)
	{
		memset(key_status, 0, sizeof(KeyStatusShared));
		key_status->lock = &(GetNamedLWLockTranche("vault key status"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while the library is preloaded. */
void
key_status_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = key_status_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = key_status_shmem_startup;
}

/*
 * Record a use of key 'name' in this database: ok, or failed with 'error'.
 * A full table gives the entry used least recently to the new key.
 */
void
key_status_record(const char *name, bool ok, const char *error)
{
	KeyStatusEntry *e = NULL;
	KeyStatusEntry *oldest = NULL;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	if (key_status == NULL)
		return;
	LWLockAcquire(key_status->lock, LW_EXCLUSIVE);
	for (i = 0; i < KEY_STATUS_ENTRIES && e == NULL; i++)
	{
		KeyStatusEntry *c = &key_status->entries[i];

		if (c->dboid == MyDatabaseId && strcmp(c->status.name, name) == 0)
			e = c;
		else if (oldest == NULL || c->dboid == InvalidOid ||
				 (oldest->dboid != InvalidOid &&
				  Max(c->status.used_at, c->status.error_at) < Max(oldest->status.used_at, oldest->status.error_at)))
			oldest = c;
	}
	if (e == NULL)
	{
		e = oldest;
		memset(e, 0, sizeof(KeyStatusEntry));
		e->dboid = MyDatabaseId;
		strlcpy(e->status.name, name, sizeof(e->status.name));
	}
	if (ok)
		e->status.used_at = now;
	else
	{
		e->status.error_at = now;
		strlcpy(e->status.error, error ? error : "failed", KEY_STATUS_ERROR_LEN);
	}
	LWLockRelease(key_status->lock);
}

/* This database's entries, copied into *out (palloc'd); returns how many. */
int
key_status_snapshot(KeyStatus **out)
{
	int			n = 0;
	int			i;

	*out = palloc(sizeof(KeyStatus) * KEY_STATUS_ENTRIES);
	if (key_status == NULL)
		return 0;
	LWLockAcquire(key_status->lock, LW_SHARED);
	for (i = 0; i < KEY_STATUS_ENTRIES; i++)
		if (key_status->entries[i].dboid == MyDatabaseId)
			(*out)[n++] = key_status->entries[i].status;
	LWLockRelease(key_status->lock);
	return n;
}
