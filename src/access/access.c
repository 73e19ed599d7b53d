/*-------------------------------------------------------------------------
 * access.c
 *	  Who is calling, and acting as the extension owner.
 *
 * Every vault_* entry point opens a VaultCall: it records the calling role,
 * locks search_path to pg_catalog for the duration of the call (so objects a
 * caller plants in other schemas never run), and lets the code switch to the
 * extension owner for storage work and back.  The caller's level on a
 * vault is roles.c's; rights on the data itself live next to the objects
 * they guard (backup.c, restore.c).  It also holds what every entry point
 * shares: argument checks and the SPI helpers.  This file must not touch
 * storage.
 *-------------------------------------------------------------------------
 */
#include "access/access.h"

#include "access/htup_details.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/pg_type.h"
#include "utils/timestamp.h"
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

/*
 * The extension's owner, and the version of its SQL objects in this
 * database: the library serves a database still at 1.0 (until ALTER
 * EXTENSION vault UPDATE) the way 1.0 did.
 */
static void
extension_row(Oid *owner, int *version)
{
	Oid			extoid = get_extension_oid("vault", false);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	*owner = InvalidOid;
	*version = VAULT_CATALOG_1_0;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		v = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		if (!isnull && strcmp(TextDatumGetCString(v), "1.0") != 0)
			*version = VAULT_CATALOG_1_1;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(*owner))
		elog(ERROR, "could not find the owner of extension \"vault\"");
}

void
vault_call_begin(VaultCall *call)
{
	memset(call, 0, sizeof(*call));
	call->caller = GetUserId();
	extension_row(&call->owner, &call->catalog);
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

/* ---- arguments and SPI, shared by every entry point ---- */

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

/* The schema the extension lives in (its public functions and views). */
char *
vault_schema_name(void)
{
	if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vault'",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "extension vault not found");
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* the explicit clock of vault_run_due, vault_apply_retention, vault_report_refresh */
TimestampTz
vault_arg_now(FunctionCallInfo fcinfo)
{
	TimestampTz now;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("now must not be NULL")));
	now = PG_GETARG_TIMESTAMPTZ(0);
	if (TIMESTAMP_NOT_FINITE(now))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("now must be a finite time")));
	return now;
}

/* The elements of a text[] (no NULLs) as C strings, *n of them. */
char **
vault_text_array(Datum array, int *n)
{
	Datum	   *elems;
	char	  **result;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, n);
	result = palloc(sizeof(char *) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		result[i] = TextDatumGetCString(elems[i]);
	return result;
}
