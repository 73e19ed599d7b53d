/*-------------------------------------------------------------------------
 * advisor.c
 *	  The advisor: refreshing its recommendations, snoozing, dismissing,
 *	  reactivating them, and applying them in-line.
 *
 * Owns the SQL entry points vault_advisor_* and the scheduler's step that
 * refreshes every vault.advisor_interval.  The rules themselves are SQL
 * (vault_internal.advisor_findings); applying one calls the function a user
 * would (vault_protect, vault_protect_schema, vault_configure) as the
 * caller, so their checks and rights hold unchanged.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_advisor_refresh);
PG_FUNCTION_INFO_V1(vault_advisor_refresh_at);
PG_FUNCTION_INFO_V1(vault_advisor_snooze);
PG_FUNCTION_INFO_V1(vault_advisor_dismiss);
PG_FUNCTION_INFO_V1(vault_advisor_reactivate);
PG_FUNCTION_INFO_V1(vault_advisor_apply);

/* A recommendation the caller may see, as the view shows it. */
typedef struct Advice
{
	int64		id;
	char	   *rule;
	char	   *kind;			/* table, schema, vault, policy, item */
	char	   *name;
	char	   *state;
	char	   *apply_sql;		/* NULL: nothing to run */
	int64		vault_id;		/* 0: none */
	Oid			relid;
} Advice;

static TimestampTz last_refresh = 0;

static void
refresh(VaultCall *call, TimestampTz now)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];

	values[0] = TimestampTzGetDatum(now);
	vault_as_owner(call);
	(void) spi_int64("SELECT 0 FROM vault_internal.advisor_refresh($1)", 1, types, values, NULL);
	vault_as_caller(call);
}

static void
require_1_1(VaultCall *call)
{
	if (call->catalog < VAULT_CATALOG_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the advisor needs the extension's version 1.1"),
				 errhint("Run ALTER EXTENSION vault UPDATE.")));
}

