/*-------------------------------------------------------------------------
 * vault.h
 *	  Declarations shared by the server-side parts of the vault extension.
 *
 * Each file in src/ owns one concept; this header only carries the types
 * that cross file boundaries and the entry points each file exports.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_H
#define VAULT_H

#include "postgres.h"

#include "chunker.h"
#include "codec.h"
#include "retention.h"
#include "schedule.h"
#include "executor/spi.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "pgtime.h"
#include "storage/s_lock.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* ---- vault.c: module set-up and GUCs ---- */
extern char *vault_platform_key_file;
extern bool vault_workers_enabled;
extern int	vault_naptime;
extern int	vault_max_concurrent_backups;

/* ---- launcher.c: the workers' shared state and the launcher ---- */
#define VAULT_MAX_DATABASES 64

typedef struct DbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* its scheduler, 0 if none runs */
	bool		absent;			/* the extension is not installed there */
	TimestampTz absent_since;
	bool		wake;			/* CREATE EXTENSION asked for a scheduler */
} DbSlot;

typedef struct VaultShared
{
	slock_t		mutex;
	struct Latch *launcher_latch;
	int			running_backups;	/* scheduled backups running, cluster-wide */
	DbSlot		dbs[VAULT_MAX_DATABASES];
} VaultShared;

extern void launcher_init(void);
extern VaultShared *vault_shared(void);
extern DbSlot *vault_db_slot(Oid dboid, bool create);
extern PGDLLEXPORT void vault_launcher_main(Datum main_arg);
extern PGDLLEXPORT void vault_scheduler_main(Datum main_arg);

/* ---- access.c: who is calling, and acting as the extension owner ---- */
typedef struct VaultCall
{
	Oid			caller;			/* role at entry */
	Oid			owner;			/* extension owner: does the storage work */
	int			guc_nestlevel;	/* locked search_path */
	Oid			saved_userid;
	int			saved_sec_context;
	int			as_owner_depth;
} VaultCall;

extern void vault_call_begin(VaultCall *call);
extern void vault_call_end(VaultCall *call);
extern void vault_as_owner(VaultCall *call);
extern void vault_as_caller(VaultCall *call);
extern bool vault_caller_is_superuser(VaultCall *call);

/* ---- catalog.c: the rows of vault_internal ---- */
typedef struct VaultInfo
{
	int64		vault_id;
	char	   *name;
	Oid			owner;
	bytea	   *wrapped_keys;
} VaultInfo;

typedef struct PointInfo
{
	int64		point_id;
	int64		vault_id;
	int64		item_id;
	char	   *kind;			/* "table" or "schema" */
	char	   *item_name;
	char	   *state;
	int			tables;
} PointInfo;

typedef struct PointTable
{
	int			ordinal;
	char	   *schema_name;
	char	   *table_name;
	Oid			source_oid;
	Oid			source_owner;
	Jsonb	   *definition;
	int64		rows;
	int64		chunks;
} PointTable;

extern char *vault_arg_text(FunctionCallInfo fcinfo, int argno, const char *what);
extern void vault_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *what);
extern void vault_check_name(const char *name);
extern VaultInfo *vault_lookup(VaultCall *call, const char *name);
extern PointInfo *point_lookup(VaultCall *call, int64 point_id);
extern List *point_tables(VaultCall *call, int64 point_id);
extern VaultInfo *vault_lookup_by_id(VaultCall *call, int64 vault_id);
extern int64 spi_int64(const char *sql, int nargs, Oid *types, Datum *values, bool *isnull);
extern int64 *spi_int64_array(VaultCall *call, const char *sql, int nargs, Oid *types,
							  Datum *values, int *n);

/* ---- roles.c: access levels on PostgreSQL roles ---- */
typedef enum VaultLevel
{
	VAULT_NONE = 0,
	VAULT_READER,				/* sees vaults, items, points, policies, jobs */
	VAULT_OPERATOR,				/* + backup, restore, export, verify, protect */
	VAULT_CONTRIBUTOR,			/* + vaults, policies, unprotect, delete data */
	VAULT_OWNER					/* + drop the vault, grant and revoke on it */
} VaultLevel;

