/*-------------------------------------------------------------------------
 * restore_load.c
 *	  A restore's loads: one table's rows, from its stream into the table
 *	  the plan has just created.
 *
 * Owns: where the target can take formed rows, inserting them as COPY
 * would: in batches through the table AM, frozen under the same conditions,
 * NOT NULL checked; the rows formed by a parallel worker (parallel/feed.c,
 * form_rows.c) for a large stream, else by this backend (stream/
 * table_rows.c) from the stream's bytes, which the chunk reader or the
 * workers give.  Any other target loads through PostgreSQL's own COPY FROM
 * (BINARY, and FREEZE where COPY allows it), fed the same bytes.  It
 * decides which targets may take formed rows: a plain table, not a
 * partition, without triggers, indexes, CHECK constraints, generated or
 * dropped columns or row security, each column of a base type (or an array
 * of one) with binary I/O that the workers see committed.  Every load's row
 * count is checked against the point's.  It creates nothing and runs no
 * statement.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/*
 * COPY's data source callback has no argument: the reader in use, or the
 * parallel workers' feed when they have the table's stream.
 */
static ChunkReader *copy_reader = NULL;
static RestoreFeed *copy_feed = NULL;
static int64 copy_bytes;		/* what it has read of the current table */

/* The workers' feed of the restore's loads from here on (NULL: none). */
void
restore_load_feed(RestoreFeed *feed)
{
	copy_feed = feed;
	copy_reader = NULL;
}

static int
copy_read_cb(void *outbuf, int minread, int maxread)
{
	int			n = copy_reader ? chunk_reader_read(copy_reader, outbuf, minread, maxread) :
		restore_feed_read(copy_feed, outbuf, minread, maxread);

	copy_bytes += n;
	progress_table(copy_bytes, 0, 0);
	return n;
}

static char *
table_label(PointTable *t)
{
	return quote_qualified_identifier(t->schema_name, t->table_name);
}

/*
 * Whether a worker's receive of this type means what the caller's would: a
 * base type (arrays of one too) with binary I/O, not created by this
 * transaction (a worker would not see it).
 */
static bool
type_formable(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Form_pg_type typ;
	bool		ok;
	Oid			elem = InvalidOid;

	if (!HeapTupleIsValid(tup))
		return false;
	typ = (Form_pg_type) GETSTRUCT(tup);
	ok = typ->typtype == TYPTYPE_BASE && OidIsValid(typ->typreceive) &&
		!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
	if (IsTrueArrayType(typ))
		elem = typ->typelem;
	ReleaseSysCache(tup);
	if (ok && OidIsValid(elem))
		ok = type_formable(elem);
	return ok && stream_type_binary_io(typid);
}

/* The target's columns when its rows may come formed, else -1. */
static int
formable_columns(Relation rel, RowColumn *columns)
{
	TupleDesc	desc = RelationGetDescr(rel);

	/*
	 * A partition too goes to COPY, which checks its bound (the plan loads
	 * a partitioned table through its root, so none comes here today).
	 */
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition ||
		rel->trigdesc != NULL || rel->rd_rel->relrowsecurity || RelationGetIndexList(rel) != NIL ||
		(desc->constr && (desc->constr->num_check > 0 || desc->constr->has_generated_stored)))
		return -1;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attgenerated || !type_formable(att->atttypid))
			return -1;
		columns[i].typid = att->atttypid;
		columns[i].typmod = att->atttypmod;
		columns[i].storage = att->attstorage;
	}
	return desc->natts;
}

static void
malformed(void)
{
	elog(ERROR, "malformed rows from a vault parallel restore worker");
}

/* formed rows going into the target, a batch at a time, as COPY inserts */
typedef struct RowInserter
{
	Relation	rel;
	CommandId	cid;
	int			options;
	BulkInsertState bistate;
	bool		check_nulls;
	MemoryContext batch_cxt;	/* the table AM's work on a batch */
	TupleTableSlot *slots[FEED_BATCH_ROWS];
	HeapTupleData tuples[FEED_BATCH_ROWS];
	uint32		nslots;
	uint64		rows;
} RowInserter;

