/*-------------------------------------------------------------------------
 * protection.c
 *	  Protecting the backups themselves: the soft delete and immutability
 *	  settings, deleting data the safe way, and undeleting it.
 *
 * Owns the rules of deletion.  Deleting backup data (a point, or an item
 * with all its points) soft-deletes it for the vault's soft-delete days
 * (purge.c removes it when due), or deletes it at once when soft delete is
 * off.  It is refused (55000) while a legal hold covers any of it, while the
 * vault is immutable and any of it has not expired, and on a guarded vault
 * without an approved request (access/guard.c).  Soft-deleted data cannot be
 * restored or exported until undeleted.  'always-on' soft delete and a
 * 'locked' immutability are for good.  Every change is audited in the same
 * transaction.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_delete_recovery_point);
PG_FUNCTION_INFO_V1(vault_undelete);
PG_FUNCTION_INFO_V1(vault_undelete_point);

static bool
immutable(VaultInfo *vault)
{
	return strcmp(vault->immutability, "off") != 0;
}

/* ---- the protection settings of vault_configure ---- */

/*
 * Apply the protection settings given (NULL / has_days false: unchanged)
 * to a vault its caller locked for update: irreversible ones refuse first,
 * critical ones use an approval each on a guarded vault, and turning soft
 * delete off purges what is soft-deleted.
 */
void
protection_configure(VaultCall *call, VaultInfo *vault, const char *soft, bool has_days, int days,
					 const char *immut)
{
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[4];
	bool		nulls[4] = {false, soft == NULL, !has_days, immut == NULL};

	if (soft == NULL && !has_days && immut == NULL)
		return;

	/* the irreversible ones first: nothing is used or changed if one refuses */
	if (soft && strcmp(soft, vault->soft_delete) != 0 && strcmp(vault->soft_delete, "always-on") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("soft delete of vault \"%s\" is always-on and cannot be changed", vault->name)));
	if (immut && strcmp(immut, vault->immutability) != 0 && strcmp(vault->immutability, "locked") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("immutability of vault \"%s\" is locked and cannot be changed", vault->name)));

	/* the critical ones need an approval each on a guarded vault */
	if (soft && strcmp(soft, "off") == 0 && strcmp(vault->soft_delete, "off") != 0)
		(void) guard_require(call, vault, "soft_delete_off", "turning soft delete off");
	if (has_days && days < vault->soft_delete_days)
		(void) guard_require(call, vault, "soft_delete_days", "lowering the soft-delete days");
	if (immut && strcmp(immut, "off") == 0 && strcmp(vault->immutability, "on") == 0)
		(void) guard_require(call, vault, "immutability_off", "turning immutability off");

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = soft ? CStringGetTextDatum(soft) : (Datum) 0;
	values[2] = Int32GetDatum(days);
	values[3] = immut ? CStringGetTextDatum(immut) : (Datum) 0;
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.vaults SET soft_delete = coalesce($2, soft_delete), "
					 "soft_delete_days = coalesce($3, soft_delete_days), "
					 "immutability = coalesce($4, immutability) WHERE vault_id = $1",
					 4, types, values, nulls);
	vault_as_caller(call);

	if (soft && strcmp(soft, vault->soft_delete) != 0)
		audit_record(call, vault, NULL, "configure",
					 psprintf("soft_delete %s -> %s", vault->soft_delete, soft));
	if (soft && strcmp(soft, "off") == 0 && strcmp(vault->soft_delete, "off") != 0)
		alert_raise(call, vault->vault_id, NULL, "soft delete disabled",
					psprintf("soft delete of vault %s was turned off by %s: deleted backup data is now gone at once",
							 vault->name, GetUserNameFromId(call->caller, false)),
					GetCurrentTimestamp());
	if (has_days && days != vault->soft_delete_days)
		audit_record(call, vault, NULL, "configure",
					 psprintf("soft_delete_days %d -> %d", vault->soft_delete_days, days));
	if (immut && strcmp(immut, vault->immutability) != 0)
		audit_record(call, vault, NULL, "configure",
					 psprintf("immutability %s -> %s", vault->immutability, immut));

	/* off: what is soft-deleted goes now (but what a legal hold keeps) */
	if (soft && strcmp(soft, "off") == 0 && strcmp(vault->soft_delete, "off") != 0)
		(void) purge_vault(call, vault, DT_NOEND, true, false, "on-demand", NULL, NULL);
}

