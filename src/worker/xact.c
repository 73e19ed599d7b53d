/*-------------------------------------------------------------------------
 * xact.c
 *	  A background worker's own transactions.
 *
 * Owns starting one (with a snapshot, as a statement would have) and
 * committing it; what runs inside is the caller's.
 *-------------------------------------------------------------------------
 */
#include "worker/worker.h"

#include "access/xact.h"
#include "utils/snapmgr.h"

void
worker_begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
worker_commit_xact(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
}
