/*-------------------------------------------------------------------------
 * backup.c
 *	  vault_backup and vault_backup_schema: one snapshot -> one recovery point.
 *
 * Owns: refusing what cannot be backed up (wrong kind of object, temporary,
 * system catalogs, missing rights, row-level security that would hide rows),
 * locking the sources, taking one snapshot for the whole item, deciding how
 * many parallel workers it gets, and writing the point: its row and totals
 * (each table's definition and stream: backup_tables.c).  It all happens in
 * the caller's transaction, so a backup that fails or is rolled back leaves
 * no recovery point and no chunk behind.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_backup);
PG_FUNCTION_INFO_V1(vault_backup_schema);


static void
check_retain_until(FunctionCallInfo fcinfo, int argno)
{
	TimestampTz ts;

	if (PG_ARGISNULL(argno))
		return;
	ts = PG_GETARG_TIMESTAMPTZ(argno);
	if (ts <= GetCurrentTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retain_until must be in the future"),
				 errdetail("retain_until is %s.", timestamptz_to_str(ts)),
				 errhint("Give a time in the future, or NULL to keep the point until it is deleted.")));
}

char *
backup_table_label(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * Refuse a source that is not an ordinary or partitioned table the caller
 * may read in full.  The caller holds AccessShareLock on it.
 */
void
backup_check_table(VaultCall *call, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class cls;
	char	   *label;
	const char *what = NULL;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	cls = (Form_pg_class) GETSTRUCT(tup);
	label = backup_table_label(relid);

	switch (cls->relkind)
	{
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
			break;
		case RELKIND_VIEW:
			what = "a view";
			break;
		case RELKIND_MATVIEW:
			what = "a materialized view";
			break;
		case RELKIND_FOREIGN_TABLE:
			what = "a foreign table";
			break;
		case RELKIND_SEQUENCE:
			what = "a sequence";
			break;
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			what = "an index";
			break;
		case RELKIND_COMPOSITE_TYPE:
			what = "a composite type";
			break;
		case RELKIND_TOASTVALUE:
			what = "a TOAST table";
			break;
		default:
			what = "not a table";
			break;
	}
	if (what)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up \"%s\": it is %s", label, what),
				 errhint("Only tables (plain or partitioned) and schemas can be backed up; back up the tables it depends on.")));
	if (cls->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up temporary table \"%s\"", NameStr(cls->relname)),
				 errdetail("A temporary table lives only as long as its session.")));
	if (IsCatalogRelationOid(relid) || IsSystemClass(relid, cls))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up system catalog \"%s\"", label),
				 errhint("Use pg_basebackup or pg_dump for the catalogs.")));
	if (strcmp(get_namespace_name(cls->relnamespace), "vault_internal") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up \"%s\": it is part of the vault's own storage", label)));
	ReleaseSysCache(tup);

	/* SELECT on the table, or on every one of its columns */
	if (pg_class_aclcheck(relid, call->caller, ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, call->caller, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to back up table \"%s\"", label),
				 errdetail("Backing up a table needs SELECT on every one of its columns.")));

	/* a backup that silently misses rows is worse than none */
	if (check_enable_rls(relid, call->caller, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("row-level security would hide rows of table \"%s\" from role \"%s\"",
						label, GetUserNameFromId(call->caller, false)),
				 errhint("Back it up as the table's owner or as a role with BYPASSRLS.")));
}

static int64
item_upsert(VaultCall *call, VaultInfo *vault, const char *kind, const char *name, Oid source)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, OIDOID, BOOLOID};
	Datum		values[5];
	int64		item_id;
	bool		v11 = call->catalog >= VAULT_CATALOG_1_1;

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(name);
	values[3] = ObjectIdGetDatum(source);
	values[4] = BoolGetDatum(vault_is_geo(vault));
	vault_as_owner(call);
	item_id = spi_int64(psprintf("INSERT INTO vault_internal.items (vault_id, kind, name, source_oid%s) "
								 "VALUES ($1, $2, $3, $4%s) ON CONFLICT (vault_id, kind, name) "
								 "DO UPDATE SET source_oid = EXCLUDED.source_oid "
								 "WHERE items.state <> 'soft-deleted' RETURNING item_id",
								 v11 ? ", geo" : "", v11 ? ", $5" : ""),
						v11 ? 5 : 4, types, values, NULL);
	vault_as_caller(call);
	if (item_id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("item \"%s\" of vault \"%s\" is soft-deleted: it takes no new recovery point", name,
						vault->name),
				 errhint("Undelete it with vault_undelete('%s', '%s'), or back up into another vault.",
						 vault->name, name)));
	return item_id;
}

