/*-------------------------------------------------------------------------
 * restore_plan.c
 *	  Where a point goes and what a restore of it creates, in which order;
 *	  the SQL function vault_restore_plan.
 *
 * Owns: who may restore a point (the operator level on its vault, and the
 * right to read each table as it was: restore and export alike), the
 * restore's target (a schema point into a schema, default
 * <schema>_restored; a table into [schema.]name, default <name>_restored;
 * source_table picks one table of a schema point), and the plan: for a
 * whole schema, the schema, then every object and table of the point in
 * dependency order (pure/toposort.c over the keys the capture recorded:
 * types before the tables whose columns use them, functions before the views
 * that call them, ...), each planned into its phases by stream/; for one
 * table, that table.  Points made by 1.0 hold tables only, with absolute
 * names; their plans run every statement with search_path = pg_catalog, as
 * 1.0 did.  Building a plan creates nothing: vault_restore_plan shows it,
 * vault_restore (restore.c) runs it.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/namespace.h"
#include "utils/acl.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "toposort.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(vault_restore_plan);

/* "name" or "schema.name", quoted as SQL quotes identifiers; schema NULL if absent. */
static void
parse_table_name(const char *text, const char *what, char **schema, char **name)
{
	List	   *names = stringToQualifiedNameList(text);

	*schema = NULL;
	if (list_length(names) == 2)
	{
		*schema = strVal(linitial(names));
		*name = strVal(lsecond(names));
	}
	else if (list_length(names) == 1)
		*name = strVal(linitial(names));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("improper %s \"%s\"", what, text)));
}

/* The table of a point that source_table names (schema-qualified or not). */
PointTable *
restore_pick_table(PointInfo *p, List *tables, const char *source_table)
{
	char	   *want_schema = NULL;
	char	   *want_name;
	ListCell   *lc;

	if (source_table == NULL)
	{
		if (list_length(tables) == 1)
			return linitial(tables);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recovery point %lld holds %d tables of schema \"%s\"",
						(long long) p->point_id, list_length(tables), p->item_name),
				 errhint("Name one with source_table, or restore the whole schema.")));
	}
	parse_table_name(source_table, "table name", &want_schema, &want_name);

	foreach(lc, tables)
	{
		PointTable *t = lfirst(lc);

		if (strcmp(t->table_name, want_name) == 0 &&
			(want_schema == NULL || strcmp(t->schema_name, want_schema) == 0))
			return t;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 errmsg("recovery point %lld has no table \"%s\"", (long long) p->point_id, source_table),
			 errhint("Its item is %s %s.", p->kind, p->item_name)));
	return NULL;				/* keep compiler quiet */
}

/*
 * Read the point and decide where it goes: fills r->tables, r->objects,
 * r->whole_schema, r->schema and (one table) r->table and r->name.
 */
void
restore_resolve(VaultCall *call, RestoreRequest *r)
{
	PointInfo  *p = r->point;

	r->tables = point_tables(call, p->point_id);
	r->objects = NIL;
	r->whole_schema = strcmp(p->kind, "schema") == 0 && r->source_table == NULL;
	if (!r->whole_schema)
	{
		/* one table: into target, or next to the original as <name>_restored */
		r->table = restore_pick_table(p, r->tables, r->source_table);
		r->schema = r->table->schema_name;
		if (r->target != NULL)
		{
			char	   *target_schema = NULL;

			parse_table_name(r->target, "target table name", &target_schema, &r->name);
			if (target_schema)
				r->schema = target_schema;
		}
		else
			r->name = psprintf("%.*s_restored", NAMEDATALEN - 10, r->table->table_name);
		return;
	}

	if (call->catalog >= VAULT_CATALOG_1_1)
		r->objects = schemadef_load(call, p->point_id);
	if (r->target != NULL)
	{
		List	   *names = stringToQualifiedNameList(r->target);

		if (list_length(names) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("improper target schema name \"%s\"", r->target),
					 errhint("A schema point restores into a schema: give a schema name.")));
		r->schema = strVal(linitial(names));
	}
	else
		r->schema = psprintf("%.*s_restored", NAMEDATALEN - 10, p->item_name);
}

