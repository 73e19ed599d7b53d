/*-------------------------------------------------------------------------
 * chunk_store.c
 *	  Streams into chunks.
 *
 * Owns: a vault's store (its keys, its chunker, its prepared statements on
 * the chunk table and the manifests) and writing into it.  A ChunkWriter
 * takes a byte stream, cuts it with FastCDC, names each chunk by its keyed
 * hash, references a chunk the vault already has or seals and stores a new
 * one (whole, or as a delta: chunk_delta.c decides), and writes the ordered
 * list of chunk numbers in manifest segments; a parallel worker's writer
 * does the same but hands each chunk to its caller instead of storing it.
 * Reading streams back is chunk_read.c's.
 *
 * All its SQL runs as the extension owner.  Memory stays bounded: one
 * cutting buffer of twice the maximum chunk size, one sealing buffer, one
 * manifest segment, and chunk_delta.c's window and bases.  It must not know
 * what the stream contains.
 *-------------------------------------------------------------------------
 */
#include "store/chunk_store_int.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

struct ChunkWriter
{
	ChunkStore *store;
	int64		point_id;
	int			ordinal;
	ChunkCutter cutter;			/* stream bytes not yet cut */
	bool		cutting;		/* the cutter is set up (a writer fed
								 * sealed chunks needs none) */
	MemoryContext cxt;			/* where the writer was begun */
	int64		seg[MANIFEST_SEGMENT];
	int			nseg;
	int			segment;
	BaseTrack  *track;			/* the previous stream of the table, or NULL */
	int64		offset;			/* stream offset of the next chunk */
	SealedSink	sink;			/* a worker's writer: chunks go there, not
								 * into the vault */
	void	   *sink_arg;
	ChunkWriterStats stats;
};

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), sql);
	return plan;
}

/*
 * The store of a vault, with its keys unwrapped (keys NULL) or as given (a
 * parallel worker's, from its caller).
 */
