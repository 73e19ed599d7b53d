/*
 * test_delta.c: unit tests of the delta patches (src/pure/delta.c): round
 * trips, a patch much smaller than the chunk for a 1% change, and clean
 * errors for a wrong base, a truncated or flipped patch, a huge claimed
 * size and a small output buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "delta.h"

#include "check.h"

static uint32_t rng_state = 1;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return rng_state >> 8;
}

/* a chunk of table-like rows: "id,amount,name;" with some randomness */
static void
fill_rows(uint8_t *p, size_t len, uint32_t seed)
{
	size_t		i = 0;

	rng_state = seed;
	while (i < len)
	{
		char		row[64];
		int			n = snprintf(row, sizeof(row), "%u,%u.%02u,customer-%u;", (unsigned) i,
								 rng() % 10000, rng() % 100, rng() % 5000);

		for (int k = 0; k < n && i < len; k++)
			p[i++] = (uint8_t) row[k];
	}
}

int
main(void)
{
	size_t		sizes[] = {0, 1, 100, 4096, 65536, 262144};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		size_t		len = sizes[s];
		uint8_t    *base = malloc(len + 1);
		uint8_t    *target = malloc(len + 1);
		uint8_t    *other = malloc(len + 1);
		size_t		cap = delta_bound(len);
		uint8_t    *patch = malloc(cap);
		uint8_t    *out = malloc(len + 1);
		size_t		plen = 0, olen = 0, tlen = 0;
		size_t		changed = 0;
		DeltaStatus st;

		fill_rows(base, len, 42);
		memcpy(target, base, len);
		/* one byte in a hundred changed, scattered */
		for (size_t i = 7; i < len; i += 100)
		{
			target[i] = (uint8_t) (target[i] ^ 0x5a);
			changed++;
		}
		memcpy(other, base, len);
		if (len > 0)
			other[len / 2] ^= 1;	/* one byte away from the base */

		st = delta_encode(base, len, target, len, 3, patch, cap, &plen);
		CHECK(st == DELTA_OK, "encode %zu bytes: %s", len, delta_strerror(st));
		CHECK(delta_target_length(patch, plen, &tlen) == DELTA_OK && tlen == len, "target length recorded");
		st = delta_decode(base, len, patch, plen, out, len, &olen);
		CHECK(st == DELTA_OK && olen == len && memcmp(out, target, len) == 0,
			  "round trip %zu bytes: %s", len, delta_strerror(st));
		if (len >= 65536)
		{
			size_t		plain = ZSTD_compress(out, len, target, len, 3);

			CHECK(!ZSTD_isError(plain) && plen * 4 < plain,
				  "a 1%% change of %zu bytes: patch %zu bytes against %zu for zstd alone", len, plen, plain);
		}
		if (len > 0)
		{
			/* another base of the same length */
			CHECK(delta_decode(other, len, patch, plen, out, len, &olen) == DELTA_ERR_BASE,
				  "a wrong base of the same length refused (%zu)", len);
			CHECK(delta_decode(base, len - 1, patch, plen, out, len, &olen) == DELTA_ERR_BASE,
				  "a shorter base refused (%zu)", len);
			CHECK(delta_decode(base, len, patch, plen, out, len - 1, &olen) == DELTA_ERR_CAPACITY,
				  "a small output buffer refused (%zu)", len);
		}
		/* truncated anywhere: an error, never the target */
		{
			int			all = 1;

			for (size_t cut = 0; cut < plen; cut += plen > 200 ? plen / 97 : 1)
				if (delta_decode(base, len, patch, cut, out, len, &olen) == DELTA_OK)
					all = 0;
			CHECK(all, "every truncation of a %zu-byte patch refused", plen);
		}
		/* a flipped byte in the frame: the checksum or the decoder says so */
		if (plen > DELTA_HEADER_LEN + 4)
		{
			int			all = 1;

			for (size_t i = DELTA_HEADER_LEN; i < plen; i += plen > 400 ? plen / 89 : 1)
			{
				patch[i] ^= 0x10;
				if (delta_decode(base, len, patch, plen, out, len, &olen) == DELTA_OK &&
					memcmp(out, target, len) != 0)
					all = 0;
				patch[i] ^= 0x10;
			}
			CHECK(all, "no flipped byte of a %zu-byte patch decodes to something else", plen);
		}
		free(base);
		free(target);
		free(other);
		free(patch);
		free(out);
	}

	/* headers */
	{
		uint8_t		p[64] = {0};
		uint8_t		out[16];
		size_t		olen;
		size_t		tlen;

		CHECK(delta_decode(p, 0, p, 10, out, sizeof(out), &olen) == DELTA_ERR_TOO_SHORT, "too short");
		CHECK(delta_decode(p, 0, p, sizeof(p), out, sizeof(out), &olen) == DELTA_ERR_MAGIC, "bad magic");
		memcpy(p, "VDL1", 4);
		p[7] = 0x7f;			/* a target of 2 GB */
		CHECK(delta_target_length(p, sizeof(p), &tlen) == DELTA_ERR_HEADER, "a huge claimed target refused");
		p[7] = 0;
		p[4] = 200;				/* 200 bytes into a 16-byte buffer */
		CHECK(delta_decode(p, 0, p, sizeof(p), out, sizeof(out), &olen) == DELTA_ERR_CAPACITY,
			  "a target past the buffer refused");
		p[4] = 8;
		p[21] = 1;
		CHECK(delta_target_length(p, sizeof(p), &tlen) == DELTA_ERR_HEADER, "reserved bytes must be zero");
		p[21] = 0;
		CHECK(delta_decode(p, 0, p, sizeof(p), out, sizeof(out), &olen) == DELTA_ERR_BASE,
			  "a base hash that does not match refused");
		CHECK(delta_encode(p, 4, p, 4, 20, out, sizeof(out), &olen) == DELTA_ERR_CAPACITY, "level 20 refused");
	}
	/*
	 * The match finder on what backups meet: binary COPY rows of a
	 * pgbench-like table (a 4-byte key, then the same filler), every 100th
	 * row gone and every 150th changed in place, a few new rows added; the
	 * patch needs a sequence per difference, not one per row.
	 */
	{
		size_t		cap = 300000;
		uint8_t    *base = malloc(cap);
		uint8_t    *target = malloc(cap);
		uint8_t    *out = malloc(cap);
		uint8_t    *patch = malloc(delta_bound(cap));
		DeltaSequence *seqs = malloc(sizeof(DeltaSequence) * (cap / 32 + 1));
		size_t		blen = 0, tlen = 0, plen = 0, olen = 0, nseq;
		DeltaAlign	align;
		int			diffs = 0;

		for (uint32_t aid = 1; blen + 100 < 262144; aid++)
		{
			uint8_t		row[100];
			size_t		n = 0;

			row[n++] = 0;
			row[n++] = 4;
			for (int f = 0; f < 3; f++)
			{
				uint32_t	v = f == 0 ? aid : f == 1 ? aid / 1000 + 1 : 0;

				row[n++] = 0, row[n++] = 0, row[n++] = 0, row[n++] = 4;
				row[n++] = (uint8_t) (v >> 24), row[n++] = (uint8_t) (v >> 16);
				row[n++] = (uint8_t) (v >> 8), row[n++] = (uint8_t) v;
			}
			row[n++] = 0, row[n++] = 0, row[n++] = 0, row[n++] = 60;
			memset(row + n, ' ', 60);
			n += 60;
			memcpy(base + blen, row, n);
			blen += n;
			if (aid % 100 == 37)
			{
				diffs++;
				continue;		/* deleted */
			}
			if (aid % 150 == 11)
			{
				row[25] ^= 0x11;	/* balance changed in place */
				diffs++;
			}
			memcpy(target + tlen, row, n);
			tlen += n;
			if (aid % 500 == 250)
			{
				for (size_t k = 0; k < n; k++)
					target[tlen + k] = (uint8_t) rng();	/* a new row */
				tlen += n;
				diffs++;
			}
		}
		nseq = delta_match(base, blen, target, tlen, seqs, cap / 32 + 1, &align);
		CHECK(align.matched * 100 >= tlen * 97, "rows: matches cover %zu of %zu bytes", align.matched, tlen);
		CHECK(align.target_end == tlen && align.base_end == blen, "rows: the last match ends both (%zu of %zu, %zu of %zu)",
			  align.target_end, tlen, align.base_end, blen);
		/* about one per difference (a change next to a gone row may take two), not one per row */
		CHECK(nseq <= (size_t) (2 * diffs), "rows: %zu sequences for %d differences", nseq, diffs);
		CHECK(delta_encode(base, blen, target, tlen, 1, patch, delta_bound(cap), &plen) == DELTA_OK &&
			  delta_decode(base, blen, patch, plen, out, cap, &olen) == DELTA_OK &&
			  olen == tlen && memcmp(out, target, tlen) == 0, "rows: round trip");
		CHECK(plen * 100 < tlen, "rows: patch %zu bytes for %zu (%d differences)", plen, tlen, diffs);
		printf("delta rows: %zu sequences, patch %zu bytes for a %zu-byte chunk with %d differences\n",
			   nseq, plen, tlen, diffs);

		/* a block moved to the front, then unrelated bytes: still exact */
		memcpy(target, base + blen / 2, blen / 4);
		memcpy(target + blen / 4, base, blen / 2);
		tlen = blen / 4 + blen / 2;
		for (size_t k = 0; k < 5000; k++)
			target[tlen++] = (uint8_t) rng();
		CHECK(delta_encode(base, blen, target, tlen, 1, patch, delta_bound(cap), &plen) == DELTA_OK &&
			  delta_decode(base, blen, patch, plen, out, cap, &olen) == DELTA_OK &&
			  olen == tlen && memcmp(out, target, tlen) == 0, "moved block and new bytes: round trip");
		free(base);
		free(target);
		free(out);
		free(patch);
		free(seqs);
	}
	printf("delta: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