/*
 * Restoring or exporting hands out the data as it was: the caller must be
 * able to read the source today (SELECT on it, if it still exists under
 * that name), or be a member of the role that owned it at backup time, or
 * be a superuser.
 */
void
restore_check_read_rights(VaultCall *call, int64 point_id, PointTable *t)
{
	Oid			nsp;
	Oid			relid = InvalidOid;

	if (superuser_arg(call->caller) || has_privs_of_role(call->caller, t->source_owner))
		return;
	nsp = get_namespace_oid(t->schema_name, true);
	if (OidIsValid(nsp))
		relid = get_relname_relid(t->table_name, nsp);
	if (OidIsValid(relid) &&
		(pg_class_aclcheck(relid, call->caller, ACL_SELECT) == ACLCHECK_OK ||
		 pg_attribute_aclcheck_all(relid, call->caller, ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to read table %s of recovery point %lld",
					quote_qualified_identifier(t->schema_name, t->table_name), (long long) point_id),
			 errdetail("Restoring or exporting needs SELECT on the table, membership in its owner role \"%s\", or superuser.",
					   GetUserNameFromId(t->source_owner, true) ? GetUserNameFromId(t->source_owner, true) : "?")));
}

/*
 * Open a restore of a point (vault_restore and vault_restore_plan alike):
 * the caller needs the operator level on its vault and the right to read
 * every table it would restore.  Resolves r; returns the vault.
 */
VaultInfo *
restore_open(VaultCall *call, RestoreRequest *r, int64 point_id)
{
	VaultInfo  *vault;
	ListCell   *lc;

	r->point = point_lookup(call, point_id);
	vault = vault_lookup_by_id(call, r->point->vault_id);
	vault_require(call, vault, VAULT_OPERATOR, "restoring");
	if (!r->plan_only)
	{
		restore_refuse_soft_deleted(r->point, "restored");
		secondary_check_restore(vault, r->point->point_id, "restored");
	}
	restore_resolve(call, r);
	foreach(lc, r->tables)
		if (r->whole_schema || lfirst(lc) == r->table)
			restore_check_read_rights(call, r->point->point_id, lfirst(lc));
	return vault;
}

/* A soft-deleted point is kept, verifiable, but not handed out. */
void
restore_refuse_soft_deleted(PointInfo *p, const char *what)
{
	if (strcmp(p->state, "soft-deleted") != 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("recovery point %lld is soft-deleted and cannot be %s", (long long) p->point_id, what),
			 errhint("Undelete it first: vault_undelete_point(%lld), or vault_undelete(vault, item) for its whole item.",
					 (long long) p->point_id)));
}

/* plan order among kinds of the same readiness: pg_dump's */
static int
kind_priority(const char *kind)
{
	static const char *const kinds[] = {
		"collation", "type", "domain", "function", "procedure", "aggregate",
		"sequence", "table", "view", "materialized view", NULL
	};
	int			i;

	for (i = 0; kinds[i]; i++)
		if (strcmp(kinds[i], kind) == 0)
			return i;
	return i;
}

typedef struct PlanNode
{
	char	   *key;
	const char *kind;
	char	  **deps;
	int			ndeps;
	PointTable *table;			/* a table, or */
	PointObject *object;		/* another object */
} PlanNode;

static int
node_index(PlanNode *nodes, int n, HTAB *index, const char *key)
{
	bool		found;
	char		buf[NAMEDATALEN] = {0};
	int		   *slot;

	(void) nodes;
	(void) n;
	strlcpy(buf, key, NAMEDATALEN);
	slot = hash_search(index, buf, HASH_FIND, &found);
	return found ? slot[NAMEDATALEN / sizeof(int)] : -1;
}

