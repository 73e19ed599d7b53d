/*-------------------------------------------------------------------------
 * tabledef.c
 *	  Table definitions: captured at backup, planned as DDL at restore.
 *
 * Capture calls the SQL half of this concept, vault_internal.capture_table
 * (extension script), as the extension owner: jsonb from the catalogs,
 * every name printed relative to the table's schema (format 2, key
 * "relative_to"; points made by 1.0 hold format 1, with every name
 * qualified).  Restore turns a definition into plan steps: the table bare
 * (columns, types, defaults, identity, generated columns, partitions), the
 * load, then constraints and indexes, foreign keys, sequences moved past the
 * restored values; what hangs off the table is attached.c's.  Names are
 * quoted with quote_identifier; expressions come from the definition as
 * PostgreSQL printed them.  Must not touch chunks or rows.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

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

/* Whether names in the definition are relative to its schema (format 2). */
bool
tabledef_relative(JsonbContainer *def)
{
	return def_text(def, "relative_to") != NULL;
}

/* Copy of 's' with every occurrence of 'from' replaced by 'to'. */
static char *
replace_all(const char *s, const char *from, const char *to)
{
	StringInfoData buf;
	size_t		flen = strlen(from);
	const char *p;

	if (s == NULL || flen == 0)
		return s ? pstrdup(s) : NULL;
	initStringInfo(&buf);
	while ((p = strstr(s, from)) != NULL)
	{
		appendBinaryStringInfo(&buf, s, p - s);
		appendStringInfoString(&buf, to);
		s = p + flen;
	}
	appendStringInfoString(&buf, s);
	return buf.data;
}

/* name truncated to n bytes (identifier-sized, as the 1.0 script's left()) */
static char *
left(const char *s, int n)
{
	return pnstrdup(s, Min((int) strlen(s), n));
}

static char *
sequence_options(JsonbContainer *seq)
{
	return psprintf("INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s",
					def_text(seq, "increment"), def_text(seq, "min"), def_text(seq, "max"),
					def_text(seq, "start"), def_text(seq, "cache"),
					def_bool(seq, "cycle") ? "CYCLE" : "NO CYCLE");
}

static char *
label(const char *schema, const char *name)
{
	return quote_qualified_identifier(schema, name);
}

TableName *
table_name(const char *captured, const char *schema, const char *relname)
{
	TableName  *tn = palloc(sizeof(TableName));

	tn->captured = pstrdup(captured);
	tn->relname = pstrdup(relname);
	tn->restored = label(schema, relname);
	return tn;
}

/*
 * A serial column's own sequence, when the table is restored alone: made
 * beside the table (its name kept where free, else <table>_<column>_seq[_N]),
 * the default pointed at it, owned by the column after the table exists.
 * Returns the column's default with the sequence's name replaced.
 */
static char *
plan_serial_sequence(RestorePlan *plan, TableTarget *tt, JsonbContainer *col,
					 JsonbContainer *seq, const char *def_default, List **owned)
{
	char	   *colname = def_text(col, "name");
	bool		same_schema = strcmp(def_text(def_root(tt->table->definition), "schema"), tt->schema) == 0;
	char	   *base = psprintf("%s_%s", tt->name, colname);
	char	   *seqname;
	int			n = 0;
	char	   *qualified;

	seqname = same_schema ? psprintf("%s_seq", left(base, 59)) : def_text(seq, "name");
	while (!plan_name_free(plan, tt->schema, seqname))
		seqname = psprintf("%s_seq_%d", left(base, 55), ++n);
	plan_reserve(plan, tt->schema, seqname);
	qualified = quote_qualified_identifier(tt->schema, seqname);
	plan_add(plan, PHASE_PRE, "sequence", qualified, "create",
			 psprintf("CREATE SEQUENCE %s AS %s %s", qualified, def_text(seq, "type"),
					  sequence_options(seq)));
	*owned = lappend(*owned, list_make3(qualified,
										psprintf("own by %s.%s", label(tt->schema, tt->name),
												 quote_identifier(colname)),
										psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", qualified,
												 label(tt->schema, tt->name),
												 quote_identifier(colname))));
	return replace_all(def_default, def_text(seq, "literal"),
					   psprintf("%s::regclass", quote_literal_cstr(qualified)));
}