static ChunkStore *
store_open(VaultCall *call, VaultInfo *vault, const VaultKeys *keys)
{
	ChunkStore *s = palloc0(sizeof(ChunkStore));
	uint64		gear[256];
	Oid			t_lookup[2] = {INT8OID, BYTEAOID};
	Oid			t_insert[8] = {INT8OID, BYTEAOID, INT4OID, INT4OID, BYTEAOID, BOOLOID, INT8OID, INT8OID};
	Oid			t_track[1] = {INT8ARRAYOID};
	Oid			t_fetch[2] = {INT8OID, INT8OID};
	Oid			t_seg_put[5] = {INT8OID, INT4OID, INT4OID, INT8ARRAYOID, BOOLOID};
	/* 1.1: a geo vault's chunks and manifests are marked for its secondaries */
	bool		v11 = call->catalog >= VAULT_CATALOG_1_1;
	Oid			t_seg_get[3] = {INT8OID, INT4OID, INT4OID};

	s->call = call;
	s->vault = vault;
	s->cxt = CurrentMemoryContext;
	s->deltas = v11;
	/* patches use the vault's zstd level, the fastest under lz4 */
	s->delta_level = vault->zstd_level > 0 ? vault->zstd_level : 1;
	for (int i = 0; i < BASE_CACHE_SLOTS; i++)
		s->bases[i].chunk_no = -1;
	/* the keys, and the chunker's key-derived table, go with this memory */
	secret_wipe_with(s->cxt, &s->keys, sizeof(s->keys));
	secret_wipe_with(s->cxt, &s->chunker, sizeof(s->chunker));
	s->worker = keys != NULL;
	if (keys)
		memcpy(&s->keys, keys, sizeof(VaultKeys));
	else
		keys_unwrap(call, vault, &s->keys);
	keys_gear_table(&s->keys, gear);
	if (chunker_init(&s->chunker, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG,
					 CHUNKER_DEFAULT_MAX) != 0)
		elog(ERROR, "invalid chunker parameters");
	explicit_bzero(gear, sizeof(gear));

	vault_as_owner(call);
	s->plan_lookup = prepare("SELECT chunk_no FROM vault_internal.chunks "
							 "WHERE vault_id = $1 AND chunk_id = $2", 2, t_lookup);
	s->plan_insert = prepare(v11 ?
							 "INSERT INTO vault_internal.chunks "
							 "(vault_id, chunk_id, plain_len, stored_len, data, geo, base_no, cut_hash) "
							 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
							 "ON CONFLICT (vault_id, chunk_id) DO NOTHING RETURNING chunk_no" :
							 "INSERT INTO vault_internal.chunks "
							 "(vault_id, chunk_id, plain_len, stored_len, data) "
							 "VALUES ($1, $2, $3, $4, $5) "
							 "ON CONFLICT (vault_id, chunk_id) DO NOTHING RETURNING chunk_no",
							 v11 ? 8 : 5, t_insert);
	s->plan_fetch = prepare(v11 ?
							"SELECT chunk_id, data, base_no FROM vault_internal.chunks "
							"WHERE chunk_no = $1 AND vault_id = $2" :
							"SELECT chunk_id, data, NULL::bigint FROM vault_internal.chunks "
							"WHERE chunk_no = $1 AND vault_id = $2", 2, t_fetch);
	if (v11)
		/*
		 * each chunk by its number (the primary key), never a walk over the
		 * vault's chunks; the vault is checked by the caller
		 */
		s->plan_track = prepare("SELECT chunk_no, base_no, plain_len, cut_hash, vault_id "
								"FROM vault_internal.chunks WHERE chunk_no = ANY ($1)",
								1, t_track);
	s->plan_segment_put = prepare(v11 ?
								  "INSERT INTO vault_internal.manifests "
								  "(point_id, ordinal, segment, chunk_nos, geo) VALUES ($1, $2, $3, $4, $5)" :
								  "INSERT INTO vault_internal.manifests "
								  "(point_id, ordinal, segment, chunk_nos) VALUES ($1, $2, $3, $4)",
								  v11 ? 5 : 4, t_seg_put);
	s->plan_segment_get = prepare("SELECT chunk_nos FROM vault_internal.manifests "
								  "WHERE point_id = $1 AND ordinal = $2 AND segment = $3",
								  3, t_seg_get);
	vault_as_caller(call);

	s->sealed_cap = codec_sealed_bound(CHUNKER_DEFAULT_MAX);
	s->sealed = palloc(VARHDRSZ + s->sealed_cap);
	s->scratch_cap = s->sealed_cap;
	s->scratch = palloc(s->scratch_cap);
	s->plain_cap = CHUNKER_DEFAULT_MAX;
	s->plain = palloc(s->plain_cap);
	return s;
}

ChunkStore *
chunk_store_open(VaultCall *call, VaultInfo *vault)
{
	return store_open(call, vault, NULL);
}

/* The store for a parallel worker, with the keys its caller unwrapped. */
ChunkStore *
chunk_store_open_keys(VaultCall *call, VaultInfo *vault, const VaultKeys *keys)
{
	return store_open(call, vault, keys);
}

/* The vault's keys, for the parallel workers that seal its chunks. */
void
chunk_store_keys(ChunkStore *store, VaultKeys *keys)
{
	memcpy(keys, &store->keys, sizeof(VaultKeys));
}

