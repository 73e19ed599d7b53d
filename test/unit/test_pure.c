/*
 * test_pure.c: unit tests of the pure-C parts (chunker, sealed-chunk codec),
 * run without a server.  Prints one line per failed check and, last,
 * "N passed, M failed"; exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "codec.h"

#include "check.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
fill_random(uint8_t *buf, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t) rng();
}

static void
make_gear(uint64_t gear[256], uint64_t seed)
{
	int			i;

	rng_state = seed;
	for (i = 0; i < 256; i++)
		gear[i] = rng();
}

/* cut a whole buffer; store cut lengths in cuts[], return how many */
static size_t
cut_all(const Chunker *c, const uint8_t *buf, size_t len, size_t *cuts, size_t maxcuts)
{
	size_t		n = 0;
	size_t		pos = 0;

	while (pos < len && n < maxcuts)
	{
		size_t		cut = chunker_next_cut(c, buf + pos, len - pos);

		cuts[n++] = cut;
		pos += cut;
	}
	return n;
}

static uint64_t
fnv(const uint8_t *p, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static void
test_chunker(void)
{
	uint64_t	gear[256];
	uint64_t	gear2[256];
	Chunker		c;
	Chunker		c2;
	size_t		len = 8 * 1024 * 1024;
	uint8_t    *buf = malloc(len + 100);
	uint8_t    *edited = malloc(len + 100);
	size_t	   *cuts = malloc(sizeof(size_t) * 4096);
	size_t	   *cuts2 = malloc(sizeof(size_t) * 4096);
	uint64_t   *h1 = malloc(sizeof(uint64_t) * 4096);
	size_t		n, n2, i, j, total, shared;
	int			ok;

	make_gear(gear, 1);
	make_gear(gear2, 2);
	CHECK(chunker_init(&c, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG, CHUNKER_DEFAULT_MAX) == 0,
		  "default sizes accepted");
	CHECK(chunker_init(&c2, gear2, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG, CHUNKER_DEFAULT_MAX) == 0,
		  "second gear accepted");
	CHECK(chunker_init(&c2, gear2, 1000, 3000, 9000) == -1, "avg not a power of two rejected");
	CHECK(chunker_init(&c2, gear2, 9000, 4096, 16384) == -1, "min > avg rejected");
	CHECK(chunker_init(&c2, gear2, 1024, 4096, 2048) == -1, "max < avg rejected");
	CHECK(chunker_init(&c2, gear2, 16, 4096, 8192) == -1, "tiny min rejected");
	(void) chunker_init(&c2, gear2, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG, CHUNKER_DEFAULT_MAX);

	rng_state = 42;
	fill_random(buf, len);

	/* sizes within bounds, average near the target */
	n = cut_all(&c, buf, len, cuts, 4096);
	total = 0;
	ok = 1;
	for (i = 0; i < n; i++)
	{
		total += cuts[i];
		if (cuts[i] > CHUNKER_DEFAULT_MAX || (i + 1 < n && cuts[i] < CHUNKER_DEFAULT_MIN))
			ok = 0;
	}
	CHECK(total == len, "cuts cover the buffer (%zu of %zu)", total, len);
	CHECK(ok, "every chunk within [min, max] (last may be shorter)");
	CHECK(len / n > CHUNKER_DEFAULT_AVG / 2 && len / n < CHUNKER_DEFAULT_AVG * 2,
		  "average chunk %zu near %d", len / n, CHUNKER_DEFAULT_AVG);

	/* deterministic */
	n2 = cut_all(&c, buf, len, cuts2, 4096);
	CHECK(n == n2 && memcmp(cuts, cuts2, n * sizeof(size_t)) == 0, "same bytes, same cuts");

	/* another gear table, other boundaries */
	n2 = cut_all(&c2, buf, len, cuts2, 4096);
	CHECK(n != n2 || memcmp(cuts, cuts2, n * sizeof(size_t)) != 0, "other gear, other cuts");

	/* an insertion in the middle changes only the chunks around it */
	{
		size_t		pos = 0;

		for (i = 0; i < n; i++)
		{
			h1[i] = fnv(buf + pos, cuts[i]);
			pos += cuts[i];
		}
		memcpy(edited, buf, len / 2);
		fill_random(edited + len / 2, 100);
		memcpy(edited + len / 2 + 100, buf + len / 2, len - len / 2);
		n2 = cut_all(&c, edited, len + 100, cuts2, 4096);
		shared = 0;
		pos = 0;
		for (i = 0; i < n2; i++)
		{
			uint64_t	h = fnv(edited + pos, cuts2[i]);

			for (j = 0; j < n; j++)
				if (h1[j] == h)
				{
					shared++;
					break;
				}
			pos += cuts2[i];
		}
		CHECK(shared * 100 > n * 90, "after a 100-byte insertion %zu of %zu chunks are shared", shared, n);
	}

	/* short inputs */
	CHECK(chunker_next_cut(&c, buf, 1) == 1, "one byte is one chunk");
	CHECK(chunker_next_cut(&c, buf, CHUNKER_DEFAULT_MIN) == CHUNKER_DEFAULT_MIN, "min-sized input is one chunk");
	CHECK(chunker_next_cut(&c, buf, len) <= CHUNKER_DEFAULT_MAX, "never more than max");

	/* all-zero data: no boundary found, hard cuts at max */
	memset(buf, 0, len);
	CHECK(chunker_next_cut(&c, buf, len) == CHUNKER_DEFAULT_MAX || chunker_next_cut(&c, buf, len) >= CHUNKER_DEFAULT_MIN,
		  "constant data cut within bounds");

	free(buf);
	free(edited);
	free(cuts);
	free(cuts2);
	free(h1);
}

/*
 * The plain one-byte-per-step FastCDC loop, as a reference: the chunker's
 * two-bytes-per-step loop must cut exactly where this does.
 */
static size_t
reference_cut(const Chunker *c, const uint8_t *buf, size_t len)
{
	uint64_t	h = 0;
	size_t		i = c->min_size;
	size_t		normal = c->avg_size;
	size_t		end = len < c->max_size ? len : c->max_size;

	if (len <= c->min_size)
		return len;
	if (normal > end)
		normal = end;
	for (; i < normal; i++)
	{
		h = (h << 1) + c->gear[buf[i]];
		if ((h & c->mask_s) == 0)
			return i + 1;
	}
	for (; i < end; i++)
	{
		h = (h << 1) + c->gear[buf[i]];
		if ((h & c->mask_l) == 0)
			return i + 1;
	}
	return end;
}

static void
test_chunker_reference(void)
{
	uint64_t	gear[256];
	Chunker		c;
	size_t		len = 4 * 1024 * 1024;
	uint8_t    *buf = malloc(len);
	size_t		pos;
	size_t		mismatches = 0;
	size_t		cuts = 0;
	size_t		odd = 0;
	int			round;

	make_gear(gear, 99);
	chunker_init(&c, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG, CHUNKER_DEFAULT_MAX);
	for (round = 0; round < 3; round++)
	{
		size_t		i;

		/* random, then text-like low entropy, then runs */
		for (i = 0; i < len; i++)
			buf[i] = round == 0 ? (uint8_t) rng() :
				round == 1 ? (uint8_t) ('a' + rng() % 7) : (uint8_t) ((i / 4000) + (rng() % 50 == 0));
		for (pos = 0; pos < len;)
		{
			size_t		want = reference_cut(&c, buf + pos, len - pos);
			size_t		got = chunker_next_cut(&c, buf + pos, len - pos);

			mismatches += want != got;
			odd += want & 1;
			cuts++;
			pos += want;
		}
		/* every length near the min/avg/max edges, odd and even */
		for (i = CHUNKER_DEFAULT_MIN - 3; i < CHUNKER_DEFAULT_MIN + 5; i++)
			mismatches += reference_cut(&c, buf, i) != chunker_next_cut(&c, buf, i);
		for (i = CHUNKER_DEFAULT_AVG - 3; i < CHUNKER_DEFAULT_AVG + 5; i++)
			mismatches += reference_cut(&c, buf + 1, i) != chunker_next_cut(&c, buf + 1, i);
		for (i = CHUNKER_DEFAULT_MAX - 3; i < CHUNKER_DEFAULT_MAX + 5; i++)
			mismatches += reference_cut(&c, buf + 7, i) != chunker_next_cut(&c, buf + 7, i);
	}
	CHECK(mismatches == 0, "two-byte loop cuts where the one-byte loop does (%zu mismatches of %zu cuts)",
		  mismatches, cuts);
	CHECK(odd > 0 && odd < cuts, "cuts fall at both odd and even lengths (%zu odd of %zu)", odd, cuts);
	free(buf);
}

/*
 * Hints: a stream cut again after scattered small deletions ends its chunks
 * where the earlier stream did (what lets a changed chunk be a patch against
 * exactly the chunk it replaces), and without hints nothing changes.
 */
static void
test_chunker_hints(void)
{
	uint64_t	gear[256];
	Chunker		c;
	size_t		cap = 6 * 1024 * 1024;
	uint8_t    *old = malloc(cap);
	uint8_t    *cur = malloc(cap);
	size_t	   *map = malloc(sizeof(size_t) * (cap + 1));	/* old offset -> new, or SIZE_MAX */
	size_t		old_len = 0, cur_len = 0;
	size_t	   *old_cuts = malloc(sizeof(size_t) * 4096);	/* end offsets */
	uint64_t   *old_hash = malloc(sizeof(uint64_t) * 4096);
	size_t		nold = 0;
	size_t		pos;
	int			row = 0;
	int			hash_ok = 1, same_cut = 1;
	size_t		kept_plain = 0, kept_hinted = 0, surviving = 0;

	make_gear(gear, 4242);
	chunker_init(&c, gear, CHUNKER_DEFAULT_MIN, CHUNKER_DEFAULT_AVG, CHUNKER_DEFAULT_MAX);
	/* pgbench-like rows; every 100th row is gone from the second stream */
	while (old_len + 200 < cap - 1024)
	{
		char		line[200];
		int			n = snprintf(line, sizeof(line), "%d\t%d\t%d\t%-60s\n", row, row / 1000,
								 (int) (rng() % 5000), row % 7 ? "" : "note");
		size_t		i;

		for (i = 0; i < (size_t) n; i++)
			map[old_len + i] = row % 100 == 37 ? SIZE_MAX : cur_len + i;
		memcpy(old + old_len, line, n);
		old_len += n;
		if (row % 100 != 37)
		{
			memcpy(cur + cur_len, line, n);
			cur_len += n;
		}
		row++;
	}
	map[old_len] = cur_len;

	/* without hints: the same cuts as chunker_next_cut, and the hash of each */
	for (pos = 0; pos < old_len && nold < 4096;)
	{
		uint64_t	h;
		size_t		cut = chunker_next_cut_hinted(&c, old + pos, old_len - pos, NULL, 0, &h);
		uint64_t	ref = 0;
		size_t		i;

		same_cut &= cut == chunker_next_cut(&c, old + pos, old_len - pos);
		if (cut > c.min_size)
		{
			for (i = c.min_size; i < cut; i++)
				ref = (ref << 1) + gear[old[pos + i]];
			hash_ok &= ref == h;
		}
		pos += cut;
		old_cuts[nold] = pos;
		old_hash[nold++] = h;
	}
	CHECK(same_cut, "without hints the cuts are chunker_next_cut's");
	{
		/* a hint is taken only within its bounds */
		ChunkerHint hint = {old_hash[2], 1, old_cuts[2] - old_cuts[1] - 1};
		uint64_t	h;

		CHECK(chunker_next_cut_hinted(&c, old + old_cuts[1], old_len - old_cuts[1], &hint, 1, &h) ==
			  chunker_next_cut(&c, old + old_cuts[1], old_len - old_cuts[1]), "a hint out of its bounds is not taken");
		hint.max_len = old_cuts[2] - old_cuts[1];
		CHECK(chunker_next_cut_hinted(&c, old + old_cuts[1], old_len - old_cuts[1], &hint, 1, &h) ==
			  old_cuts[2] - old_cuts[1] && h == old_hash[2], "a hint within its bounds is taken");
	}
	CHECK(hash_ok, "the cut hash is the rolling hash at the cut");

	/* the second stream, cut plainly and with the earlier cuts as hints */
	for (int hinted = 0; hinted < 2; hinted++)
	{
		size_t		k = 0;
		size_t		kept = 0;
		size_t		j;

		surviving = 0;
		for (pos = 0; pos < cur_len;)
		{
			ChunkerHint hints[2];
			int			nh = 0;
			uint64_t	h;
			size_t		cut;

			/* the next earlier cuts at least min_size past this start */
			while (k < nold && (map[old_cuts[k]] == SIZE_MAX || map[old_cuts[k]] <= pos + c.min_size))
				k++;
			for (j = k; j < nold && nh < 2; j++)
			{
				if (map[old_cuts[j]] == SIZE_MAX)
					continue;
				/* bounds as the vault gives them: where the cut is expected, give or take */
				hints[nh].hash = old_hash[j];
				hints[nh].min_len = map[old_cuts[j]] - pos - 4096;
				hints[nh].max_len = map[old_cuts[j]] - pos + 4096;
				nh++;
			}
			cut = chunker_next_cut_hinted(&c, cur + pos, cur_len - pos, hints, hinted ? nh : 0, &h);
			pos += cut;
			for (j = 0; j < nold; j++)
				if (map[old_cuts[j]] == pos)
					kept++;
		}
		for (j = 0; j < nold; j++)
			surviving += map[old_cuts[j]] != SIZE_MAX;
		if (hinted)
			kept_hinted = kept;
		else
			kept_plain = kept;
	}
	printf("chunker hints: %zu of %zu earlier cuts kept with hints, %zu without\n",
		   kept_hinted, surviving, kept_plain);
	CHECK(kept_hinted * 100 >= surviving * 95,
		  "with hints, %zu of %zu earlier cuts are kept after 1%% of rows went (without: %zu)",
		  kept_hinted, surviving, kept_plain);
	CHECK(kept_hinted > kept_plain, "hints keep more earlier cuts than plain cutting (%zu > %zu)",
		  kept_hinted, kept_plain);
	free(old);
	free(cur);
	free(map);
	free(old_cuts);
	free(old_hash);
}

static void
test_codec(void)
{
	uint8_t		key[CODEC_KEY_LEN];
	uint8_t		key2[CODEC_KEY_LEN];
	uint8_t		aad[40];
	uint8_t		aad2[40];
	size_t		sizes[] = {0, 1, 100, 65536, 262144};
	size_t		s;

	rng_state = 7;
	fill_random(key, sizeof(key));
	fill_random(key2, sizeof(key2));
	fill_random(aad, sizeof(aad));
	memcpy(aad2, aad, sizeof(aad));
	aad2[0] ^= 1;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		int			kind;

		/* kind: bit 0 = compressible text (else random), bit 1 = zstd (3, then 19) */
		for (kind = 0; kind < 6; kind++)
		{
			int			level = kind < 2 ? 0 : kind < 4 ? 3 : 19;
			const char *codec = level ? "zstd" : "lz4";
			uint8_t		flag = level ? CODEC_FLAG_ZSTD : CODEC_FLAG_LZ4;
			size_t		len = sizes[s];
			size_t		bound = codec_sealed_bound(len);
			uint8_t    *raw = malloc(len + 1);
			uint8_t    *sealed = malloc(bound);
			uint8_t    *sealed2 = malloc(bound);
			uint8_t    *scratch = malloc(bound);
			uint8_t    *out = malloc(len + 1);
			size_t		slen = 0, slen2 = 0, olen = 0, plain = 0;
			CodecStatus st;

			if ((kind & 1) == 0)
				fill_random(raw, len);
			else
			{
				size_t		i;

				for (i = 0; i < len; i++)
					raw[i] = "row,row,row,1234567890;"[i % 23];
			}
			st = codec_seal_level(key, aad, sizeof(aad), raw, len, level, sealed, &slen, scratch);
			CHECK(st == CODEC_OK, "seal %zu bytes (%s, %s): %s", len, kind & 1 ? "text" : "random", codec,
				  codec_strerror(st));
			CHECK(slen <= bound, "sealed size within bound");
			CHECK(codec_plain_length(sealed, slen, &plain) == CODEC_OK && plain == len, "plain length recorded");
			st = codec_open(key, aad, sizeof(aad), sealed, slen, out, len, &olen, scratch);
			CHECK(st == CODEC_OK && olen == len && memcmp(out, raw, len) == 0,
				  "round trip %zu bytes (%s, %s): %s", len, kind & 1 ? "text" : "random", codec,
				  codec_strerror(st));
			if (len >= 100)
			{
				if (kind & 1)
					CHECK(sealed[4] == flag && (len < 65536 ? slen < len : slen < len / 20),
						  "compressible data compressed by %s (%zu -> %zu)", codec, len, slen);
				else
					CHECK(sealed[4] == 0 && slen == len + CODEC_OVERHEAD, "random data kept raw (%s)", codec);
			}
			CHECK(codec_open(key2, aad, sizeof(aad), sealed, slen, out, len, &olen, scratch) == CODEC_ERR_AUTH,
				  "wrong key fails authentication");
			CHECK(codec_open(key, aad2, sizeof(aad2), sealed, slen, out, len, &olen, scratch) == CODEC_ERR_AUTH,
				  "wrong aad fails authentication");
			if (len > 0)
				CHECK(codec_open(key, aad, sizeof(aad), sealed, slen, out, len - 1, &olen, scratch) == CODEC_ERR_CAPACITY,
					  "small output buffer refused");
			CHECK(codec_open(key, aad, sizeof(aad), sealed, slen - 1, out, len, &olen, scratch) != CODEC_OK,
				  "truncated chunk refused");
			CHECK(codec_seal_level(key, aad, sizeof(aad), raw, len, level, sealed2, &slen2, scratch) == CODEC_OK &&
				  slen2 == slen && memcmp(sealed, sealed2, slen) != 0, "random nonce: two seals differ");

			/* any single flipped byte is detected */
			{
				size_t		i;
				size_t		step = slen > 4096 ? slen / 997 : 1;
				int			all_detected = 1;

				for (i = 0; i < slen; i += step)
				{
					sealed[i] ^= 0x20;
					if (codec_open(key, aad, sizeof(aad), sealed, slen, out, len, &olen, scratch) == CODEC_OK)
						all_detected = 0;
					sealed[i] ^= 0x20;
				}
				CHECK(all_detected, "every flipped byte of a %zu-byte sealed chunk is detected", slen);
			}
			free(raw);
			free(sealed);
			free(sealed2);
			free(scratch);
			free(out);
		}
	}

	/* malformed headers */
	{
		uint8_t		junk[64];
		uint8_t		out[64];
		uint8_t		scratch[64];
		size_t		olen;

		memset(junk, 0, sizeof(junk));
		CHECK(codec_open(key, aad, sizeof(aad), junk, 10, out, sizeof(out), &olen, scratch) == CODEC_ERR_TOO_SHORT, "too short");
		CHECK(codec_open(key, aad, sizeof(aad), junk, sizeof(junk), out, sizeof(out), &olen, scratch) == CODEC_ERR_MAGIC, "bad magic");
		memcpy(junk, "VCK1", 4);
		junk[4] = 0x80;
		CHECK(codec_open(key, aad, sizeof(aad), junk, sizeof(junk), out, sizeof(out), &olen, scratch) == CODEC_ERR_HEADER, "unknown flag");
		junk[4] = CODEC_FLAG_LZ4 | CODEC_FLAG_ZSTD;
		CHECK(codec_open(key, aad, sizeof(aad), junk, sizeof(junk), out, sizeof(out), &olen, scratch) == CODEC_ERR_HEADER, "lz4 and zstd at once");
		CHECK(codec_seal_level(key, aad, sizeof(aad), junk, 8, 20, junk, &olen, scratch) == CODEC_ERR_CAPACITY, "zstd level 20 refused");
		junk[4] = 0;
		junk[8] = 0xff;
		junk[9] = 0xff;
		junk[10] = 0xff;
		junk[11] = 0x7f;
		CHECK(codec_open(key, aad, sizeof(aad), junk, sizeof(junk), out, sizeof(out), &olen, scratch) == CODEC_ERR_HEADER, "huge length");
	}

	/* delta records: base id + patch, sealed and opened as a payload */
	{
		uint8_t		payload[CODEC_ID_LEN + 100];
		uint8_t		sealed[CODEC_OVERHEAD + sizeof(payload)];
		uint8_t		out[sizeof(payload)];
		uint8_t		scratch[sizeof(sealed)];
		size_t		slen = 0, plen = 0, plain = 0, olen;
		size_t		i;
		int			all_detected = 1;

		fill_random(payload, sizeof(payload));
		CHECK(codec_seal_delta(key, aad, sizeof(aad), payload, sizeof(payload), 65536, sealed, &slen) == CODEC_OK &&
			  slen == sizeof(sealed) && sealed[4] == CODEC_FLAG_DELTA, "delta record sealed");
		CHECK(codec_is_delta(sealed, slen), "delta record recognised");
		CHECK(codec_plain_length(sealed, slen, &plain) == CODEC_OK && plain == 65536,
			  "delta record declares the plaintext length");
		CHECK(codec_open(key, aad, sizeof(aad), sealed, slen, out, sizeof(out), &olen, scratch) == CODEC_ERR_DELTA,
			  "codec_open refuses a delta record");
		CHECK(codec_open_delta(key, aad, sizeof(aad), sealed, slen, out, sizeof(out), &plen, &plain) == CODEC_OK &&
			  plen == sizeof(payload) && plain == 65536 && memcmp(out, payload, plen) == 0,
			  "delta record opens to its payload");
		CHECK(codec_open_delta(key2, aad, sizeof(aad), sealed, slen, out, sizeof(out), &plen, &plain) == CODEC_ERR_AUTH,
			  "delta record: wrong key fails authentication");
		CHECK(codec_open_delta(key, aad, sizeof(aad), sealed, slen, out, sizeof(out) - 1, &plen, &plain) == CODEC_ERR_CAPACITY,
			  "delta record: small output refused");
		for (i = 0; i < slen; i++)
		{
			sealed[i] ^= 0x01;
			if (codec_open_delta(key, aad, sizeof(aad), sealed, slen, out, sizeof(out), &plen, &plain) == CODEC_OK)
				all_detected = 0;
			sealed[i] ^= 0x01;
		}
		CHECK(all_detected, "every flipped bit of a delta record is detected (its flag and length too)");
		CHECK(codec_seal_delta(key, aad, sizeof(aad), payload, CODEC_ID_LEN, 10, sealed, &slen) == CODEC_ERR_CAPACITY,
			  "a delta record without a patch is refused");
		CHECK(codec_open_delta(key, aad, sizeof(aad), sealed, CODEC_OVERHEAD + CODEC_ID_LEN, out, sizeof(out), &plen,
							   &plain) != CODEC_OK, "a delta record too short for a base id is refused");
		CHECK(codec_seal(key, aad, sizeof(aad), payload, 64, sealed, &slen, scratch) == CODEC_OK &&
			  !codec_is_delta(sealed, slen) &&
			  codec_open_delta(key, aad, sizeof(aad), sealed, slen, out, sizeof(out), &plen, &plain) == CODEC_ERR_HEADER,
			  "codec_open_delta refuses a whole chunk");
	}
}