/* One column's definition in CREATE TABLE. */
static char *
column_sql(RestorePlan *plan, TableTarget *tt, JsonbContainer *col, List **owned)
{
	StringInfoData buf;
	JsonbContainer *seq = def_get(col, "sequence");
	char	   *dflt = def_text(col, "default");
	bool		text_fallback = def_bool(col, "text_fallback");
	char	   *seqdep = seq ? def_text(seq, "dep") : NULL;

	/* serial: the table brings its sequence, unless the point restores it */
	if (seqdep && strcmp(seqdep, "a") == 0 && !tt->sequences_restored)
		dflt = plan_serial_sequence(plan, tt, col, seq, dflt, owned);

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s %s", quote_identifier(def_text(col, "name")),
					 text_fallback ? "text" : def_text(col, "type"));
	if (def_text(col, "collation") && !text_fallback)
		appendStringInfo(&buf, " COLLATE %s", def_text(col, "collation"));
	if (def_text(col, "generated"))
		appendStringInfo(&buf, " GENERATED ALWAYS AS (%s) STORED", def_text(col, "generated"));
	if (def_text(col, "identity"))
	{
		char	   *seqname = NULL;

		/* a relative definition names its identity sequence, kept where free */
		if (tabledef_relative(def_root(tt->table->definition)) && seq &&
			plan_name_free(plan, tt->schema, def_text(seq, "name")))
		{
			seqname = def_text(seq, "name");
			plan_reserve(plan, tt->schema, seqname);
		}
		appendStringInfo(&buf, " GENERATED %s AS IDENTITY (%s%s)",
						 strcmp(def_text(col, "identity"), "a") == 0 ? "ALWAYS" : "BY DEFAULT",
						 seqname ? psprintf("SEQUENCE NAME %s ", label(tt->schema, seqname)) : "",
						 sequence_options(seq));
	}
	if (dflt)
		appendStringInfo(&buf, " DEFAULT %s", dflt);
	if (def_bool(col, "notnull"))
		appendStringInfoString(&buf, " NOT NULL");
	return buf.data;
}

/* Column settings beyond CREATE TABLE: storage, statistics, options, compression. */
static void
plan_column_settings(RestorePlan *plan, TableTarget *tt, JsonbContainer *cols)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < def_count(cols); i++)
	{
		JsonbContainer *col = def_item(cols, i);
		const char *colname = quote_identifier(def_text(col, "name"));
		char	   *storage = def_text(col, "storage");
		JsonbContainer *options = def_get(col, "options");
		int			j;

#define SEP (buf.len > 0 ? ", " : "")
		if (storage)
			appendStringInfo(&buf, "%sALTER COLUMN %s SET STORAGE %s", SEP, colname,
							 storage[0] == 'p' ? "PLAIN" : storage[0] == 'e' ? "EXTERNAL" :
							 storage[0] == 'm' ? "MAIN" : "EXTENDED");
		if (def_text(col, "statistics"))
			appendStringInfo(&buf, "%sALTER COLUMN %s SET STATISTICS %s", SEP, colname,
							 def_text(col, "statistics"));
		if (def_text(col, "compression"))
			appendStringInfo(&buf, "%sALTER COLUMN %s SET COMPRESSION %s", SEP, colname,
							 def_text(col, "compression")[0] == 'l' ? "lz4" : "pglz");
		for (j = 0; j < def_count(options); j++)
			appendStringInfo(&buf, "%sALTER COLUMN %s SET (%s)", SEP, colname,
							 def_item_text(options, j));
#undef SEP
	}
	if (buf.len > 0)
		plan_add(plan, PHASE_PRE, "table", label(tt->schema, tt->name), "set column options",
				 psprintf("ALTER TABLE %s %s", label(tt->schema, tt->name), buf.data));
}