/* ---- deleting ---- */

/* A point of the vault, locked, with what deciding about it needs. */
typedef struct PointFacts
{
	int64		point_id;
	int64		item_id;
	char	   *item_name;
	char	   *item_state;
	char	   *state;
	bool		expired;
	char	   *expires;		/* as text, "never" when it does not */
	bool		held;
} PointFacts;

static PointFacts *
point_facts(VaultCall *call, int64 point_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	PointFacts *f;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	values[0] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT p.point_id, p.item_id, i.name, i.state, p.state, "
								"  coalesce(" POINT_EXPIRY_SQL " <= now(), false), "
								"  coalesce((" POINT_EXPIRY_SQL ")::text, 'never'), " POINT_HELD_SQL " "
								"FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
								"WHERE p.point_id = $1 FOR UPDATE OF p",
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "recovery point %lld vanished", (long long) point_id);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	f = palloc0(sizeof(PointFacts));
	f->point_id = point_id;
	f->item_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	f->item_name = SPI_getvalue(tup, desc, 3);
	f->item_state = SPI_getvalue(tup, desc, 4);
	f->state = SPI_getvalue(tup, desc, 5);
	f->expired = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
	f->expires = SPI_getvalue(tup, desc, 7);
	f->held = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
	return f;
}

/* The active legal holds over some of the item's points (or one point): "3, 7". */
static char *
holds_over(VaultCall *call, int64 item_id, int64 point_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];
	int			ret;

	values[0] = Int64GetDatum(item_id);
	values[1] = Int64GetDatum(point_id);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT string_agg(DISTINCT h.hold_id::text, ', ') "
								"FROM vault_internal.hold_points hp JOIN vault_internal.holds h USING (hold_id) "
								"JOIN vault_internal.points p ON p.point_id = hp.point_id "
								"WHERE p.item_id = $1 AND ($2 = 0 OR p.point_id = $2) AND h.released_at IS NULL",
								2, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Refuse deleting what a legal hold covers. */
static void
refuse_if_held(VaultCall *call, VaultInfo *vault, int64 item_id, int64 point_id, const char *what)
{
	char	   *holds = holds_over(call, item_id, point_id);

	if (holds == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot delete %s of vault \"%s\": it is on legal hold", what, vault->name),
			 errdetail("Active legal hold(s): %s.", holds),
			 errhint("A legal hold keeps its points under every setting until vault_legal_hold_release(hold).")));
}

/*
 * Delete an item's data (vault_unprotect with delete_data): soft-delete the
 * item and its points, or delete them now when soft delete is off.
 */
