/*-------------------------------------------------------------------------
 * holds.c
 *	  Legal holds: vault_legal_hold and vault_legal_hold_release.
 *
 * Owns: placing a hold on the points that match it when it is placed (an
 * item, a range of creation times, soft-deleted points included) and
 * releasing it.  While a hold is active its points never expire, are never
 * purged, and cannot be deleted or soft-deleted under any setting: the
 * retention run, purge and the deleting calls ask (expiry.c, purge.c,
 * protection.c).  Releasing is a critical operation on a guarded vault.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(vault_legal_hold);
PG_FUNCTION_INFO_V1(vault_legal_hold_release);

/* vault_legal_hold(vault, reason, item, points_from, points_to) -> hold id */
Datum
vault_legal_hold(PG_FUNCTION_ARGS)
{
	char	   *vname = vault_arg_text(fcinfo, 0, "vault name");
	char	   *reason = vault_arg_text(fcinfo, 1, "reason");
	char	   *iname = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	VaultCall	call;
	VaultInfo  *vault;
	ItemInfo   *item = NULL;
	Oid			types[6] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, OIDOID};
	Datum		values[6];
	bool		nulls[6] = {false, iname == NULL, PG_ARGISNULL(3), PG_ARGISNULL(4), false, false};
	int64		hold;
	int64		points;

	if (reason[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a legal hold needs a reason"),
				 errhint("Say why it is held (a case, a ticket): it is shown in vault_legal_holds.")));
	if (!PG_ARGISNULL(3) && !PG_ARGISNULL(4) && PG_GETARG_TIMESTAMPTZ(3) > PG_GETARG_TIMESTAMPTZ(4))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("points_from is after points_to")));

	vault_call_begin(&call);
	vault = vault_lookup(&call, vname);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "placing a legal hold");
	if (iname)
		item = item_lookup(&call, vault, iname);

	values[0] = Int64GetDatum(vault->vault_id);
	values[1] = iname ? CStringGetTextDatum(item->name) : (Datum) 0;
	values[2] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	values[3] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	values[4] = CStringGetTextDatum(reason);
	values[5] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	hold = spi_int64("INSERT INTO vault_internal.holds (vault_id, item_name, points_from, points_to, reason, created_by) "
					 "VALUES ($1, $2, $3, $4, $5, $6) RETURNING hold_id", 6, types, values, nulls);
	values[4] = Int64GetDatum(hold);
	types[4] = INT8OID;
	points = spi_int64("WITH h AS (INSERT INTO vault_internal.hold_points (hold_id, point_id) "
					   "  SELECT $5, p.point_id FROM vault_internal.points p JOIN vault_internal.items i USING (item_id) "
					   "  WHERE p.vault_id = $1 AND ($2::text IS NULL OR i.name = $2) "
					   "    AND ($3::timestamptz IS NULL OR p.created_at >= $3) "
					   "    AND ($4::timestamptz IS NULL OR p.created_at <= $4) "
					   "  FOR UPDATE OF p RETURNING 1) SELECT count(*) FROM h",
					   5, types, values, nulls);
	vault_as_caller(&call);
	if (points == 0)
		ereport(NOTICE,
				(errmsg("legal hold %lld on vault \"%s\" covers no recovery point", (long long) hold, vault->name),
				 errdetail("A hold covers the points that exist when it is placed.")));
	audit_record(&call, vault, iname, "legal hold",
				 psprintf("hold %lld on %lld recovery point(s): %s", (long long) hold, (long long) points, reason));
	vault_call_end(&call);
	PG_RETURN_INT64(hold);
}

/* vault_legal_hold_release(hold) */
Datum
vault_legal_hold_release(PG_FUNCTION_ARGS)
{
	int64		hold;
	VaultCall	call;
	VaultInfo  *vault;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	int			ret;
	int64		vault_id;
	bool		released;
	char	   *item;

	vault_arg_not_null(fcinfo, 0, "hold");
	hold = PG_GETARG_INT64(0);
	vault_call_begin(&call);
	values[0] = Int64GetDatum(hold);
	vault_as_owner(&call);
	ret = SPI_execute_with_args("SELECT vault_id, released_at IS NOT NULL, item_name FROM vault_internal.holds "
								"WHERE hold_id = $1 FOR UPDATE", 1, types, values, NULL, false, 1);
	vault_as_caller(&call);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "hold lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("legal hold %lld does not exist", (long long) hold),
				 errhint("The holds are listed in the view vault_legal_holds.")));
	{
		bool		isnull;

		vault_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		released = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		item = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	}
	vault = vault_lookup_by_id(&call, vault_id);
	vault_require(&call, vault, VAULT_CONTRIBUTOR, "releasing a legal hold");
	if (released)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("legal hold %lld on vault \"%s\" is already released", (long long) hold, vault->name)));
	(void) guard_require(&call, vault, "legal_hold_release", "releasing a legal hold");
	values[1] = ObjectIdGetDatum(call.caller);
	vault_as_owner(&call);
	(void) spi_int64("UPDATE vault_internal.holds SET released_by = $2, released_at = now() WHERE hold_id = $1",
					 2, types, values, NULL);
	vault_as_caller(&call);
	audit_record(&call, vault, item, "legal hold release", psprintf("hold %lld released", (long long) hold));
	vault_call_end(&call);
	PG_RETURN_VOID();
}
