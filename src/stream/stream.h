/*-------------------------------------------------------------------------
 * stream/stream.h
 *	  Tables to bytes and back: the COPY BINARY writer, the unchanged-table
 *	  proof, table definitions.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_STREAM_H
#define VAULT_STREAM_H

#include "store/store.h"

#include "access/htup.h"
#include "access/xlogdefs.h"
#include "lib/stringinfo.h"
#include "storage/block.h"
#include "storage/buf.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* ---- table_stream.c: table rows -> COPY BINARY bytes ---- */
typedef void (*StreamEmit) (void *arg, const char *data, size_t len);

typedef struct TableStreamStats
{
	int64		rows;
	int64		bytes;
} TableStreamStats;

typedef struct StreamState TableStream;

/* told of the pages a stream's scans read, in block order */
typedef struct StreamPages
{
	/* a whole heap's scan begins, of nblocks blocks (NULL: not wanted) */
	void		(*heap) (void *arg, Relation heap, BlockNumber nblocks);
	/* each block read, pinned */
	void		(*page) (void *arg, Buffer buf);
	void	   *arg;
} StreamPages;

/* pages: NULL, or told of every heap and block as the scans read them */
extern void table_stream_write(Relation rel, Snapshot snapshot, StreamEmit emit, void *arg,
							   TableStreamStats *stats, const StreamPages *pages);
/* the same in pieces, for parallel workers: one block range at a time */
extern TableStream *table_stream_begin(Relation rel, StreamEmit emit, void *arg,
									   TableStreamStats *stats);
extern void table_stream_pages(TableStream *st, const StreamPages *pages);
extern void table_stream_header(TableStream *st);
extern void table_stream_rows(TableStream *st, Relation heap, Snapshot snapshot,
							  BlockNumber start, BlockNumber nblocks);
extern void table_stream_trailer(TableStream *st);
extern void table_stream_flush(TableStream *st);
extern void table_stream_end(TableStream *st);
extern bool stream_type_binary_io(Oid typid);

/* ---- table_rows.c: COPY BINARY bytes -> heap tuples, for a restore ---- */
/* a column of the target the rows are formed for: as the target has it */
typedef struct RowColumn
{
	Oid			typid;
	int32		typmod;
	char		storage;
} RowColumn;

typedef struct TableRows TableRows;

/* the stream's bytes: at least minread of them unless it ends (COPY's callback) */
typedef int (*TableRowsRead) (void *arg, char *out, int minread, int maxread);

extern TableRows *table_rows_begin(TableRowsRead read, void *read_arg, const RowColumn *columns,
								   int ncolumns, const char *label, int64 point_id);
extern HeapTuple table_rows_next(TableRows *tr, MemoryContext tuple_cxt);
extern int64 table_rows_bytes(const TableRows *tr);
extern void table_rows_end(TableRows *tr);

/* ---- stream_heaps.c: the heaps of a stream, in stream order ---- */
extern List *table_stream_heaps(Relation rel);
extern int	stream_encoding_begin(void);
extern void stream_encoding_end(int saved);

/* ---- unchanged.c: proving a table unchanged since an earlier point ---- */
#define PROOF_DIGEST_LEN 32

typedef struct ScanProof
{
	bool		usable;			/* this backup can record a proof */
	XLogRecPtr	lsn;			/* WAL insert position before the snapshot */
	int			nxids;
	int64	   *xids;			/* full ids possibly invisible yet written */
} ScanProof;

typedef struct ProofMatch
{
	int64		point_id;		/* earlier point whose stream is reused */
	int			ordinal;
	int64		rows;
	int64		logical_bytes;
	int64		chunks;
} ProofMatch;

extern void proof_begin(ScanProof *proof);
extern void proof_snapshot(ScanProof *proof, Snapshot snapshot);
extern XLogRecPtr proof_candidate_bound(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def);
extern bool proof_find_unchanged(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def,
								 const uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr maxlsn,
								 ProofMatch *prev);

/* ---- page_digest.c: the digest of a table's pages ---- */
#define PROOF_PAGE_RECORD 12	/* a page's LSN, pd_lower, pd_upper */

typedef enum ProofDigestResult
{
	PROOF_NONE,					/* the table cannot have a proof */
	PROOF_NEWER,				/* a page is newer than the bound: stopped */
	PROOF_DIGEST				/* the digest is taken */
} ProofDigestResult;

extern ProofDigestResult proof_table_digest(Relation rel, XLogRecPtr bound,
											uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr *maxlsn);
typedef struct ProofDigest ProofDigest;

extern ProofDigest *proof_digest_begin(Relation rel);
extern void proof_digest_heap(ProofDigest *pd, Oid relid, Oid node, BlockNumber nblocks);
extern void proof_digest_pages(ProofDigest *pd, const char *records, int n);
extern void proof_digest_end(ProofDigest *pd, uint8 digest[PROOF_DIGEST_LEN]);
extern void proof_digest_cancel(ProofDigest *pd);
extern Oid	proof_heap_node(Relation heap);
extern XLogRecPtr proof_page_record(Buffer buf, char *rec);
extern void proof_digest_sink(ProofDigest *pd, StreamPages *sink);
extern void proof_records_sink(StringInfo records, StreamPages *sink);
extern void proof_datums(ScanProof *proof, Datum *lsn, bool *lsn_null, Datum *xids, bool *xids_null);

/* ---- defjson.c: reading captured definitions ---- */
extern JsonbContainer *def_root(Jsonb *def);
extern char *def_text(JsonbContainer *obj, const char *key);
extern bool def_bool(JsonbContainer *obj, const char *key);
extern JsonbContainer *def_get(JsonbContainer *obj, const char *key);
extern int	def_count(JsonbContainer *array);
extern JsonbContainer *def_item(JsonbContainer *array, int i);
extern char *def_item_text(JsonbContainer *array, int i);