static int64
point_insert(VaultCall *call, VaultInfo *vault, int64 item_id, TimestampTz created,
			 const BackupRequest *req, ScanProof *proof)
{
	Oid			types[10] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, OIDOID,
	PG_LSNOID, INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID, BOOLOID};
	Datum		values[10];
	bool		nulls[10] = {false, false, false, false, false, false, false, false, false, false};
	int64		point_id;
	bool		v11 = call->catalog >= VAULT_CATALOG_1_1;

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = Int64GetDatum(item_id);
	values[2] = TimestampTzGetDatum(created);
	values[3] = TimestampTzGetDatum(req->retain_until);
	nulls[3] = !req->has_retain;
	values[4] = ObjectIdGetDatum(call->caller);
	proof_datums(proof, &values[5], &nulls[5], &values[6], &nulls[6]);
	values[7] = CStringGetTextDatum(req->trigger);
	values[8] = TimestampTzGetDatum(req->scheduled_for);
	nulls[8] = req->scheduled_for == 0;
	values[9] = BoolGetDatum(vault_is_geo(vault));
	vault_as_owner(call);
	point_id = spi_int64(psprintf("INSERT INTO vault_internal.points "
								  "(vault_id, item_id, created_at, retain_until, created_by, scan_lsn, scan_xids, "
								  " trigger, scheduled_for%s) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9%s) RETURNING point_id",
								  v11 ? ", geo" : "", v11 ? ", $10" : ""),
						 v11 ? 10 : 9, types, values, nulls);
	vault_as_caller(call);
	return point_id;
}

/*
 * What the point's streams will add up to, for the progress board: the
 * item's last point's, or else the size of the tables' heaps.
 */
static int64
backup_estimate(VaultCall *call, int64 item_id, int64 point_id, List *relids)
{
	Oid			types[3] = {INT8OID, INT8OID, OIDARRAYOID};
	Datum		values[3];
	Datum	   *oids = palloc(sizeof(Datum) * Max(list_length(relids), 1));
	ListCell   *lc;
	int			n = 0;
	int64		estimate;

	foreach(lc, relids)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = Int64GetDatum(item_id);
	values[1] = Int64GetDatum(point_id);
	values[2] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	vault_as_owner(call);
	estimate = spi_int64("SELECT coalesce((SELECT p.logical_bytes FROM vault_internal.points p "
						 "  WHERE p.item_id = $1 AND p.point_id <> $2 AND p.logical_bytes > 0 "
						 "  ORDER BY p.point_id DESC LIMIT 1), "
						 "  (SELECT sum(pg_catalog.pg_relation_size(x.relid)) FROM pg_catalog.unnest($3) r, "
						 "   LATERAL (SELECT r AS relid UNION SELECT t.relid::oid "
						 "            FROM pg_catalog.pg_partition_tree(r) t) x), 0)::bigint",
						 3, types, values, NULL);
	vault_as_caller(call);
	return Max(estimate, 0);
}

