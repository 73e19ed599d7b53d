/*-------------------------------------------------------------------------
 * policy.c
 *	  Backup policies and protected items: vault_policy_create / _alter /
 *	  _drop, vault_protect, vault_protect_schema, vault_unprotect.
 *
 * Owns: the policies table, attaching an item to a policy (and checking
 * that both the caller and the policy's owner, as whom scheduled backups
 * run, may back the item up), stopping protection, and deleting an item's
 * data.  Running due backups and expiring points is periodic.c's.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_policy_create);
PG_FUNCTION_INFO_V1(vault_policy_alter);
PG_FUNCTION_INFO_V1(vault_policy_drop);
PG_FUNCTION_INFO_V1(vault_protect);
PG_FUNCTION_INFO_V1(vault_protect_schema);
PG_FUNCTION_INFO_V1(vault_unprotect);

static void
check_policy_name(const char *name)
{
	int			len = pg_mbstrlen(name);

	if (len < 1 || len > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid policy name \"%s\"", name),
				 errdetail("A policy name has 1 to 63 characters; this one has %d.", len)));
}

/* the zone's canonical name, or an error naming the bad one */
static char *
canonical_timezone(const char *name)
{
	return pstrdup(pg_get_timezone_name(policy_timezone(name)));
}

/* The policy row by name, locked as asked; error if there is none. */
PolicyInfo *
policy_lookup(VaultCall *call, const char *name, const char *lock)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	PolicyInfo *p;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	values[0] = CStringGetTextDatum(name);
	vault_as_owner(call);
	ret = SPI_execute_with_args(psprintf("SELECT policy_id, name, owner, schedule, retention, timezone "
										 "FROM vault_internal.policies WHERE name = $1 %s", lock),
								1, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "policy lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("policy \"%s\" does not exist", name),
				 errhint("The policies are listed in the view vault_policies.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	p = palloc0(sizeof(PolicyInfo));
	p->policy_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	p->name = SPI_getvalue(tup, desc, 2);
	p->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	p->schedule = SPI_getvalue(tup, desc, 4);
	p->retention = SPI_getvalue(tup, desc, 5);
	p->timezone = SPI_getvalue(tup, desc, 6);
	return p;
}

/* the next scheduled run after now, for a policy's schedule and zone */
static TimestampTz
policy_first_run(PolicyInfo *p, TimestampTz now)
{
	VaultSchedule s;

	policy_parse_schedule(p->schedule, strlen(p->schedule), &s);
	return policy_next_run(&s, now, policy_timezone(p->timezone));
}

/* the items of a policy, vault by vault */
typedef struct PolicyVault
{
	VaultInfo  *vault;
	int64	   *items;
	int			nitems;
} PolicyVault;

