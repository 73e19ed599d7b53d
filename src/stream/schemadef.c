/*-------------------------------------------------------------------------
 * schemadef.c
 *	  A schema's objects other than its tables: captured at backup, planned
 *	  at restore.
 *
 * Capture calls vault_internal.capture_schema (extension script) under the
 * backup's snapshot: one row per sequence, type, domain, collation,
 * function, procedure, aggregate, view and materialized view of the schema
 * (not those an extension owns), each with the DDL that recreates it in
 * the first schema of the search path, the later statements it needs
 * (sequence values, owners, view triggers and rules, materialized view
 * indexes and refreshes), comments and privileges, and the keys of the
 * objects it must come after (capture_deps, from pg_depend).  What a point
 * cannot hold (operators, base types, text search objects, ...) is said at
 * backup and kept with the point, so the restore plan can say it too.
 *
 * Restore plans each object into its phases; the order among objects is
 * api/restore_plan.c's.  Must not touch chunks or rows.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

/* how many of the things a point cannot hold a backup names in its WARNING */
#define NOT_HELD_LISTED 5

/*
 * Capture the schema's objects into point_objects under the backup's
 * snapshot, order the point's tables among them (point_tables.deps), and
 * record what the point cannot hold.  Returns the number of objects
 * captured (the schema's own row not counted).
 */
int
schemadef_capture(VaultCall *call, int64 point_id, Oid nsp, const char *schema, Snapshot snapshot)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	Oid			utypes[2] = {INT8OID, OIDOID};
	Datum		uvalues[2];
	int			ret;
	uint64		i;
	uint64		n;
	char	  **kinds;
	char	  **names;
	char	  **keys;
	Datum	   *deps;
	Jsonb	  **defs;
	Jsonb	   *not_held;
	int			objects = 0;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = ObjectIdGetDatum(nsp);
	uvalues[0] = Int64GetDatum(point_id);
	uvalues[1] = ObjectIdGetDatum(nsp);

	/* read the catalogs under the snapshot the rows were read under */
	vault_as_owner(call);
	PushActiveSnapshot(snapshot);
	ret = SPI_execute_with_args("SELECT o.kind, o.name, o.key, coalesce(d.deps, '{}'), o.definition "
								"FROM vault_internal.capture_schema($1) WITH ORDINALITY "
								"  AS o(kind, name, key, definition, ord) "
								"LEFT JOIN vault_internal.capture_deps($1) d USING (key) "
								"ORDER BY o.ord",
								1, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not capture the objects of schema \"%s\"", schema);
	n = SPI_processed;
	MemoryContextSwitchTo(cxt);
	kinds = palloc(sizeof(char *) * Max(n, 1));
	names = palloc(sizeof(char *) * Max(n, 1));
	keys = palloc(sizeof(char *) * Max(n, 1));
	deps = palloc(sizeof(Datum) * Max(n, 1));
	defs = palloc(sizeof(Jsonb *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		kinds[i] = SPI_getvalue(tup, desc, 1);
		names[i] = SPI_getvalue(tup, desc, 2);
		keys[i] = SPI_getvalue(tup, desc, 3);
		deps[i] = PointerGetDatum(DatumGetArrayTypePCopy(SPI_getbinval(tup, desc, 4, &isnull)));
		defs[i] = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
	}
	ret = SPI_execute_with_args("SELECT vault_internal.capture_not_held($1)",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not list what schema \"%s\" holds beyond a point", schema);
	{
		bool		isnull;

		MemoryContextSwitchTo(cxt);
		not_held = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	PopActiveSnapshot();

	for (i = 0; i < n; i++)
	{
		Oid			itypes[7] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, JSONBOID};
		Datum		ivalues[7];

		ivalues[0] = Int64GetDatum(point_id);
		ivalues[1] = Int32GetDatum((int32) i + 1);
		ivalues[2] = CStringGetTextDatum(kinds[i]);
		ivalues[3] = CStringGetTextDatum(names[i]);
		ivalues[4] = CStringGetTextDatum(keys[i]);
		ivalues[5] = deps[i];
		ivalues[6] = JsonbPGetDatum(defs[i]);
		(void) spi_int64("INSERT INTO vault_internal.point_objects "
						 "(point_id, ordinal, kind, name, key, deps, definition, geo) "
						 "SELECT $1, $2, $3, $4, $5, $6, $7, p.geo FROM vault_internal.points p "
						 "WHERE p.point_id = $1", 7, itypes, ivalues, NULL);
		if (strcmp(kinds[i], "schema") != 0)
			objects++;
	}

	/* the tables' places among the objects */
	(void) spi_int64("UPDATE vault_internal.point_tables t SET deps = d.deps "
					 "FROM vault_internal.capture_deps($2) d "
					 "WHERE t.point_id = $1 AND d.key = 'c' || t.source_oid::text",
					 2, utypes, uvalues, NULL);
	{
		Oid			ntypes[2] = {INT8OID, JSONBOID};
		Datum		nvalues[2];
		JsonbContainer *list = def_root(not_held);
		int			count = def_count(list);

		nvalues[0] = Int64GetDatum(point_id);
		nvalues[1] = JsonbPGetDatum(not_held);
		(void) spi_int64("UPDATE vault_internal.points SET not_held = $2 WHERE point_id = $1",
						 2, ntypes, nvalues, NULL);
		if (count > 0)
		{
			StringInfoData buf;
			int			k;

			initStringInfo(&buf);
			for (k = 0; k < count && k < NOT_HELD_LISTED; k++)
				appendStringInfo(&buf, "%s%s %s", k > 0 ? ", " : "",
								 def_text(def_item(list, k), "kind"), def_text(def_item(list, k), "name"));
			if (count > NOT_HELD_LISTED)
				appendStringInfo(&buf, " and %d more", count - NOT_HELD_LISTED);
			ereport(WARNING,
					(errmsg("recovery point %lld does not hold %d object(s) of schema \"%s\"",
							(long long) point_id, count, schema),
					 errdetail("Not held: %s.", buf.data),
					 errhint("A point holds tables, sequences, types, domains, collations, functions, "
							 "procedures, aggregates, views, materialized views, triggers, rules, policies, "
							 "statistics objects, comments and privileges; vault_restore_plan lists what "
							 "a restore leaves out.")));
		}
	}
	vault_as_caller(call);
	return objects;
}

