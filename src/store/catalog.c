/*-------------------------------------------------------------------------
 * catalog.c
 *	  Vaults, items and recovery points: the rows of vault_internal.
 *
 * Owns: lookups that turn a vault name or point id into its row (with the
 * error a user should see), and the captured tables of a point.
 * Reads and writes vault_internal only
 * as the extension owner; must not touch chunk data (chunk_store.c).
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "access/xlog.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

typedef enum VaultLock
{
	VAULT_ROW_UNLOCKED,
	VAULT_ROW_SHARE,			/* cannot be dropped or changed under the caller */
	VAULT_ROW_UPDATE			/* the caller is about to change it */
} VaultLock;

/* The vault row matching "column = value", locked as asked; NULL if none. */
static VaultInfo *
vault_fetch(VaultCall *call, const char *column, Oid type, Datum value, VaultLock lock)
{
	VaultInfo  *v;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	vault_as_owner(call);
	ret = SPI_execute_with_args(psprintf(call->catalog >= VAULT_CATALOG_1_1 ?
										 "SELECT vault_id, name, owner, wrapped_keys, soft_delete, "
										 "soft_delete_days, immutability, guard, key_id, redundancy, "
										 "cross_region_restore, replica, compression "
										 "FROM vault_internal.vaults WHERE %s = $1 %s" :
										 "SELECT vault_id, name, owner, wrapped_keys, 'on', 14, 'off', "
										 "NULL::oid, NULL::bigint, 'local', false, false, 'lz4' "
										 "FROM vault_internal.vaults WHERE %s = $1 %s",
										 column,
										 lock == VAULT_ROW_UPDATE ? "FOR NO KEY UPDATE" :
										 lock == VAULT_ROW_SHARE && !RecoveryInProgress() ? "FOR SHARE" : ""),
								1, &type, &value, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "vault lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return NULL;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	v = palloc0(sizeof(VaultInfo));
	v->vault_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	v->name = SPI_getvalue(tup, desc, 2);
	v->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	v->wrapped_keys = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 4, &isnull));
	v->soft_delete = SPI_getvalue(tup, desc, 5);
	v->soft_delete_days = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	v->immutability = SPI_getvalue(tup, desc, 7);
	v->guard = DatumGetObjectId(SPI_getbinval(tup, desc, 8, &isnull));
	if (isnull)
		v->guard = InvalidOid;
	v->key_id = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
	if (isnull)
		v->key_id = 0;
	v->redundancy = SPI_getvalue(tup, desc, 10);
	v->cross_region_restore = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
	v->replica = DatumGetBool(SPI_getbinval(tup, desc, 12, &isnull));
	v->compression = SPI_getvalue(tup, desc, 13);
	v->zstd_level = vault_zstd_level(v->compression);
	return v;
}

/* 'lz4' -> 0, 'zstd' -> 3 (zstd's default), 'zstd:<n>' -> n; -1: not a setting */
int
vault_zstd_level(const char *compression)
{
	int			level = 0;
	char		extra;

	if (strcmp(compression, "lz4") == 0)
		return 0;
	if (strcmp(compression, "zstd") == 0)
		return 3;
	if (sscanf(compression, "zstd:%d%c", &level, &extra) == 1 && level >= 1 && level <= CODEC_ZSTD_MAX_LEVEL)
		return level;
	return -1;
}

/* a geo vault's rows are marked geo as they are written (replica/geo.c) */
bool
vault_is_geo(const VaultInfo *vault)
{
	return strcmp(vault->redundancy, "geo") == 0;
}

/*
 * A replicated vault (on a geo vault's secondary) takes no change here:
 * what it holds comes from its primary, and only its own retention, its
 * grants and legal holds placed here are the secondary's to set.
 */
void
vault_refuse_replica(VaultInfo *vault, const char *action)
{
	if (vault->replica)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" is a replica of a geo vault: %s is not possible here", vault->name, action),
				 errdetail("A secondary keeps what its primary sent; changes are made on the primary."),
				 errhint("Restore, verify and export work here (restore and export once the vault has cross-region restore).")));
}

static VaultInfo *
vault_lookup_locked(VaultCall *call, const char *name, VaultLock lock)
{
	VaultInfo  *v = vault_fetch(call, "name", TEXTOID, CStringGetTextDatum(name), lock);

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("vault \"%s\" does not exist", name),
				 errhint("The vaults you can use are listed in the view vault_vaults.")));
	return v;
}

/* The vault, share-locked so that it cannot be dropped under the caller. */
VaultInfo *
vault_lookup(VaultCall *call, const char *name)
{
	return vault_lookup_locked(call, name, VAULT_ROW_SHARE);
}

/*
 * The vault, for a change of its row by a caller that needs level 'need'
 * on it (checked before any lock is taken, so that no one without it can
 * hold up the vault): locked for update, it waits for the backups,
 * restores and verifies running in it (they share-lock the row) and keeps
 * new ones out until this transaction ends.
 */
VaultInfo *
vault_lookup_for_update(VaultCall *call, const char *name, VaultLevel need, const char *action)
{
	VaultInfo  *vault = vault_lookup_locked(call, name, VAULT_ROW_UNLOCKED);

	vault_require(call, vault, need, action);
	vault_refuse_replica(vault, action);
	return vault_lookup_locked(call, name, VAULT_ROW_UPDATE);
}

