/*-------------------------------------------------------------------------
 * zone.c
 *	  Zone-redundant vaults: a recovery point commits only once a
 *	  synchronous standby has applied it.
 *
 * Owns the rule for a backup into a zone vault: a synchronous standby must
 * be streaming (synchronous_standby_names set, and a standby in
 * pg_stat_replication with sync_state sync or quorum), or the backup is
 * refused before anything is written; and the backup's transaction commits
 * with synchronous_commit = remote_apply, so that when the commit returns
 * the point is on the standby and readable there (vault_verify works on a
 * hot standby).  Must not decide when a backup runs.
 *-------------------------------------------------------------------------
 */
#include "replica/replica.h"

#include "utils/guc.h"

/*
 * Before a backup into 'vault' writes anything: refuse it if the vault is
 * zone-redundant and no synchronous standby streams; otherwise make this
 * transaction's commit wait until the standby has applied it.
 */
void
zone_prepare_backup(VaultCall *call, VaultInfo *vault)
{
	int64		standbys;
	const char *names;

	if (strcmp(vault->redundancy, "zone") != 0)
		return;
	names = GetConfigOption("synchronous_standby_names", false, false);
	vault_as_owner(call);
	standbys = spi_int64("SELECT count(*) FROM pg_catalog.pg_stat_replication "
						 "WHERE sync_state IN ('sync', 'quorum')", 0, NULL, NULL, NULL);
	vault_as_caller(call);
	if (names == NULL || names[0] == '\0' || standbys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" is zone-redundant, but no synchronous standby is streaming", vault->name),
				 names == NULL || names[0] == '\0' ?
				 errdetail("synchronous_standby_names is empty.") :
				 errdetail("No standby in pg_stat_replication has sync_state sync or quorum."),
				 errhint("A zone vault's recovery points commit only once a synchronous standby has applied them: "
						 "start one and name it in synchronous_standby_names.")));

	/* like SET LOCAL: to the end of the transaction that holds the point */
	(void) set_config_option("synchronous_commit", "remote_apply", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}
