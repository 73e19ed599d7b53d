/*-------------------------------------------------------------------------
 * chunk_delta.c
 *	  Delta chunks: which earlier chunk a new chunk replaces, whether to
 *	  store it as a patch against that base, and opening it again.
 *
 * Owns: the base track (a window on the previous point's manifest of the
 * same table, and the drift between the two streams' offsets of the same
 * bytes, by which a new chunk finds the earlier chunk that held its
 * stretch; for a parallel backup's range, only the stretch the same range
 * held in the previous stream), the choice between a patch and the
 * ordinary encoding, opening any chunk through its base, and the cache of
 * opened bases a reader keeps (a base is read once per stream, not once
 * per delta).  A base is always a whole chunk: the base of a delta found
 * in the previous stream is that delta's own base, so a restore never
 * opens more than two chunks for one.
 *
 * It must not know what the stream contains, and it never writes a chunk
 * or a manifest itself (chunk_store.c does); a chunk row's own steps are
 * chunk_io.c's.  Memory: the window (a fixed number of manifest entries),
 * BASE_CACHE_SLOTS opened bases, one patch.
 *-------------------------------------------------------------------------
 */
#include "store/chunk_store_int.h"

#include "catalog/pg_type.h"
#include "delta.h"
#include "utils/array.h"

#define TRACK_BEHIND	(4 * CHUNKER_DEFAULT_MAX)	/* previous-stream bytes kept behind the point */
#define TRACK_AHEAD		(64 * 1024 * 1024)	/* and ahead of it: how far a jump is seen */

typedef struct TrackEntry
{
	int64		chunk_no;
	int64		base_no;		/* -1: a whole chunk */
	int64		start;			/* its offset in the previous stream */
	int64		len;
	uint64		cut_hash;		/* the chunker's hash where it ends */
	bool		has_hash;
} TrackEntry;

struct BaseTrack
{
	ChunkStore *s;
	int64		point_id;		/* the previous point */
	int			ordinal;		/* its stream of the same table */
	int			next_segment;
	bool		exhausted;		/* every segment loaded */
	bool		broken;			/* a chunk of it is gone: offsets unknown */
	int64		first;			/* its manifest's entries tracked: first .. */
	int64		last;			/* .. last (-1: to the stream's end) */
	TrackEntry *ent;
	int			n;
	int			cap;
	int64		loaded_end;		/* previous-stream offset after the last entry */
	int64		drift;			/* previous-stream offset minus new offset, as last seen */
	int			chosen;			/* the entry the last base came from */
	int64		chosen_offset;	/* the new chunk it was chosen for */
	bool		exact;			/* the drift is known exactly for this chunk */
};

/* ------------------------------------------------------------ base track */

BaseTrack *
base_track_begin(ChunkStore *s, int64 point_id, int ordinal)
{
	BaseTrack  *t = palloc0(sizeof(BaseTrack));

	t->s = s;
	t->point_id = point_id;
	t->ordinal = ordinal;
	/* entries spanning the window (chunks are at least the minimum size), and a segment */
	t->cap = (TRACK_BEHIND + TRACK_AHEAD) / CHUNKER_DEFAULT_MIN + 2 * MANIFEST_SEGMENT;
	t->ent = palloc(sizeof(TrackEntry) * t->cap);
	t->chosen = -1;
	t->last = -1;
	return t;
}

/*
 * The track of a parallel backup's range: only entries first .. last of
 * the previous stream's manifest (last -1: to its end), the stretch the
 * same range held there.  Its offsets count from entry first, as the
 * range's own count from its start, so the drift starts at zero.
 */
BaseTrack *
base_track_begin_range(ChunkStore *s, int64 point_id, int ordinal, int64 first, int64 last)
{
	BaseTrack  *t = base_track_begin(s, point_id, ordinal);

	t->first = first;
	t->last = last;
	t->next_segment = (int) (first / MANIFEST_SEGMENT);
	return t;
}

static int
cmp_entry(const void *a, const void *b)
{
	int64		x = ((const TrackEntry *) a)->chunk_no;
	int64		y = ((const TrackEntry *) b)->chunk_no;

	return x < y ? -1 : x > y;
}

