/*-------------------------------------------------------------------------
 * geo.c
 *	  Geo-redundant vaults, the primary's side: what its secondaries are
 *	  sent.
 *
 * Owns the two publications that carry a geo vault's storage to the
 * secondaries (made, or set right again, when a vault becomes geo) and
 * the rule that a geo vault's rows are marked geo as they are written,
 * including the customer key that wraps its keys.  A publication carries
 * inserts, and updates of the catalog rows; never a delete or a truncate,
 * so that what a primary loses, by accident or by an attacker, stays on
 * its secondaries.  Subscribing, and what a secondary accepts, is
 * secondary.c's; this file must not run on a secondary's behalf.
 *-------------------------------------------------------------------------
 */
#include "replica/replica.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"

/* the catalog rows: inserts and updates (a secondary merges the updates) */
#define GEO_PUB_CATALOG \
	"vault_internal.vaults WHERE (redundancy = 'geo'), vault_internal.keys WHERE (geo), " \
	"vault_internal.items WHERE (geo), vault_internal.points WHERE (geo), " \
	"vault_internal.point_tables WHERE (geo), vault_internal.point_objects WHERE (geo)"
/* the data: inserts only */
#define GEO_PUB_DATA \
	"vault_internal.manifests WHERE (geo), vault_internal.chunks WHERE (geo)"

static void
publication_put(const char *name, const char *tables, const char *publish)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	if (spi_int64("SELECT count(*) FROM pg_catalog.pg_publication WHERE pubname = $1",
				  1, types, values, NULL) > 0)
		(void) spi_int64(psprintf("ALTER PUBLICATION %s SET TABLE %s", name, tables), 0, NULL, NULL, NULL);
	else
		(void) spi_int64(psprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (publish = '%s')",
								  name, tables, publish), 0, NULL, NULL, NULL);
}

/*
 * A vault becomes geo-redundant: the server must be able to decode its
 * WAL for a subscriber, and the publications must exist and hold the
 * storage tables (a DROP EXTENSION leaves them empty behind it).
 */
void
geo_publish(VaultCall *call, VaultInfo *vault)
{
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" cannot be geo-redundant: wal_level is \"%s\"", vault->name,
						GetConfigOption("wal_level", false, false)),
				 errdetail("A geo vault's storage reaches its secondary by logical replication."),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));
	vault_as_owner(call);
	publication_put("vault_geo", GEO_PUB_CATALOG, "insert, update");
	publication_put("vault_geo_data", GEO_PUB_DATA, "insert");
	vault_as_caller(call);
}

/*
 * The customer key that wraps a geo vault's keys goes to the secondaries
 * too (its public part and name: the secondary fetches the secret part by
 * that name through its own vault.key_command).  Marking it geo publishes
 * it as an insert, ahead of the vault row that names it.
 */
void
geo_mark_key(VaultCall *call, int64 key_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	if (key_id == 0)
		return;
	values[0] = Int64GetDatum(key_id);
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.keys SET geo = true WHERE key_id = $1 AND NOT geo",
					 1, types, values, NULL);
	vault_as_caller(call);
}
