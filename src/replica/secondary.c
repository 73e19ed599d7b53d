/*-------------------------------------------------------------------------
 * secondary.c
 *	  Geo-redundant vaults, the secondary's side: subscribing to a
 *	  primary, and what is taken from it.
 *
 * Owns attaching (the subscription vault_geo and its slot on the primary)
 * and detaching (both gone, what arrived kept), and the rule for every
 * row the subscription applies (the trigger replica_apply, which fires
 * only in the apply worker's replica mode): an arriving row is marked as
 * a replica and given local meaning (the role that attached owns it, no
 * policy runs it); an update is taken only by the transaction that
 * brought the row (a backup finishing its point on the primary) or as a
 * merge that cannot lose anything (a longer expiry, cross-region restore
 * turned on, more soft-delete days); a delete never.  So a primary, even
 * its superuser, cannot remove or alter what a secondary holds.  Must not
 * decide retention (expiry.c applies it to replicas by the rule above).
 *-------------------------------------------------------------------------
 */
#include "replica/replica.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/walreceiver.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define GEO_SUBSCRIPTION	"vault_geo"
/* local ids start here once a database is a secondary: the primary's stay below */
#define SECONDARY_FIRST_ID	INT64CONST(4611686018427387904)

/* ---- the rows the subscription applies ---- */

typedef struct RowEdit
{
	Relation	rel;
	HeapTuple	base;
	int			n;
	int			cols[8];
	Datum		values[8];
	bool		nulls[8];
} RowEdit;

static int
column(Relation rel, const char *name)
{
	int			att = SPI_fnumber(RelationGetDescr(rel), name);

	if (att <= 0)
		elog(ERROR, "column \"%s\" of %s is missing", name, RelationGetRelationName(rel));
	return att;
}

static void
edit_set(RowEdit *e, const char *name, Datum value, bool isnull)
{
	Assert(e->n < lengthof(e->cols));
	e->cols[e->n] = column(e->rel, name);
	e->values[e->n] = value;
	e->nulls[e->n] = isnull;
	e->n++;
}

/* copy a column of 'from' into the edit (taking the newer value) */
static void
edit_take(RowEdit *e, HeapTuple from, const char *name)
{
	bool		isnull;
	Datum		d = heap_getattr(from, column(e->rel, name), RelationGetDescr(e->rel), &isnull);

	edit_set(e, name, d, isnull);
}

static HeapTuple
edit_apply(RowEdit *e)
{
	if (e->n == 0)
		return e->base;
	return heap_modify_tuple_by_cols(e->base, RelationGetDescr(e->rel), e->n, e->cols, e->values, e->nulls);
}

static Datum
get(Relation rel, HeapTuple tup, const char *name, bool *isnull)
{
	return heap_getattr(tup, column(rel, name), RelationGetDescr(rel), isnull);
}

/*
 * A row as the secondary keeps it: replicated vaults and keys are marked,
 * owned by the role that attached (the subscription's owner, as whom the
 * apply worker runs; the primary's role oids mean nothing here), with no
 * guard and no policy.
 */
static HeapTuple
replica_arrive(Relation rel, const char *table, HeapTuple tup)
{
	RowEdit		e = {rel, tup, 0};
	Datum		me = ObjectIdGetDatum(GetUserId());

	if (strcmp(table, "vaults") == 0)
	{
		edit_set(&e, "replica", BoolGetDatum(true), false);
		edit_set(&e, "owner", me, false);
		edit_set(&e, "guard", (Datum) 0, true);
	}
	else if (strcmp(table, "keys") == 0)
		edit_set(&e, "replica", BoolGetDatum(true), false);
	else if (strcmp(table, "items") == 0)
	{
		edit_set(&e, "policy_id", (Datum) 0, true);
		edit_set(&e, "next_run_at", (Datum) 0, true);
	}
	else if (strcmp(table, "points") == 0)
		edit_set(&e, "created_by", me, false);
	else if (strcmp(table, "point_tables") == 0)
		edit_set(&e, "source_owner", me, false);
	return edit_apply(&e);
}

