-- delta chunks: after a scattered update every chunk of a table holds a
-- changed row; the vault stores each such chunk as a patch against the
-- chunk that held the same stretch in the previous point (its base, always
-- a whole chunk), and reads the base back for restore, verify and export.
SET client_min_messages = warning;
CREATE TABLE public.dl_t (id int PRIMARY KEY, qty int NOT NULL, note text NOT NULL);
INSERT INTO public.dl_t
SELECT g, g % 50, 'order ' || g || ' for customer ' || (g % 977) || ' ' || repeat('-', 40)
FROM generate_series(1, 30000) g;

SELECT vault_create('dl');
SELECT vault_configure('dl', soft_delete => 'off');
CREATE TABLE dl_points (n int PRIMARY KEY, point bigint, stored bigint);

-- six points: the table as it was, then after each of five 1% scattered
-- updates (a different hundredth of the rows each time); a copy of each
-- state is kept to compare the restores with.  The first point expires in
-- a day; zstd replaces lz4 after the third point.
SELECT vault_backup('dl', 'public.dl_t', retain_until => now() + interval '1 day') AS p \gset
INSERT INTO dl_points SELECT 1, :p, stored_bytes FROM vault_vaults WHERE vault = 'dl';
CREATE TABLE public.dl_c1 AS SELECT * FROM public.dl_t;
DO $$
DECLARE
	k int;
	p bigint;
BEGIN
	FOR k IN 2..6 LOOP
		UPDATE public.dl_t SET qty = qty + k WHERE id % 100 = k * 17 % 100;
		EXECUTE format('CREATE TABLE public.dl_c%s AS SELECT * FROM public.dl_t', k);
		IF k = 4 THEN
			PERFORM vault_configure('dl', compression => 'zstd');
		END IF;
		p := vault_backup('dl', 'public.dl_t');
		INSERT INTO dl_points SELECT k, p, stored_bytes FROM vault_vaults WHERE vault = 'dl';
	END LOOP;
END $$;

