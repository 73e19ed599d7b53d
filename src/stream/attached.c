/*-------------------------------------------------------------------------
 * attached.c
 *	  What hangs off a restored relation, and comments and privileges.
 *
 * Owns planning the statements for a relation's triggers (when their
 * function exists), rules, row-level security policies and flags,
 * statistics objects, replica identity and clustering index, and the
 * comments and privileges of anything restored.  Privileges come back as
 * the changes the point recorded against the default ACL, re-applied with
 * the restoring role as owner; a grant to a role that no longer exists is
 * reported and left out (it could reach no one), and so is a policy whose
 * every role is gone.  Statements that name something by its captured name
 * (an index, a constraint) are guarded: they run only if that name is the
 * restored relation's, since a restore beside the original lets PostgreSQL
 * choose names the original holds.  Must not run anything.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/namespace.h"
#include "catalog/pg_statistic_ext.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

static char *
label(const char *schema, const char *name)
{
	return quote_qualified_identifier(schema, name);
}

/* A grantee as SQL: PUBLIC, the restoring role, or a role that exists; else NULL. */
static const char *
grantee_sql(const char *to)
{
	if (strcmp(to, "public") == 0)
		return "PUBLIC";
	if (strcmp(to, "owner") == 0)
		return "CURRENT_USER";
	if (strncmp(to, "role:", 5) == 0 && OidIsValid(get_role_oid(to + 5, true)))
		return quote_identifier(to + 5);
	return NULL;
}

static const char *
grantee_label(const char *to)
{
	if (strcmp(to, "owner") == 0)
		return "the owner";
	if (strncmp(to, "role:", 5) == 0)
		return to + 5;
	return to;
}

/* COMMENT ON <on> IS '<text>' */
void
attached_comment(RestorePlan *plan, const char *kind, const char *name, const char *on,
				 const char *text)
{
	if (text == NULL)
		return;
	plan_add(plan, PHASE_FINAL, kind, name, "comment",
			 psprintf("COMMENT ON %s IS %s", on, quote_literal_cstr(text)));
}

/*
 * The privileges an ACL capture (capture_acl) recorded: revokes from the
 * default first, then grants; on a column when 'column' is given.
 */
void
attached_privileges(RestorePlan *plan, JsonbContainer *acl, const char *kind,
					const char *name, const char *grant_on, const char *column)
{
	JsonbContainer *revokes = def_get(acl, "revoke");
	JsonbContainer *grants = def_get(acl, "grant");
	const char *col = column ? psprintf(" (%s)", quote_identifier(column)) : "";
	int			i;

	for (i = 0; i < def_count(revokes); i++)
	{
		JsonbContainer *r = def_item(revokes, i);
		char	   *to = def_text(r, "to");
		char	   *priv = def_text(r, "privilege");
		const char *who = grantee_sql(to);
		char	   *action = psprintf("revoke %s%s from %s", priv, col, grantee_label(to));

		if (who == NULL)
			continue;			/* a default for a role that is gone: nothing to take */
		plan_add(plan, PHASE_FINAL, kind, name, action,
				 psprintf("REVOKE %s%s ON %s FROM %s", priv, col, grant_on, who));
	}
	for (i = 0; i < def_count(grants); i++)
	{
		JsonbContainer *g = def_item(grants, i);
		char	   *to = def_text(g, "to");
		char	   *priv = def_text(g, "privilege");
		bool		grantable = def_bool(g, "grantable");
		const char *who = grantee_sql(to);
		char	   *action = psprintf("grant %s%s to %s%s", priv, col, grantee_label(to),
									  grantable ? " with grant option" : "");

		if (who == NULL)
		{
			plan_add_notice(plan, PHASE_FINAL, kind, name, "not restored",
							psprintf("%s on %s for role \"%s\" is not restored: the role does not exist",
									 priv, name, grantee_label(to)));
			continue;
		}
		plan_add(plan, PHASE_FINAL, kind, name, action,
				 psprintf("GRANT %s%s ON %s TO %s%s", priv, col, grant_on, who,
						  grantable ? " WITH GRANT OPTION" : ""));
	}
}

/* SQL that is true when 'index' is an index of 'relation' (qualified) */
static char *
index_of(const char *schema, const char *relation, const char *index)
{
	return psprintf("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
					"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
					"WHERE i.indrelid OPERATOR(pg_catalog.=) %s::pg_catalog.regclass "
					"AND c.relname OPERATOR(pg_catalog.=) %s)",
					quote_literal_cstr(relation), quote_literal_cstr(index));
}