static RowInserter *
inserter_begin(Relation rel, bool freeze)
{
	RowInserter *ins = palloc0(sizeof(RowInserter));
	TupleDesc	desc = RelationGetDescr(rel);

	ins->rel = rel;
	ins->cid = GetCurrentCommandId(true);
	ins->options = TABLE_INSERT_SKIP_FSM | (freeze ? TABLE_INSERT_FROZEN : 0);
	ins->bistate = GetBulkInsertState();
	ins->check_nulls = desc->constr && desc->constr->has_not_null;
	ins->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "vault restore batch",
										   ALLOCSET_DEFAULT_SIZES);
	return ins;
}

/* ins->tuples[0 .. n - 1] into the table; then batch_cxt is reset */
static void
inserter_put(RowInserter *ins, uint32 n)
{
	TupleDesc	desc = RelationGetDescr(ins->rel);
	MemoryContext old;

	Assert(n <= FEED_BATCH_ROWS);
	for (; ins->nslots < n; ins->nslots++)
		ins->slots[ins->nslots] = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	for (uint32 i = 0; i < n; i++)
	{
		HeapTuple	tup = &ins->tuples[i];

		ItemPointerSetInvalid(&tup->t_self);
		tup->t_tableOid = InvalidOid;
		if (ins->check_nulls && HeapTupleHasNulls(tup))
		{
			for (int a = 0; a < desc->natts; a++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, a);

				if (att->attnotnull && heap_attisnull(tup, a + 1, desc))
					ereport(ERROR,
							(errcode(ERRCODE_NOT_NULL_VIOLATION),
							 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
									NameStr(att->attname), RelationGetRelationName(ins->rel)),
							 errtablecol(ins->rel, a + 1)));
			}
		}
		ExecStoreHeapTuple(tup, ins->slots[i], false);
	}
	old = MemoryContextSwitchTo(ins->batch_cxt);
	table_multi_insert(ins->rel, ins->slots, (int) n, ins->cid, ins->options, ins->bistate);
	MemoryContextSwitchTo(old);
	for (uint32 i = 0; i < n; i++)
		ExecClearTuple(ins->slots[i]);
	MemoryContextReset(ins->batch_cxt);
	ins->rows += n;
	CHECK_FOR_INTERRUPTS();
}

/* the rows inserted */
static uint64
inserter_end(RowInserter *ins)
{
	uint64		rows = ins->rows;

	FreeBulkInsertState(ins->bistate);
	table_finish_bulk_insert(ins->rel, ins->options);
	for (uint32 i = 0; i < ins->nslots; i++)
		ExecDropSingleTupleTableSlot(ins->slots[i]);
	MemoryContextDelete(ins->batch_cxt);
	pfree(ins);
	return rows;
}

/* The workers' formed rows into rel; returns the rows inserted. */
static uint64
insert_formed(Relation rel, bool freeze)
{
	RowInserter *ins = inserter_begin(rel, freeze);
	int			natts = RelationGetDescr(rel)->natts;
	const char *data;
	Size		len;
	uint32		n;
	int64		bytes;

	while (restore_feed_rows(copy_feed, &data, &len, &n, &bytes))
	{
		Size		pos = 0;

		/* a worker's batch is never larger than an insert's (form_rows.c) */
		if (n > FEED_BATCH_ROWS)
			malformed();
		for (uint32 i = 0; i < n; i++)
		{
			HeapTuple	tup = &ins->tuples[i];
			uint64		tlen;

			if (len - pos < sizeof(uint64))
				malformed();
			memcpy(&tlen, data + pos, sizeof(uint64));
			pos += sizeof(uint64);
			if (tlen < SizeofHeapTupleHeader || tlen > len - pos)
				malformed();
			tup->t_len = (uint32) tlen;
			tup->t_data = (HeapTupleHeader) (data + pos);
			if (HeapTupleHeaderGetNatts(tup->t_data) != natts)
				malformed();
			pos += MAXALIGN(tlen);
		}
		inserter_put(ins, n);
		progress_table(bytes, 0, 0);
	}
	return inserter_end(ins);
}

static int
read_stream(void *arg, char *out, int minread, int maxread)
{
	return copy_read_cb(out, minread, maxread);
}

/*
 * The rows formed by this backend from the stream (the reader's, or the
 * workers' bytes) into rel, as a worker would form them; returns the rows
 * inserted.
 */