/* partitions, parents before children, with the same bounds */
static void
plan_partitions(RestorePlan *plan, TableTarget *tt, JsonbContainer *def, List **names)
{
	JsonbContainer *parts = def_get(def, "partitions");
	char	   *root = def_text(def, "name");
	bool		same_schema = strcmp(def_text(def, "schema"), tt->schema) == 0;
	bool		unlogged = def_text(def, "persistence") && strcmp(def_text(def, "persistence"), "u") == 0;
	int			level;
	int			i;

	/* captured in (level, name) order already; walk levels to be sure */
	for (level = 1; level < 64; level++)
	{
		bool		any = false;

		for (i = 0; i < def_count(parts); i++)
		{
			JsonbContainer *part = def_item(parts, i);
			char	   *pname = def_text(part, "name");
			char	   *suffix = pname;
			char	   *restored;
			char	   *parent = NULL;
			ListCell   *lc;
			int			n = 0;

			if (atoi(def_text(part, "level")) != level)
				continue;
			any = true;
			/* keep its name where it is free, else <target>_<suffix>[_N] */
			if (strncmp(pname, root, strlen(root)) == 0 && pname[strlen(root)] == '_')
				suffix = pname + strlen(root) + 1;
			restored = same_schema ? left(psprintf("%s_%s", tt->name, suffix), 63) : pname;
			while (!plan_name_free(plan, tt->schema, restored))
				restored = psprintf("%s_%d", left(psprintf("%s_%s", tt->name, suffix), 56), ++n);
			plan_reserve(plan, tt->schema, restored);
			foreach(lc, *names)
			{
				TableName  *tn = lfirst(lc);

				if (strcmp(tn->captured, def_text(part, "parent")) == 0)
					parent = tn->restored;
			}
			if (parent == NULL)
				elog(ERROR, "partition %s of the point has no parent %s", pname, def_text(part, "parent"));
			plan_add(plan, PHASE_PRE, "table", label(tt->schema, restored),
					 psprintf("create partition of %s", parent),
					 psprintf("CREATE %sTABLE %s PARTITION OF %s %s%s",
							  unlogged ? "UNLOGGED " : "", label(tt->schema, restored), parent,
							  def_text(part, "bound"),
							  def_text(part, "partkey") ?
							  psprintf(" PARTITION BY %s", def_text(part, "partkey")) : ""));
			*names = lappend(*names, table_name(pname, tt->schema, restored));
		}
		if (!any && level > 1)
			break;
	}
}

/* restore, phase PRE: owned sequences, the table, its partitions (no data yet) */
static void
plan_table_create(RestorePlan *plan, TableTarget *tt, List **names)
{
	JsonbContainer *def = def_root(tt->table->definition);
	JsonbContainer *cols = def_get(def, "columns");
	JsonbContainer *relopts = def_get(def, "reloptions");
	StringInfoData buf;
	List	   *owned = NIL;
	ListCell   *lc;
	int			i;
	char	   *table = label(tt->schema, tt->name);

	initStringInfo(&buf);
	for (i = 0; i < def_count(cols); i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 column_sql(plan, tt, def_item(cols, i), &owned));
	plan_reserve(plan, tt->schema, tt->name);
	{
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE %sTABLE %s (%s)",
						 def_text(def, "persistence") && strcmp(def_text(def, "persistence"), "u") == 0
						 ? "UNLOGGED " : "", table, buf.data);
		if (def_text(def, "partkey"))
			appendStringInfo(&sql, " PARTITION BY %s", def_text(def, "partkey"));
		if (def_count(relopts) > 0)
		{
			appendStringInfoString(&sql, " WITH (");
			for (i = 0; i < def_count(relopts); i++)
				appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", def_item_text(relopts, i));
			appendStringInfoChar(&sql, ')');
		}
		plan_add(plan, PHASE_PRE, "table", table, "create", sql.data);
	}
	plan_column_settings(plan, tt, cols);
	foreach(lc, owned)
	{
		List	   *entry = lfirst(lc);

		plan_add(plan, PHASE_PRE, "sequence", linitial(entry), lsecond(entry), lthird(entry));
	}
	*names = lappend(*names, table_name(def_text(def, "name"), tt->schema, tt->name));
	plan_partitions(plan, tt, def, names);
}