/* vault_advisor_refresh(): the real clock, for whoever may see a vault */
Datum
vault_advisor_refresh(PG_FUNCTION_ARGS)
{
	VaultCall	call;

	vault_call_begin(&call);
	require_1_1(&call);
	if (vault_global_level(call.caller) < VAULT_READER &&
		spi_int64(psprintf("SELECT count(*) FROM %s.vault_vaults", quote_identifier(vault_schema_name())),
				  0, NULL, NULL, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: refreshing the advisor needs a level on some vault"),
				 errhint("vault_grant gives one; membership in vault_reader gives one on every vault.")));
	refresh(&call, GetCurrentTimestamp());
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* vault_advisor_refresh(now): an explicit clock moves snoozes: global contributor */
Datum
vault_advisor_refresh_at(PG_FUNCTION_ARGS)
{
	TimestampTz now = vault_arg_now(fcinfo);
	VaultCall	call;

	vault_call_begin(&call);
	require_1_1(&call);
	vault_require_global(&call, VAULT_CONTRIBUTOR, "refreshing the advisor with an explicit clock");
	refresh(&call, now);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/* The scheduler's round: every vault.advisor_interval. */
void
advisor_round(TimestampTz now)
{
	VaultCall	call;

	if (last_refresh != 0 && now - last_refresh < vault_advisor_interval_secs * USECS_PER_SEC)
		return;
	vault_call_begin(&call);
	if (call.catalog >= VAULT_CATALOG_1_1)
		refresh(&call, now);
	vault_call_end(&call);
	last_refresh = now;
}

static char *
text_col(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

/*
 * The recommendation 'id' if the caller may see it (the view decides);
 * 42704 otherwise, so that nobody learns of what they may not see.
 */
static Advice *
advice_lookup(VaultCall *call, int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	Advice	   *a;
	char	   *vault_id;
	char	   *relid;

	values[0] = Int64GetDatum(id);
	if (spi_int64(psprintf("SELECT count(*) FROM %s.vault_advisor WHERE id = $1",
						   quote_identifier(vault_schema_name())), 1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("recommendation %lld does not exist", (long long) id),
				 errhint("The ids are those vault_advisor shows you.")));
	vault_as_owner(call);
	if (SPI_execute_with_args("SELECT rule, object_kind, object_name, state, apply_sql, vault_id, relid "
							  "FROM vault_internal.advisor WHERE id = $1 FOR UPDATE",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "recommendation %lld vanished", (long long) id);
	a = palloc0(sizeof(Advice));
	a->id = id;
	a->rule = text_col(1);
	a->kind = text_col(2);
	a->name = text_col(3);
	a->state = text_col(4);
	a->apply_sql = text_col(5);
	vault_id = text_col(6);
	relid = text_col(7);
	a->vault_id = vault_id ? pg_strtoint64(vault_id) : 0;
	a->relid = relid ? (Oid) strtoul(relid, NULL, 10) : InvalidOid;
	vault_as_caller(call);
	return a;
}

/*
 * Snooze, dismiss and reactivate: operator on the vault of an item,
 * contributor on a vault for its settings, the global contributor level
 * for a policy, and for an unprotected table or schema the right to
 * protect it: operator somewhere (its SELECT the view already checked).
 */
static void
require_manage(VaultCall *call, Advice *a, const char *action)
{
	if (strcmp(a->kind, "vault") == 0 || strcmp(a->kind, "item") == 0)
	{
		VaultInfo  *vault = vault_lookup_by_id(call, a->vault_id);

		vault_require(call, vault, strcmp(a->kind, "vault") == 0 ? VAULT_CONTRIBUTOR : VAULT_OPERATOR,
					  action);
	}
	else if (strcmp(a->kind, "policy") == 0)
		vault_require_global(call, VAULT_CONTRIBUTOR, action);
	else if (vault_global_level(call->caller) < VAULT_OPERATOR)
	{
		Oid			types[1] = {OIDOID};
		Datum		values[1];

		values[0] = ObjectIdGetDatum(call->caller);
		vault_as_owner(call);
		if (spi_int64("SELECT count(*) FROM vault_internal.vaults v "
					  "WHERE pg_catalog.pg_has_role($1, v.owner, 'USAGE') OR EXISTS ("
					  "  SELECT 1 FROM vault_internal.grants g WHERE g.vault_id = v.vault_id "
					  "    AND g.level IN ('operator', 'contributor') "
					  "    AND pg_catalog.pg_has_role($1, g.role, 'USAGE'))",
					  1, types, values, NULL) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied: %s needs the operator level on a vault that could protect %s",
							action, a->name)));
		vault_as_caller(call);
	}
}

static void
set_state(VaultCall *call, Advice *a, const char *state, TimestampTz until)
{
	Oid			types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	bool		nulls[3] = {false, false, until == 0};

	values[0] = Int64GetDatum(a->id);
	values[1] = CStringGetTextDatum(state);
	values[2] = TimestampTzGetDatum(until);
	vault_as_owner(call);
	(void) spi_int64("UPDATE vault_internal.advisor SET state = $2, snoozed_until = $3 WHERE id = $1",
					 3, types, values, nulls);
	vault_as_caller(call);
}

static int64
arg_id(FunctionCallInfo fcinfo)
{
	vault_arg_not_null(fcinfo, 0, "id");
	return PG_GETARG_INT64(0);
}

/* A year after now, in calendar terms (as now() + interval '1 year'). */
static TimestampTz
one_year_after(TimestampTz now)
{
	Interval	year = {0};

	year.month = 12;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
												   PointerGetDatum(&year)));
}

/* vault_advisor_snooze(id, until): at most a year ahead of the real clock */
Datum
vault_advisor_snooze(PG_FUNCTION_ARGS)
{
	int64		id = arg_id(fcinfo);
	TimestampTz until;
	TimestampTz now = GetCurrentTimestamp();
	VaultCall	call;
	Advice	   *a;

	vault_arg_not_null(fcinfo, 1, "until");
	until = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(until) || until <= now || until > one_year_after(now))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a recommendation may be snoozed until a time in the coming year"),
				 errdetail("%s is %s.", timestamptz_to_str(until),
						   until <= now ? "not in the future" : "more than a year away"),
				 errhint("Dismiss it (vault_advisor_dismiss) to hide it until you reactivate it.")));
	vault_call_begin(&call);
	require_1_1(&call);
	a = advice_lookup(&call, id);
	require_manage(&call, a, "snoozing a recommendation");
	set_state(&call, a, "snoozed", until);
	vault_call_end(&call);
	PG_RETURN_VOID();
}

/*
 * Dismiss (until reactivated) or reactivate (a snoozed or dismissed one):
 * refused when it is in that state already.
 */
