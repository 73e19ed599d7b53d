/*-------------------------------------------------------------------------
 * tabledef.c
 *	  Table definitions: captured at backup, turned back into DDL at restore.
 *
 * Owns: calling the SQL half of this concept, which lives in the extension
 * script (vault_internal.capture_table and restore_create / restore_finish
 * / restore_foreign_keys): jsonb is captured from the catalogs with
 * search_path = pg_catalog so every printed name is schema-qualified, and
 * DDL is assembled with format('%I').  Capture runs as the extension owner
 * (it reads sequence state); the restore phases run as the caller, so what
 * they create belongs to the caller and is checked against the caller's
 * rights.  Must not touch chunks or rows.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"

static Oid
internal_function(VaultCall *call, const char *name, int nargs, Oid *argtypes)
{
	List	   *fname = list_make2(makeString("vault_internal"), makeString((char *) name));
	Oid			fn;

	/* name lookup needs USAGE on vault_internal: do it as the owner */
	vault_as_owner(call);
	fn = LookupFuncName(fname, nargs, argtypes, false);
	vault_as_caller(call);
	return fn;
}

Jsonb *
tabledef_capture(VaultCall *call, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	int			ret;
	bool		isnull;
	Datum		d;

	values[0] = ObjectIdGetDatum(relid);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT vault_internal.capture_table($1)",
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not capture the definition of relation %u", relid);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "relation %u vanished while capturing its definition", relid);
	return DatumGetJsonbPCopy(d);
}

Oid
tabledef_create(VaultCall *call, Jsonb *def, const char *schema, const char *name)
{
	Oid			argtypes[3] = {JSONBOID, TEXTOID, TEXTOID};
	Oid			fn = internal_function(call, "restore_create", 3, argtypes);
	Oid			relid;

	relid = DatumGetObjectId(OidFunctionCall3(fn, JsonbPGetDatum(def),
											  CStringGetTextDatum(schema),
											  CStringGetTextDatum(name)));
	CommandCounterIncrement();
	return relid;
}

void
tabledef_finish(VaultCall *call, Jsonb *def, const char *schema, const char *name)
{
	Oid			argtypes[3] = {JSONBOID, TEXTOID, TEXTOID};
	Oid			fn = internal_function(call, "restore_finish", 3, argtypes);

	(void) OidFunctionCall3(fn, JsonbPGetDatum(def), CStringGetTextDatum(schema),
							CStringGetTextDatum(name));
	CommandCounterIncrement();
}

void
tabledef_foreign_keys(VaultCall *call, Jsonb *def, const char *schema, const char *name,
					  const char *point_schema, Jsonb *siblings)
{
	Oid			argtypes[5] = {JSONBOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Oid			fn = internal_function(call, "restore_foreign_keys", 5, argtypes);

	(void) OidFunctionCall5(fn, JsonbPGetDatum(def), CStringGetTextDatum(schema),
							CStringGetTextDatum(name), CStringGetTextDatum(point_schema),
							JsonbPGetDatum(siblings));
	CommandCounterIncrement();
}
