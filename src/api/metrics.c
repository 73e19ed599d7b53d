/*-------------------------------------------------------------------------
 * metrics.c
 *	  vault_metrics(): the Prometheus text exposition of the vaults.
 *
 * Owns who is shown what: the vaults the caller sees in vault_vaults (its
 * levels, read as the caller), whose figures vault_internal.metrics then
 * formats as the extension owner.  What the metrics are, and their names,
 * is that SQL function's business.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(vault_metrics);

Datum
vault_metrics(PG_FUNCTION_ARGS)
{
	MemoryContext fn_cxt = CurrentMemoryContext;
	VaultCall	call;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	bool		isnull;
	char	   *schema;
	text	   *result = NULL;

	vault_call_begin(&call);
	if (call.catalog < VAULT_CATALOG_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("vault_metrics needs the extension's version 1.1"),
				 errhint("Run ALTER EXTENSION vault UPDATE.")));

	/* the vaults the caller may see, through the view that knows */
	schema = vault_schema_name();
	if (SPI_execute(psprintf("SELECT coalesce(array_agg(vault), '{}') FROM %s.vault_vaults",
							 quote_identifier(schema)), true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read vault_vaults");
	values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	vault_as_owner(&call);
	if (SPI_execute_with_args("SELECT vault_internal.metrics($1)", 1, types, values, NULL, true, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "vault_internal.metrics() returned no row");
	values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(fn_cxt);

		result = DatumGetTextPCopy(values[0]);
		MemoryContextSwitchTo(old);
	}
	vault_as_caller(&call);
	vault_call_end(&call);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
