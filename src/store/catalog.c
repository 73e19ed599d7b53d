/*-------------------------------------------------------------------------
 * catalog.c
 *	  Vaults, items and recovery points: the rows of vault_internal, and the
 *	  SQL functions vault_create / vault_drop.
 *
 * Owns: argument checks shared by all entry points, lookups that turn a
 * vault name or point id into its row (with the error a user should see).
 * Reads and writes vault_internal only
 * as the extension owner; must not touch chunk data (chunk_store.c).
 *-------------------------------------------------------------------------
 */
#include "vault.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(vault_create);
PG_FUNCTION_INFO_V1(vault_drop);

/* A text argument that must not be NULL, as a C string. */
char *
vault_arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	vault_arg_not_null(fcinfo, argno, what);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* An argument that must not be NULL. */
void
vault_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* Vault names: 1-63 characters, case sensitive, compared exactly. */
void
vault_check_name(const char *name)
{
	int			len = pg_mbstrlen(name);

	if (len < 1 || len > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid vault name \"%s\"", name),
				 errdetail("A vault name has 1 to 63 characters; this one has %d.", len)));
}

#define SPI_INT64_MAX_ARGS 16

/* Run one statement; its first column of its first row as int8 (-1 if none). */
int64
spi_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *isnull)
{
	char		nulls[SPI_INT64_MAX_ARGS] = {0};
	int			i;
	int			ret;
	bool		null;
	Datum		d;

	if (nargs > SPI_INT64_MAX_ARGS)
		elog(ERROR, "spi_int64 takes at most %d arguments", SPI_INT64_MAX_ARGS);
	for (i = 0; i < nargs; i++)
		nulls[i] = (isnull && isnull[i]) ? 'n' : ' ';
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1);
	if (ret < 0)
		elog(ERROR, "SPI failed (%d) on: %s", ret, sql);
	if (SPI_processed == 0 || SPI_tuptable == NULL)
		return -1;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null);
	if (null)
		return -1;
	return DatumGetInt64(d);
}

/*
 * Run one statement as the extension owner; its first column (int8, no
 * NULLs) of every row, in a palloc'd array of *n.
 */
int64 *
spi_int64_array(VaultCall *call, const char *sql, int nargs, Oid *types, Datum *values, int *n)
{
	int			ret;
	int64	   *out;
	uint64		i;

	vault_as_owner(call);
	ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret < 0 || SPI_tuptable == NULL)
		elog(ERROR, "SPI failed (%d) on: %s", ret, sql);
	*n = (int) SPI_processed;
	out = palloc(sizeof(int64) * Max(*n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		out[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	return out;
}

/*
 * The vault row matching "column = value", share-locked so that it cannot
 * be dropped under the caller; NULL if there is none.
 */
static VaultInfo *
vault_fetch(VaultCall *call, const char *column, Oid type, Datum value)
{
	VaultInfo  *v;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	vault_as_owner(call);
	ret = SPI_execute_with_args(psprintf("SELECT vault_id, name, owner, wrapped_keys "
										 "FROM vault_internal.vaults WHERE %s = $1 FOR SHARE",
										 column),
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
	return v;
}

VaultInfo *
vault_lookup(VaultCall *call, const char *name)
{
	VaultInfo  *v = vault_fetch(call, "name", TEXTOID, CStringGetTextDatum(name));

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("vault \"%s\" does not exist", name),
				 errhint("The vaults you can use are listed in the view vault_vaults.")));
	return v;
}

VaultInfo *
vault_lookup_by_id(VaultCall *call, int64 vault_id)
{
	VaultInfo  *v = vault_fetch(call, "vault_id", INT8OID, Int64GetDatum(vault_id));

	if (v == NULL)
		elog(ERROR, "vault %lld vanished", (long long) vault_id);
	return v;
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
	ret = SPI_execute_with_args("SELECT p.point_id, p.vault_id, p.item_id, i.kind, i.name, p.state, p.tables "
								"FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
								"WHERE p.point_id = $1 FOR SHARE OF p",
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
	ret = SPI_execute_with_args("SELECT ordinal, schema_name, table_name, source_oid, source_owner, "
								"definition, rows, chunks FROM vault_internal.point_tables "
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

		t->ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		t->schema_name = SPI_getvalue(tup, desc, 2);
		t->table_name = SPI_getvalue(tup, desc, 3);
		t->source_oid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		t->source_owner = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		t->definition = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 6, &isnull));
		t->rows = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		t->chunks = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		result = lappend(result, t);
	}
	return result;
}

/*
 * vault_create(vault text): a new, empty vault owned by the caller, with its
 * own random data and MAC keys wrapped by the platform key.
 */
Datum
vault_create(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "vault name");
	VaultCall	call;
	Oid			types[3] = {TEXTOID, OIDOID, BYTEAOID};
	Datum		values[3];
	int			ret;

	vault_check_name(name);
	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "creating a vault");

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	values[2] = PointerGetDatum(keys_create_wrapped(name,
													spi_int64("SELECT count(*) FROM vault_internal.vaults",
															  0, NULL, NULL, NULL) == 0));
	ret = SPI_execute_with_args("INSERT INTO vault_internal.vaults (name, owner, wrapped_keys) "
								"VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
								3, types, values, NULL, false, 0);
	vault_as_caller(&call);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert vault");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("vault \"%s\" already exists", name)));

	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * vault_drop(vault text): refused while the vault holds any item or
 * recovery point.
 */
Datum
vault_drop(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "vault name");
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		items;
	int64		points;

	vault_call_begin(&call);
	vault = vault_lookup(&call, name);
	vault_require(&call, vault, VAULT_OWNER, "dropping the vault");

	values[0] = Int64GetDatum(vault->vault_id);
	vault_as_owner(&call);
	/* lock the vault row so no backup adds to it while we decide */
	(void) spi_int64("SELECT vault_id FROM vault_internal.vaults WHERE vault_id = $1 FOR UPDATE",
					 1, types, values, NULL);
	items = spi_int64("SELECT count(*) FROM vault_internal.items WHERE vault_id = $1",
					  1, types, values, NULL);
	points = spi_int64("SELECT count(*) FROM vault_internal.points WHERE vault_id = $1",
					   1, types, values, NULL);
	if (items > 0 || points > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop vault \"%s\" because it still holds %lld item(s) and %lld recovery point(s)",
						name, (long long) items, (long long) points),
				 errhint("Delete its recovery points and stop protecting its items first.")));
	(void) spi_int64("DELETE FROM vault_internal.chunks WHERE vault_id = $1", 1, types, values, NULL);
	(void) spi_int64("DELETE FROM vault_internal.vaults WHERE vault_id = $1", 1, types, values, NULL);
	vault_as_caller(&call);

	vault_call_end(&call);
	PG_RETURN_VOID();
}