void
protection_delete_item(VaultCall *call, VaultInfo *vault, ItemInfo *item)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int64		unexpired;
	int64		points;

	if (call->catalog < VAULT_CATALOG_1_1)
	{
		expiry_delete_now(call, vault, item->item_id, item->name, 0);
		return;
	}
	if (strcmp(item->state, "soft-deleted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("item \"%s\" of vault \"%s\" is already soft-deleted", item->name, vault->name),
				 errhint("It is purged when its purge_at comes (vault_items); vault_undelete brings it back.")));
	refuse_if_held(call, vault, item->item_id, 0, psprintf("the data of item \"%s\"", item->name));
	values[0] = Int64GetDatum(item->item_id);
	values[1] = Int32GetDatum(vault->soft_delete_days);
	if (immutable(vault))
	{
		vault_as_owner(call);
		unexpired = spi_int64("SELECT count(*) FROM vault_internal.points p WHERE p.item_id = $1 "
							  "AND p.state = 'available' AND coalesce(" POINT_EXPIRY_SQL " > now(), true)",
							  1, types, values, NULL);
		vault_as_caller(call);
		if (unexpired > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot delete the data of item \"%s\": vault \"%s\" is immutable", item->name, vault->name),
					 errdetail("%lld of its recovery points have not expired.", (long long) unexpired),
					 errhint("An immutable vault lets data go only by expiry.")));
	}
	(void) guard_require(call, vault, "delete_data", "deleting backup data");

	if (strcmp(vault->soft_delete, "off") == 0)
	{
		expiry_delete_now(call, vault, item->item_id, item->name, 0);
		audit_record(call, vault, item->name, "delete", "item and all its recovery points deleted (soft delete off)");
		alert_raise(call, vault->vault_id, item->name, "backup data deleted",
					psprintf("item %s of vault %s and all its recovery points were deleted by %s (soft delete off)",
							 item->name, vault->name, GetUserNameFromId(call->caller, false)),
					GetCurrentTimestamp());
		return;
	}
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.items SET state = 'soft-deleted', next_run_at = NULL, "
					 "purge_at = now() + pg_catalog.make_interval(days => $2) WHERE item_id = $1",
					 2, types, values, NULL);
	points = spi_int64("WITH d AS (UPDATE vault_internal.points SET state = 'soft-deleted', "
					   "  purge_at = now() + pg_catalog.make_interval(days => $2) "
					   "  WHERE item_id = $1 AND state = 'available' RETURNING 1) SELECT count(*) FROM d",
					   2, types, values, NULL);
	vault_as_caller(call);
	audit_record(call, vault, item->name, "soft delete",
				 psprintf("item and %lld recovery point(s) soft-deleted for %d days",
						  (long long) points, vault->soft_delete_days));
	alert_raise(call, vault->vault_id, item->name, "backup data deleted",
				psprintf("item %s of vault %s and %lld recovery point(s) were deleted by %s: soft-deleted, purged in %d days unless undeleted",
						 item->name, vault->name, (long long) points, GetUserNameFromId(call->caller, false),
						 vault->soft_delete_days),
				GetCurrentTimestamp());
}

/* vault_delete_recovery_point(recovery_point) */
Datum
vault_delete_recovery_point(PG_FUNCTION_ARGS)
{
	VaultCall	call;
	PointInfo  *p;
	VaultInfo  *vault;
	PointFacts *f;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];

	vault_arg_not_null(fcinfo, 0, "recovery point");
	vault_call_begin(&call);
	p = point_lookup(&call, PG_GETARG_INT64(0));
	vault = vault_lookup_by_id(&call, p->vault_id);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "deleting backup data");
	vault_refuse_replica(vault, "deleting backup data");
	f = point_facts(&call, p->point_id);
	if (strcmp(f->state, "soft-deleted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery point %lld is already soft-deleted", (long long) p->point_id),
				 errhint("It is purged when its purge_at comes (vault_recovery_points); vault_undelete_point brings it back.")));
	refuse_if_held(&call, vault, f->item_id, f->point_id, psprintf("recovery point %lld", (long long) p->point_id));
	if (immutable(vault) && !f->expired)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot delete recovery point %lld: vault \"%s\" is immutable", (long long) p->point_id,
						vault->name),
				 errdetail("The point expires: %s.", f->expires),
				 errhint("An immutable vault lets data go only by expiry.")));
	(void) guard_require(&call, vault, "delete_data", "deleting backup data");

	if (strcmp(vault->soft_delete, "off") == 0)
	{
		expiry_delete_now(&call, vault, f->item_id, f->item_name, f->point_id);
		audit_record(&call, vault, f->item_name, "delete",
					 psprintf("recovery point %lld deleted (soft delete off)", (long long) p->point_id));
		alert_raise(&call, vault->vault_id, f->item_name, "backup data deleted",
					psprintf("recovery point %lld of vault %s was deleted by %s (soft delete off)",
							 (long long) p->point_id, vault->name, GetUserNameFromId(call.caller, false)),
					GetCurrentTimestamp());
	}
	else
	{
		values[0] = Int64GetDatum(p->point_id);
		values[1] = Int32GetDatum(vault->soft_delete_days);
		vault_as_owner(&call);
		(void) spi_int64("UPDATE vault_internal.points SET state = 'soft-deleted', "
						 "purge_at = now() + pg_catalog.make_interval(days => $2) WHERE point_id = $1",
						 2, types, values, NULL);
		vault_as_caller(&call);
		audit_record(&call, vault, f->item_name, "soft delete",
					 psprintf("recovery point %lld soft-deleted for %d days", (long long) p->point_id,
							  vault->soft_delete_days));
		alert_raise(&call, vault->vault_id, f->item_name, "backup data deleted",
					psprintf("recovery point %lld of vault %s was deleted by %s: soft-deleted, purged in %d days unless undeleted",
							 (long long) p->point_id, vault->name, GetUserNameFromId(call.caller, false),
							 vault->soft_delete_days),
					GetCurrentTimestamp());
	}
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* ---- undeleting ---- */

