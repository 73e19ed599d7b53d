/*-------------------------------------------------------------------------
 * plan.c
 *	  A restore plan: the statements and loads of one restore, in order.
 *
 * A restore is built as a list of steps before anything runs, so that
 * vault_restore_plan can show it without creating anything and
 * vault_restore runs exactly what the plan says.  Steps go into phases, as
 * pg_restore's sections do: the schema, objects created in dependency order,
 * the data, constraints and indexes, foreign keys, what hangs off the
 * relations (triggers, rules, policies, ...), materialized view refreshes,
 * then comments and privileges.  Within a phase steps keep the order in which
 * the objects were planned, which is their creation order.
 *
 * Owns: the step list, the names a plan takes for itself (so two objects it
 * creates never get the same name), and which search path a step runs
 * under.  Must not run anything (api/restore.c does).
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

RestorePlan *
plan_create(const char *relative_schema, const char *fresh_schema)
{
	RestorePlan *plan = palloc0(sizeof(RestorePlan));

	plan->relative_schema = relative_schema ? pstrdup(relative_schema) : NULL;
	plan->fresh_schema = fresh_schema ? pstrdup(fresh_schema) : NULL;
	return plan;
}

/* Append a step that runs one SQL statement. */
PlanStep *
plan_add(RestorePlan *plan, PlanPhase phase, const char *kind, const char *name,
		 const char *action, char *sql)
{
	PlanStep   *s = palloc0(sizeof(PlanStep));

	s->phase = phase;
	s->run = sql ? STEP_SQL : STEP_NOTICE;
	s->kind = kind;
	s->name = pstrdup(name);
	s->action = pstrdup(action);
	s->sql = sql;
	s->relative = plan->relative_schema != NULL;
	plan->phases[phase] = lappend(plan->phases[phase], s);
	return s;
}

/*
 * Append a statement that names what it creates when that name is free in
 * the schema when the step runs, and lets PostgreSQL choose otherwise.
 */
PlanStep *
plan_add_named(RestorePlan *plan, PlanPhase phase, const char *kind, const char *name,
			   const char *action, const char *schema, const char *wanted,
			   char *sql_named, char *sql_unnamed)
{
	PlanStep   *s = plan_add(plan, phase, kind, name, action, sql_named);

	s->free_schema = pstrdup(schema);
	s->free_name = pstrdup(wanted);
	s->sql_unnamed = sql_unnamed;
	return s;
}

/* Append a NOTICE in place of a statement (something not restored). */
PlanStep *
plan_add_notice(RestorePlan *plan, PlanPhase phase, const char *kind, const char *name,
				const char *action, char *notice)
{
	PlanStep   *s = plan_add(plan, phase, kind, name, action, NULL);

	s->notice = notice;
	return s;
}

/*
 * Whether a relation name is free in a schema: not taken there now (a
 * schema the plan creates holds nothing yet) and not taken by the plan.
 */
bool
plan_name_free(RestorePlan *plan, const char *schema, const char *name)
{
	char	   *full = quote_qualified_identifier(schema, name);
	ListCell   *lc;
	Oid			nsp;

	foreach(lc, plan->reserved)
		if (strcmp((char *) lfirst(lc), full) == 0)
			return false;
	if (plan->fresh_schema && strcmp(plan->fresh_schema, schema) == 0)
		return true;
	nsp = get_namespace_oid(schema, true);
	return !OidIsValid(nsp) || !OidIsValid(get_relname_relid(name, nsp));
}

/* The plan creates this relation: no other step may take the name. */
void
plan_reserve(RestorePlan *plan, const char *schema, const char *name)
{
	plan->reserved = lappend(plan->reserved, quote_qualified_identifier(schema, name));
}

/* Record an extension the restored objects need (once each). */
void
plan_need_extension(RestorePlan *plan, const char *extname)
{
	ListCell   *lc;

	foreach(lc, plan->extensions)
		if (strcmp((char *) lfirst(lc), extname) == 0)
			return;
	plan->extensions = lappend(plan->extensions, pstrdup(extname));
}

/* Every extension named in a definition's "extensions" array. */
void
plan_need_extensions(RestorePlan *plan, JsonbContainer *def)
{
	JsonbContainer *exts = def_get(def, "extensions");
	int			i;

	for (i = 0; i < def_count(exts); i++)
		plan_need_extension(plan, def_item_text(exts, i));
}

/* All steps, phase by phase. */
List *
plan_steps(RestorePlan *plan)
{
	List	   *all = NIL;
	int			ph;

	for (ph = 0; ph < PHASE_COUNT; ph++)
		all = list_concat(all, plan->phases[ph]);
	return all;
}
