/*-------------------------------------------------------------------------
 * api/api.h
 *	  The SQL entry points and what they share with each other and with the
 *	  workers: backup, restore, jobs, policies, due backups, expiry.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_API_H
#define VAULT_API_H

#include "parallel/parallel.h"

#include "pgtime.h"
#include "retention.h"
#include "schedule.h"

/* ---- SQL fragments over a point p (vault_internal.points p) ---- */
/* its expiry as vault_recovery_points shows it; NULL: it does not expire */
#define POINT_EXPIRY_SQL \
	"(CASE WHEN p.trigger = 'scheduled' AND p.retain_until IS NOT NULL " \
	"      THEN greatest(p.expires_at, p.retain_until) " \
	"      WHEN p.trigger = 'scheduled' THEN p.expires_at ELSE p.retain_until END)"
/* whether an active legal hold covers it */
#define POINT_HELD_SQL \
	"EXISTS (SELECT 1 FROM vault_internal.hold_points hp JOIN vault_internal.holds h USING (hold_id) " \
	"        WHERE hp.point_id = p.point_id AND h.released_at IS NULL)"

/* ---- restore_plan.c: who may restore, where a point goes, what it creates ---- */
typedef struct RestoreRequest
{
	PointInfo  *point;
	const char *target;			/* as given, or NULL */
	const char *source_table;	/* as given, or NULL */
	bool		plan_only;		/* vault_restore_plan: a soft-deleted point may be shown */
	/* filled by restore_resolve */
	List	   *tables;			/* PointTable */
	List	   *objects;		/* PointObject (whole-schema restores) */
	bool		whole_schema;
	char	   *schema;			/* the target schema */
	char	   *name;			/* one table: its target name */
	PointTable *table;			/* one table: which */
} RestoreRequest;

extern void restore_check_read_rights(VaultCall *call, int64 point_id, PointTable *t);
extern PointTable *restore_pick_table(PointInfo *p, List *tables, const char *source_table);
extern void restore_resolve(VaultCall *call, RestoreRequest *r);
extern VaultInfo *restore_open(VaultCall *call, RestoreRequest *r, int64 point_id);
extern void restore_refuse_soft_deleted(PointInfo *p, const char *what);
extern RestorePlan *restore_build_plan(VaultCall *call, RestoreRequest *r);
extern void restore_check_extensions(RestorePlan *plan, int64 point_id);

/* ---- restore_load.c: a restore's loads, through COPY or as formed rows ---- */
extern void restore_load_feed(RestoreFeed *feed);
extern uint64 restore_load_table(ChunkStore *store, PointInfo *p, PlanStep *s);

/* ---- backup_tables.c: the tables of one point ---- */
typedef struct BackupTotals
{
	int			tables;
	int64		rows;
	int64		logical_bytes;
	int64		new_bytes;
	int64		manifest_bytes; /* of new_bytes, the manifests' */
	int64		chunks;
	int64		new_chunks;
	int64		delta_chunks;
	int			objects;		/* the schema's other objects captured */
	int			workers;		/* parallel workers that read the tables */
} BackupTotals;

extern void backup_tables(VaultCall *call, VaultInfo *vault, ChunkStore *store, int64 point_id,
						  List *relids, Snapshot snapshot, ScanProof *proof, int degree,
						  BackupTotals *totals);

/* ---- backup.c: one snapshot -> one recovery point ---- */
typedef struct BackupRequest
{
	const char *trigger;		/* "on-demand" or "scheduled" */
	TimestampTz created_at;		/* the point's time; 0: now */
	TimestampTz scheduled_for;	/* scheduled: the slot served; 0: none */
	bool		has_retain;
	TimestampTz retain_until;
	bool		has_degree;		/* the call asked for a number of workers */
	int			degree;
	bool		own_writes;		/* the transaction wrote before the backup */
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
extern void job_end(VaultCall *call, int64 job_id, const JobOutcome *out, const char *error,
					int sqlerrcode);
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

extern List *periodic_due_items(VaultCall *call, TimestampTz now, int limit);
extern DueItem *periodic_item(VaultCall *call, int64 item_id);
extern int64 periodic_job_begin(VaultCall *call, DueItem *item);
extern void periodic_backup(DueItem *item, TimestampTz now, BackupResult *result);
extern void periodic_job_end(VaultCall *call, DueItem *item, int64 job_id, TimestampTz now,
							 BackupResult *result, const char *error, int sqlerrcode);
extern char *periodic_error_text(ErrorData *edata);
extern int64 periodic_item_id(DueItem *item);

/* ---- expiry.c: retention, expiry, removal of unreferenced chunks ---- */
extern void expiry_apply_retention(TimestampTz now);
extern void expiry_refresh_item(VaultCall *call, int64 item_id, bool retention_changed);
extern bool expiry_would_shorten(VaultCall *call, int64 item_id, const char *rtext, const char *tzname);
extern void expiry_delete_now(VaultCall *call, VaultInfo *vault, int64 item_id,
							  const char *item_name, int64 point_id);

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

/* ---- protection.c: soft delete, immutability, deleting and undeleting ---- */
extern void protection_delete_item(VaultCall *call, VaultInfo *vault, ItemInfo *item);
extern void protection_configure(VaultCall *call, VaultInfo *vault, const char *soft, bool has_days,
								 int days, const char *immut);

/* ---- keys.c: customer keys, a vault's encryption key, the platform key's rotation ---- */
extern void encryption_configure(VaultCall *call, VaultInfo *vault, const char *key_name);

/* ---- alerts.c: acknowledging alerts, the job_alerts setting ---- */
extern void alerts_configure(VaultCall *call, VaultInfo *vault, bool job_alerts);
extern void failures_round(TimestampTz now);
#define ALERT_SEND_ATTEMPTS 10
extern int64 alerts_claim_next(TimestampTz now, char **json);
extern void alerts_sent(int64 alert, const char *error, TimestampTz now);

/* ---- reports.c: the daily reports, history trimmed ---- */
extern void reports_round(TimestampTz now);

/* ---- advisor.c: the advisor's refresh ---- */
extern void advisor_round(TimestampTz now);

/* ---- cluster.c: this database's counts for vault_cluster_status ---- */
extern void cluster_round(TimestampTz now);

/* ---- redundancy.c: redundancy and cross-region restore settings ---- */
extern void redundancy_configure(VaultCall *call, VaultInfo *vault, const char *redundancy, bool has_crr,
								 bool crr);
extern void key_status_persist(TimestampTz now);
extern int64 platform_rewrap_here(VaultCall *call);

/* one other database's part in a platform key rotation (worker/rewrap.c fills it) */
typedef enum RewrapState
{
	REWRAP_PENDING = 0,
	REWRAP_DONE,				/* committed: 'vaults' re-wrapped */
	REWRAP_ABSENT,				/* the extension is not installed there */
	REWRAP_FAILED				/* 'error' says why */
} RewrapState;

typedef struct RewrapSlot
{
	Oid			dboid;
	RewrapState state;
	int64		vaults;
	char		error[256];
} RewrapSlot;

/* ---- purge.c: removing soft-deleted data when due ---- */
typedef void (*PurgeEmit) (void *arg, const char *vault, const char *item, int64 points,
						   int64 chunks, int64 freed);
extern bool purge_vault(VaultCall *call, VaultInfo *vault, TimestampTz now, bool all, bool skip_busy,
						const char *trigger, PurgeEmit emit, void *arg);
extern void purge_apply(TimestampTz now);

#endif							/* VAULT_API_H */