static char *
constraint_of(const char *relation, const char *conname)
{
	return psprintf("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c "
					"WHERE c.conrelid OPERATOR(pg_catalog.=) %s::pg_catalog.regclass "
					"AND c.conname OPERATOR(pg_catalog.=) %s)",
					quote_literal_cstr(relation), quote_literal_cstr(conname));
}

static PlanStep *
guarded(PlanStep *s, char *guard, char *notice)
{
	s->guard = guard;
	s->guard_notice = notice;
	return s;
}

static const char *
enable_word(const char *state)
{
	switch (state ? state[0] : 'O')
	{
		case 'D':
			return "DISABLE";
		case 'R':
			return "ENABLE REPLICA";
		case 'A':
			return "ENABLE ALWAYS";
		default:
			return NULL;
	}
}

static void
plan_triggers_rules(RestorePlan *plan, JsonbContainer *def, const char *relation)
{
	JsonbContainer *triggers = def_get(def, "triggers");
	JsonbContainer *rules = def_get(def, "rules");
	int			i;

	for (i = 0; i < def_count(triggers); i++)
	{
		JsonbContainer *t = def_item(triggers, i);
		char	   *tgname = def_text(t, "name");
		char	   *name = psprintf("%s ON %s", quote_identifier(tgname), relation);
		char	   *fn = def_text(t, "function");
		const char *enable = enable_word(def_text(t, "enabled"));

		guarded(plan_add(plan, PHASE_ATTACH, "trigger", name, "create",
						 psprintf("%s ON %s %s", def_text(t, "head"), relation, def_text(t, "tail"))),
				psprintf("SELECT pg_catalog.to_regprocedure(%s) IS NOT NULL", quote_literal_cstr(fn)),
				psprintf("trigger \"%s\" of %s is not restored: its function %s does not exist",
						 tgname, relation, fn));
		if (enable)
			plan_add(plan, PHASE_ATTACH, "trigger", name, psprintf("%s", enable),
					 psprintf("ALTER TABLE %s %s TRIGGER %s", relation, enable, quote_identifier(tgname)));
		if (def_text(t, "comment"))
			guarded(plan_add(plan, PHASE_FINAL, "trigger", name, "comment",
							 psprintf("COMMENT ON TRIGGER %s ON %s IS %s", quote_identifier(tgname),
									  relation, quote_literal_cstr(def_text(t, "comment")))),
					psprintf("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t "
							 "WHERE t.tgrelid OPERATOR(pg_catalog.=) %s::pg_catalog.regclass "
							 "AND t.tgname OPERATOR(pg_catalog.=) %s)",
							 quote_literal_cstr(relation), quote_literal_cstr(tgname)),
					psprintf("the comment on trigger \"%s\" of %s is not restored: the trigger is not",
							 tgname, relation));
	}
	for (i = 0; i < def_count(rules); i++)
	{
		JsonbContainer *r = def_item(rules, i);
		char	   *rulename = def_text(r, "name");
		char	   *name = psprintf("%s ON %s", quote_identifier(rulename), relation);
		const char *enable = enable_word(def_text(r, "enabled"));

		plan_add(plan, PHASE_ATTACH, "rule", name, "create",
				 psprintf("%s TO %s %s", def_text(r, "head"), relation, def_text(r, "tail")));
		if (enable)
			plan_add(plan, PHASE_ATTACH, "rule", name, enable,
					 psprintf("ALTER TABLE %s %s RULE %s", relation, enable, quote_identifier(rulename)));
		if (def_text(r, "comment"))
			plan_add(plan, PHASE_FINAL, "rule", name, "comment",
					 psprintf("COMMENT ON RULE %s ON %s IS %s", quote_identifier(rulename), relation,
							  quote_literal_cstr(def_text(r, "comment"))));
	}
}