/* Non-FK constraints and indexes of one relation (the root or a partition). */
static void
plan_constraints_indexes(RestorePlan *plan, const char *schema, const char *relation,
						 JsonbContainer *constraints, JsonbContainer *indexes)
{
	int			i;

	for (i = 0; i < def_count(constraints); i++)
	{
		JsonbContainer *con = def_item(constraints, i);
		char	   *type = def_text(con, "type");
		char	   *conname = def_text(con, "name");
		char	   *name = psprintf("%s ON %s", quote_identifier(conname), relation);

		if (strcmp(type, "f") == 0)
			continue;
		if (strcmp(type, "c") == 0)
			plan_add(plan, PHASE_POST, "constraint", name, "create",
					 psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", relation,
							  quote_identifier(conname), def_text(con, "def")));
		else
			/* PK/UNIQUE/EXCLUDE build an index, whose name must be free in the schema */
			plan_add_named(plan, PHASE_POST, "constraint", name, "create", schema, conname,
						   psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", relation,
									quote_identifier(conname), def_text(con, "def")),
						   psprintf("ALTER TABLE %s ADD %s", relation, def_text(con, "def")));
	}
	for (i = 0; i < def_count(indexes); i++)
	{
		JsonbContainer *idx = def_item(indexes, i);
		char	   *idxname = def_text(idx, "name");
		const char *unique = def_bool(idx, "unique") ? "UNIQUE " : "";

		plan_add_named(plan, PHASE_POST, "index", label(schema, idxname), "create", schema, idxname,
					   psprintf("CREATE %sINDEX %s ON %s %s", unique, quote_identifier(idxname),
								relation, def_text(idx, "body")),
					   psprintf("CREATE %sINDEX ON %s %s", unique, relation, def_text(idx, "body")));
	}
}

/* restore, phases DATA and POST: rows, then constraints, indexes, sequences */
static void
plan_load_finish(RestorePlan *plan, TableTarget *tt, List *names)
{
	JsonbContainer *def = def_root(tt->table->definition);
	JsonbContainer *cols = def_get(def, "columns");
	JsonbContainer *parts = def_get(def, "partitions");
	char	   *table = label(tt->schema, tt->name);
	PlanStep   *load;
	int			i;

	load = plan_add(plan, PHASE_DATA, "table", table,
					psprintf("load %lld rows", (long long) tt->table->rows), NULL);
	load->run = STEP_LOAD;
	load->table = tt->table;
	load->schema = tt->schema;
	load->relname = tt->name;

	/* column types that travelled as text */
	for (i = 0; i < def_count(cols); i++)
	{
		JsonbContainer *col = def_item(cols, i);
		const char *colname = quote_identifier(def_text(col, "name"));

		if (def_bool(col, "text_fallback"))
			plan_add(plan, PHASE_POST, "table", table,
					 psprintf("convert column %s to %s", colname, def_text(col, "type")),
					 psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s USING %s::%s", table, colname,
							  def_text(col, "type"),
							  def_text(col, "collation") ?
							  psprintf(" COLLATE %s", def_text(col, "collation")) : "",
							  colname, def_text(col, "type")));
	}

	plan_constraints_indexes(plan, tt->schema, table, def_get(def, "constraints"),
							 def_get(def, "indexes"));
	/* a partition's own ones, then the names its inherited indexes had */
	for (i = 0; i < def_count(parts); i++)
	{
		JsonbContainer *part = def_item(parts, i);
		JsonbContainer *inherited = def_get(part, "inherited_indexes");
		char	   *restored = NULL;
		ListCell   *lc;
		int			j;

		foreach(lc, names)
			if (strcmp(((TableName *) lfirst(lc))->captured, def_text(part, "name")) == 0)
				restored = ((TableName *) lfirst(lc))->restored;
		plan_constraints_indexes(plan, tt->schema, restored, def_get(part, "constraints"),
								 def_get(part, "indexes"));
		for (j = 0; j < def_count(inherited); j++)
		{
			JsonbContainer *ii = def_item(inherited, j);
			PlanStep   *s = plan_add(plan, PHASE_POST, "index",
									 label(tt->schema, def_text(ii, "name")),
									 "name the partition's index", NULL);

			s->run = STEP_RENAME_CHILD_INDEX;
			s->schema = tt->schema;
			s->relname = restored;
			s->parent_index = def_text(ii, "parent");
			s->wanted = def_text(ii, "name");
		}
	}

	/*
	 * Identity and serial sequences continue past the restored values: a
	 * relative definition knows the sequence's exact state; a 1.0 one, only
	 * its last value once called (past the restored maximum then, too).
	 * Serial sequences of a whole-schema restore are the point's own objects.
	 */
	for (i = 0; i < def_count(cols); i++)
	{
		JsonbContainer *col = def_item(cols, i);
		JsonbContainer *seq = def_get(col, "sequence");
		const char *colname = def_text(col, "name");
		char	   *seqref;

		if (seq == NULL || (strcmp(def_text(seq, "dep"), "a") == 0 && tt->sequences_restored))
			continue;
		if (def_text(seq, "increment")[0] == '-')
			continue;
		seqref = psprintf("pg_catalog.pg_get_serial_sequence(%s, %s)",
						  quote_literal_cstr(table), quote_literal_cstr(colname));
		if (strcmp(def_text(seq, "dep"), "i") == 0 && def_text(seq, "is_called") != NULL)
			plan_add(plan, PHASE_POST, "sequence", psprintf("%s.%s", table, quote_identifier(colname)),
					 "set value",
					 psprintf("SELECT pg_catalog.setval(%s, %s, %s)", seqref,
							  def_text(seq, "last_value"), def_text(seq, "is_called")));
		else
			plan_add(plan, PHASE_POST, "sequence", psprintf("%s.%s", table, quote_identifier(colname)),
					 "move past the restored values",
					 psprintf("SELECT pg_catalog.setval(%s, v, true) FROM "
							  "(SELECT GREATEST((SELECT pg_catalog.max(%s) FROM %s)::numeric, %s::numeric)::bigint AS v) s "
							  "WHERE v IS NOT NULL",
							  seqref, quote_identifier(colname), table,
							  def_text(seq, "last_value") ? def_text(seq, "last_value") : "NULL"));
	}
}