static void
test_ids_and_wrap(void)
{
	uint8_t		key[CODEC_KEY_LEN];
	uint8_t		id1[CODEC_ID_LEN];
	uint8_t		id2[CODEC_ID_LEN];
	uint8_t		secret[64];
	uint8_t		back[64];
	uint8_t		wrapped[64 + CODEC_WRAP_OVERHEAD];
	const char *msg = "what do ya want for nothing?";

	/*
	 * Known answer: HMAC-SHA256 with a 32-byte key of 0x0b bytes over the
	 * message above, as computed by `openssl dgst -sha256 -mac HMAC -macopt
	 * hexkey:0b0b...0b` (32 bytes of 0b).
	 */
	static const uint8_t expect[CODEC_ID_LEN] = {
		0xc3, 0xf2, 0x64, 0x9c, 0x34, 0xea, 0x24, 0xe4, 0xd6, 0x2a, 0x2c, 0x7e, 0x86, 0x8b, 0xbe, 0xa0,
		0x23, 0x3c, 0x9d, 0x4c, 0x2c, 0xc3, 0x00, 0x79, 0x4d, 0xb7, 0x6a, 0xa1, 0x8d, 0x68, 0x22, 0xd8
	};

	memset(key, 0x0b, sizeof(key));
	CHECK(codec_chunk_id(key, (const uint8_t *) msg, strlen(msg), id1) == CODEC_OK, "chunk id computed");
	CHECK(memcmp(id1, expect, CODEC_ID_LEN) == 0, "HMAC-SHA256 known answer");
	CHECK(codec_chunk_id(key, (const uint8_t *) msg, strlen(msg), id2) == CODEC_OK && memcmp(id1, id2, CODEC_ID_LEN) == 0,
		  "same input, same id");
	key[0] ^= 1;
	CHECK(codec_chunk_id(key, (const uint8_t *) msg, strlen(msg), id2) == CODEC_OK && memcmp(id1, id2, CODEC_ID_LEN) != 0,
		  "other key, other id");

	fill_random(secret, sizeof(secret));
	CHECK(codec_wrap(key, (const uint8_t *) "aad", 3, secret, sizeof(secret), wrapped) == CODEC_OK, "wrap");
	CHECK(codec_unwrap(key, (const uint8_t *) "aad", 3, wrapped, sizeof(wrapped), back) == CODEC_OK &&
		  memcmp(secret, back, sizeof(secret)) == 0, "unwrap round trip");
	CHECK(codec_unwrap(key, (const uint8_t *) "aaX", 3, wrapped, sizeof(wrapped), back) == CODEC_ERR_AUTH, "unwrap with other aad fails");
	wrapped[20] ^= 1;
	CHECK(codec_unwrap(key, (const uint8_t *) "aad", 3, wrapped, sizeof(wrapped), back) == CODEC_ERR_AUTH, "tampered wrap fails");
	CHECK(codec_unwrap(key, (const uint8_t *) "aad", 3, wrapped, 10, back) == CODEC_ERR_TOO_SHORT, "short wrap refused");
}

int
main(void)
{
	test_chunker();
	test_chunker_reference();
	test_chunker_hints();
	test_codec();
	test_ids_and_wrap();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