static List *
policy_vaults(VaultCall *call, int64 policy_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64	   *vault_ids;
	int			nvaults;
	int			i;
	List	   *result = NIL;

	values[0] = Int64GetDatum(policy_id);
	vault_ids = spi_int64_array(call, "SELECT DISTINCT vault_id FROM vault_internal.items "
								"WHERE policy_id = $1 ORDER BY vault_id", 1, types, values, &nvaults);
	for (i = 0; i < nvaults; i++)
	{
		PolicyVault *pv = palloc0(sizeof(PolicyVault));
		Oid			t2[2] = {INT8OID, INT8OID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(policy_id);
		v2[1] = Int64GetDatum(vault_ids[i]);
		pv->vault = vault_lookup_by_id(call, vault_ids[i]);
		pv->items = spi_int64_array(call, "SELECT item_id FROM vault_internal.items "
									"WHERE policy_id = $1 AND vault_id = $2 ORDER BY item_id",
									2, t2, v2, &pv->nitems);
		result = lappend(result, pv);
	}
	return result;
}


/* an item's name, for an alert's item column */
static char *
item_name_of(VaultCall *call, int64 item_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *name = NULL;

	values[0] = Int64GetDatum(item_id);
	vault_as_owner(call);
	if (SPI_execute_with_args("SELECT name FROM vault_internal.items WHERE item_id = $1",
							  1, types, values, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	vault_as_caller(call);
	return name;
}
/*
 * A retention change for the items of one vault (policy altered, or an
 * item moved to another policy): when the new rule would make a point
 * expire earlier or keep fewer future points, an immutable vault refuses it
 * and a guarded one needs an approval for it.
 */
static void
check_retention_change(VaultCall *call, VaultInfo *vault, int64 *items, int n,
					   const char *old_rule, const char *new_rule, const char *new_tz)
{
	VaultRetention before;
	VaultRetention after;
	bool		fewer;
	bool		earlier = false;
	int			i;

	if (call->catalog < VAULT_CATALOG_1_1 || n == 0)
		return;
	policy_parse_retention(old_rule, strlen(old_rule), &before);
	policy_parse_retention(new_rule, strlen(new_rule), &after);
	fewer = retention_keeps_fewer(&before, &after);
	for (i = 0; i < n && !earlier; i++)
		earlier = expiry_would_shorten(call, items[i], new_rule, new_tz);
	if (!fewer && !earlier)
		return;
	if (strcmp(vault->immutability, "off") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("vault \"%s\" is immutable: its retention cannot be reduced", vault->name),
				 errdetail("The new rule \"%s\" %s than \"%s\".", new_rule,
						   earlier ? "would make recovery points expire earlier" : "keeps fewer future points",
						   old_rule),
				 errhint("An immutable vault allows longer retention and other schedules, not shorter retention.")));
	(void) guard_require(call, vault, "reduce_retention", "reducing retention");
	alert_raise(call, vault->vault_id, n == 1 ? item_name_of(call, items[0]) : NULL, "retention shortened",
				psprintf("retention of %d item(s) in vault %s shortened by %s: \"%s\" %s than \"%s\"",
						 n, vault->name, GetUserNameFromId(call->caller, false), new_rule,
						 earlier ? "makes recovery points expire earlier" : "keeps fewer future points", old_rule),
				GetCurrentTimestamp());
}

/* vault_policy_create(policy, schedule, retention, timezone) */
Datum
vault_policy_create(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "policy name");
	char	   *tz;
	VaultCall	call;
	Oid			types[5] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	int			ret;

	vault_arg_not_null(fcinfo, 1, "schedule");
	vault_arg_not_null(fcinfo, 2, "retention");
	check_policy_name(name);
	tz = canonical_timezone(vault_arg_text(fcinfo, 3, "timezone"));

	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "creating a policy");
	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(call.caller);
	values[2] = PG_GETARG_DATUM(1);	/* canonical text already */
	values[3] = PG_GETARG_DATUM(2);
	values[4] = CStringGetTextDatum(tz);
	vault_as_owner(&call);
	ret = SPI_execute_with_args("INSERT INTO vault_internal.policies "
								"(name, owner, schedule, retention, timezone) "
								"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
								5, types, values, NULL, false, 0);
	vault_as_caller(&call);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert policy");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("policy \"%s\" already exists", name)));
	audit_record(&call, NULL, NULL, "policy create",
				 psprintf("policy %s: schedule %s, retention %s, timezone %s", name,
						  text_to_cstring(PG_GETARG_TEXT_PP(1)), text_to_cstring(PG_GETARG_TEXT_PP(2)), tz));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * vault_policy_alter(policy, schedule, retention, timezone): NULL keeps a
 * setting.  A new schedule or zone reschedules the protected items; a new
 * retention rule or zone re-applies to the points of every item under it.
 */