/* foreign keys of one relation, pointed at the tables restored with it */
static void
plan_foreign_keys(RestorePlan *plan, TableTarget *tt, const char *relation,
				  JsonbContainer *constraints)
{
	int			i;

	for (i = 0; i < def_count(constraints); i++)
	{
		JsonbContainer *con = def_item(constraints, i);
		char	   *conname = def_text(con, "name");
		char	   *ref_schema = def_text(con, "ref_schema");
		char	   *ref_table = def_text(con, "ref_table");
		char	   *newref = NULL;
		char	   *name = psprintf("%s ON %s", quote_identifier(conname), relation);
		ListCell   *lc;

		if (strcmp(def_text(con, "type"), "f") != 0)
			continue;
		if (ref_schema && strcmp(ref_schema, tt->point_schema) == 0)
			foreach(lc, tt->siblings)
				if (strcmp(((TableName *) lfirst(lc))->captured, ref_table) == 0)
					newref = ((TableName *) lfirst(lc))->restored;
		if (newref == NULL)
		{
			plan_add_notice(plan, PHASE_FK, "constraint", name, "not restored",
							psprintf("foreign key \"%s\" of %s is not restored: it references %s, which is not part of the recovery point",
									 conname, relation, label(ref_schema, ref_table)));
			continue;
		}
		plan_add(plan, PHASE_FK, "constraint", name, "create",
				 psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", relation, quote_identifier(conname),
						  replace_all(def_text(con, "def"), def_text(con, "ref_prefix"),
									  psprintf("REFERENCES %s(", newref))));
	}
}

/*
 * Every step of one table: created bare, loaded, given its constraints and
 * indexes, foreign keys to its siblings, and what hangs off it.
 */
void
tabledef_plan(RestorePlan *plan, TableTarget *tt)
{
	JsonbContainer *def = def_root(tt->table->definition);
	JsonbContainer *parts = def_get(def, "partitions");
	List	   *names = NIL;
	ListCell   *lc;
	int			i;

	plan_need_extensions(plan, def);
	plan_table_create(plan, tt, &names);
	plan_load_finish(plan, tt, names);
	plan_foreign_keys(plan, tt, label(tt->schema, tt->name), def_get(def, "constraints"));
	for (i = 0; i < def_count(parts); i++)
	{
		JsonbContainer *part = def_item(parts, i);

		foreach(lc, names)
			if (strcmp(((TableName *) lfirst(lc))->captured, def_text(part, "name")) == 0)
				plan_foreign_keys(plan, tt, ((TableName *) lfirst(lc))->restored,
								  def_get(part, "constraints"));
	}
	attached_plan(plan, def, tt->schema, tt->name);
	for (i = 0; i < def_count(parts); i++)
	{
		JsonbContainer *part = def_item(parts, i);

		foreach(lc, names)
		{
			TableName  *tn = lfirst(lc);

			/* the partition's own extras, under its restored name */
			if (strcmp(tn->captured, def_text(part, "name")) == 0)
				attached_plan(plan, part, tt->schema, tn->relname);
		}
	}
}
