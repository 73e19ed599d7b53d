/*-------------------------------------------------------------------------
 * restore.c
 *	  vault_restore: a recovery point back into tables and objects.
 *
 * Owns: the rights a restore needs of its target (CREATE on the target
 * schema; ownership of what it replaces), swapping out what replace names,
 * and running the plan (restore_plan.c) step by step: statements as
 * the caller, under the plan's search path; loads by restore_load.c, fed by
 * the workers of a parallel restore where it has them.  Everything runs in the
 * caller's transaction: a restore that fails leaves nothing behind and what
 * it was to replace untouched.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_restore);

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

/* One table's target: it must be free (or replaced) and creatable. */
static void
prepare_table_target(VaultCall *call, const char *schema, const char *name, bool replace)
{
	Oid			nsp = get_namespace_oid(schema, true);
	Oid			existing;

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
}

/* A schema's target: free, or replaced whole (the caller must own it). */
static void
prepare_schema_target(VaultCall *call, const char *schema, bool replace)
{
	Oid			nsp = get_namespace_oid(schema, true);

	if (!OidIsValid(nsp))
		return;
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
	if (!pg_namespace_ownercheck(nsp, call->caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to replace schema %s", schema),
				 errdetail("Only the schema's owner may replace it with a restored copy.")));
	if (SPI_execute(psprintf("DROP SCHEMA %s CASCADE", quote_identifier(schema)), false, 0) < 0)
		elog(ERROR, "could not drop schema %s", schema);
	CommandCounterIncrement();
}

/* ---- running a plan ---- */

typedef struct StepContext
{
	int64		point_id;
	int			step;
	PlanStep   *s;
} StepContext;

static void
step_error_context(void *arg)
{
	StepContext *c = arg;

	errcontext("restoring %s %s (%s), step %d of recovery point %lld",
			   c->s->kind, c->s->name, c->s->action, c->step, (long long) c->point_id);
}

/* Run one statement as the caller, under the plan's search path or pg_catalog's. */
static int
run_sql(RestorePlan *plan, PlanStep *s, const char *sql, bool want_bool)
{
	int			nestlevel = NewGUCNestLevel();
	int			ret;
	bool		result = false;

	(void) set_config_option("search_path",
							 s->relative && plan->relative_schema ?
							 psprintf("%s, pg_catalog, pg_temp", quote_identifier(plan->relative_schema)) :
							 "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* a function's body may use what is restored after it, as in pg_restore */
	(void) set_config_option("check_function_bodies", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	ret = SPI_execute(sql, false, want_bool ? 1 : 0);
	if (ret < 0)
		elog(ERROR, "SPI failed (%d) on: %s", ret, sql);
	if (want_bool && SPI_processed == 1)
	{
		bool		isnull;

		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
			!isnull;
	}
	AtEOXact_GUC(true, nestlevel);
	CommandCounterIncrement();
	return result;
}

/* A partition's index inherited from its parent's gets the name it had. */
static void
rename_child_index(RestorePlan *plan, PlanStep *s)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int			ret;
	char	   *current;

	values[0] = CStringGetTextDatum(quote_qualified_identifier(s->schema, s->parent_index));
	values[1] = CStringGetTextDatum(s->relname);
	ret = SPI_execute_with_args("SELECT c.relname FROM pg_catalog.pg_inherits i "
								"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid "
								"JOIN pg_catalog.pg_index x ON x.indexrelid OPERATOR(pg_catalog.=) c.oid "
								"WHERE i.inhparent OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1) "
								"AND x.indrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($2)",
								2, types, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return;					/* the parent index took another name: nothing attached to it here */
	current = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(current, s->wanted) == 0 || !plan_name_free(plan, s->schema, s->wanted))
		return;
	s->relative = false;
	(void) run_sql(plan, s, psprintf("ALTER INDEX %s RENAME TO %s",
									 quote_qualified_identifier(s->schema, current),
									 quote_identifier(s->wanted)), false);
}

typedef struct RestoreTotals
{
	int64		rows;
	int64		logical_bytes;
} RestoreTotals;

static void
run_step(RestorePlan *plan, ChunkStore *store, PointInfo *p, PlanStep *s, RestoreTotals *tot)
{
	const char *sql = s->sql;

	switch (s->run)
	{
		case STEP_LOAD:
			progress_phase("loading rows");
			tot->rows += (int64) restore_load_table(store, p, s);
			tot->logical_bytes += s->table->logical_bytes;
			progress_table_done();
			return;
		case STEP_NOTICE:
			ereport(NOTICE, (errmsg_internal("%s", s->notice)));
			return;
		case STEP_RENAME_CHILD_INDEX:
			rename_child_index(plan, s);
			return;
		case STEP_SQL:
			progress_phase(strcmp(s->kind, "index") == 0 || strcmp(s->kind, "constraint") == 0 ?
						   "building indexes" : "creating objects");
			break;
	}
	if (s->guard && !run_sql(plan, s, s->guard, true))
	{
		ereport(NOTICE, (errmsg_internal("%s", s->guard_notice)));
		return;
	}
	/* a name kept where it is free when the step runs, else PostgreSQL's */
	if (s->free_name && !plan_name_free(plan, s->free_schema, s->free_name))
		sql = s->sql_unnamed;
	(void) run_sql(plan, s, sql, false);
}

/*
 * Run the plan's steps in order.  With degree > 0, workers open the chunks
 * of the tables it loads ahead of the loads (parallel/feed.c).
 */
static void
run_plan(RestorePlan *plan, ChunkStore *store, VaultInfo *vault, PointInfo *p, int degree,
		 RestoreTotals *tot)
{
	ListCell   *lc;
	int			step = 0;
	List	   *loads = NIL;
	int64		bytes = 0;
	RestoreFeed *feed;

	/* from here on the schema is real: its names are taken as they are */
	plan->fresh_schema = NULL;
	plan->reserved = NIL;
	foreach(lc, plan_steps(plan))
		if (((PlanStep *) lfirst(lc))->run == STEP_LOAD)
		{
			loads = lappend(loads, ((PlanStep *) lfirst(lc))->table);
			bytes += ((PlanStep *) lfirst(lc))->table->logical_bytes;
		}
	progress_totals(list_length(loads), bytes);
	feed = restore_feed_begin(store, vault, GetActiveSnapshot(), p->point_id, loads, degree);
	restore_load_feed(feed);
	foreach(lc, plan_steps(plan))
	{
		ErrorContextCallback errcb;
		StepContext ctx;

		ctx.point_id = p->point_id;
		ctx.step = ++step;
		ctx.s = lfirst(lc);
		errcb.callback = step_error_context;
		errcb.arg = &ctx;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		run_step(plan, store, p, ctx.s, tot);
		error_context_stack = errcb.previous;
		CHECK_FOR_INTERRUPTS();
	}
	if (feed)
		restore_feed_end(feed);
	restore_load_feed(NULL);
}

/* The job record of a restore, in the caller's transaction. */
static void
record_restore_job(VaultCall *call, VaultInfo *vault, PointInfo *p, TimestampTz started,
				   RestoreTotals *tot)
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
	out.rows = tot->rows;
	out.logical_bytes = tot->logical_bytes;
	out.freed_bytes = -1;
	(void) job_record(call, &job, &out);
	alert_resolve(call, vault->vault_id, p->item_name, "restore failure", GetCurrentTimestamp());
}