static void
change_state(FunctionCallInfo fcinfo, const char *to, const char *action)
{
	int64		id = arg_id(fcinfo);
	VaultCall	call;
	Advice	   *a;

	vault_call_begin(&call);
	require_1_1(&call);
	a = advice_lookup(&call, id);
	require_manage(&call, a, action);
	if (strcmp(a->state, to) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recommendation %lld is already %s", (long long) id, to)));
	set_state(&call, a, to, 0);
	vault_call_end(&call);
}

/* vault_advisor_dismiss(id) */
Datum
vault_advisor_dismiss(PG_FUNCTION_ARGS)
{
	change_state(fcinfo, "dismissed", "dismissing a recommendation");
	PG_RETURN_VOID();
}

/* vault_advisor_reactivate(id) */
Datum
vault_advisor_reactivate(PG_FUNCTION_ARGS)
{
	change_state(fcinfo, "active", "reactivating a recommendation");
	PG_RETURN_VOID();
}

/* Run a call of the extension's SQL API as the caller; its int8 result or 0. */
static int64
call_as_caller(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "\"%s\" returned no row", sql);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull || SPI_tuptable->tupdesc->attrs[0].atttypid != INT8OID)
		return 0;
	return DatumGetInt64(d);
}

/*
 * vault_advisor_apply(id, vault, policy): an unprotected table or schema
 * protected as vault_protect / vault_protect_schema would (the new item's
 * id); a setting changed when the change is safe and reversible (NULL);
 * anything else refused, naming the call to make by hand.
 */
Datum
vault_advisor_apply(PG_FUNCTION_ARGS)
{
	int64		id = arg_id(fcinfo);
	char	   *vname = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *policy = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	const char *schema;
	VaultCall	call;
	Advice	   *a;
	int64		item_id = 0;
	bool		is_table;

	vault_call_begin(&call);
	require_1_1(&call);
	a = advice_lookup(&call, id);
	schema = quote_identifier(vault_schema_name());
	is_table = strcmp(a->rule, "unprotected table") == 0;
	if (is_table || strcmp(a->rule, "unprotected schema") == 0)
	{
		Oid			types[3] = {TEXTOID, is_table ? OIDOID : TEXTOID, TEXTOID};
		Datum		values[3];

		if (vname == NULL || policy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("protecting %s needs a vault and a policy", a->name),
					 errhint("vault_advisor_apply(%lld, vault => '...', policy => '...').", (long long) id)));
		values[0] = CStringGetTextDatum(vname);
		values[1] = is_table ? ObjectIdGetDatum(a->relid) : CStringGetTextDatum(a->name);
		values[2] = CStringGetTextDatum(policy);
		item_id = call_as_caller(psprintf(is_table ? "SELECT %s.vault_protect($1, $2::regclass, $3)"
										  : "SELECT %s.vault_protect_schema($1, $2::name, $3)", schema),
								 3, types, values);
		vault_call_end(&call);
		PG_RETURN_INT64(item_id);
	}
	if (vname != NULL || policy != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recommendation %lld is not about protecting a table or schema", (long long) id),
				 errhint("Call vault_advisor_apply(%lld) without a vault and a policy.", (long long) id)));
	if (strcmp(a->rule, "soft delete off") == 0 || strcmp(a->rule, "no immutability or guard") == 0)
	{
		/* both reversible: soft delete back off, immutability 'on' back off */
		Oid			types[1] = {TEXTOID};
		Datum		values[1];

		values[0] = CStringGetTextDatum(a->name);
		(void) call_as_caller(psprintf(strcmp(a->rule, "soft delete off") == 0
									   ? "SELECT 0::int8 FROM %s.vault_configure($1, soft_delete => 'on')"
									   : "SELECT 0::int8 FROM %s.vault_configure($1, immutability => 'on')",
									   schema), 1, types, values);
		vault_call_end(&call);
		PG_RETURN_NULL();
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("recommendation %lld (%s) is not applied in-line", (long long) id, a->rule),
			 errdetail("Only protecting a table or schema, turning soft delete on and making a vault "
					   "immutable (not locked) are safe and reversible enough to apply from here."),
			 a->apply_sql ? errhint("Make the change by hand: %s", a->apply_sql)
			 : errhint("Act on it, or dismiss it with vault_advisor_dismiss(%lld).", (long long) id)));
	PG_RETURN_NULL();
}
