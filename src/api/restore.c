/*-------------------------------------------------------------------------
 * restore.c
 *	  vault_restore: a recovery point back into tables.
 *
 * Owns: deciding where a point goes (target names, replace), the rights a
 * restore needs (read the source as it was; CREATE on the target schema;
 * ownership of what it replaces), and the load: each table is created
 * bare, filled through PostgreSQL's own COPY FROM machinery fed by the
 * chunk reader, then given its constraints and indexes.  Everything runs in
 * the caller's transaction: a restore that fails leaves nothing behind and
 * what it was to replace untouched.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(vault_restore);

/* COPY's data source callback has no argument: the reader in use. */
static ChunkReader *copy_reader = NULL;

static int
copy_read_cb(void *outbuf, int minread, int maxread)
{
	return chunk_reader_read(copy_reader, outbuf, minread, maxread);
}

static char *
table_label(PointTable *t)
{
	return quote_qualified_identifier(t->schema_name, t->table_name);
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
					table_label(t), (long long) point_id),
			 errdetail("Restoring or exporting needs SELECT on the table, membership in its owner role \"%s\", or superuser.",
					   GetUserNameFromId(t->source_owner, true) ? GetUserNameFromId(t->source_owner, true) : "?")));
}

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

/* Whether an extension (this one included) lives in the schema, or is it. */
static bool
schema_holds_extension(Oid nsp)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	values[0] = ObjectIdGetDatum(nsp);
	if (strcmp(get_namespace_name(nsp), "vault_internal") == 0)
		return true;
	return spi_int64("SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extnamespace = $1",
					 1, types, values, NULL) > 0;
}

/* Drop what replace swaps out; the caller must own it. */
static void
drop_for_replace(VaultCall *call, Oid relid, const char *schema, const char *name)
{
	char		kind = get_rel_relkind(relid);

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot replace \"%s\": it is not a table", quote_qualified_identifier(schema, name))));
	if (!pg_class_ownercheck(relid, call->caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to replace table %s", quote_qualified_identifier(schema, name)),
				 errdetail("Only the table's owner may replace it with a restored copy.")));
	if (SPI_execute(psprintf("DROP TABLE %s", quote_qualified_identifier(schema, name)), false, 0) < 0)
		elog(ERROR, "could not drop %s", quote_qualified_identifier(schema, name));
	CommandCounterIncrement();
}

/* Create one table of the point under (schema, name) and load its rows. */
static void
restore_table(VaultCall *call, ChunkStore *store, PointInfo *p, PointTable *t,
			  const char *schema, const char *name, bool replace)
{
	Oid			nsp = get_namespace_oid(schema, true);
	Oid			existing;
	Oid			relid;
	Relation	rel;
	ParseState *pstate;
	CopyFromState cstate;
	List	   *options;
	uint64		rows;
	bool		freeze;

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("schema \"%s\" does not exist", schema)));
	if (strcmp(schema, "vault_internal") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot restore into schema \"vault_internal\", the vault's own storage")));
	if (pg_namespace_aclcheck(nsp, call->caller, ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create a table in schema %s", schema)));
	existing = get_relname_relid(name, nsp);
	if (OidIsValid(existing))
	{
		if (!replace)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("relation \"%s.%s\" already exists", schema, name),
					 errhint("Pass replace => true to swap it out, or give another target.")));
		drop_for_replace(call, existing, schema, name);
	}

	relid = tabledef_create(call, t->definition, schema, name);

	rel = table_open(relid, RowExclusiveLock);
	/* CopyFrom finds its target through the range table, as DoCopy sets it up */
	pstate = make_parsestate(NULL);
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	options = list_make1(makeDefElem("format", (Node *) makeString("binary"), -1));

	/*
	 * The table is new in this subtransaction, so its rows can be loaded
	 * frozen (COPY FREEZE): no later pass re-writes every page to set hint
	 * bits or to freeze it against wraparound.  COPY refuses FREEZE for a
	 * partitioned table, and when older snapshots or open portals of this
	 * transaction could see the rows early; ask only when none of that holds.
	 */
	freeze = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_createSubid == GetCurrentSubTransactionId() &&
		ThereAreNoPriorRegisteredSnapshots() && ThereAreNoReadyPortals();
	if (freeze)
		options = lappend(options, makeDefElem("freeze", (Node *) makeBoolean(true), -1));
	copy_reader = chunk_reader_begin(store, p->point_id, t->ordinal, table_label(t));
	PushActiveSnapshot(GetTransactionSnapshot());
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_read_cb, NIL, options);
	rows = CopyFrom(cstate);
	EndCopyFrom(cstate);
	PopActiveSnapshot();
	copy_reader = NULL;
	table_close(rel, NoLock);
	free_parsestate(pstate);

	if ((int64) rows != t->rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("recovery point %lld is damaged: table %s restored %llu rows, the point recorded %lld",
						(long long) p->point_id, table_label(t), (unsigned long long) rows,
						(long long) t->rows)));
	CommandCounterIncrement();
	tabledef_finish(call, t->definition, schema, name);
}