Datum
vault_policy_alter(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "policy name");
	char	   *tz = PG_ARGISNULL(3) ? NULL : canonical_timezone(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	VaultCall	call;
	PolicyInfo *p;
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		nulls[4] = {false, PG_ARGISNULL(1), PG_ARGISNULL(2), tz == NULL};
	int			i;
	char	   *new_rule;
	List	   *vaults;
	char	   *before;

	if (PG_ARGISNULL(1) && PG_ARGISNULL(2) && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to change in policy \"%s\"", name),
				 errhint("Give a new schedule, retention or timezone.")));

	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "altering a policy");
	p = policy_lookup(&call, name, "FOR UPDATE");
	new_rule = PG_ARGISNULL(2) ? p->retention : text_to_cstring(PG_GETARG_TEXT_PP(2));
	vaults = policy_vaults(&call, p->policy_id);

	/* a shorter retention: refused in an immutable vault, approved in a guarded one */
	if (!PG_ARGISNULL(2) || tz != NULL)
	{
		ListCell   *lc;

		foreach(lc, vaults)
		{
			PolicyVault *pv = lfirst(lc);

			check_retention_change(&call, pv->vault, pv->items, pv->nitems, p->retention, new_rule,
								   tz ? tz : p->timezone);
		}
	}

	values[0] = Int64GetDatum(p->policy_id);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	values[3] = tz ? CStringGetTextDatum(tz) : (Datum) 0;
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.policies SET schedule = coalesce($2, schedule), "
					 "retention = coalesce($3, retention), timezone = coalesce($4, timezone), "
					 "changed_at = now() WHERE policy_id = $1",
					 4, types, values, nulls);
	vault_as_caller(&call);
	before = psprintf("schedule %s, retention %s, timezone %s", p->schedule, p->retention, p->timezone);
	p = policy_lookup(&call, name, "");
	{
		char	   *detail = psprintf("policy %s: %s -> schedule %s, retention %s, timezone %s", p->name,
									  before, p->schedule, p->retention, p->timezone);
		ListCell   *lc;

		foreach(lc, vaults)
			audit_record(&call, ((PolicyVault *) lfirst(lc))->vault, NULL, "policy alter", detail);
		if (vaults == NIL)
			audit_record(&call, NULL, NULL, "policy alter", detail);
	}

	/* reschedule: the next run after now, under the new schedule and zone */
	if (!PG_ARGISNULL(1) || tz != NULL)
	{
		Oid			t2[2] = {INT8OID, TIMESTAMPTZOID};
		Datum		v2[2];

		v2[0] = Int64GetDatum(p->policy_id);
		v2[1] = TimestampTzGetDatum(policy_first_run(p, GetCurrentTimestamp()));
		vault_as_owner(&call);
		(void) spi_int64("UPDATE vault_internal.items SET next_run_at = $2 "
						 "WHERE policy_id = $1 AND state = 'protected'", 2, t2, v2, NULL);
		vault_as_caller(&call);
	}

	/* re-apply retention to the existing points of every item under the policy */
	if (!PG_ARGISNULL(2) || tz != NULL)
	{
		int			n;
		int64	   *items = spi_int64_array(&call, "SELECT item_id FROM vault_internal.items "
											"WHERE policy_id = $1", 1, types, values, &n);

		for (i = 0; i < n; i++)
			expiry_refresh_item(&call, items[i], true);
	}
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* vault_policy_drop(policy): refused while items use it */
Datum
vault_policy_drop(PG_FUNCTION_ARGS)
{
	char	   *name = vault_arg_text(fcinfo, 0, "policy name");
	VaultCall	call;
	PolicyInfo *p;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		protected_items;
	int64		stopped_items;

	vault_call_begin(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "dropping a policy");
	p = policy_lookup(&call, name, "FOR UPDATE");
	values[0] = Int64GetDatum(p->policy_id);
	vault_as_owner(&call);
	protected_items = spi_int64("SELECT count(*) FROM vault_internal.items "
								"WHERE policy_id = $1 AND state = 'protected'", 1, types, values, NULL);
	stopped_items = spi_int64("SELECT count(*) FROM vault_internal.items "
							  "WHERE policy_id = $1 AND state <> 'protected'", 1, types, values, NULL);
	vault_as_caller(&call);
	if (protected_items > 0 || stopped_items > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop policy \"%s\" because %lld item(s) use it",
						name, (long long) (protected_items + stopped_items)),
				 errdetail("%lld item(s) are protected by it; the points of %lld item(s) whose protection "
						   "stopped still expire by its retention rule.",
						   (long long) protected_items, (long long) stopped_items),
				 errhint("Move the items to another policy with vault_protect, or delete their data "
						 "with vault_unprotect(..., delete_data => true).")));
	vault_as_owner(&call);
	(void) spi_int64("DELETE FROM vault_internal.policies WHERE policy_id = $1", 1, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, NULL, NULL, "policy drop", psprintf("policy %s", name));
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* Attach (or move) an item to a policy; returns its item id. */
static int64
protect_item(VaultCall *call, VaultInfo *vault, const char *kind, const char *name, Oid source,
			 PolicyInfo *p)
{
	Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, OIDOID, INT8OID, TIMESTAMPTZOID, BOOLOID};
	Datum		values[7];
	int64		item_id;
	int			ret;
	int64		old_policy = 0;
	char	   *old_rule = NULL;
	bool		moved;

	/* the item as it is, if it is */
	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(name);
	vault_as_owner(call);
	ret = SPI_execute_with_args("SELECT i.item_id, i.state, i.policy_id, po.retention "
								"FROM vault_internal.items i LEFT JOIN vault_internal.policies po USING (policy_id) "
								"WHERE i.vault_id = $1 AND i.kind = $2 AND i.name = $3 FOR UPDATE OF i",
								3, types, values, NULL, false, 1);
	vault_as_caller(call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "item lookup failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		char	   *state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (strcmp(state, "soft-deleted") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("item \"%s\" of vault \"%s\" is soft-deleted", name, vault->name),
					 errhint("Undelete it with vault_undelete('%s', '%s') before protecting it again.",
							 vault->name, name)));
		item_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		old_policy = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (isnull)
			old_policy = 0;
		old_rule = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		moved = old_policy != 0 && old_policy != p->policy_id;
		if (moved)
			check_retention_change(call, vault, &item_id, 1, old_rule, p->retention, p->timezone);
	}
	else
		moved = false;

	values[3] = ObjectIdGetDatum(source);
	values[4] = Int64GetDatum(p->policy_id);
	values[5] = TimestampTzGetDatum(policy_first_run(p, GetCurrentTimestamp()));
	values[6] = BoolGetDatum(vault_is_geo(vault));
	vault_as_owner(call);
	item_id = spi_int64(psprintf("INSERT INTO vault_internal.items "
								 "(vault_id, kind, name, source_oid, state, policy_id, next_run_at%s) "
								 "VALUES ($1, $2, $3, $4, 'protected', $5, $6%s) "
								 "ON CONFLICT (vault_id, kind, name) DO UPDATE SET "
								 "  source_oid = EXCLUDED.source_oid, state = 'protected', "
								 "  policy_id = EXCLUDED.policy_id, next_run_at = EXCLUDED.next_run_at, "
								 "  protected_at = CASE WHEN items.state = 'protected' THEN items.protected_at "
								 "                      ELSE now() END "
								 "RETURNING item_id",
								 call->catalog >= VAULT_CATALOG_1_1 ? ", geo" : "",
								 call->catalog >= VAULT_CATALOG_1_1 ? ", $7" : ""),
						call->catalog >= VAULT_CATALOG_1_1 ? 7 : 6, types, values, NULL);
	/* points kept past their expiry by an undelete go back to expiring */
	if (call->catalog >= VAULT_CATALOG_1_1)
		(void) spi_int64("UPDATE vault_internal.points SET kept_until_protected = false "
						 "WHERE item_id = $1 AND kept_until_protected", 1, types, (Datum[]) {Int64GetDatum(item_id)},
						 NULL);
	vault_as_caller(call);
	expiry_refresh_item(call, item_id, moved);
	audit_record(call, vault, name, "protect",
				 moved ? psprintf("moved to policy %s", p->name) : psprintf("under policy %s", p->name));
	return item_id;
}

