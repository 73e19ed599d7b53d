/*-------------------------------------------------------------------------
 * verify.c
 *	  vault_verify and vault_export: reading a point without restoring it.
 *
 * Owns: walking every chunk of a point to authenticate it (verify reports,
 * never throws, on damage), and handing out one table's decrypted COPY
 * BINARY stream in pieces (export: the escape hatch for loading elsewhere
 * with COPY ... FROM STDIN (FORMAT binary)).  Export needs the same rights
 * as a restore.  Neither writes anything.
 *-------------------------------------------------------------------------
 */
#include "api/api.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(vault_verify);
PG_FUNCTION_INFO_V1(vault_export);

#define VERIFY_DETAIL_MAX	20	/* damaged chunks named in detail */

static int64
arg_point(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("recovery point must not be NULL")));
	return PG_GETARG_INT64(0);
}

/* vault_verify(recovery_point) -> (ok, chunks, bad_chunks, detail) */
Datum
vault_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext fn_cxt = CurrentMemoryContext;
	int64		point_id = arg_point(fcinfo);
	VaultCall	call;
	PointInfo  *p;
	VaultInfo  *vault;
	List	   *tables;
	ChunkStore *store;
	ListCell   *lc;
	int64		chunks = 0;
	int64		bad = 0;
	StringInfoData detail;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	vault_call_begin(&call);
	p = point_lookup(&call, point_id);
	vault = vault_lookup_by_id(&call, p->vault_id);
	vault_require(&call, vault, VAULT_OPERATOR, "verifying");
	tables = point_tables(&call, point_id);
	progress_begin(vault, p->item_name, "verify", "reading chunks");
	{
		int64		total = 0;

		foreach(lc, tables)
			total += ((PointTable *) lfirst(lc))->logical_bytes;
		progress_totals(list_length(tables), total);
	}
	store = chunk_store_open(&call, vault);
	initStringInfo(&detail);

	foreach(lc, tables)
	{
		PointTable *t = lfirst(lc);
		int64		seen = 0;
		int64		bytes = 0;
		int			segment;

		for (segment = 0;; segment++)
		{
			bool		found;
			List	   *nos = manifest_chunk_nos(store, point_id, t->ordinal, segment, &found);
			ListCell   *nc;

			if (!found)
				break;
			foreach(nc, nos)
			{
				int64		chunk_no = *(int64 *) lfirst(nc);
				const char *why;
				size_t		plain_len;
				ChunkCheck	check;

				CHECK_FOR_INTERRUPTS();
				seen++;
				check = chunk_store_check(store, chunk_no, &why, &plain_len);
				bytes += plain_len;
				progress_table(bytes, 0, 0);
				if (check != CHUNK_GOOD)
				{
					if (bad < VERIFY_DETAIL_MAX)
						appendStringInfo(&detail, "%stable %s.%s: chunk %lld %s",
										 detail.len ? "; " : "",
										 quote_identifier(t->schema_name), quote_identifier(t->table_name),
										 (long long) chunk_no, why);
					bad++;
				}
			}
			list_free_deep(nos);
		}
		if (seen != t->chunks)
		{
			appendStringInfo(&detail, "%stable %s.%s: manifest lists %lld chunks, the point recorded %lld",
							 detail.len ? "; " : "",
							 quote_identifier(t->schema_name), quote_identifier(t->table_name),
							 (long long) seen, (long long) t->chunks);
			bad += Max(t->chunks - seen, 1);
		}
		chunks += seen;
		progress_table_done();
	}
	progress_end();
	if (bad > VERIFY_DETAIL_MAX)
		appendStringInfo(&detail, "; and %lld more", (long long) (bad - VERIFY_DETAIL_MAX));

	values[0] = BoolGetDatum(bad == 0);
	values[1] = Int64GetDatum(chunks);
	values[2] = Int64GetDatum(bad);
	{
		MemoryContext old = MemoryContextSwitchTo(fn_cxt);

		values[3] = CStringGetTextDatum(bad == 0 ?
										psprintf("recovery point %lld: %d table(s), %lld chunk(s) authenticated",
												 (long long) point_id, list_length(tables), (long long) chunks) :
										detail.data);
		MemoryContextSwitchTo(old);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	vault_call_end(&call);
	return (Datum) 0;
}

/*
 * vault_export(recovery_point, source_table) -> SETOF bytea: one table's
 * plaintext stream, a chunk per row, in order.  The rows go to a
 * tuplestore, which spills to disk past work_mem: memory stays bounded.
 */
Datum
vault_export(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		point_id = arg_point(fcinfo);
	char	   *source_table = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	VaultCall	call;
	PointInfo  *p;
	VaultInfo  *vault;
	List	   *tables;
	PointTable *t;
	ChunkStore *store;
	ChunkReader *r;
	const char *data;
	size_t		len;
	int64		exported = 0;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	vault_call_begin(&call);
	p = point_lookup(&call, point_id);
	vault = vault_lookup_by_id(&call, p->vault_id);
	vault_require(&call, vault, VAULT_OPERATOR, "exporting");
	restore_refuse_soft_deleted(p, "exported");
	secondary_check_restore(vault, point_id, "exported");
	tables = point_tables(&call, point_id);
	t = restore_pick_table(p, tables, source_table);
	restore_check_read_rights(&call, point_id, t);
	progress_begin(vault, p->item_name, "export", "reading chunks");
	progress_totals(1, t->logical_bytes);
	store = chunk_store_open(&call, vault);

	r = chunk_reader_begin(store, point_id, t->ordinal,
						   quote_qualified_identifier(t->schema_name, t->table_name));
	while (chunk_reader_next(r, &data, &len))
	{
		bytea	   *b = palloc(VARHDRSZ + len);
		Datum		value;
		bool		isnull = false;

		SET_VARSIZE(b, VARHDRSZ + len);
		memcpy(VARDATA(b), data, len);
		value = PointerGetDatum(b);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		pfree(b);
		exported += len;
		progress_table(exported, 0, 0);
	}
	progress_table_done();
	progress_end();
	vault_call_end(&call);
	return (Datum) 0;
}