static Jsonb *
siblings_json(List *tables, const char *schema, PointTable *only, const char *only_name)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, tables)
	{
		PointTable *t = lfirst(lc);

		if (only && t != only)
			continue;
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		escape_json(&buf, t->table_name);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, quote_qualified_identifier(schema, only ? only_name : t->table_name));
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* vault_restore(recovery_point, target, replace, source_table) */
/* The job record of a restore, in the caller's transaction. */
static void
record_restore_job(VaultCall *call, VaultInfo *vault, PointInfo *p, TimestampTz started)
{
	JobInfo		job = {0};
	JobOutcome	out = {0};

	job.vault_id = vault->vault_id;
	job.vault_name = vault->name;
	job.item_id = p->item_id;
	job.item_name = p->item_name;
	job.operation = "restore";
	job.trigger = "on-demand";
	job.run_as = call->caller;
	job.started_at = started;
	out.recovery_point = p->point_id;
	out.freed_bytes = -1;
	(void) job_record(call, &job, &out);
}

Datum
vault_restore(PG_FUNCTION_ARGS)
{
	MemoryContext fn_cxt = CurrentMemoryContext;
	int64		point_id;
	char	   *target = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		replace;
	char	   *source_table = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	VaultCall	call;
	PointInfo  *p;
	VaultInfo  *vault;
	List	   *tables;
	ChunkStore *store;
	char	   *volatile result = NULL;
	int			saved_encoding;
	TimestampTz started = GetCurrentTimestamp();

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("recovery point must not be NULL")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replace must not be NULL"),
				 errhint("Pass true or false.")));
	point_id = PG_GETARG_INT64(0);
	replace = PG_GETARG_BOOL(2);

	vault_call_begin(&call);
	p = point_lookup(&call, point_id);
	vault = vault_lookup_by_id(&call, p->vault_id);
	vault_require(&call, vault, VAULT_OPERATOR, "restoring");
	tables = point_tables(&call, point_id);
	store = chunk_store_open(&call, vault);

	saved_encoding = stream_encoding_begin();
	PG_TRY();
	{
		if (strcmp(p->kind, "table") == 0 || source_table != NULL)
		{
			/* one table: into target, or next to the original as <name>_restored */
			PointTable *t = restore_pick_table(p, tables, source_table);
			char	   *schema = t->schema_name;
			char	   *name;

			restore_check_read_rights(&call, point_id, t);
			if (target != NULL)
			{
				char	   *target_schema = NULL;

				parse_table_name(target, "target table name", &target_schema, &name);
				if (target_schema)
					schema = target_schema;
			}
			else
				name = psprintf("%.*s_restored", NAMEDATALEN - 10, t->table_name);

			restore_table(&call, store, p, t, schema, name, replace);
			tabledef_foreign_keys(&call, t->definition, schema, name, t->schema_name,
								  siblings_json(tables, schema, t, name));
			result = quote_qualified_identifier(schema, name);
		}
		else
		{
			/* a whole schema: a new schema with every table, then their FKs */
			char	   *schema;
			Oid			nsp;
			ListCell   *lc;
			Jsonb	   *siblings;

			foreach(lc, tables)
				restore_check_read_rights(&call, point_id, lfirst(lc));
			if (target != NULL)
			{
				List	   *names = stringToQualifiedNameList(target);

				if (list_length(names) != 1)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_NAME),
							 errmsg("improper target schema name \"%s\"", target),
							 errhint("A schema point restores into a schema: give a schema name.")));
				schema = strVal(linitial(names));
			}
			else
				schema = psprintf("%.*s_restored", NAMEDATALEN - 10, p->item_name);

			nsp = get_namespace_oid(schema, true);
			if (OidIsValid(nsp))
			{
				if (!replace)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_SCHEMA),
							 errmsg("schema \"%s\" already exists", schema),
							 errhint("Pass replace => true to swap it out, or give another target.")));
				if (schema_holds_extension(nsp))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_IN_USE),
							 errmsg("cannot replace schema \"%s\": it holds an extension or the vault's storage", schema),
							 errhint("Restore into another schema.")));
				if (!pg_namespace_ownercheck(nsp, call.caller))
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("permission denied to replace schema %s", schema),
							 errdetail("Only the schema's owner may replace it with a restored copy.")));
				if (SPI_execute(psprintf("DROP SCHEMA %s CASCADE", quote_identifier(schema)), false, 0) < 0)
					elog(ERROR, "could not drop schema %s", schema);
				CommandCounterIncrement();
			}
			if (SPI_execute(psprintf("CREATE SCHEMA %s", quote_identifier(schema)), false, 0) < 0)
				elog(ERROR, "could not create schema %s", schema);
			CommandCounterIncrement();

			foreach(lc, tables)
			{
				PointTable *t = lfirst(lc);

				restore_table(&call, store, p, t, schema, t->table_name, false);
			}
			siblings = siblings_json(tables, schema, NULL, NULL);
			foreach(lc, tables)
			{
				PointTable *t = lfirst(lc);

				tabledef_foreign_keys(&call, t->definition, schema, t->table_name,
									  p->item_name, siblings);
			}
			result = (char *) quote_identifier(schema);
		}
	}
	PG_FINALLY();
	{
		copy_reader = NULL;
		stream_encoding_end(saved_encoding);
	}
	PG_END_TRY();

	record_restore_job(&call, vault, p, started);
	result = MemoryContextStrdup(fn_cxt, result);
	vault_call_end(&call);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