/* Append the next manifest segment of the previous stream (owner context). */
static void
track_load(BaseTrack *t)
{
	ChunkStore *s = t->s;
	int			k;
	int64		seg_first = (int64) t->next_segment * MANIFEST_SEGMENT;
	int64	   *all = segment_get(s, t->point_id, t->ordinal, t->next_segment++, &k);
	int64	   *nos = all;
	Datum	   *elems;
	ArrayType  *arr;
	Datum		values[1];
	TrackEntry *found;
	int			nfound = 0;
	int			i;
	int			ret;

	if (k < 0)
	{
		t->exhausted = true;
		return;
	}
	/* a range's track: the segment's entries within first .. last */
	if (t->first > seg_first)
	{
		int			skip = (int) Min((int64) k, t->first - seg_first);

		nos += skip;
		k -= skip;
		seg_first += skip;
	}
	if (t->last >= 0 && seg_first + k > t->last + 1)
	{
		k = (int) Max((int64) 0, t->last + 1 - seg_first);
		t->exhausted = true;
	}
	elems = palloc(sizeof(Datum) * Max(k, 1));
	for (i = 0; i < k; i++)
		elems[i] = Int64GetDatum(nos[i]);
	arr = construct_array(elems, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	values[0] = PointerGetDatum(arr);
	ret = SPI_execute_plan(s->plan_track, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "previous stream lookup failed: %s", SPI_result_code_string(ret));
	found = palloc(sizeof(TrackEntry) * Max(SPI_processed, 1));
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		/* a number of another vault's chunk counts as missing */
		if (DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull)) != s->vault->vault_id)
			continue;
		found[nfound].chunk_no = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		found[nfound].base_no = isnull ? -1 : DatumGetInt64(d);
		found[nfound].len = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		found[nfound].has_hash = !isnull;
		found[nfound].cut_hash = isnull ? 0 : (uint64) DatumGetInt64(d);
		nfound++;
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(found, nfound, sizeof(TrackEntry), cmp_entry);
	for (i = 0; i < k && !t->broken; i++)
	{
		TrackEntry	key;
		TrackEntry *hit;
		TrackEntry *e = &t->ent[t->n++];

		key.chunk_no = nos[i];
		hit = bsearch(&key, found, nfound, sizeof(TrackEntry), cmp_entry);
		if (hit == NULL)
			t->broken = true;	/* verify reports it; no deltas for this stream */
		else
		{
			*e = *hit;
			e->start = t->loaded_end;
			t->loaded_end += e->len;
		}
	}
	pfree(found);
	pfree(arr);
	pfree(elems);
	pfree(all);
}

/*
 * Have the entries around previous-stream offset at loaded: drop those that
 * end more than TRACK_BEHIND before it, load until TRACK_AHEAD after it.
 */
static void
track_fill(BaseTrack *t, int64 at)
{
	while (!t->exhausted && !t->broken && t->loaded_end < at + TRACK_AHEAD)
	{
		int			drop = 0;

		while (drop < t->n && t->ent[drop].start + t->ent[drop].len < at - TRACK_BEHIND)
			drop++;
		if (drop > 0)
		{
			memmove(t->ent, t->ent + drop, sizeof(TrackEntry) * (t->n - drop));
			t->n -= drop;
			t->chosen = -1;
		}
		if (t->n + MANIFEST_SEGMENT > t->cap)
		{
			t->cap = t->n + MANIFEST_SEGMENT;
			t->ent = repalloc(t->ent, sizeof(TrackEntry) * t->cap);
		}
		track_load(t);
	}
}

