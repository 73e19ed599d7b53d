-- compression: lz4 (the default) or zstd at a level, per vault, for the
-- chunks stored from then on; each sealed chunk says its codec, so a point
-- mixes both and every point restores and verifies whatever the setting.
SET client_min_messages = warning;
CREATE TABLE public.cz_t AS
SELECT g AS id, 'customer ' || (g % 977) || ' ordered ' || (g % 13) || ' items' AS v, g * 1.5 AS amount
FROM generate_series(1, 20000) g;
CREATE TABLE public.cz_copy1 AS SELECT * FROM public.cz_t;

SELECT vault_create('cz');
SELECT vault, compression FROM vault_vaults WHERE vault = 'cz';
-- the values, and the refusals
SELECT vault_configure('cz', compression => 'gzip');
SELECT vault_configure('cz', compression => 'zstd:0');
SELECT vault_configure('cz', compression => 'zstd:20');
SELECT vault_configure('cz', compression => 'zstd:3x');
SELECT vault_configure('cz', compression => 'ZSTD');
SELECT vault_configure('cz', compression => 'zstd:19');
SELECT vault_configure('cz', compression => 'zstd');
SELECT vault_configure('cz', compression => 'lz4');
SELECT vault, compression FROM vault_vaults WHERE vault = 'cz';

-- a point under lz4, then one under zstd after the table changed
SELECT vault_backup('cz', 'public.cz_t') AS p1 \gset
SELECT vault_configure('cz', compression => 'zstd:9');
UPDATE public.cz_t SET v = v || ' and paid' WHERE id % 10 = 0;
CREATE TABLE public.cz_copy2 AS SELECT * FROM public.cz_t;
SELECT vault_backup('cz', 'public.cz_t') AS p2 \gset
-- the chunks of both codecs (header flags: 1 lz4, 2 zstd; 4 the rows the
-- update changed, stored as deltas against their p1 chunks)
SELECT get_byte(c.data, 4) AS codec_flag, count(*) > 0 AS has_chunks
FROM vault_internal.chunks c JOIN vault_internal.vaults v USING (vault_id)
WHERE v.name = 'cz' GROUP BY 1 ORDER BY 1;
SELECT ok FROM vault_verify(:p1);
SELECT ok FROM vault_verify(:p2);
SELECT vault_restore(:p1, 'public.cz_r1');
SELECT vault_restore(:p2, 'public.cz_r2');
SELECT (SELECT count(*) FROM (SELECT * FROM public.cz_r1 EXCEPT ALL SELECT * FROM public.cz_copy1) d)
	 + (SELECT count(*) FROM (SELECT * FROM public.cz_copy1 EXCEPT ALL SELECT * FROM public.cz_r1) d) AS p1_differs,
	   (SELECT count(*) FROM (SELECT * FROM public.cz_r2 EXCEPT ALL SELECT * FROM public.cz_copy2) d)
	 + (SELECT count(*) FROM (SELECT * FROM public.cz_copy2 EXCEPT ALL SELECT * FROM public.cz_r2) d) AS p2_differs;
-- back to lz4: the zstd chunks still read
SELECT vault_configure('cz', compression => 'lz4');
SELECT vault_restore(:p2, 'public.cz_r3');
SELECT count(*) = 20000 AS p2_again FROM public.cz_r3;

-- the same table in a zstd vault and an lz4 vault: zstd stores less
SELECT vault_create('cz_l');
SELECT vault_create('cz_z');
SELECT vault_configure('cz_z', compression => 'zstd:19');
SELECT vault_backup('cz_l', 'public.cz_copy1') > 0, vault_backup('cz_z', 'public.cz_copy1') > 0;
SELECT z.stored_bytes < l.stored_bytes AS zstd_smaller
FROM vault_vaults z, vault_vaults l WHERE z.vault = 'cz_z' AND l.vault = 'cz_l';
SELECT operation, detail FROM vault_audit WHERE vault = 'cz' AND operation = 'configure' ORDER BY at, detail;

-- clean up
SELECT vault_configure(v, soft_delete => 'off') FROM unnest(ARRAY['cz', 'cz_l', 'cz_z']) v;
SELECT vault_unprotect('cz', 'public.cz_t', true);
SELECT vault_unprotect('cz_l', 'public.cz_copy1', true), vault_unprotect('cz_z', 'public.cz_copy1', true);
SELECT vault_drop(v) FROM unnest(ARRAY['cz', 'cz_l', 'cz_z']) v;
DROP TABLE public.cz_t, public.cz_copy1, public.cz_copy2, public.cz_r1, public.cz_r2, public.cz_r3;
RESET client_min_messages;