/* Every object and table of a schema point, in creation order. */
static List *
ordered_nodes(RestoreRequest *r)
{
	int			n = list_length(r->tables) + list_length(r->objects);
	PlanNode   *nodes = palloc0(sizeof(PlanNode) * Max(n, 1));
	int		   *prio = palloc(sizeof(int) * Max(n, 1));
	int		  **deps = palloc(sizeof(int *) * Max(n, 1));
	int		   *ndeps = palloc(sizeof(int) * Max(n, 1));
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	HASHCTL		ctl;
	HTAB	   *index;
	ListCell   *lc;
	List	   *result = NIL;
	int			count = 0;
	int			i;
	int			breaks;

	/* objects first: capture order puts them in pg_dump's kind order */
	foreach(lc, r->objects)
	{
		PointObject *o = lfirst(lc);

		if (strcmp(o->kind, "schema") == 0)
			continue;
		nodes[count].key = o->key;
		nodes[count].kind = o->kind;
		nodes[count].deps = o->deps;
		nodes[count].ndeps = o->ndeps;
		nodes[count].object = o;
		count++;
	}
	foreach(lc, r->tables)
	{
		PointTable *t = lfirst(lc);

		nodes[count].key = psprintf("c%u", t->source_oid);
		nodes[count].kind = "table";
		nodes[count].deps = t->deps;
		nodes[count].ndeps = t->ndeps;
		nodes[count].table = t;
		count++;
	}

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = NAMEDATALEN + sizeof(int);
	ctl.hcxt = CurrentMemoryContext;
	index = hash_create("vault restore plan nodes", Max(count, 16), &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (i = 0; i < count; i++)
	{
		char		buf[NAMEDATALEN] = {0};
		int		   *slot;

		strlcpy(buf, nodes[i].key, NAMEDATALEN);
		slot = hash_search(index, buf, HASH_ENTER, NULL);
		slot[NAMEDATALEN / sizeof(int)] = i;
	}
	for (i = 0; i < count; i++)
	{
		int			j;

		prio[i] = kind_priority(nodes[i].kind);
		ndeps[i] = nodes[i].ndeps;
		deps[i] = palloc(sizeof(int) * Max(nodes[i].ndeps, 1));
		for (j = 0; j < nodes[i].ndeps; j++)
			deps[i][j] = node_index(nodes, count, index, nodes[i].deps[j]);
	}
	breaks = toposort(count, prio, (const int *const *) deps, ndeps, order);
	if (breaks < 0)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (breaks > 0)
		ereport(NOTICE,
				(errmsg("recovery point %lld holds objects that depend on each other in a circle; "
						"%d of them are created before what they need",
						(long long) r->point->point_id, breaks),
				 errhint("If the restore fails, restore the tables alone with source_table.")));
	for (i = 0; i < count; i++)
	{
		PlanNode   *node = palloc(sizeof(PlanNode));

		*node = nodes[order[i]];
		result = lappend(result, node);
	}
	return result;
}

/* whether a point's definitions are relative to its schema (made by 1.1 or later) */
static bool
point_relative(RestoreRequest *r)
{
	ListCell   *lc;

	if (r->objects != NIL)
		return true;
	foreach(lc, r->tables)
		if (tabledef_relative(def_root(((PointTable *) lfirst(lc))->definition)))
			return true;
	return false;
}

/* The plan of a resolved restore (restore_resolve); creates nothing. */
RestorePlan *
restore_build_plan(VaultCall *call, RestoreRequest *r)
{
	RestorePlan *plan;
	ListCell   *lc;
	TableTarget tt;
	bool		relative;

	memset(&tt, 0, sizeof(tt));
	tt.point_schema = r->point->item_name;
	if (!r->whole_schema)
	{
		relative = tabledef_relative(def_root(r->table->definition));
		/* the table's own schema is where its unqualified names live */
		plan = plan_create(relative ? r->table->schema_name : NULL, NULL);
		tt.table = r->table;
		tt.schema = r->schema;
		tt.name = r->name;
		tt.sequences_restored = false;
		tt.point_schema = r->table->schema_name;
		tt.siblings = list_make1(table_name(r->table->table_name, r->schema, r->name));
		tabledef_plan(plan, &tt);
		return plan;
	}

	relative = point_relative(r);
	plan = plan_create(relative ? r->schema : NULL, r->schema);
	plan_add(plan, PHASE_SCHEMA, "schema", quote_identifier(r->schema), "create",
			 psprintf("CREATE SCHEMA %s", quote_identifier(r->schema)))->relative = false;
	foreach(lc, r->objects)
	{
		PointObject *o = lfirst(lc);

		if (strcmp(o->kind, "schema") == 0)
			schemadef_plan(plan, o, r->schema);
	}
	tt.schema = r->schema;
	tt.sequences_restored = relative;
	foreach(lc, r->tables)
	{
		PointTable *t = lfirst(lc);

		tt.siblings = lappend(tt.siblings, table_name(t->table_name, r->schema, t->table_name));
	}
	foreach(lc, ordered_nodes(r))
	{
		PlanNode   *node = lfirst(lc);

		if (node->table)
		{
			tt.table = node->table;
			tt.name = node->table->table_name;
			tabledef_plan(plan, &tt);
		}
		else
			schemadef_plan(plan, node->object, r->schema);
	}
	return plan;
}

/* Refuse a restore whose objects need an extension this database lacks. */
void
restore_check_extensions(RestorePlan *plan, int64 point_id)
{
	ListCell   *lc;

	foreach(lc, plan->extensions)
	{
		char	   *ext = lfirst(lc);

		if (!OidIsValid(get_extension_oid(ext, true)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("recovery point %lld needs extension \"%s\", which is not installed in this database",
							(long long) point_id, ext),
					 errdetail("Objects of the point use types, functions or languages of that extension."),
					 errhint("Create it first: CREATE EXTENSION %s;", quote_identifier(ext))));
	}
}

static void
emit_row(Tuplestorestate *ts, TupleDesc desc, int step, const char *kind, const char *name,
		 const char *action)
{
	Datum		values[4];
	bool		nulls[4] = {step <= 0, false, false, false};

	values[0] = Int32GetDatum(step);
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(name);
	values[3] = CStringGetTextDatum(action);
	tuplestore_putvalues(ts, desc, values, nulls);
}

/*
 * vault_restore_plan(recovery_point, target, source_table): the steps a
 * restore would run, numbered in order; first (step NULL) the extensions
 * the point needs, last (step NULL) what its schema held that a point
 * cannot.  Creates nothing.  Same rights as vault_restore.
 */
Datum
vault_restore_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VaultCall	call;
	RestoreRequest r;
	RestorePlan *plan;
	Jsonb	   *not_held = NULL;
	ListCell   *lc;
	int			step = 0;

	vault_arg_not_null(fcinfo, 0, "recovery point");
	InitMaterializedSRF(fcinfo, 0);
	memset(&r, 0, sizeof(r));
	r.target = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	r.source_table = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	r.plan_only = true;
	vault_call_begin(&call);
	(void) restore_open(&call, &r, PG_GETARG_INT64(0));
	plan = restore_build_plan(&call, &r);
	if (r.whole_schema)
		not_held = schemadef_not_held(&call, r.point->point_id);

	foreach(lc, plan->extensions)
	{
		char	   *ext = lfirst(lc);

		emit_row(rsinfo->setResult, rsinfo->setDesc, 0, "extension", ext,
				 OidIsValid(get_extension_oid(ext, true)) ? "needed: installed"
				 : psprintf("needed: not installed; CREATE EXTENSION %s first", quote_identifier(ext)));
	}
	foreach(lc, plan_steps(plan))
	{
		PlanStep   *s = lfirst(lc);

		emit_row(rsinfo->setResult, rsinfo->setDesc, ++step, s->kind, s->name, s->action);
	}
	if (not_held)
	{
		JsonbContainer *list = def_root(not_held);
		int			i;

		for (i = 0; i < def_count(list); i++)
			emit_row(rsinfo->setResult, rsinfo->setDesc, 0, def_text(def_item(list, i), "kind"),
					 def_text(def_item(list, i), "name"), "not in the point: recreate by hand");
	}
	vault_call_end(&call);
	return (Datum) 0;
}