static bytea *
bytea_from(const void *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/* chunk_no of the chunk with this id, or -1 */
static int64
chunk_lookup(ChunkStore *s, bytea *id)
{
	Datum		values[2];
	int64		result = -1;
	bool		isnull;
	int			ret;

	values[0] = Int64GetDatum(s->vault->vault_id);
	values[1] = PointerGetDatum(id);
	/* the writer's own chunks too; a worker's under its caller's snapshot */
	ret = SPI_execute_plan(s->plan_lookup, values, NULL, s->worker, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "chunk lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
		result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * Insert the chunk sealed in s->sealed (unless a concurrent backup stored
 * the same one first); returns its chunk_no.  base_no < 0: whole.
 */
static int64
chunk_insert(ChunkWriter *w, bytea *id, size_t len, size_t sealed_len, int64 base_no,
			 bool has_hash, uint64 cut_hash)
{
	ChunkStore *s = w->store;
	int64		chunk_no = -1;
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', 'n', ' '};
	int			ret;
	bool		isnull;

	values[0] = Int64GetDatum(s->vault->vault_id);
	values[1] = PointerGetDatum(id);
	values[2] = Int32GetDatum((int32) len);
	values[3] = Int32GetDatum((int32) sealed_len);
	values[4] = PointerGetDatum(s->sealed);
	values[5] = BoolGetDatum(vault_is_geo(s->vault));
	values[6] = Int64GetDatum(base_no);
	if (base_no >= 0)
		nulls[6] = ' ';
	values[7] = Int64GetDatum((int64) cut_hash);
	if (!has_hash)
		nulls[7] = 'n';
	ret = SPI_execute_plan(s->plan_insert, values, nulls, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "chunk insert failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		chunk_no = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		w->stats.new_chunks++;
		w->stats.new_bytes += sealed_len;
		if (base_no >= 0)
			w->stats.delta_chunks++;
	}
	SPI_freetuptable(SPI_tuptable);
	if (chunk_no < 0)
	{
		/* the vault has it: stored before, or by a concurrent backup first */
		chunk_no = chunk_lookup(s, id);
		if (chunk_no < 0)
			elog(ERROR, "chunk vanished after a conflicting insert");
	}
	return chunk_no;
}

/*
 * Store one chunk (or find it stored); returns its chunk_no.  A new chunk
 * whose stretch the previous stream held is offered to chunk_delta.c as a
 * patch against that stretch's base.
 */
static int64
chunk_put(ChunkWriter *w, const char *data, size_t len, bool has_hash, uint64 cut_hash)
{
	ChunkStore *s = w->store;
	uint8		idbuf[CODEC_ID_LEN];
	bytea	   *id;
	int64		chunk_no;
	int64		base_no = -1;
	bool		is_delta = false;
	size_t		sealed_len = 0;

	if (codec_chunk_id(s->keys.mac_key, (const uint8 *) data, len, idbuf) != CODEC_OK)
		elog(ERROR, "could not compute chunk id");
	id = bytea_from(idbuf, CODEC_ID_LEN);

	chunk_no = chunk_lookup(s, id);
	if (w->track)
		base_no = base_track_match(w->track, w->offset, len, chunk_no, has_hash, cut_hash);
	w->offset += len;
	if (chunk_no < 0)
	{
		if (base_no >= 0)
			is_delta = chunk_seal_best(s, w->track, base_no, idbuf, data, len, &sealed_len);
		else
			sealed_len = chunk_seal_whole(s, idbuf, data, len);
	}
	if (w->sink)
	{
		/* a worker's: the caller stores it (or references the one found) */
		SealedChunk c;

		memset(&c, 0, sizeof(c));
		memcpy(c.id, idbuf, CODEC_ID_LEN);
		c.plain_len = (uint32) len;
		c.sealed_len = chunk_no >= 0 ? 0 : (uint32) sealed_len;
		c.has_hash = has_hash;
		c.cut_hash = cut_hash;
		c.base_no = is_delta ? base_no : -1;
		c.chunk_no = chunk_no;
		w->sink(w->sink_arg, &c, (const uint8 *) VARDATA(s->sealed));
	}
	else if (chunk_no < 0)
		chunk_no = chunk_insert(w, id, len, sealed_len, is_delta ? base_no : -1, has_hash, cut_hash);
	pfree(id);
	return chunk_no;
}

static void
segment_flush(ChunkWriter *w)
{
	ChunkStore *s = w->store;
	Datum	   *elems;
	ArrayType  *arr;
	Datum		values[5];
	int			i;
	int			ret;

	if (w->nseg == 0)
		return;
	elems = palloc(sizeof(Datum) * w->nseg);
	for (i = 0; i < w->nseg; i++)
		elems[i] = Int64GetDatum(w->seg[i]);
	arr = construct_array(elems, w->nseg, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	values[0] = Int64GetDatum(w->point_id);
	values[1] = Int32GetDatum(w->ordinal);
	values[2] = Int32GetDatum(w->segment);
	values[3] = PointerGetDatum(arr);
	values[4] = BoolGetDatum(vault_is_geo(w->store->vault));
	ret = SPI_execute_plan(s->plan_segment_put, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "manifest insert failed: %s", SPI_result_code_string(ret));
	w->stats.new_bytes += VARSIZE(arr);
	w->stats.manifest_bytes += VARSIZE(arr);
	pfree(arr);
	pfree(elems);
	w->segment++;
	w->nseg = 0;
}

static void
writer_append(ChunkWriter *w, int64 chunk_no)
{
	w->seg[w->nseg++] = chunk_no;
	w->stats.chunks++;
	if (w->nseg == MANIFEST_SEGMENT)
		segment_flush(w);
}

/* the cutter's callback: one chunk of the stream, in order */
static void
writer_emit_chunk(void *arg, const char *data, size_t len, bool has_hash, uint64 cut_hash)
{
	ChunkWriter *w = (ChunkWriter *) arg;
	int64		chunk_no;

	CHECK_FOR_INTERRUPTS();
	chunk_no = chunk_put(w, data, len, has_hash, cut_hash);
	if (w->sink == NULL)
		writer_append(w, chunk_no);
}

/* the cutter's hints: with a previous stream, the cuts it made here */
static int
writer_hints(void *arg, ChunkerHint *hints)
{
	ChunkWriter *w = (ChunkWriter *) arg;

	StaticAssertStmt(BASE_HINTS <= CUTTER_MAX_HINTS, "the cutter takes every hint");
	return w->track ? base_track_hints(w->track, w->offset, hints) : 0;
}

ChunkWriter *
chunk_writer_begin(ChunkStore *store, int64 point_id, int ordinal)
{
	ChunkWriter *w = palloc0(sizeof(ChunkWriter));

	w->store = store;
	w->point_id = point_id;
	w->ordinal = ordinal;
	w->cxt = CurrentMemoryContext;
	return w;
}

/*
 * A parallel worker's writer of a range of a table's stream: it cuts,
 * names, looks up and seals as any writer (against the previous stream
 * when set_base_range gives it one) but stores nothing: each chunk goes to
 * sink, sealed, or as the number of the chunk the vault already has.  It
 * needs no finish: a cut ends the range.
 */
ChunkWriter *
chunk_writer_begin_sealing(ChunkStore *store, SealedSink sink, void *arg)
{
	ChunkWriter *w = chunk_writer_begin(store, -1, -1);

	Assert(store->worker);
	w->sink = sink;
	w->sink_arg = arg;
	return w;
}

/*
 * A worker's range of the table held entries first .. last (last -1: to
 * the end) of the previous point's manifest: its new chunks may be stored
 * as deltas against theirs.
 */
void
chunk_writer_set_base_range(ChunkWriter *w, int64 prev_point_id, int prev_ordinal, int64 first,
							int64 last)
{
	MemoryContext cxt = MemoryContextSwitchTo(w->cxt);

	if (w->store->deltas)
		w->track = base_track_begin_range(w->store, prev_point_id, prev_ordinal, first, last);
	MemoryContextSwitchTo(cxt);
}

/*
 * The table's stream in its previous point: new chunks that replace one of
 * its chunks may be stored as deltas against it.  The caller keeps that
 * point from being deleted while the writer runs (the vault's share lock).
 */
void
chunk_writer_set_base(ChunkWriter *w, int64 prev_point_id, int prev_ordinal)
{
	if (w->store->deltas)
		w->track = base_track_begin(w->store, prev_point_id, prev_ordinal);
}


/*
 * SPI calls return with CurrentMemoryContext set to the SPI procedure
 * context.  Every entry point below may run inside someone else's loop (the
 * table scan, COPY FROM's per-tuple context), so each one puts the caller's
 * context back before returning: otherwise the caller's later allocations
 * would pile up in the SPI context until the end of the call.
 */

void
chunk_writer_write(ChunkWriter *w, const char *data, size_t len)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!w->cutting)
	{
		MemoryContextSwitchTo(w->cxt);
		chunk_cutter_init(&w->cutter, &w->store->chunker, writer_hints, writer_emit_chunk, w);
		w->cutting = true;
		MemoryContextSwitchTo(cxt);
	}
	vault_as_owner(w->store->call);
	w->stats.logical_bytes += len;
	chunk_cutter_write(&w->cutter, data, len);
	vault_as_caller(w->store->call);
	MemoryContextSwitchTo(cxt);
}

/*
 * A chunk a parallel worker cut, named and sealed (whole, or a delta
 * against base_no), or found in the vault (chunk_no): referenced if the
 * vault has it, else stored.  Its place in the manifest comes later, in stream order,
 * through chunk_writer_append.  Returns its chunk_no.
 */
int64
chunk_writer_put_sealed(ChunkWriter *w, const SealedChunk *c, const uint8 *sealed)
{
	ChunkStore *s = w->store;
	MemoryContext cxt = CurrentMemoryContext;
	bytea	   *id;
	int64		chunk_no;

	if (c->chunk_no >= 0)
	{
		/* found by the worker under this transaction's snapshot */
		w->stats.logical_bytes += c->plain_len;
		return c->chunk_no;
	}
	id = bytea_from(c->id, CODEC_ID_LEN);
	if (c->sealed_len > s->sealed_cap || c->plain_len > s->chunker.max_size)
		elog(ERROR, "a parallel worker sent a chunk of %u bytes sealed in %u", c->plain_len,
			 c->sealed_len);
	vault_as_owner(s->call);
	w->stats.logical_bytes += c->plain_len;
	/* sealed already: the insert's own conflict check is the dedup lookup */
	memcpy(VARDATA(s->sealed), sealed, c->sealed_len);
	SET_VARSIZE(s->sealed, VARHDRSZ + c->sealed_len);
	chunk_no = chunk_insert(w, id, c->plain_len, c->sealed_len, c->base_no, c->has_hash, c->cut_hash);
	vault_as_caller(s->call);
	MemoryContextSwitchTo(cxt);
	pfree(id);
	return chunk_no;
}

/*
 * A cut here, whatever the content: the end of a parallel backup's range,
 * cut where the workers cut the ranges they seal.
 */
void
chunk_writer_cut(ChunkWriter *w)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!w->cutting)
		return;
	vault_as_owner(w->store->call);
	chunk_cutter_flush(&w->cutter);
	vault_as_caller(w->store->call);
	MemoryContextSwitchTo(cxt);
}

/* The next chunks of the stream, in order (see chunk_writer_put_sealed). */
void
chunk_writer_append(ChunkWriter *w, const int64 *chunk_nos, int n)
{
	MemoryContext cxt = CurrentMemoryContext;

	vault_as_owner(w->store->call);
	for (int i = 0; i < n; i++)
		writer_append(w, chunk_nos[i]);
	vault_as_caller(w->store->call);
	MemoryContextSwitchTo(cxt);
}

/* the writer's counts so far, for progress reports while it writes */
const ChunkWriterStats *
chunk_writer_running(ChunkWriter *w)
{
	return &w->stats;
}

void
chunk_writer_finish(ChunkWriter *w, ChunkWriterStats *stats)
{
	MemoryContext cxt = CurrentMemoryContext;

	vault_as_owner(w->store->call);
	if (w->cutting)
		chunk_cutter_flush(&w->cutter);
	segment_flush(w);
	vault_as_caller(w->store->call);
	MemoryContextSwitchTo(cxt);
	*stats = w->stats;
	if (w->cutting)
		pfree(w->cutter.buf);
}
