/*-------------------------------------------------------------------------
 * vault.h
 *	  Module entry: the GUCs, and the one type every server layer shares.
 *
 * Each layer of src/ has its own header (access/access.h, store/store.h,
 * stream/stream.h, api/api.h, worker/worker.h), which includes the ones
 * below it; a file includes its own layer's header.  pure/ includes none of
 * them.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_H
#define VAULT_H

#include "postgres.h"

/* ---- vault.c: module set-up and GUCs ---- */
extern char *vault_platform_key_file;
extern char *vault_key_command;
extern char *vault_alert_command;
extern bool vault_workers_enabled;
extern bool vault_track_progress;	/* vault.track_progress */
extern int	vault_naptime;
extern int	vault_max_concurrent_backups;
extern int	vault_max_parallel_workers;	/* vault.max_parallel_workers */
extern int	vault_parallel_range_size;	/* vault.parallel_range_size, blocks */
extern int	vault_debug_parallel_fail;	/* vault.debug_parallel_fail */
extern bool vault_parallel_leader_participation;	/* vault.parallel_leader_participation */
extern int64 vault_job_history_secs;	/* vault.job_history */
extern int64 vault_report_history_secs; /* vault.report_history */
extern int64 vault_advisor_interval_secs;	/* vault.advisor_interval */

/* a vault as every layer sees it: its row of vault_internal.vaults */
typedef struct VaultInfo
{
	int64		vault_id;
	char	   *name;
	Oid			owner;
	bytea	   *wrapped_keys;	/* under the platform key, or the customer's */
	int64		key_id;			/* the customer key wrapping them; 0: platform */
	/* protection settings (1.1; a 1.0 catalog reads as "on", 14, "off", none) */
	char	   *soft_delete;	/* on, off, always-on */
	int			soft_delete_days;
	char	   *immutability;	/* off, on, locked */
	Oid			guard;			/* InvalidOid: no guard */
	/* redundancy (1.1; a 1.0 catalog reads as "local", no cross-region restore) */
	char	   *redundancy;		/* local, zone, geo */
	bool		cross_region_restore;
	bool		replica;		/* on a secondary: arrived from a primary */
	/* compression of the chunks stored from now on (1.1; a 1.0 catalog: lz4) */
	char	   *compression;	/* lz4, zstd, zstd:<level> */
	int			zstd_level;		/* 0: lz4 */
} VaultInfo;

#endif							/* VAULT_H */
