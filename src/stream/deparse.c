/*-------------------------------------------------------------------------
 * deparse.c
 *	  Definitions printed relative to one schema: vault_internal.deparse.
 *
 * PostgreSQL's own deparsers (format_type, pg_get_expr, pg_get_viewdef,
 * pg_get_triggerdef, ...) qualify a name only when it is not visible on the
 * search path.  Called with search_path = "<schema>", pg_catalog, pg_temp,
 * they print the schema's own objects unqualified and everything else
 * qualified (pg_catalog's too, where one of the schema's objects shadows
 * it).  Run again with search_path = "<target>", pg_catalog, pg_temp, such
 * text therefore names the target's copies: this is how a restored schema's
 * defaults, column types, views, triggers and foreign keys point into the
 * restored schema and not back at the original (the way pg_dump once did it
 * with SET search_path).
 *
 * Owns: setting that search path around one deparse call (never around the
 * capture queries themselves, which run with pg_catalog first), the few
 * names PostgreSQL prints only qualified (a function's own name in
 * pg_get_functiondef), and cutting a trigger or rule definition around the
 * name of its relation, so that a restore under another table name can put
 * that name in.  Must not read or write vault storage.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(vault_deparse);

/* Call a deparser that may return NULL (the object vanished): NULL then. */
static text *
call_deparser(PGFunction fn, int nargs, Datum a0, Datum a1, Datum a2, bool a1_null)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, nargs, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = a0;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = a1;
	fcinfo->args[1].isnull = a1_null;
	fcinfo->args[2].value = a2;
	fcinfo->args[2].isnull = false;
	result = (*fn) (fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetTextPP(result);
}

static char *
deparsed(text *t)
{
	return t ? text_to_cstring(t) : NULL;
}

/*
 * Where "<sep><relation> " starts in a trigger or rule definition, outside
 * double-quoted identifiers, at or after 'from'; -1 if nowhere.
 */
static int
find_outside_quotes(const char *def, const char *needle, int from)
{
	size_t		nlen = strlen(needle);
	bool		quoted = false;
	int			i;

	for (i = 0; def[i] != '\0'; i++)
	{
		if (def[i] == '"')
			quoted = !quoted;	/* a doubled "" toggles twice: still right */
		else if (!quoted && i >= from && strncmp(def + i, needle, nlen) == 0)
			return i;
	}
	return -1;
}

/*
 * The part of a trigger or rule definition before (head) or after (tail)
 * "<sep><relation>": the relation is put back in at restore, under the
 * name it is restored as.  'name' is the trigger's or rule's own name,
 * which the definition prints first; the search starts after it.
 */
static char *
split_around_relation(const char *def, const char *sep, Oid relid, const char *name,
					  bool want_head)
{
	const char *rel = quote_identifier(get_rel_name(relid));
	char	   *needle;
	const char *own = strstr(def, quote_identifier(name));
	int			from = own ? (int) (own - def) + (int) strlen(quote_identifier(name)) : 0;
	int			at;

	/* the relation is visible (its schema is first on the path): unqualified */
	needle = psprintf("%s%s ", sep, rel);
	at = find_outside_quotes(def, needle, from);
	if (at < 0)
		elog(ERROR, "could not find relation %s in definition \"%s\"", rel, def);
	if (want_head)
		return pnstrdup(def, at);
	return pstrdup(def + at + strlen(needle));
}

/* A function's name as SQL would find it here: bare if visible, else qualified. */
static char *
relative_proc_name(Oid procid)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procid));
	Form_pg_proc proc;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		return NULL;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (FunctionIsVisible(procid))
		result = pstrdup(quote_identifier(NameStr(proc->proname)));
	else
		result = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
											NameStr(proc->proname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * pg_get_functiondef, without OR REPLACE and with the function's own name
 * unqualified, so that it is created in the first schema of the path.
 */
static char *
relative_functiondef(Oid procid)
{
	char	   *def = deparsed(call_deparser(pg_get_functiondef, 1,
											 ObjectIdGetDatum(procid), 0, 0, false));
	HeapTuple	tup;
	Form_pg_proc proc;
	char	   *qualified;
	const char *what;
	char	   *prefix;
	char	   *result;

	if (def == NULL)
		return NULL;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	what = proc->prokind == PROKIND_PROCEDURE ? "PROCEDURE" : "FUNCTION";
	qualified = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
										   NameStr(proc->proname));
	prefix = psprintf("CREATE OR REPLACE %s %s(", what, qualified);
	if (strncmp(def, prefix, strlen(prefix)) != 0)
		elog(ERROR, "unexpected definition of function %u: %s", procid, def);
	result = psprintf("CREATE %s %s(%s", what, quote_identifier(NameStr(proc->proname)),
					  def + strlen(prefix));
	ReleaseSysCache(tup);
	return result;
}

/* A name from one of the catalogs PostgreSQL prints relative to the path. */
static char *
relative_name(int cacheid, Oid oid, bool (*visible) (Oid))
{
	HeapTuple	tup = SearchSysCache1(cacheid, ObjectIdGetDatum(oid));
	char	   *name;
	Oid			nsp;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		return NULL;
	switch (cacheid)
	{
		case COLLOID:
			name = NameStr(((Form_pg_collation) GETSTRUCT(tup))->collname);
			nsp = ((Form_pg_collation) GETSTRUCT(tup))->collnamespace;
			break;
		case CLAOID:
			name = NameStr(((Form_pg_opclass) GETSTRUCT(tup))->opcname);
			nsp = ((Form_pg_opclass) GETSTRUCT(tup))->opcnamespace;
			break;
		default:
			elog(ERROR, "unexpected syscache %d", cacheid);
	}
	result = visible(oid) ? pstrdup(quote_identifier(name))
		: quote_qualified_identifier(get_namespace_name(nsp), name);
	ReleaseSysCache(tup);
	return result;
}

