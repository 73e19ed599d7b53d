/*-------------------------------------------------------------------------
 * chunk_io.c
 *	  One chunk row in and out, one manifest segment out: the steps both
 *	  the chunk store and delta chunks stand on.
 *
 * Owns: a chunk's AAD, sealing a chunk whole, fetching a chunk row and
 * opening its seal (a whole chunk's plaintext, or a delta record's
 * payload), checking a plaintext against its id, opening a base (whole
 * only), reading one manifest segment.  Owner context required for all of
 * its SQL.  It must not know about streams, writers, readers or which base
 * a chunk should have (chunk_store.c and chunk_delta.c do).
 *-------------------------------------------------------------------------
 */
#include "store/chunk_store_int.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/memutils.h"

/* room for need bytes of a delta record's payload in s->payload */
void
chunk_payload_reserve(ChunkStore *s, size_t need)
{
	if (s->payload_cap < need)
	{
		s->payload = s->payload ? repalloc(s->payload, need) : MemoryContextAlloc(s->cxt, need);
		s->payload_cap = need;
	}
}

/* a chunk's AAD: the vault id (8 bytes, big-endian), then the chunk id */
static void
aad_of(int64 vault_id, const uint8 *id, uint8 *aad)
{
	uint64		vid = pg_hton64((uint64) vault_id);

	memcpy(aad, &vid, 8);
	memcpy(aad + 8, id, CODEC_ID_LEN);
}

void
chunk_aad(ChunkStore *s, const uint8 *id, uint8 *aad)
{
	aad_of(s->vault->vault_id, id, aad);
}

/* Seal (id, data) whole into out; returns the sealed length. */
static size_t
seal_whole(const VaultKeys *keys, int zstd_level, const uint8 *id, const char *data, size_t len,
		   uint8 *out, uint8 *scratch)
{
	uint8		aad[AAD_LEN];
	size_t		sealed_len;
	CodecStatus st;

	aad_of(keys->vault_id, id, aad);
	st = codec_seal_level(keys->data_key, aad, AAD_LEN, (const uint8 *) data, len,
						  zstd_level, out, &sealed_len, scratch);
	if (st != CODEC_OK)
		elog(ERROR, "could not seal chunk: %s", codec_strerror(st));
	return sealed_len;
}

/* Seal (id, data) whole into s->sealed; returns the sealed length. */
size_t
chunk_seal_whole(ChunkStore *s, const uint8 *id, const char *data, size_t len)
{
	size_t		sealed_len = seal_whole(&s->keys, s->vault->zstd_level, id, data, len,
										(uint8 *) VARDATA(s->sealed), s->scratch);

	SET_VARSIZE(s->sealed, VARHDRSZ + sealed_len);
	return sealed_len;
}

/*
 * A chunk named and sealed whole without the store, as a parallel worker
 * does: c gets its id and lengths (the caller sets the cut), out (and
 * scratch) hold codec_sealed_bound(len) bytes.
 */
void
chunk_name_and_seal(const VaultKeys *keys, int zstd_level, const char *data, size_t len,
					SealedChunk *c, uint8 *out, uint8 *scratch)
{
	if (codec_chunk_id(keys->mac_key, (const uint8 *) data, len, c->id) != CODEC_OK)
		elog(ERROR, "could not compute chunk id");
	c->plain_len = (uint32) len;
	c->base_no = -1;
	c->chunk_no = -1;
	c->sealed_len = (uint32) seal_whole(keys, zstd_level, c->id, data, len, out, scratch);
}