static void
point_finish(VaultCall *call, VaultInfo *vault, int64 point_id, BackupTotals *t)
{
	Oid			types[11] = {INT8OID, INT4OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT4OID, INT8OID,
	INT4OID, INT8OID};
	Datum		values[11];

	values[0] = Int64GetDatum(point_id);
	values[1] = Int32GetDatum(t->tables);
	values[2] = Int64GetDatum(t->rows);
	values[3] = Int64GetDatum(t->logical_bytes);
	values[4] = Int64GetDatum(t->new_bytes);
	values[5] = Int64GetDatum(t->chunks);
	values[6] = Int64GetDatum(t->new_chunks);
	values[7] = Int32GetDatum(t->objects);
	values[8] = Int64GetDatum(t->delta_chunks);
	values[9] = Int32GetDatum(t->workers);
	values[10] = Int64GetDatum(t->manifest_bytes);
	vault_as_owner(call);
	if (call->catalog >= VAULT_CATALOG_1_1)
		(void) spi_int64("UPDATE vault_internal.points SET tables = $2, rows = $3, logical_bytes = $4, "
						 "new_bytes = $5, chunks = $6, new_chunks = $7, delta_chunks = $9, "
						 "parallel_workers = $10, manifest_bytes = $11, "
						 "objects = $8 + (SELECT coalesce(sum(vault_internal.attached_count(t.definition)), 0) "
						 "  FROM vault_internal.point_tables t WHERE t.point_id = $1), "
						 "end_lsn = pg_catalog.pg_current_wal_insert_lsn() "
						 "WHERE point_id = $1",
						 11, types, values, NULL);
	else
		(void) spi_int64("UPDATE vault_internal.points SET tables = $2, rows = $3, logical_bytes = $4, "
						 "new_bytes = $5, chunks = $6, new_chunks = $7 WHERE point_id = $1",
						 7, types, values, NULL);
	vault_as_caller(call);
	/* the vault's figures: the chunks this backup stored, its manifests, the point */
	usage_record(call, vault->vault_id, t->new_chunks, t->new_bytes - t->manifest_bytes, t->manifest_bytes,
				 1, t->logical_bytes);
}

/*
 * How many workers this backup may have.  None when the caller's
 * transaction wrote anything before the backup began: workers read under
 * its snapshot but in transactions of their own, so they would not see
 * those writes.  None under SERIALIZABLE either: their reads would escape
 * the caller's serializable checks.
 */
static int
backup_degree(const BackupRequest *req)
{
	if (req->has_degree && req->degree == 0)
		return 0;
	if (req->own_writes)
	{
		ereport(DEBUG1,
				(errmsg("vault: the transaction has written before the backup: no parallel workers")));
		return 0;
	}
	if (IsolationIsSerializable())
	{
		ereport(DEBUG1,
				(errmsg("vault: a SERIALIZABLE backup runs without parallel workers")));
		return 0;
	}
	return parallel_degree(req->has_degree ? req->degree : -1);
}

/*
 * The common path: the sources are locked and checked; take one snapshot,
 * write the point, every table under that snapshot.
 */
static void
backup_item(VaultCall *call, VaultInfo *vault, const char *kind, const char *item_name,
			Oid item_oid, List *relids, const BackupRequest *req, BackupResult *result)
{
	bool		whole_schema = strcmp(kind, "schema") == 0 && call->catalog >= VAULT_CATALOG_1_1;
	ChunkStore *store;
	int64		item_id;
	ScanProof	proof;
	Snapshot	snapshot;
	TimestampTz created;
	int64		point_id;
	BackupTotals totals = {0};
	int			saved_encoding;
	int			degree = backup_degree(req);

	/* a zone vault: a synchronous standby, or nothing is written */
	zone_prepare_backup(call, vault);
	store = chunk_store_open(call, vault);
	item_id = item_upsert(call, vault, kind, item_name, item_oid);

	/* the proof's WAL position must be read before the snapshot is taken */
	proof_begin(&proof);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	proof_snapshot(&proof, snapshot);
	created = req->created_at != 0 ? req->created_at : GetCurrentTimestamp();
	point_id = point_insert(call, vault, item_id, created, req, &proof);
	progress_totals(list_length(relids), backup_estimate(call, item_id, point_id, relids));

	saved_encoding = stream_encoding_begin();
	PG_TRY();
	{
		backup_tables(call, vault, store, point_id, relids, snapshot, &proof, degree, &totals);
		/* the schema's other objects, under the same snapshot */
		if (whole_schema)
		{
			progress_phase("capturing objects");
			totals.objects = schemadef_capture(call, point_id, item_oid, item_name, snapshot);
		}
	}
	PG_FINALLY();
	{
		stream_encoding_end(saved_encoding);
	}
	PG_END_TRY();

	progress_phase("finishing");
	point_finish(call, vault, point_id, &totals);
	UnregisterSnapshot(snapshot);
	progress_end();

	result->point_id = point_id;
	result->item_id = item_id;
	result->tables = totals.tables;
	result->rows = totals.rows;
	result->logical_bytes = totals.logical_bytes;
	result->new_bytes = totals.new_bytes;
}