static uint64
insert_rows(Relation rel, bool freeze, const RowColumn *columns, int ncolumns, const char *label,
			int64 point_id)
{
	RowInserter *ins = inserter_begin(rel, freeze);
	TableRows  *tr = table_rows_begin(read_stream, NULL, columns, ncolumns, label, point_id);
	uint32		n = 0;
	Size		bytes = 0;
	HeapTuple	tuple;

	while ((tuple = table_rows_next(tr, ins->batch_cxt)) != NULL)
	{
		ins->tuples[n++] = *tuple;
		bytes += tuple->t_len;
		if (n == FEED_BATCH_ROWS || bytes >= FEED_BATCH_BYTES)
		{
			inserter_put(ins, n);
			n = 0;
			bytes = 0;
		}
	}
	if (n > 0)
		inserter_put(ins, n);
	table_rows_end(tr);
	return inserter_end(ins);
}

/* The rows through COPY FROM, from the reader or the workers' bytes. */
static uint64
copy_from(Relation rel, bool freeze)
{
	ParseState *pstate;
	CopyFromState cstate;
	List	   *options;
	uint64		rows;

	/* CopyFrom finds its target through the range table, as DoCopy sets it up */
	pstate = make_parsestate(NULL);
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	options = list_make1(makeDefElem("format", (Node *) makeString("binary"), -1));
	if (freeze)
		options = lappend(options, makeDefElem("freeze", (Node *) makeBoolean(true), -1));
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_read_cb, NIL, options);
	rows = CopyFrom(cstate);
	EndCopyFrom(cstate);
	free_parsestate(pstate);
	return rows;
}

/* Load one table's rows (the plan's load step); returns the rows loaded. */
uint64
restore_load_table(ChunkStore *store, PointInfo *p, PlanStep *s)
{
	PointTable *t = s->table;
	Oid			relid = get_relname_relid(s->relname, get_namespace_oid(s->schema, false));
	Relation	rel;
	const char *label = table_label(t);
	RowColumn  *columns;
	int			ncolumns;
	bool		formed = false;
	uint64		rows;
	bool		freeze;

	rel = table_open(relid, RowExclusiveLock);

	/*
	 * The table is new in this subtransaction, so its rows can be loaded
	 * frozen (COPY FREEZE): no later pass re-writes every page to set hint
	 * bits or to freeze it against wraparound.  COPY refuses FREEZE for a
	 * partitioned table, and when older snapshots or open portals of this
	 * transaction could see the rows early; ask only when none of that holds.
	 */
	InvalidateCatalogSnapshot();	/* as COPY does: its registration does not count */
	freeze = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->rd_createSubid == GetCurrentSubTransactionId() &&
		ThereAreNoPriorRegisteredSnapshots() && ThereAreNoReadyPortals();

	columns = palloc(sizeof(RowColumn) * RelationGetDescr(rel)->natts);
	ncolumns = formable_columns(rel, columns);
	if (copy_feed == NULL ||
		!restore_feed_table(copy_feed, t->ordinal, ncolumns >= 0 ? columns : NULL, ncolumns, &formed))
		copy_reader = chunk_reader_begin(store, p->point_id, t->ordinal, label);
	if (formed)
		ereport(DEBUG1,
				(errmsg_internal("vault: the rows of table %s come formed by a parallel worker",
								 label)));
	copy_bytes = 0;
	PushActiveSnapshot(GetTransactionSnapshot());
	if (formed)
		rows = insert_formed(rel, freeze);
	else if (ncolumns >= 0)
	{
		ereport(DEBUG1,
				(errmsg_internal("vault: the rows of table %s are formed by this backend",
								 label)));
		rows = insert_rows(rel, freeze, columns, ncolumns, label, p->point_id);
	}
	else
	{
		ereport(DEBUG1,
				(errmsg_internal("vault: the rows of table %s are loaded by COPY", label)));
		rows = copy_from(rel, freeze);
	}
	PopActiveSnapshot();
	copy_reader = NULL;			/* (a feed stays for the next table) */
	table_close(rel, NoLock);

	if ((int64) rows != t->rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("recovery point %lld is damaged: table %s restored %llu rows, the point recorded %lld",
						(long long) p->point_id, label, (unsigned long long) rows,
						(long long) t->rows)));
	CommandCounterIncrement();
	return rows;
}