/* vault_restore(recovery_point, target, replace, source_table) */
Datum
vault_restore(PG_FUNCTION_ARGS)
{
	MemoryContext fn_cxt = CurrentMemoryContext;
	bool		replace;
	VaultCall	call;
	RestoreRequest r;
	VaultInfo  *vault;
	ChunkStore *store;
	RestorePlan *plan;
	RestoreTotals tot = {0};
	char	   *result;
	int			saved_encoding;
	TimestampTz started = GetCurrentTimestamp();
	int			degree = 0;
	int			degree_arg = 4;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("recovery point must not be NULL")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("replace must not be NULL"),
				 errhint("Pass true or false.")));
	memset(&r, 0, sizeof(r));
	r.target = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	r.source_table = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	replace = PG_GETARG_BOOL(2);
	if (PG_NARGS() > degree_arg && !PG_ARGISNULL(degree_arg) && PG_GETARG_INT32(degree_arg) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parallel must be 0 or more, not %d", PG_GETARG_INT32(degree_arg)),
				 errhint("0 restores without workers; NULL takes vault.max_parallel_workers.")));

	/*
	 * Workers read the point under the caller's snapshot but in transactions
	 * of their own: none when this transaction has written already (a point
	 * it made itself would be invisible to them).
	 */
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		degree = parallel_degree(PG_NARGS() > degree_arg && !PG_ARGISNULL(degree_arg) ?
								 PG_GETARG_INT32(degree_arg) : -1);

	vault_call_begin(&call);
	vault = restore_open(&call, &r, PG_GETARG_INT64(0));
	progress_begin(vault, r.point->item_name, "restore", "locking");
	store = chunk_store_open(&call, vault);

	/* what replace swaps out goes first; the plan then sees the names free */
	if (r.whole_schema)
		prepare_schema_target(&call, r.schema, replace);
	else
		prepare_table_target(&call, r.schema, r.name, replace);
	plan = restore_build_plan(&call, &r);
	restore_check_extensions(plan, r.point->point_id);

	saved_encoding = stream_encoding_begin();
	PG_TRY();
	{
		run_plan(plan, store, vault, r.point, degree, &tot);
	}
	PG_CATCH();
	{
		restore_load_feed(NULL);	/* its workers stop as the segment goes */
		stream_encoding_end(saved_encoding);
		/* the caller's transaction rolls back: recorded by the scheduler */
		failure_on_error(vault->vault_id, r.point->item_name, "restore", started, fn_cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	stream_encoding_end(saved_encoding);

	progress_end();
	record_restore_job(&call, vault, r.point, started, &tot);
	result = MemoryContextStrdup(fn_cxt, r.whole_schema ? quote_identifier(r.schema)
								 : quote_qualified_identifier(r.schema, r.name));
	vault_call_end(&call);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