/* The loaded entry holding previous-stream offset at, or -1. */
static int
track_find(BaseTrack *t, int64 at)
{
	int			lo = 0;
	int			hi = t->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		TrackEntry *e = &t->ent[mid];

		if (at < e->start)
			hi = mid - 1;
		else if (at >= e->start + e->len)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

/* how far from where it is expected an earlier cut is still taken */
static int64
cut_tolerance(int64 expected_len)
{
	return Max(4096, expected_len / 8);
}

/*
 * The chunker's hints for the chunk starting at stream offset offset: the
 * previous stream's next cuts at least the minimum chunk size past the
 * same place, each with the lengths within which the new chunk would end
 * there (where the drift puts it, give or take).  Returns how many (up to
 * BASE_HINTS).
 */
int
base_track_hints(BaseTrack *t, int64 offset, ChunkerHint *hints)
{
	int64		from = offset + t->drift + (int64) t->s->chunker.min_size;
	int			n = 0;
	int			j;

	track_fill(t, from);
	if (t->broken)
		return 0;
	for (j = track_find(t, from); j >= 0 && j < t->n && n < BASE_HINTS; j++)
	{
		int64		expected = t->ent[j].start + t->ent[j].len - t->drift - offset;
		int64		tol = cut_tolerance(expected);

		if (!t->ent[j].has_hash)
			continue;
		hints[n].hash = t->ent[j].cut_hash;
		hints[n].min_len = (size_t) Max(expected - tol, 1);
		hints[n].max_len = (size_t) (expected + tol);
		n++;
	}
	return n;
}

/*
 * The base for the chunk at stream offset offset (len bytes; has_hash: cut
 * by content where the chunker's hash was cut_hash): the whole chunk
 * behind the previous stream's chunk that held the middle of the same
 * stretch, or -1.  The stretch is found through the drift, the difference
 * between the two streams' offsets of the same bytes: exact after a chunk
 * the vault already has (chunk_no >= 0, which needs no base) and after a
 * cut where the previous stream cut, refined by the patch's alignment
 * (track_aligned) otherwise.
 */
int64
base_track_match(BaseTrack *t, int64 offset, size_t len, int64 chunk_no, bool has_hash,
				 uint64 cut_hash)
{
	int64		end = offset + (int64) len;
	int64		middle;
	int			j;

	t->exact = false;
	track_fill(t, end + t->drift);
	if (t->broken)
		return -1;
	if (chunk_no >= 0)
	{
		/* where it is expected first (an unchanged stretch), then anywhere loaded */
		int			k = Max(track_find(t, offset + t->drift), 0);

		for (int i = 0; i < t->n; i++)
		{
			j = (k + i) % t->n;
			if (t->ent[j].chunk_no == chunk_no)
			{
				t->drift = t->ent[j].start - offset;
				t->exact = true;
				break;
			}
		}
		return -1;
	}
	if (has_hash)
	{
		/* an earlier cut near where this one is expected: the drift, exactly */
		int64		tol = cut_tolerance((int64) len);
		int			k = track_find(t, end + t->drift - 1);

		for (j = Max(k - 2, 0); k >= 0 && j < Min(k + 3, t->n); j++)
		{
			TrackEntry *e = &t->ent[j];
			int64		e_end = e->start + e->len;

			if (e->has_hash && e->cut_hash == cut_hash &&
				e_end - t->drift - end <= tol && end - (e_end - t->drift) <= tol)
			{
				t->drift = e_end - end;
				t->exact = true;
				break;
			}
		}
		/*
		 * Not there: the streams may have parted further (a run of rows gone
		 * from the middle, or added to it).  The nearest earlier cut with
		 * this hash ahead, within the window, puts them together again.
		 */
		for (j = Max(k, 0); !t->exact && j < t->n; j++)
		{
			TrackEntry *e = &t->ent[j];

			if (e->has_hash && e->cut_hash == cut_hash)
			{
				t->drift = e->start + e->len - end;
				t->exact = true;
			}
		}
	}
	middle = offset + (int64) len / 2 + t->drift;
	j = track_find(t, middle);
	if (j < 0)
		return -1;
	t->chosen = j;
	t->chosen_offset = offset;
	return t->ent[j].base_no >= 0 ? t->ent[j].base_no : t->ent[j].chunk_no;
}

/*
 * Refine the drift from where the patch's last match ended in the base
 * (after a cut no earlier cut confirmed).  When the base is the chosen
 * entry's own base rather than the entry, the position is approximate,
 * which is all choosing the next base and hints needs.
 */
static void
track_aligned(BaseTrack *t, const DeltaAlign *align, size_t len)
{
	if (t == NULL || t->exact || t->chosen < 0)
		return;
	if (align->matched == 0)
	{
		/*
		 * Nothing of it in its base: bytes the previous stream did not have
		 * (rows added in the middle).  They take no room there, so the
		 * previous stream stays where it was for the next chunk.
		 */
		t->drift -= (int64) len;
		return;
	}
	t->drift = t->ent[t->chosen].start + (int64) align->base_end -
		(t->chosen_offset + (int64) align->target_end);
}

/* ------------------------------------------------------------ base cache */

/*
 * The opened base chunk base_no, from the cache or read now (owner
 * context).  NULL with *why when it cannot be opened.
 */
static BaseSlot *
base_get(ChunkStore *s, int64 base_no, const char **why)
{
	BaseSlot   *victim = NULL;
	int			i;

	for (i = 0; i < BASE_CACHE_SLOTS; i++)
	{
		BaseSlot   *b = &s->bases[i];

		if (b->chunk_no == base_no)
		{
			b->used = ++s->base_clock;
			return b;
		}
		if (victim == NULL || b->chunk_no < 0 || (victim->chunk_no >= 0 && b->used < victim->used))
			victim = b;
	}
	victim->chunk_no = -1;
	s->bases_read++;
	if (chunk_open_whole(s, base_no, victim->id, &victim->data, &victim->cap, &victim->len, why) != CHUNK_GOOD)
		return NULL;
	victim->chunk_no = base_no;
	victim->used = ++s->base_clock;
	return victim;
}

/* ------------------------------------------------------------- sealing */

/*
 * Seal the new chunk (id, data) into s->sealed, as a patch against base_no
 * when that is much smaller than its ordinary encoding (at most half, or
 * so small that the ordinary encoding need not be tried), else whole.
 * Returns whether it is a delta; *sealed_len gets the sealed size.
 */
bool
chunk_seal_best(ChunkStore *s, BaseTrack *t, int64 base_no, const uint8 *id, const char *data,
				size_t len, size_t *sealed_len)
{
	const char *why;
	BaseSlot   *base = base_no >= 0 ? base_get(s, base_no, &why) : NULL;
	size_t		plen;
	size_t		payload_len;
	size_t		whole_len = 0;
	DeltaAlign	align;
	uint8		aad[AAD_LEN];
	CodecStatus st;

	/* an unreadable base (verify reports it) just means a whole chunk */
	if (base == NULL || len == 0)
	{
		*sealed_len = chunk_seal_whole(s, id, data, len);
		return false;
	}
	chunk_payload_reserve(s, CODEC_ID_LEN + delta_bound(len));
	memcpy(s->payload, base->id, CODEC_ID_LEN);
	if (delta_encode_aligned(base->data, base->len, (const uint8 *) data, len, s->delta_level,
							 s->payload + CODEC_ID_LEN, s->payload_cap - CODEC_ID_LEN, &plen,
							 &align) != DELTA_OK)
	{
		*sealed_len = chunk_seal_whole(s, id, data, len);
		return false;
	}
	track_aligned(t, &align, len);
	payload_len = CODEC_ID_LEN + plen;
	if (payload_len * 64 > len)
	{
		whole_len = chunk_seal_whole(s, id, data, len);
		if (CODEC_OVERHEAD + payload_len > whole_len / 2)
		{
			*sealed_len = whole_len;
			return false;
		}
	}
	chunk_aad(s, id, aad);
	st = codec_seal_delta(s->keys.data_key, aad, AAD_LEN, s->payload, payload_len, len,
						  (uint8 *) VARDATA(s->sealed), sealed_len);
	if (st != CODEC_OK)
		elog(ERROR, "could not seal delta chunk: %s", codec_strerror(st));
	SET_VARSIZE(s->sealed, VARHDRSZ + *sealed_len);
	return true;
}

/* ------------------------------------------------------------- opening */

/*
 * A delta record's payload is in s->payload (payload_len bytes, opened and
 * authenticated); put the plaintext (plain_len bytes) into *buf from its
 * base.  Owner context.  The caller checks the plaintext's id.
 */
ChunkCheck
delta_apply(ChunkStore *s, int64 base_no, size_t payload_len, size_t plain_len,
			uint8 **buf, size_t *cap, size_t *len, const char **why)
{
	const char *base_why;
	BaseSlot   *base;
	DeltaStatus st;

	if (base_no < 0)
	{
		*why = "is a delta that names no base chunk";
		return CHUNK_BAD_SEAL;
	}
	base = base_get(s, base_no, &base_why);
	if (base == NULL)
	{
		*why = psprintf("needs base chunk %lld, which %s", (long long) base_no, base_why);
		return CHUNK_BAD_BASE;
	}
	if (memcmp(base->id, s->payload, CODEC_ID_LEN) != 0)
	{
		*why = psprintf("needs base chunk %lld, which is not the chunk it was made against",
						(long long) base_no);
		return CHUNK_BAD_BASE;
	}
	if (*cap < plain_len)
	{
		*buf = repalloc(*buf, plain_len);
		*cap = plain_len;
	}
	st = delta_decode(base->data, base->len, s->payload + CODEC_ID_LEN, payload_len - CODEC_ID_LEN,
					  *buf, *cap, len);
	if (st != DELTA_OK || *len != plain_len)
	{
		*why = psprintf("is a delta that does not apply to its base chunk %lld: %s", (long long) base_no,
						st != DELTA_OK ? delta_strerror(st) : "wrong length");
		return CHUNK_BAD_SEAL;
	}
	return CHUNK_GOOD;
}

/*
 * Fetch and open any chunk into s->plain, through its base when it is a
 * delta, and check it against its id.  Returns CHUNK_GOOD and sets data and
 * len, or a failure kind with *why.  Owner context required.
 */
ChunkCheck
chunk_open_any(ChunkStore *s, int64 chunk_no, const char **data, size_t *len, const char **why)
{
	uint8		id[CODEC_ID_LEN];
	bool		is_delta;
	int64		base_no;
	size_t		payload_len = 0;
	size_t		plain_len = 0;
	ChunkCheck	res;

	res = chunk_open_row(s, chunk_no, id, &s->plain, &s->plain_cap, &plain_len, &is_delta,
						 &base_no, &payload_len, why);
	if (res == CHUNK_GOOD && is_delta)
		res = delta_apply(s, base_no, payload_len, plain_len, &s->plain, &s->plain_cap, &plain_len, why);
	if (res == CHUNK_GOOD)
		res = chunk_check_id(s, id, s->plain, plain_len, why);
	if (res != CHUNK_GOOD)
		return res;
	*data = (const char *) s->plain;
	*len = plain_len;
	*why = NULL;
	return CHUNK_GOOD;
}