extern const char *vault_level_name(VaultLevel level);
extern VaultLevel vault_global_level(Oid role);
extern VaultLevel vault_role_level(VaultCall *call, VaultInfo *vault, Oid role);
extern void vault_require(VaultCall *call, VaultInfo *vault, VaultLevel need, const char *action);
extern void vault_require_global(VaultCall *call, VaultLevel need, const char *action);

/* ---- keys.c: platform key, per-vault keys ---- */
typedef struct VaultKeys
{
	int64		vault_id;
	uint8		data_key[CODEC_KEY_LEN];
	uint8		mac_key[CODEC_KEY_LEN];
} VaultKeys;

extern bytea *keys_create_wrapped(const char *vault_name, bool first_vault);
extern void keys_unwrap(VaultInfo *vault, VaultKeys *keys);
extern void keys_gear_table(const VaultKeys *keys, uint64 gear[256]);

/* ---- chunk_store.c: chunks in, chunks out ---- */
typedef struct ChunkStore ChunkStore;
typedef struct ChunkWriter ChunkWriter;
typedef struct ChunkReader ChunkReader;

typedef struct ChunkWriterStats
{
	int64		logical_bytes;	/* stream bytes written */
	int64		chunks;			/* chunk references in the manifest */
	int64		new_chunks;		/* chunks this writer stored */
	int64		new_bytes;		/* sealed bytes + manifest bytes it stored */
} ChunkWriterStats;

extern ChunkStore *chunk_store_open(VaultCall *call, VaultInfo *vault);
extern ChunkWriter *chunk_writer_begin(ChunkStore *store, int64 point_id, int ordinal);
extern void chunk_writer_write(ChunkWriter *w, const char *data, size_t len);
extern void chunk_writer_finish(ChunkWriter *w, ChunkWriterStats *stats);

extern ChunkReader *chunk_reader_begin(ChunkStore *store, int64 point_id, int ordinal,
									   const char *table_label);
extern bool chunk_reader_next(ChunkReader *r, const char **data, size_t *len);
extern int	chunk_reader_read(ChunkReader *r, char *out, int minread, int maxread);

typedef enum ChunkCheck
{
	CHUNK_GOOD,
	CHUNK_MISSING,
	CHUNK_BAD_SEAL,
	CHUNK_BAD_ID
} ChunkCheck;
extern ChunkCheck chunk_store_check(ChunkStore *store, int64 chunk_no, const char **why);
extern List *manifest_chunk_nos(ChunkStore *store, int64 point_id, int ordinal, int segment,
								bool *found);

/* ---- table_stream.c: table rows -> COPY BINARY bytes ---- */
typedef void (*StreamEmit) (void *arg, const char *data, size_t len);

typedef struct TableStreamStats
{
	int64		rows;
	int64		bytes;
} TableStreamStats;

extern void table_stream_write(Relation rel, Snapshot snapshot,
							   StreamEmit emit, void *arg, TableStreamStats *stats);
extern bool stream_type_binary_io(Oid typid);
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
extern bool proof_table_digest(Relation rel, uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr *maxlsn);
extern bool proof_find_unchanged(VaultCall *call, VaultInfo *vault, Oid relid, Jsonb *def,
								 const uint8 digest[PROOF_DIGEST_LEN], XLogRecPtr maxlsn,
								 ProofMatch *prev);
extern void proof_datums(ScanProof *proof, Datum *lsn, bool *lsn_null, Datum *xids, bool *xids_null);

/* ---- restore.c: rights and choices shared with export ---- */
extern void restore_check_read_rights(VaultCall *call, int64 point_id, PointTable *t);
extern PointTable *restore_pick_table(PointInfo *p, List *tables, const char *source_table);

/* ---- tabledef.c: definitions captured at backup, DDL at restore ---- */
extern Jsonb *tabledef_capture(VaultCall *call, Oid relid);
extern Oid	tabledef_create(VaultCall *call, Jsonb *def, const char *schema, const char *name);
extern void tabledef_finish(VaultCall *call, Jsonb *def, const char *schema, const char *name);
extern void tabledef_foreign_keys(VaultCall *call, Jsonb *def, const char *schema,
								  const char *name, const char *point_schema, Jsonb *siblings);

/* ---- backup.c: one snapshot -> one recovery point ---- */
typedef struct BackupRequest
{
	const char *trigger;		/* "on-demand" or "scheduled" */
	TimestampTz created_at;		/* the point's time; 0: now */
	TimestampTz scheduled_for;	/* scheduled: the slot served; 0: none */
	bool		has_retain;
	TimestampTz retain_until;
} BackupRequest;

