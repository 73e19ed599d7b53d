/*-------------------------------------------------------------------------
 * restore_load.c
 *	  A restore's loads: one table's rows, from its stream into the table
 *	  the plan has just created.
 *
 * Owns: loading through PostgreSQL's own COPY FROM (BINARY, and FREEZE
 * where COPY allows it) fed by the chunk reader or by the workers' bytes;
 * or, where the workers form the rows (parallel/feed.c, form_rows.c),
 * inserting them as COPY would: in batches through the table AM, frozen
 * under the same conditions, NOT NULL checked.  It decides which targets
 * may take formed rows: a plain table without triggers, indexes, CHECK
 * constraints, generated or dropped columns or row security, each column
 * of a base type (or an array of one) with binary I/O that the workers see
 * committed.  Every load's row count is checked against the point's.  It
 * creates nothing and runs no statement.
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
formable_columns(Relation rel, FeedColumn *columns)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL ||
		rel->rd_rel->relrowsecurity || RelationGetIndexList(rel) != NIL ||
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

/* The workers' formed rows into rel; returns the rows inserted. */
static uint64
insert_formed(Relation rel, bool freeze)
{
	TupleDesc	desc = RelationGetDescr(rel);
	CommandId	cid = GetCurrentCommandId(true);
	int			options = TABLE_INSERT_SKIP_FSM | (freeze ? TABLE_INSERT_FROZEN : 0);
	BulkInsertState bistate = GetBulkInsertState();
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "vault restore batch",
													ALLOCSET_DEFAULT_SIZES);
	bool		check_nulls = desc->constr && desc->constr->has_not_null;
	TupleTableSlot **slots = NULL;
	HeapTupleData *tuples = NULL;
	uint32		nslots = 0;
	uint64		rows = 0;
	const char *data;
	Size		len;
	uint32		n;
	int64		bytes;

	while (restore_feed_rows(copy_feed, &data, &len, &n, &bytes))
	{
		Size		pos = 0;
		MemoryContext old;

		if (n > nslots)
		{
			slots = slots ? repalloc(slots, sizeof(TupleTableSlot *) * n) :
				palloc(sizeof(TupleTableSlot *) * n);
			tuples = tuples ? repalloc(tuples, sizeof(HeapTupleData) * n) :
				palloc(sizeof(HeapTupleData) * n);
			for (; nslots < n; nslots++)
				slots[nslots] = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
		}
		for (uint32 i = 0; i < n; i++)
		{
			HeapTuple	tup = &tuples[i];
			uint64		tlen;

			if (len - pos < sizeof(uint64))
				malformed();
			memcpy(&tlen, data + pos, sizeof(uint64));
			pos += sizeof(uint64);
			if (tlen < SizeofHeapTupleHeader || tlen > len - pos)
				malformed();
			tup->t_len = (uint32) tlen;
			tup->t_data = (HeapTupleHeader) (data + pos);
			ItemPointerSetInvalid(&tup->t_self);
			tup->t_tableOid = InvalidOid;
			if (HeapTupleHeaderGetNatts(tup->t_data) != desc->natts)
				malformed();
			pos += MAXALIGN(tlen);
			if (check_nulls && HeapTupleHasNulls(tup))
			{
				for (int a = 0; a < desc->natts; a++)
				{
					Form_pg_attribute att = TupleDescAttr(desc, a);

					if (att->attnotnull && heap_attisnull(tup, a + 1, desc))
						ereport(ERROR,
								(errcode(ERRCODE_NOT_NULL_VIOLATION),
								 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
										NameStr(att->attname), RelationGetRelationName(rel)),
								 errtablecol(rel, a + 1)));
				}
			}
			ExecStoreHeapTuple(tup, slots[i], false);
		}
		old = MemoryContextSwitchTo(batch_cxt);
		table_multi_insert(rel, slots, (int) n, cid, options, bistate);
		MemoryContextSwitchTo(old);
		for (uint32 i = 0; i < n; i++)
			ExecClearTuple(slots[i]);
		MemoryContextReset(batch_cxt);
		rows += n;
		progress_table(bytes, 0, 0);
		CHECK_FOR_INTERRUPTS();
	}
	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, options);
	for (uint32 i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	MemoryContextDelete(batch_cxt);
	return rows;
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
	FeedColumn *columns;
	int			ncolumns = -1;
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

	if (copy_feed)
	{
		columns = palloc(sizeof(FeedColumn) * RelationGetDescr(rel)->natts);
		ncolumns = formable_columns(rel, columns);
	}
	if (copy_feed == NULL ||
		!restore_feed_table(copy_feed, t->ordinal, ncolumns >= 0 ? columns : NULL, ncolumns, &formed))
		copy_reader = chunk_reader_begin(store, p->point_id, t->ordinal, table_label(t));
	if (formed)
		ereport(DEBUG1,
				(errmsg_internal("vault: the rows of table %s come formed by a parallel worker",
								 table_label(t))));
	copy_bytes = 0;
	PushActiveSnapshot(GetTransactionSnapshot());
	rows = formed ? insert_formed(rel, freeze) : copy_from(rel, freeze);
	PopActiveSnapshot();
	copy_reader = NULL;			/* (a feed stays for the next table) */
	table_close(rel, NoLock);

	if ((int64) rows != t->rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("recovery point %lld is damaged: table %s restored %llu rows, the point recorded %lld",
						(long long) p->point_id, table_label(t), (unsigned long long) rows,
						(long long) t->rows)));
	CommandCounterIncrement();
	return rows;
}
