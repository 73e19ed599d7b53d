/*-------------------------------------------------------------------------
 * access.c
 *	  Who is calling, and acting as the extension owner.
 *
 * Every vault_* entry point opens a VaultCall: it records the calling role,
 * locks search_path to pg_catalog for the duration of the call (so objects a
 * caller plants in other schemas never run), and lets the code switch to the
 * extension owner for storage work and back.  The caller's level on a
 * vault is roles.c's; rights on the data itself live next to the objects
 * they guard (backup.c, restore.c).  This file must not touch storage.
 *-------------------------------------------------------------------------
 */
#include "vault.h"

#include "access/htup_details.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/fmgroids.h"
#include "access/table.h"
#include "access/genam.h"
#include "catalog/indexing.h"
#include "utils/rel.h"

static Oid
extension_owner(void)
{
	Oid			extoid = get_extension_oid("vault", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		elog(ERROR, "could not find the owner of extension \"vault\"");
	return owner;
}

void
vault_call_begin(VaultCall *call)
{
	memset(call, 0, sizeof(*call));
	call->caller = GetUserId();
	call->owner = extension_owner();
	GetUserIdAndSecContext(&call->saved_userid, &call->saved_sec_context);

	/* like a function's SET clause: undone at vault_call_end or on error */
	call->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
vault_call_end(VaultCall *call)
{
	SetUserIdAndSecContext(call->saved_userid, call->saved_sec_context);
	SPI_finish();
	AtEOXact_GUC(true, call->guc_nestlevel);
}

void
vault_as_owner(VaultCall *call)
{
	if (call->as_owner_depth++ == 0)
		SetUserIdAndSecContext(call->owner,
							   call->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
vault_as_caller(VaultCall *call)
{
	Assert(call->as_owner_depth > 0);
	if (--call->as_owner_depth == 0)
		SetUserIdAndSecContext(call->saved_userid, call->saved_sec_context);
}

bool
vault_caller_is_superuser(VaultCall *call)
{
	return superuser_arg(call->caller);
}