/* vault_protect(vault, source regclass, policy) -> item id */
Datum
vault_protect(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *pname = vault_arg_text(fcinfo, 2, "policy name");
	Oid			relid;
	VaultCall	call;
	VaultCall	as_policy_owner;
	VaultInfo  *vault;
	PolicyInfo *p;
	int64		item_id;

	vault_arg_not_null(fcinfo, 1, "source table");
	relid = PG_GETARG_OID(1);

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OPERATOR, "protecting items");
	vault_refuse_replica(vault, "protecting items");
	p = policy_lookup(&call, pname, "FOR SHARE");

	/* the caller and the policy's owner (who runs the backups) must both be able to */
	LockRelationOid(relid, AccessShareLock);
	backup_check_table(&call, relid);
	as_policy_owner = call;
	as_policy_owner.caller = p->owner;
	backup_check_table(&as_policy_owner, relid);
	vault_require(&as_policy_owner, vault, VAULT_OPERATOR, "backing up as the policy's owner");

	item_id = protect_item(&call, vault, "table", backup_table_label(relid), relid, p);
	vault_call_end(&call);
	PG_RETURN_INT64(item_id);
}

/* vault_protect_schema(vault, source name, policy) -> item id */
Datum
vault_protect_schema(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *pname = vault_arg_text(fcinfo, 2, "policy name");
	char	   *schema;
	Oid			nspoid;
	VaultCall	call;
	VaultCall	as_policy_owner;
	VaultInfo  *vault;
	PolicyInfo *p;
	int64		item_id;

	vault_arg_not_null(fcinfo, 1, "source schema");
	schema = pstrdup(NameStr(*PG_GETARG_NAME(1)));

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_OPERATOR, "protecting items");
	vault_refuse_replica(vault, "protecting items");
	p = policy_lookup(&call, pname, "FOR SHARE");
	nspoid = backup_check_schema(&call, schema);
	as_policy_owner = call;
	as_policy_owner.caller = p->owner;
	(void) backup_check_schema(&as_policy_owner, schema);
	vault_require(&as_policy_owner, vault, VAULT_OPERATOR, "backing up as the policy's owner");

	item_id = protect_item(&call, vault, "schema", schema, nspoid, p);
	vault_call_end(&call);
	PG_RETURN_INT64(item_id);
}

