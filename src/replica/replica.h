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

#endif							/* VAULT_REPLICA_H */