VaultInfo *
vault_lookup_by_id(VaultCall *call, int64 vault_id)
{
	VaultInfo  *v = vault_fetch(call, "vault_id", INT8OID, Int64GetDatum(vault_id), VAULT_ROW_SHARE);

	if (v == NULL)
		elog(ERROR, "vault %lld vanished", (long long) vault_id);
	return v;
}

/*
 * Every vault, by id, with only its id and name filled in: for the periodic
 * work that goes through the vaults one at a time (each locked, and fully
 * looked up, in its turn).
 */
List *
vault_list_all(VaultCall *call)
{
	int			ret;
	uint64		i;
	List	   *vaults = NIL;

	vault_as_owner(call);
	ret = SPI_execute("SELECT vault_id, name FROM vault_internal.vaults ORDER BY vault_id", false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the vaults");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		VaultInfo  *v = palloc0(sizeof(VaultInfo));

		v->vault_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		v->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		vaults = lappend(vaults, v);
	}
	return vaults;
}

/*
 * Whether the vault has ever held data: an item, a point, a chunk or a job
 * (a purge leaves its job behind).  Settings fixed "before the first item"
 * ask this, under the vault's row lock for update.
 */
bool
vault_has_held_data(VaultCall *call, VaultInfo *vault)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		held;

	values[0] = Int64GetDatum(vault->vault_id);
	vault_as_owner(call);
	held = spi_int64("SELECT (EXISTS (SELECT 1 FROM vault_internal.items WHERE vault_id = $1) "
					 "  OR EXISTS (SELECT 1 FROM vault_internal.points WHERE vault_id = $1) "
					 "  OR EXISTS (SELECT 1 FROM vault_internal.chunks WHERE vault_id = $1) "
					 "  OR EXISTS (SELECT 1 FROM vault_internal.jobs WHERE vault_id = $1))::integer",
					 1, types, values, NULL);
	vault_as_caller(call);
	return held > 0;
}

PointInfo *
point_lookup(VaultCall *call, int64 point_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	PointInfo  *p;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	if (point_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid recovery point id %lld", (long long) point_id),
				 errdetail("Recovery point ids are positive.")));
	values[0] = Int64GetDatum(point_id);
	vault_as_owner(call);
	/* share-locked against removal, but where nothing can lock: a hot standby */
	ret = SPI_execute_with_args(psprintf("SELECT p.point_id, p.vault_id, p.item_id, i.kind, i.name, p.state, p.tables "
										 "FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
										 "WHERE p.point_id = $1 %s",
										 RecoveryInProgress() ? "" : "FOR SHARE OF p"),
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "recovery point lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("recovery point %lld does not exist", (long long) point_id),
				 errhint("The recovery points you can use are listed in the view vault_recovery_points.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	p = palloc0(sizeof(PointInfo));
	p->point_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	p->vault_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	p->item_id = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	p->kind = SPI_getvalue(tup, desc, 4);
	p->item_name = SPI_getvalue(tup, desc, 5);
	p->state = SPI_getvalue(tup, desc, 6);
	p->tables = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
	return p;
}

/* The captured tables of a point, in ordinal order: a List of PointTable. */
List *
point_tables(VaultCall *call, int64 point_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	List	   *result = NIL;
	uint64		i;

	values[0] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args(call->catalog >= VAULT_CATALOG_1_1 ?
								"SELECT ordinal, schema_name, table_name, source_oid, source_owner, "
								"definition, rows, chunks, logical_bytes, deps FROM vault_internal.point_tables "
								"WHERE point_id = $1 ORDER BY ordinal" :
								"SELECT ordinal, schema_name, table_name, source_oid, source_owner, "
								"definition, rows, chunks, logical_bytes, NULL::text[] FROM vault_internal.point_tables "
								"WHERE point_id = $1 ORDER BY ordinal",
								1, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "point tables lookup failed");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PointTable *t = palloc0(sizeof(PointTable));
		bool		isnull;
		Datum		d;

		t->ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		t->schema_name = SPI_getvalue(tup, desc, 2);
		t->table_name = SPI_getvalue(tup, desc, 3);
		t->source_oid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		t->source_owner = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		t->definition = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 6, &isnull));
		t->rows = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		t->chunks = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		t->logical_bytes = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		d = SPI_getbinval(tup, desc, 10, &isnull);
		if (!isnull)
			t->deps = vault_text_array(d, &t->ndeps);
		result = lappend(result, t);
	}
	return result;
}

/*
 * The item of a vault named as in vault_items (a schema-qualified table, or
 * a schema), locked FOR UPDATE; an error naming the vault if there is none.
 */
ItemInfo *
item_lookup(VaultCall *call, VaultInfo *vault, const char *name)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	ItemInfo   *item;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(name);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT item_id, kind, name, state, policy_id FROM vault_internal.items "
								"WHERE vault_id = $1 AND name = $2 ORDER BY item_id FOR UPDATE",
								2, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "item lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("vault \"%s\" has no item \"%s\"", vault->name, name),
				 errhint("Items are named as in the view vault_items: a schema-qualified table, or a schema.")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("item name \"%s\" is ambiguous in vault \"%s\"", name, vault->name)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	item = palloc0(sizeof(ItemInfo));
	item->item_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	item->kind = SPI_getvalue(tup, desc, 2);
	item->name = SPI_getvalue(tup, desc, 3);
	item->state = SPI_getvalue(tup, desc, 4);
	item->policy_id = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	if (isnull)
		item->policy_id = 0;
	return item;
}