/* A table: locked, checked, backed up as the call's caller. */
void
backup_run_table(VaultCall *call, VaultInfo *vault, Oid relid, const BackupRequest *req,
				 BackupResult *result)
{
	progress_begin(vault, backup_table_label(relid), "backup", "locking");
	LockRelationOid(relid, AccessShareLock);
	backup_check_table(call, relid);
	backup_item(call, vault, "table", backup_table_label(relid), relid, list_make1_oid(relid),
				req, result);
}

/* The job record of an on-demand backup, in the caller's transaction. */
static void
record_on_demand(VaultCall *call, VaultInfo *vault, const char *item_name,
				 TimestampTz started, BackupResult *result)
{
	JobInfo		job = {0};
	JobOutcome	out = {0};

	job.vault_id = vault->vault_id;
	job.vault_name = vault->name;
	job.item_id = result->item_id;
	job.item_name = item_name;
	job.operation = "backup";
	job.trigger = "on-demand";
	job.run_as = call->caller;
	job.started_at = started;
	out.recovery_point = result->point_id;
	out.rows = result->rows;
	out.logical_bytes = result->logical_bytes;
	out.new_bytes = result->new_bytes;
	out.freed_bytes = -1;
	(void) job_record(call, &job, &out);
	health_record(call, result->item_id, GetCurrentTimestamp(), NULL, 0);
	alert_resolve(call, vault->vault_id, item_name, "backup failure", GetCurrentTimestamp());
}

/*
 * An on-demand backup's request: retain_until, then (1.1) the number of
 * parallel workers asked for.  Read before anything of the call writes.
 */
static void
on_demand_request(FunctionCallInfo fcinfo, int retain_arg, BackupRequest *req)
{
	int			degree_arg = retain_arg + 1;

	memset(req, 0, sizeof(*req));
	req->trigger = "on-demand";
	req->has_retain = !PG_ARGISNULL(retain_arg);
	if (req->has_retain)
		req->retain_until = PG_GETARG_TIMESTAMPTZ(retain_arg);
	req->has_degree = PG_NARGS() > degree_arg && !PG_ARGISNULL(degree_arg);
	if (req->has_degree)
	{
		req->degree = PG_GETARG_INT32(degree_arg);
		if (req->degree < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parallel must be 0 or more, not %d", req->degree),
					 errhint("0 backs up without workers; NULL takes vault.max_parallel_workers.")));
	}
	req->own_writes = TransactionIdIsValid(GetTopTransactionIdIfAny());
}