static void
plan_policies(RestorePlan *plan, JsonbContainer *def, const char *relation)
{
	JsonbContainer *policies = def_get(def, "policies");
	int			i;

	for (i = 0; i < def_count(policies); i++)
	{
		JsonbContainer *p = def_item(policies, i);
		JsonbContainer *roles = def_get(p, "roles");
		char	   *polname = def_text(p, "name");
		char	   *name = psprintf("%s ON %s", quote_identifier(polname), relation);
		char	   *cmd = def_text(p, "command");
		StringInfoData to;
		StringInfoData sql;
		int			j;

		initStringInfo(&to);
		for (j = 0; j < def_count(roles); j++)
		{
			const char *who = grantee_sql(def_item_text(roles, j));

			if (who)
				appendStringInfo(&to, "%s%s", to.len > 0 ? ", " : "", who);
			else
				plan_add_notice(plan, PHASE_ATTACH, "policy", name, "role left out",
								psprintf("policy \"%s\" of %s is restored without role \"%s\", which does not exist",
										 polname, relation, grantee_label(def_item_text(roles, j))));
		}
		if (to.len == 0)
		{
			plan_add_notice(plan, PHASE_ATTACH, "policy", name, "not restored",
							psprintf("policy \"%s\" of %s is not restored: none of its roles exists",
									 polname, relation));
			continue;
		}
		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE POLICY %s ON %s AS %s FOR %s TO %s",
						 quote_identifier(polname), relation,
						 def_bool(p, "permissive") ? "PERMISSIVE" : "RESTRICTIVE",
						 cmd[0] == 'r' ? "SELECT" : cmd[0] == 'a' ? "INSERT" :
						 cmd[0] == 'w' ? "UPDATE" : cmd[0] == 'd' ? "DELETE" : "ALL",
						 to.data);
		if (def_text(p, "using"))
			appendStringInfo(&sql, " USING (%s)", def_text(p, "using"));
		if (def_text(p, "check"))
			appendStringInfo(&sql, " WITH CHECK (%s)", def_text(p, "check"));
		plan_add(plan, PHASE_ATTACH, "policy", name, "create", sql.data);
		if (def_text(p, "comment"))
			plan_add(plan, PHASE_FINAL, "policy", name, "comment",
					 psprintf("COMMENT ON POLICY %s ON %s IS %s", quote_identifier(polname), relation,
							  quote_literal_cstr(def_text(p, "comment"))));
	}
	if (def_bool(def, "rls"))
		plan_add(plan, PHASE_ATTACH, "table", relation, "enable row level security",
				 psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", relation));
	if (def_bool(def, "force_rls"))
		plan_add(plan, PHASE_ATTACH, "table", relation, "force row level security",
				 psprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY", relation));
}

/* A statistics object's name: its own where free in the schema, else <table>_<name>[_N]. */
static char *
statistics_name(RestorePlan *plan, const char *schema, const char *relname, const char *wanted)
{
	Oid			nsp = get_namespace_oid(schema, true);
	char	   *name = pstrdup(wanted);
	int			n = 0;

	for (;;)
	{
		bool		taken = false;
		ListCell   *lc;
		char	   *full = psprintf("statistics %s", label(schema, name));

		foreach(lc, plan->reserved)
			if (strcmp((char *) lfirst(lc), full) == 0)
				taken = true;
		if (!taken && OidIsValid(nsp) &&
			!(plan->fresh_schema && strcmp(plan->fresh_schema, schema) == 0))
			taken = SearchSysCacheExists2(STATEXTNAMENSP, CStringGetDatum(name),
										  ObjectIdGetDatum(nsp));
		if (!taken)
		{
			plan->reserved = lappend(plan->reserved, full);
			return name;
		}
		name = psprintf("%.*s_%.*s%s", 30, relname, 24, wanted, n > 0 ? psprintf("_%d", n) : "");
		n++;
	}
}

static void
plan_statistics(RestorePlan *plan, JsonbContainer *def, const char *schema, const char *relname)
{
	JsonbContainer *stats = def_get(def, "statistics");
	char	   *relation = label(schema, relname);
	int			i;

	for (i = 0; i < def_count(stats); i++)
	{
		JsonbContainer *st = def_item(stats, i);
		char	   *stxname = statistics_name(plan, schema, relname, def_text(st, "name"));
		char	   *name = label(schema, stxname);
		char	   *kinds = def_text(st, "kinds");

		plan_add(plan, PHASE_ATTACH, "statistics", name, "create",
				 psprintf("CREATE STATISTICS %s%s ON %s FROM %s", name,
						  kinds && kinds[0] ? psprintf(" (%s)", kinds) : "",
						  def_text(st, "columns"), relation));
		if (def_text(st, "target"))
			plan_add(plan, PHASE_ATTACH, "statistics", name, "set statistics target",
					 psprintf("ALTER STATISTICS %s SET STATISTICS %s", name, def_text(st, "target")));
		attached_comment(plan, "statistics", name, psprintf("STATISTICS %s", name),
						 def_text(st, "comment"));
	}
}

/*
 * Everything that hangs off one relation restored as schema.relname, from
 * its definition (a table's, or one partition's part of it).
 */
void
attached_plan(RestorePlan *plan, JsonbContainer *def, const char *schema, const char *relname)
{
	char	   *relation = label(schema, relname);
	JsonbContainer *cols = def_get(def, "columns");
	JsonbContainer *cons = def_get(def, "constraints");
	JsonbContainer *idxcomments = def_get(def, "index_comments");
	char	   *replident = def_text(def, "replica_identity");
	char	   *ri_index = def_text(def, "replica_index");
	char	   *cluster = def_text(def, "cluster_on");
	int			i;

	plan_triggers_rules(plan, def, relation);
	plan_policies(plan, def, relation);
	plan_statistics(plan, def, schema, relname);

	if (replident && replident[0] != 'd')
	{
		if (replident[0] == 'i' && ri_index)
			guarded(plan_add(plan, PHASE_ATTACH, "table", relation, "replica identity",
							 psprintf("ALTER TABLE %s REPLICA IDENTITY USING INDEX %s", relation,
									  quote_identifier(ri_index))),
					index_of(schema, relation, ri_index),
					psprintf("the replica identity of %s is not restored: index \"%s\" was restored under another name",
							 relation, ri_index));
		else if (replident[0] == 'n' || replident[0] == 'f')
			plan_add(plan, PHASE_ATTACH, "table", relation, "replica identity",
					 psprintf("ALTER TABLE %s REPLICA IDENTITY %s", relation,
							  replident[0] == 'n' ? "NOTHING" : "FULL"));
	}
	if (cluster)
		guarded(plan_add(plan, PHASE_ATTACH, "table", relation, psprintf("cluster on %s", quote_identifier(cluster)),
						 psprintf("ALTER TABLE %s CLUSTER ON %s", relation, quote_identifier(cluster))),
				index_of(schema, relation, cluster),
				psprintf("the clustering index of %s is not restored: index \"%s\" was restored under another name",
						 relation, cluster));

	/* comments: the relation, its columns, constraints and indexes */
	attached_comment(plan, "table", relation, psprintf("TABLE %s", relation), def_text(def, "comment"));
	for (i = 0; i < def_count(cols); i++)
	{
		JsonbContainer *col = def_item(cols, i);
		char	   *colname = def_text(col, "name");
		char	   *colref = psprintf("%s.%s", relation, quote_identifier(colname));

		attached_comment(plan, "column", colref, psprintf("COLUMN %s", colref), def_text(col, "comment"));
	}
	for (i = 0; i < def_count(cons); i++)
	{
		JsonbContainer *con = def_item(cons, i);
		char	   *conname = def_text(con, "name");
		char	   *name = psprintf("%s ON %s", quote_identifier(conname), relation);

		if (def_text(con, "comment") == NULL)
			continue;
		guarded(plan_add(plan, PHASE_FINAL, "constraint", name, "comment",
						 psprintf("COMMENT ON CONSTRAINT %s ON %s IS %s", quote_identifier(conname),
								  relation, quote_literal_cstr(def_text(con, "comment")))),
				constraint_of(relation, conname),
				psprintf("the comment on constraint \"%s\" of %s is not restored: it was restored under another name",
						 conname, relation));
	}
	for (i = 0; i < def_count(idxcomments); i++)
	{
		JsonbContainer *ic = def_item(idxcomments, i);
		char	   *idxname = def_text(ic, "name");

		guarded(plan_add(plan, PHASE_FINAL, "index", label(schema, idxname), "comment",
						 psprintf("COMMENT ON INDEX %s IS %s", label(schema, idxname),
								  quote_literal_cstr(def_text(ic, "text")))),
				index_of(schema, relation, idxname),
				psprintf("the comment on index \"%s\" of %s is not restored: it was restored under another name",
						 idxname, relation));
	}

	/* privileges: the relation's, then its columns' */
	attached_privileges(plan, def_get(def, "acl"), "table", relation,
						psprintf("TABLE %s", relation), NULL);
	for (i = 0; i < def_count(cols); i++)
	{
		JsonbContainer *col = def_item(cols, i);

		attached_privileges(plan, def_get(col, "acl"), "column",
							psprintf("%s.%s", relation, quote_identifier(def_text(col, "name"))),
							psprintf("TABLE %s", relation), def_text(col, "name"));
	}
}