-- each later point: most new chunks are deltas, and it adds a small
-- fraction of what the first point stored (without deltas: no delta and
-- about the whole first point again, every chunk holding a changed row).
-- The vault's keys are random, so are its cuts: over 30 vaults the points
-- were 85-100 % deltas and added 1-10 % (most after the switch to zstd,
-- which stores whole again the chunks whose delta grew past half of
-- zstd's smaller encoding); the bounds leave room for that spread.
SELECT d.n, r.delta_chunks > 0 AS has_deltas,
	   r.delta_chunks * 10 >= r.new_chunks * 7 AS mostly_deltas,
	   (d.stored - prev.stored) * 5 < first.stored AS adds_under_a_fifth
FROM dl_points d
JOIN vault_recovery_points r ON r.recovery_point = d.point
JOIN dl_points prev ON prev.n = d.n - 1
JOIN dl_points first ON first.n = 1
ORDER BY d.n;
SELECT delta_chunks FROM vault_recovery_points r JOIN dl_points d ON d.point = r.recovery_point WHERE d.n = 1;

-- chains are one step long: no base is itself a delta
SELECT count(*) AS bases_that_are_deltas
FROM vault_internal.chunks d JOIN vault_internal.chunks b ON b.chunk_no = d.base_no
WHERE b.base_no IS NOT NULL;

-- every point restores to the table as it was, and verifies
CREATE FUNCTION pg_temp.dl_differs(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE format('SELECT (SELECT count(*) FROM (TABLE %s EXCEPT ALL TABLE %s) x)
						 + (SELECT count(*) FROM (TABLE %s EXCEPT ALL TABLE %s) y)', a, b, b, a) INTO n;
	RETURN n;
END $$;
CREATE FUNCTION pg_temp.dl_check(first int) RETURNS TABLE(n int, restored_differs bigint, verified boolean)
LANGUAGE plpgsql AS $$
DECLARE d record;
BEGIN
	FOR d IN SELECT * FROM dl_points WHERE dl_points.n >= first ORDER BY dl_points.n LOOP
		EXECUTE 'DROP TABLE IF EXISTS public.dl_r';
		PERFORM vault_restore(d.point, 'public.dl_r');
		n := d.n;
		restored_differs := pg_temp.dl_differs('public.dl_r', format('public.dl_c%s', d.n)::regclass);
		SELECT v.ok INTO verified FROM vault_verify(d.point) v;
		RETURN NEXT;
	END LOOP;
	DROP TABLE public.dl_r;
END $$;
SELECT * FROM pg_temp.dl_check(1);

-- export hands out the plain stream of a point made of deltas
SELECT sum(length(c)) = (SELECT logical_bytes FROM vault_recovery_points r JOIN dl_points d
						 ON d.point = r.recovery_point WHERE d.n = 6) AS export_whole
FROM vault_export((SELECT point FROM dl_points WHERE n = 6)) c;

-- the database itself refuses to remove a base a delta needs
DO $$
BEGIN
	DELETE FROM vault_internal.chunks WHERE chunk_no = (SELECT min(base_no) FROM vault_internal.chunks);
	RAISE NOTICE 'a base was removed';
EXCEPTION WHEN foreign_key_violation THEN
	RAISE WARNING 'removing a base: %', SQLSTATE;
END $$;

-- a damaged base: verify of every point reports exactly the chunks that
-- depend on it (the base itself where the point lists it, and every delta
-- made against it), and a restore refuses
SELECT base_no AS dl_base FROM vault_internal.chunks c JOIN vault_internal.vaults v USING (vault_id)
WHERE v.name = 'dl' AND base_no IS NOT NULL GROUP BY base_no ORDER BY count(*) DESC, base_no LIMIT 1 \gset
UPDATE vault_internal.chunks SET data = set_byte(data, 40, get_byte(data, 40) # 1) WHERE chunk_no = :dl_base;
SELECT d.n, v.bad_chunks = x.depends AS reports_exactly_its_dependents, x.depends > 0 AS has_dependents,
	   v.ok
FROM dl_points d
CROSS JOIN LATERAL vault_verify(d.point) v
CROSS JOIN LATERAL (SELECT count(*) AS depends
					FROM vault_internal.manifests m, unnest(m.chunk_nos) u(no)
					JOIN vault_internal.chunks c ON c.chunk_no = u.no
					WHERE m.point_id = d.point AND (c.chunk_no = :dl_base OR c.base_no = :dl_base)) x
ORDER BY d.n;
SELECT v.detail LIKE '%needs base chunk ' || :dl_base || ', which%' AS names_the_base
FROM vault_verify((SELECT point FROM dl_points WHERE n = 6)) v;
DO $$
BEGIN
	PERFORM vault_restore((SELECT point FROM dl_points WHERE n = 6), 'public.dl_bad');
EXCEPTION WHEN data_corrupted THEN
	RAISE WARNING 'restore through a damaged base: %', SQLSTATE;
END $$;
SELECT to_regclass('public.dl_bad') IS NULL AS nothing_restored;
UPDATE vault_internal.chunks SET data = set_byte(data, 40, get_byte(data, 40) # 1) WHERE chunk_no = :dl_base;

-- the first point expires: its chunks that are bases stay, every later
-- point still restores
SELECT count(*) > 0 AS first_point_has_bases FROM vault_internal.chunks c
WHERE c.chunk_no IN (SELECT u FROM vault_internal.manifests m, unnest(m.chunk_nos) u
					 WHERE m.point_id = (SELECT point FROM dl_points WHERE n = 1))
  AND EXISTS (SELECT 1 FROM vault_internal.chunks d WHERE d.base_no = c.chunk_no);
SELECT points_expired
FROM vault_apply_retention(now() + interval '2 days') WHERE vault = 'dl';
DELETE FROM dl_points WHERE n = 1 RETURNING n AS expired;
SELECT count(*) AS bases_missing FROM vault_internal.chunks d
WHERE d.base_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vault_internal.chunks b WHERE b.chunk_no = d.base_no);
SELECT * FROM pg_temp.dl_check(2);

-- collection looks only at the chunks the removed points referenced (1.1:
-- queued as their manifests go); what it leaves is what a full recount
-- keeps: each chunk a manifest references or a kept delta needs, no other,
-- and nothing left queued
CREATE FUNCTION pg_temp.dl_left() RETURNS TABLE(chunks bigint, unneeded bigint, queued bigint)
LANGUAGE sql AS $$
WITH v AS (SELECT vault_id FROM vault_internal.vaults WHERE name = 'dl'),
used AS (SELECT DISTINCT u AS chunk_no FROM vault_internal.manifests m
		 JOIN vault_internal.points p USING (point_id), unnest(m.chunk_nos) u
		 WHERE p.vault_id = (SELECT vault_id FROM v)),
needed AS (SELECT chunk_no FROM used
		   UNION SELECT c.base_no FROM vault_internal.chunks c JOIN used USING (chunk_no) WHERE c.base_no IS NOT NULL)
SELECT (SELECT count(*) FROM vault_internal.chunks WHERE vault_id = (SELECT vault_id FROM v)),
	   (SELECT count(*) FROM vault_internal.chunks c WHERE c.vault_id = (SELECT vault_id FROM v)
		  AND c.chunk_no NOT IN (SELECT chunk_no FROM needed)),
	   (SELECT count(*) FROM vault_internal.collect_queue WHERE vault_id = (SELECT vault_id FROM v))
$$;
SELECT chunks > 0 AS has_chunks, unneeded, queued FROM pg_temp.dl_left();

-- a deletion rolled back takes nothing with it: points, chunks and queue
-- are as they were
SELECT chunks AS dl_chunks_before FROM pg_temp.dl_left() \gset
BEGIN;
SELECT vault_delete_recovery_point((SELECT point FROM dl_points WHERE n = 6));
SELECT chunks < :dl_chunks_before AS collected_in_the_transaction, unneeded, queued FROM pg_temp.dl_left();
ROLLBACK;
SELECT chunks = :dl_chunks_before AS all_back, unneeded, queued FROM pg_temp.dl_left();
SELECT * FROM pg_temp.dl_check(6);

-- soft delete and purge of a middle point keep the bases too
SELECT vault_configure('dl', soft_delete => 'on');
SELECT vault_delete_recovery_point((SELECT point FROM dl_points WHERE n = 3));
SELECT points_purged FROM vault_purge(now() + interval '15 days') WHERE vault = 'dl';
DELETE FROM dl_points WHERE n = 3 RETURNING n AS purged;
SELECT * FROM pg_temp.dl_check(2);
SELECT chunks > 0 AS has_chunks, unneeded, queued FROM pg_temp.dl_left();

-- clean up
SELECT vault_configure('dl', soft_delete => 'off');
SELECT vault_unprotect('dl', 'public.dl_t', true);
SELECT chunks, unneeded, queued FROM pg_temp.dl_left();
SELECT vault_drop('dl');
DROP TABLE public.dl_t, public.dl_c1, public.dl_c2, public.dl_c3, public.dl_c4, public.dl_c5, public.dl_c6,
	dl_points;
RESET client_min_messages;