/* vault_backup(vault text, source regclass, retain_until timestamptz) */
Datum
vault_backup(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	Oid			relid;
	VaultCall	call;
	VaultInfo  *vault;
	BackupRequest req;
	BackupResult result;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext fn_cxt = CurrentMemoryContext;
	char	   *label;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source table must not be NULL")));
	relid = PG_GETARG_OID(1);
	check_retain_until(fcinfo, 2);
	on_demand_request(fcinfo, 2, &req);

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OPERATOR, "backing up");
	vault_refuse_replica(vault, "backing up");
	label = backup_table_label(relid);
	PG_TRY();
	{
		backup_run_table(&call, vault, relid, &req, &result);
	}
	PG_CATCH();
	{
		/* the caller's transaction rolls back: recorded by the scheduler */
		failure_on_error(vault->vault_id, label, "backup", started, fn_cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	record_on_demand(&call, vault, label, started, &result);
	vault_call_end(&call);
	PG_RETURN_INT64(result.point_id);
}

/* vault_backup_schema(vault text, source name, retain_until timestamptz) */
Datum
vault_backup_schema(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *schema;
	VaultCall	call;
	VaultInfo  *vault;
	BackupRequest req;
	BackupResult result;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext fn_cxt = CurrentMemoryContext;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source schema must not be NULL")));
	schema = pstrdup(NameStr(*PG_GETARG_NAME(1)));
	check_retain_until(fcinfo, 2);
	on_demand_request(fcinfo, 2, &req);

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OPERATOR, "backing up");
	vault_refuse_replica(vault, "backing up");
	PG_TRY();
	{
		backup_run_schema(&call, vault, schema, &req, &result);
	}
	PG_CATCH();
	{
		failure_on_error(vault->vault_id, schema, "backup", started, fn_cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	record_on_demand(&call, vault, schema, started, &result);
	vault_call_end(&call);
	PG_RETURN_INT64(result.point_id);
}

/* A schema that may be backed up by the call's caller; its oid. */
Oid
backup_check_schema(VaultCall *call, const char *schema)
{
	Oid			nspoid;

	nspoid = get_namespace_oid(schema, true);
	if (!OidIsValid(nspoid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("schema \"%s\" does not exist", schema)));
	if (IsCatalogNamespace(nspoid) || IsToastNamespace(nspoid) ||
		strcmp(schema, "information_schema") == 0 || strcmp(schema, "vault_internal") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up system schema \"%s\"", schema)));
	if (isAnyTempNamespace(nspoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot back up temporary schema \"%s\"", schema)));
	if (pg_namespace_aclcheck(nspoid, call->caller, ACL_USAGE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema %s", schema)));

	return nspoid;
}

/* The oids a query over one schema's pg_class rows returns ($1: the schema). */
static List *
schema_relations(Oid nspoid, const char *sql)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	List	   *relids = NIL;
	uint64		i;

	values[0] = ObjectIdGetDatum(nspoid);
	if (SPI_execute_with_args(sql, 1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the relations of schema %u", nspoid);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc, 1, &isnull)));
	}
	return relids;
}

/* Every table of a schema under one snapshot, as the call's caller. */
void
backup_run_schema(VaultCall *call, VaultInfo *vault, const char *schema,
				  const BackupRequest *req, BackupResult *result)
{
	Oid			nspoid;
	List	   *relids;
	ListCell   *lc;

	nspoid = backup_check_schema(call, schema);

	/*
	 * Its tables: plain and partitioned roots (a partition comes with its
	 * root, unless the root lives in another schema).
	 */
	relids = schema_relations(nspoid,
							  "SELECT c.oid FROM pg_catalog.pg_class c "
							  "WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p') "
							  "AND (NOT c.relispartition OR NOT EXISTS ("
							  "  SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent "
							  "  WHERE i.inhrelid = c.oid AND p.relnamespace = c.relnamespace)) "
							  "ORDER BY c.relname");

	/* lock them all, then check them all, then one snapshot for all */
	progress_begin(vault, schema, "backup", "locking");
	foreach(lc, relids)
		LockRelationOid(lfirst_oid(lc), AccessShareLock);

	/*
	 * With 1.1 the point holds the schema's views, materialized views,
	 * sequences and composite types too: locked as its tables are, so none is
	 * dropped or replaced while the point is written.
	 */
	if (call->catalog >= VAULT_CATALOG_1_1)
		foreach(lc, schema_relations(nspoid,
									 "SELECT c.oid FROM pg_catalog.pg_class c "
									 "WHERE c.relnamespace = $1 AND c.relkind IN ('v', 'm', 'S', 'c') "
									 "ORDER BY c.oid"))
			LockRelationOid(lfirst_oid(lc), AccessShareLock);
	foreach(lc, relids)
		backup_check_table(call, lfirst_oid(lc));

	backup_item(call, vault, "schema", schema, nspoid, relids, req, result);
}
