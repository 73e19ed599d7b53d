/*-------------------------------------------------------------------------
 * replica/replica.h
 *	  Redundancy on PostgreSQL's own replication: zone vaults (a
 *	  synchronous standby applies each point before it commits) and geo
 *	  vaults (an insert-only logical copy on a secondary cluster).
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_REPLICA_H
#define VAULT_REPLICA_H

#include "store/store.h"

/* ---- zone.c: zone-redundant vaults ---- */
extern void zone_prepare_backup(VaultCall *call, VaultInfo *vault);

/* ---- geo.c: geo-redundant vaults, the primary's side ---- */
extern void geo_publish(VaultCall *call, VaultInfo *vault);
extern void geo_mark_key(VaultCall *call, int64 key_id);

/* ---- secondary.c: the secondary's side ---- */
extern Datum replica_apply(FunctionCallInfo fcinfo);
extern void secondary_attach(VaultCall *call, const char *conninfo);
extern void secondary_detach(VaultCall *call);
extern void secondary_check_restore(VaultInfo *vault, int64 point_id, const char *what);

#endif							/* VAULT_REPLICA_H */