/* later: NULL (kept for good) is later than any time */
static bool
later(Relation rel, HeapTuple oldtup, HeapTuple newtup, const char *name)
{
	bool		old_null;
	bool		new_null;
	Datum		o = get(rel, oldtup, name, &old_null);
	Datum		n = get(rel, newtup, name, &new_null);

	if (old_null)
		return false;
	return new_null || DatumGetTimestampTz(n) > DatumGetTimestampTz(o);
}

/* (SPI only here: the tuple the trigger returns must outlive SPI_finish) */
static bool
vault_has_replicated_items(Datum vault_id)
{
	Oid			types[1] = {INT8OID};
	bool		has;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	has = spi_int64("SELECT count(*) FROM vault_internal.items WHERE vault_id = $1",
					1, types, &vault_id, NULL) > 0;
	SPI_finish();
	return has;
}

/*
 * An update of a row that arrived earlier: only what cannot lose anything.
 * NULL: nothing to take.
 */
static HeapTuple
replica_merge(Relation rel, const char *table, HeapTuple oldtup, HeapTuple newtup)
{
	RowEdit		e = {rel, oldtup, 0};
	bool		n1,
				n2;

	if (strcmp(table, "points") == 0)
	{
		if (later(rel, oldtup, newtup, "expires_at"))
			edit_take(&e, newtup, "expires_at");
		if (later(rel, oldtup, newtup, "retain_until"))
			edit_take(&e, newtup, "retain_until");
	}
	else if (strcmp(table, "vaults") == 0)
	{
		if (DatumGetBool(get(rel, newtup, "cross_region_restore", &n1)) &&
			!DatumGetBool(get(rel, oldtup, "cross_region_restore", &n2)))
			edit_set(&e, "cross_region_restore", BoolGetDatum(true), false);
		if (DatumGetInt32(get(rel, newtup, "soft_delete_days", &n1)) >
			DatumGetInt32(get(rel, oldtup, "soft_delete_days", &n2)))
			edit_take(&e, newtup, "soft_delete_days");

		/*
		 * The vault's keys as they were when its first item arrived stay:
		 * before that (a key chosen right after the vault became geo) the
		 * primary's choice is taken.
		 */
		if (!datumIsEqual(get(rel, newtup, "wrapped_keys", &n1), get(rel, oldtup, "wrapped_keys", &n2),
						  false, -1) &&
			!vault_has_replicated_items(get(rel, oldtup, "vault_id", &n1)))
		{
			edit_take(&e, newtup, "key_source");
			edit_take(&e, newtup, "key_id");
			edit_take(&e, newtup, "wrapped_keys");
		}
	}
	return e.n > 0 ? edit_apply(&e) : NULL;
}

/*
 * The trigger replica_apply, BEFORE each row the subscription applies.
 */
Datum
replica_apply(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	const char *table;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "replica_apply: not fired BEFORE a row");
	rel = td->tg_relation;
	table = RelationGetRelationName(rel);

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);	/* what arrived stays */
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		return PointerGetDatum(replica_arrive(rel, table, td->tg_trigtuple));

	/* an update in the transaction that brought the row finishes it */
	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(td->tg_trigtuple->t_data)))
		return PointerGetDatum(replica_arrive(rel, table, td->tg_newtuple));
	result = replica_merge(rel, table, td->tg_trigtuple, td->tg_newtuple);
	return PointerGetDatum(result);
}

/*
 * Restoring or exporting a replicated point needs cross-region restore on
 * its vault (set on the primary, and for good); verifying does not.
 */
void
secondary_check_restore(VaultInfo *vault, int64 point_id, const char *what)
{
	if (vault->replica && !vault->cross_region_restore)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery point %lld of vault \"%s\" is a replica and cannot be %s here: "
						"the vault has no cross-region restore", (long long) point_id, vault->name, what),
				 errhint("On the primary: vault_configure('%s', cross_region_restore => true). "
						 "vault_verify works here in any case.", vault->name)));
}

/* ---- attaching and detaching ---- */