/* The point's objects, in capture order: a List of PointObject. */
List *
schemadef_load(VaultCall *call, int64 point_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	List	   *result = NIL;
	uint64		i;

	values[0] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT ordinal, kind, name, key, deps, definition "
								"FROM vault_internal.point_objects WHERE point_id = $1 ORDER BY ordinal",
								1, types, values, NULL, false, 0);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the objects of recovery point %lld", (long long) point_id);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PointObject *o = palloc0(sizeof(PointObject));
		bool		isnull;

		o->ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		o->kind = SPI_getvalue(tup, desc, 2);
		o->name = SPI_getvalue(tup, desc, 3);
		o->key = SPI_getvalue(tup, desc, 4);
		o->deps = vault_text_array(SPI_getbinval(tup, desc, 5, &isnull), &o->ndeps);
		o->definition = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 6, &isnull));
		result = lappend(result, o);
	}
	return result;
}

/* The point's record of what it cannot hold ([{kind, name}]), or NULL. */
Jsonb *
schemadef_not_held(VaultCall *call, int64 point_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			ret;
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT not_held FROM vault_internal.points WHERE point_id = $1",
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/* relative name of an object, qualified with the schema it is restored into */
static char *
restored_name(const char *schema, const char *relative)
{
	return psprintf("%s.%s", quote_identifier(schema), relative);
}

static PlanPhase
phase_named(const char *name)
{
	static const char *const names[PHASE_COUNT] = {
		"schema", "pre", "data", "post", "fk", "attach", "refresh", "final"
	};
	int			i;

	for (i = 0; i < PHASE_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return (PlanPhase) i;
	elog(ERROR, "unknown restore phase \"%s\" in a point's object", name);
	return PHASE_FINAL;			/* keep compiler quiet */
}

/*
 * The steps of one object restored into 'schema' with a whole-schema restore
 * (whose relative search path makes every unqualified name the target's).
 */
void
schemadef_plan(RestorePlan *plan, PointObject *o, const char *schema)
{
	JsonbContainer *def = def_root(o->definition);
	JsonbContainer *steps = def_get(def, "steps");
	JsonbContainer *comments = def_get(def, "comments");
	JsonbContainer *column_acls = def_get(def, "column_acls");
	char	   *name = strcmp(o->kind, "schema") == 0 ? pstrdup(quote_identifier(schema))
		: restored_name(schema, o->name);
	char	   *owner = def_text(def, "owner");
	int			i;

	plan_need_extensions(plan, def);
	if (strcmp(o->kind, "schema") == 0)
	{
		attached_comment(plan, "schema", name, psprintf("SCHEMA %s", name), def_text(def, "comment"));
		attached_privileges(plan, def_get(def, "acl"), "schema", name, psprintf("SCHEMA %s", name), NULL);
		return;
	}

	plan_add(plan, PHASE_PRE, o->kind, name, "create", def_text(def, "create"));
	for (i = 0; i < def_count(steps); i++)
	{
		JsonbContainer *s = def_item(steps, i);

		plan_add(plan, phase_named(def_text(s, "phase")), o->kind, name, def_text(s, "action"),
				 def_text(s, "sql"));
	}
	if (def_bool(def, "security_definer") && owner &&
		strcmp(owner, GetUserNameFromId(GetUserId(), false)) != 0)
		plan_add_notice(plan, PHASE_FINAL, o->kind, name, "runs as the restoring role",
						psprintf("%s %s is SECURITY DEFINER: it now runs with the rights of role \"%s\", "
								 "which restores it (it ran as \"%s\")",
								 o->kind, name, GetUserNameFromId(GetUserId(), false), owner));
	if (def_text(def, "comment_on"))
		attached_comment(plan, o->kind, name, def_text(def, "comment_on"), def_text(def, "comment"));
	for (i = 0; i < def_count(comments); i++)
	{
		JsonbContainer *c = def_item(comments, i);

		attached_comment(plan, o->kind, name, def_text(c, "on"), def_text(c, "text"));
	}
	if (def_text(def, "grant_on"))
		attached_privileges(plan, def_get(def, "acl"), o->kind, name, def_text(def, "grant_on"), NULL);
	for (i = 0; i < def_count(column_acls); i++)
	{
		JsonbContainer *ca = def_item(column_acls, i);

		attached_privileges(plan, def_get(ca, "acl"), o->kind, name, def_text(def, "grant_on"),
							def_text(ca, "column"));
	}
}