/*
 * vault_unprotect(vault, item, delete_data): stop scheduled backups of an
 * item.  Its points stay and still expire by the policy's retention rule;
 * with delete_data the item and its points are deleted the way the vault
 * deletes data (protection.c: soft-deleted, or at once with soft delete off).
 */
Datum
vault_unprotect(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *iname = vault_arg_text(fcinfo, 1, "item name");
	bool		delete_data;
	VaultCall	call;
	VaultInfo  *vault;
	ItemInfo   *item;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	vault_arg_not_null(fcinfo, 2, "delete_data");
	delete_data = PG_GETARG_BOOL(2);

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_CONTRIBUTOR,
				  delete_data ? "deleting backup data" : "stopping protection");
	vault_refuse_replica(vault, "stopping protection");
	item = item_lookup(&call, vault, iname);

	if (!delete_data)
	{
		if (strcmp(item->state, "protected") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("item \"%s\" of vault \"%s\" is not protected", item->name, vault->name),
					 errdetail("Its state is \"%s\".", item->state),
					 errhint("To delete its recovery points, pass delete_data => true.")));
		values[0] = Int64GetDatum(item->item_id);
		vault_as_owner(&call);
		(void) spi_int64("UPDATE vault_internal.items SET state = 'stopped', next_run_at = NULL "
						 "WHERE item_id = $1", 1, types, values, NULL);
		vault_as_caller(&call);
		audit_record(&call, vault, item->name, "unprotect", "protection stopped, points kept");
	}
	else
		protection_delete_item(&call, vault, item);

	vault_call_end(&call);
	PG_RETURN_VOID();
}