/*
 * vault_undelete(vault, item): the item back (stopped, or on-demand if it
 * had no policy) with every point it had; points whose expiry passed
 * meanwhile are kept until the item is protected again.
 */
Datum
vault_undelete(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *iname = vault_arg_text(fcinfo, 1, "item name");
	VaultCall	call;
	VaultInfo  *vault;
	ItemInfo   *item;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		points;

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "undeleting backup data");
	vault_refuse_replica(vault, "undeleting backup data");
	item = item_lookup(&call, vault, iname);
	if (strcmp(item->state, "soft-deleted") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("item \"%s\" of vault \"%s\" is not soft-deleted", item->name, vault->name),
				 errdetail("Its state is \"%s\".", item->state)));
	values[0] = Int64GetDatum(item->item_id);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.items SET purge_at = NULL, "
					 "state = CASE WHEN policy_id IS NULL THEN 'on-demand' ELSE 'stopped' END "
					 "WHERE item_id = $1", 1, types, values, NULL);
	points = spi_int64("WITH u AS (UPDATE vault_internal.points p SET state = 'available', purge_at = NULL, "
					   "  kept_until_protected = coalesce(" POINT_EXPIRY_SQL " <= now(), false) "
					   "  WHERE p.item_id = $1 AND p.state = 'soft-deleted' RETURNING 1) "
					   "SELECT count(*) FROM u", 1, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, item->name, "undelete",
				 psprintf("item and %lld recovery point(s) undeleted", (long long) points));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * vault_undelete_point(recovery_point, retain_until): one point back; a
 * point whose expiry has passed needs a retain_until in the future.
 */
Datum
vault_undelete_point(PG_FUNCTION_ARGS)
{
	VaultCall	call;
	PointInfo  *p;
	VaultInfo  *vault;
	PointFacts *f;
	bool		has_retain = !PG_ARGISNULL(1);
	TimestampTz retain = has_retain ? PG_GETARG_TIMESTAMPTZ(1) : 0;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		nulls[2] = {false, !has_retain};

	vault_arg_not_null(fcinfo, 0, "recovery point");
	if (has_retain && retain <= GetCurrentTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retain_until must be in the future"),
				 errdetail("retain_until is %s.", timestamptz_to_str(retain))));
	vault_call_begin(&call);
	p = point_lookup(&call, PG_GETARG_INT64(0));
	vault = vault_lookup_by_id(&call, p->vault_id);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "undeleting backup data");
	vault_refuse_replica(vault, "undeleting backup data");
	f = point_facts(&call, p->point_id);
	if (strcmp(f->state, "soft-deleted") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery point %lld is not soft-deleted", (long long) p->point_id)));
	if (strcmp(f->item_state, "soft-deleted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recovery point %lld belongs to item \"%s\", which is soft-deleted", (long long) p->point_id,
						f->item_name),
				 errhint("Undelete the item with vault_undelete('%s', '%s'): it brings back all its points.",
						 vault->name, f->item_name)));
	if (f->expired && !has_retain)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recovery point %lld has expired: undeleting it needs a retain_until", (long long) p->point_id),
				 errdetail("It expired at %s.", f->expires),
				 errhint("Pass retain_until => a time in the future to keep it until then.")));
	values[0] = Int64GetDatum(p->point_id);
	values[1] = TimestampTzGetDatum(retain);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.points SET state = 'available', purge_at = NULL, "
					 "retain_until = coalesce($2, retain_until) WHERE point_id = $1", 2, types, values, nulls);
	vault_as_caller(&call);
	audit_record(&call, vault, f->item_name, "undelete",
				 has_retain ? psprintf("recovery point %lld undeleted, kept until %s", (long long) p->point_id,
									   timestamptz_to_str(retain)) :
				 psprintf("recovery point %lld undeleted", (long long) p->point_id));
	vault_call_end(&call);
	PG_RETURN_VOID();
}