/* OPERATOR(schema.op): operators are always named in full. */
static char *
operator_reference(Oid oprid)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(oprid));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		return NULL;
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

static char *
deparse_one(const char *what, Oid obj, int32 sub, Datum expr, bool expr_null, Oid rel,
			const char *own_name)
{
	/*
	 * The type modifier always given, -1 too, as pg_dump does: format_type
	 * (type, NULL) prints bpchar as "character" and bit as "bit", which
	 * read back as character(1) and bit(1).  Where no modifier is kept (a
	 * range's subtype, an aggregate's state) -1 names the same type.
	 */
	if (strcmp(what, "type") == 0)
		return deparsed(call_deparser(format_type, 2, ObjectIdGetDatum(obj),
									  Int32GetDatum(sub), 0, false));
	if (strcmp(what, "expr") == 0)
		return expr_null ? NULL :
			deparsed(call_deparser(pg_get_expr, 2, expr, ObjectIdGetDatum(obj), 0, false));
	if (strcmp(what, "constraint") == 0)
		return deparsed(call_deparser(pg_get_constraintdef, 1, ObjectIdGetDatum(obj), 0, 0, false));
	if (strcmp(what, "index") == 0)
		return deparsed(call_deparser(pg_get_indexdef_ext, 3, ObjectIdGetDatum(obj),
									  Int32GetDatum(0), BoolGetDatum(true), false));
	if (strcmp(what, "view") == 0)
		return deparsed(call_deparser(pg_get_viewdef, 1, ObjectIdGetDatum(obj), 0, 0, false));
	if (strcmp(what, "function") == 0)
		return relative_functiondef(obj);
	if (strcmp(what, "function_args") == 0)
		return deparsed(call_deparser(pg_get_function_identity_arguments, 1,
									  ObjectIdGetDatum(obj), 0, 0, false));
	if (strcmp(what, "statistics_columns") == 0)
		return deparsed(call_deparser(pg_get_statisticsobjdef_columns, 1,
									  ObjectIdGetDatum(obj), 0, 0, false));
	if (strcmp(what, "partkey") == 0)
		return deparsed(call_deparser(pg_get_partkeydef, 1, ObjectIdGetDatum(obj), 0, 0, false));
	if (strcmp(what, "class") == 0)
		return get_rel_name(obj) == NULL ? NULL :
			DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(obj)));
	if (strcmp(what, "proc") == 0)
		return relative_proc_name(obj);
	if (strcmp(what, "regprocedure") == 0)
		return SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(obj)) ?
			DatumGetCString(DirectFunctionCall1(regprocedureout, ObjectIdGetDatum(obj))) : NULL;
	if (strcmp(what, "collation") == 0)
		return relative_name(COLLOID, obj, CollationIsVisible);
	if (strcmp(what, "opclass") == 0)
		return relative_name(CLAOID, obj, OpclassIsVisible);
	if (strcmp(what, "operator") == 0)
		return operator_reference(obj);
	if (strcmp(what, "trigger_head") == 0 || strcmp(what, "trigger_tail") == 0 ||
		strcmp(what, "rule_head") == 0 || strcmp(what, "rule_tail") == 0)
	{
		bool		trigger = what[0] == 't';
		char	   *def;

		if (!OidIsValid(rel) || own_name == NULL)
			elog(ERROR, "deparse of a %s part needs its relation and name", trigger ? "trigger" : "rule");
		def = deparsed(call_deparser(trigger ? pg_get_triggerdef_ext : pg_get_ruledef_ext, 2,
									 ObjectIdGetDatum(obj), BoolGetDatum(true), 0, false));
		if (def == NULL)
			return NULL;
		return split_around_relation(def, trigger ? " ON " : " TO ", rel, own_name,
									 strstr(what, "head") != NULL);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown deparse kind \"%s\"", what)));
	return NULL;				/* keep compiler quiet */
}

/*
 * vault_internal.deparse(nsp oid, what text, obj oid, sub int4, expr pg_node_tree,
 *						  rel oid, name text)
 *
 * 'what' picks the deparser; obj is the object, sub a type modifier (for
 * "type"), expr a stored expression (for "expr", obj then being its
 * relation), rel and name the relation and own name of a trigger or rule
 * (for their "_head" and "_tail" parts).  NULL when the object does not
 * exist.
 */
Datum
vault_deparse(PG_FUNCTION_ARGS)
{
	Oid			nsp;
	char	   *what;
	Oid			obj;
	int32		sub;
	char	   *nspname;
	char	   *result;
	int			nestlevel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	nsp = PG_GETARG_OID(0);
	what = text_to_cstring(PG_GETARG_TEXT_PP(1));
	obj = PG_GETARG_OID(2);
	sub = PG_ARGISNULL(3) ? -1 : PG_GETARG_INT32(3);
	nspname = get_namespace_name(nsp);
	if (nspname == NULL)
		PG_RETURN_NULL();

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path",
							 psprintf("%s, pg_catalog, pg_temp", quote_identifier(nspname)),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	result = deparse_one(what, obj, sub, PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
						 PG_ARGISNULL(4), PG_ARGISNULL(5) ? InvalidOid : PG_GETARG_OID(5),
						 PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6)));
	AtEOXact_GUC(true, nestlevel);

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
