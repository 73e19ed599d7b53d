/*-------------------------------------------------------------------------
 * rewrap.c
 *	  The worker that does one database's part of a platform key rotation.
 *
 * Owns the worker's life: started by vault_platform_key_rotate in another
 * database of the cluster (api/keys.c), it connects to its database as the
 * bootstrap superuser, re-wraps the platform-keyed vaults there under the
 * key file's current key in one transaction (api/keys.c,
 * platform_rewrap_here), commits, and reports the outcome in the caller's
 * dynamic shared memory slot: done (with how many vaults), absent (no vault
 * extension there), or failed (with the error, which also goes to the
 * server log).  It never retries; the caller decides.
 *-------------------------------------------------------------------------
 */
#include "worker/worker.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

void
vault_rewrap_main(Datum main_arg)
{
	dsm_segment *seg;
	RewrapSlot *slot;
	int			index;
	MemoryContext cxt = CurrentMemoryContext;

	BackgroundWorkerUnblockSignals();
	memcpy(&index, MyBgworkerEntry->bgw_extra, sizeof(index));
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault: the platform key rotation that started this worker is gone")));
	slot = &((RewrapSlot *) dsm_segment_address(seg))[index];
	BackgroundWorkerInitializeConnectionByOid(slot->dboid, InvalidOid, 0);

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("vault", true)))
		{
			VaultCall	call;

			vault_call_begin(&call);
			slot->vaults = platform_rewrap_here(&call);
			vault_call_end(&call);
			PopActiveSnapshot();
			CommitTransactionCommand();
			slot->state = REWRAP_DONE;
		}
		else
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			slot->state = REWRAP_ABSENT;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		strlcpy(slot->error, edata->message ? edata->message : "failed", sizeof(slot->error));
		slot->state = REWRAP_FAILED;
	}
	PG_END_TRY();
	dsm_detach(seg);
	proc_exit(0);
}