typedef struct BackupResult
{
	int64		point_id;
	int64		item_id;
	int			tables;
	int64		rows;
	int64		logical_bytes;
	int64		new_bytes;
} BackupResult;

extern char *backup_table_label(Oid relid);
extern void backup_check_table(VaultCall *call, Oid relid);
extern Oid	backup_check_schema(VaultCall *call, const char *schema);
extern void backup_run_table(VaultCall *call, VaultInfo *vault, Oid relid,
							 const BackupRequest *req, BackupResult *result);
extern void backup_run_schema(VaultCall *call, VaultInfo *vault, const char *schema,
							  const BackupRequest *req, BackupResult *result);

/* ---- jobs.c: the job records ---- */
typedef struct JobInfo
{
	int64		vault_id;
	const char *vault_name;
	int64		item_id;
	const char *item_name;
	const char *operation;		/* backup, restore, retention, expiry */
	const char *trigger;		/* scheduled, on-demand */
	Oid			run_as;
	TimestampTz started_at;
} JobInfo;

typedef struct JobOutcome
{
	int64		recovery_point;
	int64		rows;
	int64		logical_bytes;
	int64		new_bytes;
	int64		freed_bytes;	/* -1: not applicable */
} JobOutcome;

#define JOB_CANCELLED_PREFIX "cancelled: "

extern int64 job_begin(VaultCall *call, const JobInfo *job);
extern int64 job_record(VaultCall *call, const JobInfo *job, const JobOutcome *out);
extern void job_end(VaultCall *call, int64 job_id, const JobOutcome *out, const char *error);
extern int64 jobs_mark_interrupted(VaultCall *call);

/* ---- policy.c: policies and protected items ---- */
typedef struct PolicyInfo
{
	int64		policy_id;
	char	   *name;
	Oid			owner;
	char	   *schedule;		/* canonical text */
	char	   *retention;		/* canonical text */
	char	   *timezone;
} PolicyInfo;

extern PolicyInfo *policy_lookup(VaultCall *call, const char *name, const char *lock);

/* ---- periodic.c: due scheduled backups ---- */
typedef struct DueItem DueItem;

extern TimestampTz periodic_arg_now(FunctionCallInfo fcinfo);
extern List *periodic_due_items(VaultCall *call, TimestampTz now, int limit);
extern DueItem *periodic_item(VaultCall *call, int64 item_id);
extern int64 periodic_job_begin(VaultCall *call, DueItem *item);
extern void periodic_backup(DueItem *item, TimestampTz now, BackupResult *result);
extern void periodic_job_end(VaultCall *call, DueItem *item, int64 job_id, TimestampTz now,
							 BackupResult *result, const char *error);
extern char *periodic_error_text(ErrorData *edata);
extern int64 periodic_item_id(DueItem *item);

/* ---- expiry.c: retention, expiry, removal of unreferenced chunks ---- */
extern void expiry_apply_retention(TimestampTz now);
extern void expiry_refresh_item(VaultCall *call, int64 item_id);
extern void expiry_delete_item(VaultCall *call, VaultInfo *vault, int64 item_id,
								 const char *item_name);

/* ---- policy_types.c: schedules and retention rules in SQL and time zones ---- */
extern void policy_parse_schedule(const char *text, size_t len, VaultSchedule *out);
extern void policy_parse_retention(const char *text, size_t len, VaultRetention *out);
extern void policy_schedule_from_datum(Datum d, VaultSchedule *out);
extern void policy_retention_from_datum(Datum d, VaultRetention *out);
extern pg_tz *policy_timezone(const char *name);
extern void policy_civil_at(TimestampTz ts, pg_tz *tz, VaultCivil *c);
extern TimestampTz policy_instant_of(const VaultCivil *c, pg_tz *tz);
extern TimestampTz policy_subsecond(TimestampTz ts);
extern TimestampTz policy_next_run(const VaultSchedule *s, TimestampTz after, pg_tz *tz);
extern void policy_retention_keep(const VaultRetention *r, const TimestampTz *times, int n,
								  pg_tz *tz, RetentionKeep *keep);

#endif							/* VAULT_H */