/* ---- plan.c: a restore's steps, in order ---- */
typedef enum PlanPhase
{
	PHASE_SCHEMA,				/* the schema a whole-schema restore creates */
	PHASE_PRE,					/* objects, created in dependency order */
	PHASE_DATA,					/* table rows, sequence values */
	PHASE_POST,					/* constraints and indexes */
	PHASE_FK,					/* foreign keys */
	PHASE_ATTACH,				/* triggers, rules, policies, statistics, ... */
	PHASE_REFRESH,				/* materialized views */
	PHASE_FINAL,				/* comments and privileges */
	PHASE_COUNT
} PlanPhase;

typedef enum StepRun
{
	STEP_SQL,					/* run sql */
	STEP_LOAD,					/* load a table's rows */
	STEP_NOTICE,				/* say notice: something is not restored */
	STEP_RENAME_CHILD_INDEX		/* give a partition's index its captured name */
} StepRun;

typedef struct PlanStep
{
	PlanPhase	phase;
	StepRun		run;
	const char *kind;			/* what the step makes: table, index, ... */
	char	   *name;			/* its name where it is restored */
	char	   *action;			/* create, load rows, grant SELECT to ..., ... */
	char	   *sql;
	bool		relative;		/* run under the plan's relative search path */
	char	   *free_schema;	/* named where free: else sql_unnamed runs */
	char	   *free_name;
	char	   *sql_unnamed;
	char	   *notice;
	char	   *guard;			/* a boolean query: false skips the step, */
	char	   *guard_notice;	/* saying this */
	PointTable *table;			/* STEP_LOAD */
	char	   *schema;			/* STEP_LOAD, STEP_RENAME_CHILD_INDEX */
	char	   *relname;		/* STEP_LOAD: the table; RENAME: the partition */
	char	   *parent_index;	/* STEP_RENAME_CHILD_INDEX */
	char	   *wanted;
} PlanStep;

typedef struct RestorePlan
{
	List	   *phases[PHASE_COUNT];
	char	   *relative_schema;	/* NULL: every step runs under pg_catalog */
	char	   *fresh_schema;	/* a schema the plan creates: names in it are free */
	List	   *reserved;		/* relation names the plan takes */
	List	   *extensions;		/* extensions the restored objects need */
} RestorePlan;

extern RestorePlan *plan_create(const char *relative_schema, const char *fresh_schema);
extern PlanStep *plan_add(RestorePlan *plan, PlanPhase phase, const char *kind,
						  const char *name, const char *action, char *sql);
extern PlanStep *plan_add_named(RestorePlan *plan, PlanPhase phase, const char *kind,
								const char *name, const char *action, const char *schema,
								const char *wanted, char *sql_named, char *sql_unnamed);
extern PlanStep *plan_add_notice(RestorePlan *plan, PlanPhase phase, const char *kind,
								 const char *name, const char *action, char *notice);
extern bool plan_name_free(RestorePlan *plan, const char *schema, const char *name);
extern void plan_reserve(RestorePlan *plan, const char *schema, const char *name);
extern void plan_need_extension(RestorePlan *plan, const char *extname);
extern void plan_need_extensions(RestorePlan *plan, JsonbContainer *def);
extern List *plan_steps(RestorePlan *plan);

/* ---- tabledef.c: table definitions captured at backup, planned at restore ---- */
typedef struct TableName
{
	char	   *captured;		/* the table's name in the point */
	char	   *relname;		/* the name it is restored as */
	char	   *restored;		/* the same, schema-qualified and quoted */
} TableName;

typedef struct TableTarget
{
	PointTable *table;
	char	   *schema;			/* where it goes */
	char	   *name;
	bool		sequences_restored;	/* the point's own sequences are
									 * restored as objects (a whole-schema
									 * restore of a 1.1 point) */
	char	   *point_schema;	/* the schema of the point's item */
	List	   *siblings;		/* TableName of every table restored with it */
} TableTarget;

extern Jsonb *tabledef_capture(VaultCall *call, Oid relid);
extern TableName *table_name(const char *captured, const char *schema, const char *relname);
extern bool tabledef_relative(JsonbContainer *def);
extern void tabledef_plan(RestorePlan *plan, TableTarget *tt);

/* ---- schemadef.c: a schema's other objects, captured and planned ---- */
typedef struct PointObject
{
	int			ordinal;
	char	   *kind;			/* schema, sequence, type, domain, function, ... */
	char	   *name;			/* relative to the schema */
	char	   *key;			/* within the point; deps name other keys */
	char	  **deps;
	int			ndeps;
	Jsonb	   *definition;
} PointObject;

extern int	schemadef_capture(VaultCall *call, int64 point_id, Oid nsp, const char *schema,
							  Snapshot snapshot);
extern List *schemadef_load(VaultCall *call, int64 point_id);
extern Jsonb *schemadef_not_held(VaultCall *call, int64 point_id);
extern void schemadef_plan(RestorePlan *plan, PointObject *o, const char *schema);

/* ---- attached.c: what hangs off a relation, comments and privileges ---- */
extern void attached_plan(RestorePlan *plan, JsonbContainer *def, const char *schema,
						  const char *relname);
extern void attached_comment(RestorePlan *plan, const char *kind, const char *name,
							 const char *on, const char *text);
extern void attached_privileges(RestorePlan *plan, JsonbContainer *acl, const char *kind,
								const char *name, const char *grant_on, const char *column);

#endif							/* VAULT_STREAM_H */