/* The chunk numbers of one manifest segment (owner context required). */
int64 *
segment_get(ChunkStore *s, int64 point_id, int ordinal, int segment, int *n)
{
	Datum		values[3];
	int			ret;
	int64	   *result = NULL;

	values[0] = Int64GetDatum(point_id);
	values[1] = Int32GetDatum(ordinal);
	values[2] = Int32GetDatum(segment);
	ret = SPI_execute_plan(s->plan_segment_get, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "manifest read failed: %s", SPI_result_code_string(ret));
	*n = -1;
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Datum	   *elems;
		int			nelems;
		int			i;
		MemoryContext old = MemoryContextSwitchTo(s->cxt);

		deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, NULL, &nelems);
		result = palloc(sizeof(int64) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
			result[i] = DatumGetInt64(elems[i]);
		*n = nelems;
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * Fetch one chunk's row and open its seal.  A whole chunk's plaintext goes
 * to *buf (grown as needed); a delta record's payload to s->payload, with
 * *is_delta set and *base_no its base.  id_out gets the chunk's id.  Owner
 * context required; no SPI result is left behind.
 */
ChunkCheck
chunk_open_row(ChunkStore *s, int64 chunk_no, uint8 *id_out, uint8 **buf, size_t *cap,
			   size_t *len, bool *is_delta, int64 *base_no, size_t *payload_len, const char **why)
{
	Datum		values[2];
	int			ret;
	bool		isnull;
	bytea	   *id;
	bytea	   *sealed;
	Datum		raw;
	Datum		d;
	uint8		aad[AAD_LEN];
	size_t		plain_len;
	size_t		sealed_len;
	CodecStatus st;

	values[0] = Int64GetDatum(chunk_no);
	values[1] = Int64GetDatum(s->vault->vault_id);
	ret = SPI_execute_plan(s->plan_fetch, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "chunk read failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		*why = "missing";
		return CHUNK_MISSING;
	}
	id = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	raw = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	*base_no = isnull ? -1 : DatumGetInt64(d);
	sealed = DatumGetByteaPP(raw);	/* detoasts: freed below on every path */
	sealed_len = VARSIZE_ANY_EXHDR(sealed);
	*is_delta = codec_is_delta((const uint8 *) VARDATA_ANY(sealed), sealed_len);

	if (VARSIZE_ANY_EXHDR(id) != CODEC_ID_LEN)
		st = CODEC_ERR_HEADER;
	else
		st = codec_plain_length((const uint8 *) VARDATA_ANY(sealed), sealed_len, &plain_len);
	if (st == CODEC_OK)
	{
		memcpy(id_out, VARDATA_ANY(id), CODEC_ID_LEN);
		chunk_aad(s, id_out, aad);
		if (*is_delta)
		{
			chunk_payload_reserve(s, sealed_len);
			st = codec_open_delta(s->keys.data_key, aad, AAD_LEN,
								  (const uint8 *) VARDATA_ANY(sealed), sealed_len,
								  s->payload, s->payload_cap, payload_len, &plain_len);
			*len = plain_len;
		}
		else
		{
			if (plain_len > *cap)
			{
				*buf = repalloc(*buf, plain_len);
				*cap = plain_len;
			}
			if (sealed_len > s->scratch_cap)
			{
				s->scratch = repalloc(s->scratch, sealed_len);
				s->scratch_cap = sealed_len;
			}
			st = codec_open(s->keys.data_key, aad, AAD_LEN,
							(const uint8 *) VARDATA_ANY(sealed), sealed_len,
							*buf, *cap, len, s->scratch);
		}
	}
	if ((Pointer) sealed != DatumGetPointer(raw))
		pfree(sealed);
	SPI_freetuptable(SPI_tuptable);
	if (st != CODEC_OK)
	{
		*why = codec_strerror(st);
		return CHUNK_BAD_SEAL;
	}
	return CHUNK_GOOD;
}

ChunkCheck
chunk_check_id(ChunkStore *s, const uint8 *id, const uint8 *data, size_t len, const char **why)
{
	uint8		check[CODEC_ID_LEN];

	if (codec_chunk_id(s->keys.mac_key, data, len, check) != CODEC_OK ||
		memcmp(check, id, CODEC_ID_LEN) != 0)
	{
		*why = "does not match its id";
		return CHUNK_BAD_ID;
	}
	return CHUNK_GOOD;
}

/*
 * Open a whole chunk (a delta's base) into *buf, authenticated by its seal;
 * its id goes to id_out.  A delta is refused: bases are whole.
 */
ChunkCheck
chunk_open_whole(ChunkStore *s, int64 chunk_no, uint8 *id_out, uint8 **buf, size_t *cap,
				 size_t *len, const char **why)
{
	bool		is_delta;
	int64		base_no;
	size_t		payload_len;
	ChunkCheck	res;

	if (*buf == NULL)
	{
		*cap = CHUNKER_DEFAULT_MAX;
		*buf = MemoryContextAlloc(s->cxt, *cap);
	}
	res = chunk_open_row(s, chunk_no, id_out, buf, cap, len, &is_delta, &base_no, &payload_len, why);
	if (res != CHUNK_GOOD)
		return res;
	if (is_delta)
	{
		*why = "is itself a delta (a base must be a whole chunk)";
		return CHUNK_BAD_SEAL;
	}

	/*
	 * No HMAC of the base's plaintext: its GCM tag, under its id as AAD,
	 * already says it is what was sealed under that id, and the chunk a
	 * reader hands out, the delta's target, has its own id checked, which a
	 * wrong base could not give.
	 */
	return CHUNK_GOOD;
}