static WalReceiverConn *
primary_connect(const char *conninfo, bool fail)
{
	WalReceiverConn *conn;
	char	   *err = NULL;

	load_file("libpqwalreceiver", false);
#if PG_VERSION_NUM >= 170000
	conn = walrcv_connect(conninfo, true, true, false, GEO_SUBSCRIPTION, &err);
#elif PG_VERSION_NUM >= 160000
	conn = walrcv_connect(conninfo, true, false, GEO_SUBSCRIPTION, &err);
#else
	conn = walrcv_connect(conninfo, true, GEO_SUBSCRIPTION, &err);
#endif
	if (conn == NULL)
		ereport(fail ? ERROR : WARNING,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the primary: %s", err ? err : "?")));
	return conn;
}

/* one text column of a query on the primary, every row */
static List *
primary_query(WalReceiverConn *conn, const char *sql)
{
	Oid			types[1] = {TEXTOID};
	WalRcvExecResult *res = walrcv_exec(conn, sql, 1, types);
	TupleTableSlot *slot;
	List	   *out = NIL;

	if (res->status != WALRCV_OK_TUPLES)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not query the primary: %s", res->err ? res->err : "?")));
	slot = MakeSingleTupleTableSlot(res->tupledesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(res->tuplestore, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, 1, &isnull);

		out = lappend(out, isnull ? NULL : TextDatumGetCString(d));
		ExecClearTuple(slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	walrcv_clear_result(res);
	return out;
}

static bool
subscription_exists(void)
{
	return spi_int64("SELECT count(*) FROM pg_catalog.pg_subscription s "
					 "JOIN pg_catalog.pg_database d ON d.oid = s.subdbid "
					 "WHERE d.datname = pg_catalog.current_database() AND s.subname = '" GEO_SUBSCRIPTION "'",
					 0, NULL, NULL, NULL) > 0;
}

/*
 * vault_secondary_attach(conninfo): this database subscribes to the
 * primary's geo vaults.  Run alone (not in a transaction block), by a
 * superuser, in a database without vaults or keys of its own yet: from
 * here on its own ids start at 2^62, the primary's keep theirs.
 */
void
secondary_attach(VaultCall *call, const char *conninfo)
{
	static const char *const identities[][2] = {
		{"vaults", "vault_id"}, {"items", "item_id"}, {"points", "point_id"},
		{"chunks", "chunk_no"}, {"keys", "key_id"}
	};
	WalReceiverConn *conn;
	char	   *slot;
	List	   *pubs;
	int			i;

	PreventInTransactionBlock(true, "vault_secondary_attach()");
	vault_as_owner(call);
	if (subscription_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database is already a secondary"),
				 errhint("vault_secondary_detach() first.")));
	if (spi_int64("SELECT (SELECT count(*) FROM vault_internal.vaults) + (SELECT count(*) FROM vault_internal.keys)",
				  0, NULL, NULL, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("database \"%s\" already holds vaults or keys of its own", get_database_name(MyDatabaseId)),
				 errdetail("The primary's vaults keep their ids on the secondary; local ones made before could clash."),
				 errhint("Attach in a database where the extension was just created; local vaults made afterwards coexist.")));

	/* the primary must publish: it has had a geo vault */
	conn = primary_connect(conninfo, true);
	pubs = primary_query(conn, "SELECT pubname::text FROM pg_catalog.pg_publication "
						 "WHERE pubname IN ('vault_geo', 'vault_geo_data')");
	if (list_length(pubs) != 2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the primary publishes no geo vault"),
				 errhint("vault_configure(vault, redundancy => 'geo') on the primary first.")));

	for (i = 0; i < lengthof(identities); i++)
		(void) spi_int64(psprintf("ALTER TABLE vault_internal.%s ALTER COLUMN %s RESTART WITH " INT64_FORMAT,
								  identities[i][0], identities[i][1], SECONDARY_FIRST_ID),
						 0, NULL, NULL, NULL);

	/*
	 * The subscription, then last its slot on the primary: a CREATE
	 * SUBSCRIPTION that makes its slot cannot run in a function; if
	 * anything fails before the slot exists, the abort undoes the rest.
	 */
	slot = psprintf("vault_geo_" UINT64_FORMAT "_%u", GetSystemIdentifier(), MyDatabaseId);
	(void) spi_int64(psprintf("CREATE SUBSCRIPTION " GEO_SUBSCRIPTION " CONNECTION %s "
							  "PUBLICATION vault_geo, vault_geo_data "
							  "WITH (create_slot = false, slot_name = %s, copy_data = true)",
							  quote_literal_cstr(conninfo), quote_literal_cstr(slot)),
					 0, NULL, NULL, NULL);
	vault_as_caller(call);
	walrcv_create_slot(conn, slot, false, false, CRS_NOEXPORT_SNAPSHOT, NULL);
	walrcv_disconnect(conn);
}

/*
 * vault_secondary_detach(): the subscription and its slots on the primary
 * go; what arrived stays (its vaults read as replicas, 'detached').  A
 * primary that cannot be reached keeps its slot: the WARNING says which.
 */
void
secondary_detach(VaultCall *call)
{
	char	   *conninfo;
	char	   *slot;
	int64		subid;
	WalReceiverConn *conn;
	ListCell   *lc;
	List	   *slots;

	PreventInTransactionBlock(true, "vault_secondary_detach()");
	vault_as_owner(call);
	if (!subscription_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this database is not a secondary"),
				 errhint("vault_secondary_attach(conninfo) subscribes it to a primary.")));
	subid = spi_int64("SELECT s.oid::bigint FROM pg_catalog.pg_subscription s "
					  "JOIN pg_catalog.pg_database d ON d.oid = s.subdbid "
					  "WHERE d.datname = pg_catalog.current_database() AND s.subname = '" GEO_SUBSCRIPTION "'",
					  0, NULL, NULL, NULL);
	if (SPI_execute("SELECT s.subconninfo, s.subslotname FROM pg_catalog.pg_subscription s "
					"JOIN pg_catalog.pg_database d ON d.oid = s.subdbid "
					"WHERE d.datname = pg_catalog.current_database() AND s.subname = '" GEO_SUBSCRIPTION "'",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read subscription " GEO_SUBSCRIPTION);
	conninfo = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	slot = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	/* DROP SUBSCRIPTION stops its workers; without a slot it may run here */
	(void) spi_int64("ALTER SUBSCRIPTION " GEO_SUBSCRIPTION " DISABLE", 0, NULL, NULL, NULL);
	(void) spi_int64("ALTER SUBSCRIPTION " GEO_SUBSCRIPTION " SET (slot_name = NONE)", 0, NULL, NULL, NULL);
	(void) spi_int64("DROP SUBSCRIPTION " GEO_SUBSCRIPTION, 0, NULL, NULL, NULL);
	vault_as_caller(call);

	if (slot == NULL)
		return;
	conn = primary_connect(conninfo, false);
	if (conn == NULL)
	{
		ereport(WARNING,
				(errmsg("replication slot \"%s\" stays on the primary", slot),
				 errhint("Drop it there: SELECT pg_drop_replication_slot('%s');", slot)));
		return;
	}
	/* the slot, and any a table copy still in progress had made */
	slots = lappend(primary_query(conn, psprintf("SELECT slot_name::text FROM pg_catalog.pg_replication_slots "
												  "WHERE slot_name LIKE 'pg\\_" INT64_FORMAT "\\_sync\\_%%'",
												  subid)),
					slot);
	foreach(lc, slots)
	{
		WalRcvExecResult *res = walrcv_exec(conn, psprintf("DROP_REPLICATION_SLOT %s WAIT",
														   quote_identifier(lfirst(lc))), 0, NULL);

		if (res->status != WALRCV_OK_COMMAND)
			ereport(WARNING,
					(errmsg("could not drop replication slot \"%s\" on the primary: %s",
							(char *) lfirst(lc), res->err ? res->err : "?"),
					 errhint("Drop it there: SELECT pg_drop_replication_slot('%s');", (char *) lfirst(lc))));
		walrcv_clear_result(res);
	}
	walrcv_disconnect(conn);
}
