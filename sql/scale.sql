-- scale: the lookups a restore, a verify, a backup's dedup and a chunk
-- collection make per chunk or per table go through an index, so they cost
-- the same in a vault of 2 million chunks as in one of 2 thousand (make
-- bench-scale measures it).  Each statement is the one the code prepares
-- (src/store/chunk_store.c, src/store/removal.c), planned generically as
-- the code's prepared plans may be, with sequential scans off: on tables
-- this small the planner would rightly prefer them, and a statement no
-- index serves shows one anyway.
SET client_min_messages = warning;
SET enable_seqscan = off;
SET max_parallel_workers_per_gather = 0;	-- the code's statements run in one backend
SET plan_cache_mode = force_generic_plan;

-- dedup: is a chunk with this id in the vault?
PREPARE lookup(bigint, bytea) AS
  SELECT chunk_no FROM vault_internal.chunks WHERE vault_id = $1 AND chunk_id = $2;
EXPLAIN (COSTS OFF) EXECUTE lookup(1, '\x00');
-- restore and verify: one chunk, and a manifest segment
PREPARE fetch_chunk(bigint, bigint) AS
  SELECT chunk_id, data, base_no FROM vault_internal.chunks WHERE chunk_no = $1 AND vault_id = $2;
EXPLAIN (COSTS OFF) EXECUTE fetch_chunk(1, 1);
PREPARE segment(bigint, int, int) AS
  SELECT chunk_nos FROM vault_internal.manifests WHERE point_id = $1 AND ordinal = $2 AND segment = $3;
EXPLAIN (COSTS OFF) EXECUTE segment(1, 1, 0);
-- deltas: the previous stream's chunks, by number (the code checks that
-- each is the vault's)
PREPARE track(bigint[]) AS
  SELECT chunk_no, base_no, plain_len, cut_hash, vault_id
  FROM vault_internal.chunks WHERE chunk_no = ANY ($1);
EXPLAIN (COSTS OFF) EXECUTE track('{1,2}');
-- collection: does any manifest reference this chunk, does any delta need it
PREPARE referenced(bigint) AS
  SELECT 1 FROM vault_internal.manifests m WHERE m.chunk_nos @> ARRAY[$1];
EXPLAIN (COSTS OFF) EXECUTE referenced(1);
PREPARE needed(bigint) AS
  SELECT 1 FROM vault_internal.chunks d WHERE d.base_no = $1;
EXPLAIN (COSTS OFF) EXECUTE needed(1);
-- a backup's look for the newest earlier proof of its table (how new a
-- page it may still cover, then the stream to reuse): the table's points
-- newest first, a page of 32 at a time, stopping at the first that serves,
-- never a read of every point the table ever had (src/stream/unchanged.c;
-- its conditions are columns: as filters, their estimate made the planner
-- sort the table's whole history).  A table with a few points has them
-- sorted, as cheap; past a few dozen the planner walks the index, which
-- sorting turned off shows here on the few rows these tests leave
SET enable_sort = off;
PREPARE newest_proof(bigint, oid, jsonb, bytea, bigint) AS
  SELECT t.point_id,
		 t.definition = $3 AND t.page_digest IS NOT NULL
		   AND ($4::bytea IS NULL OR t.page_digest = $4),
		 (SELECT p.scan_lsn FROM vault_internal.points p
		  WHERE p.point_id = t.point_id AND p.vault_id = $1 AND p.state = 'available')
  FROM vault_internal.point_tables t
  WHERE t.source_oid = $2 AND t.point_id < $5
  ORDER BY t.point_id DESC LIMIT 32;
EXPLAIN (COSTS OFF) EXECUTE newest_proof(1, 1, '{}', NULL, 9223372036854775807);
RESET enable_sort;
DEALLOCATE ALL;
RESET plan_cache_mode;
RESET max_parallel_workers_per_gather;
RESET enable_seqscan;

-- the figures vault_vaults shows are kept as they change (a ledger per
-- vault); after every kind of change they equal a full recount, which
-- vault_check makes
SELECT vault_create('sc');
CREATE TABLE public.sc_t (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO public.sc_t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
CREATE FUNCTION pg_temp.sc_check(what text) RETURNS TABLE(after text, figures bigint, drifted bigint)
LANGUAGE sql AS $$
SELECT what, count(*), count(*) FILTER (WHERE NOT ok) FROM vault_check('sc')
$$;
SELECT * FROM pg_temp.sc_check('nothing yet');
SELECT vault_backup('sc', 'public.sc_t') AS sc_p1 \gset
SELECT * FROM pg_temp.sc_check('a backup');
SELECT vault_backup('sc', 'public.sc_t') > 0 AS unchanged_reused;
SELECT * FROM pg_temp.sc_check('an unchanged table''s backup');
CREATE TABLE public.sc_copy AS SELECT * FROM public.sc_t;
SELECT vault_backup('sc', 'public.sc_copy') > 0 AS deduplicated;
SELECT * FROM pg_temp.sc_check('a backup of a copy (every chunk deduplicated)');
UPDATE public.sc_t SET v = v || '!' WHERE id % 100 = 7;
SELECT vault_backup('sc', 'public.sc_t') > 0 AS deltas;
SELECT * FROM pg_temp.sc_check('a scattered update''s backup (deltas)');
CREATE SCHEMA sc_s;
CREATE TABLE sc_s.a AS SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE sc_s.b AS SELECT g, g::text AS t FROM generate_series(1, 1000) g;
SELECT vault_backup_schema('sc', 'sc_s') > 0 AS schema_point;
SELECT * FROM pg_temp.sc_check('a schema point');
BEGIN;
SELECT vault_backup('sc', 'public.sc_copy') > 0 AS rolled_back;
ROLLBACK;
SELECT * FROM pg_temp.sc_check('a backup rolled back');
\set VERBOSITY terse
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET min_parallel_table_scan_size = 0;
SET vault.parallel_range_size = 4;
SET vault.debug_parallel_fail = 1;
SELECT vault_backup('sc', 'public.sc_t', parallel => 2);
ROLLBACK;
\set VERBOSITY default
SELECT * FROM pg_temp.sc_check('a backup that failed');
-- soft delete, undelete, expiry, purge
SELECT vault_delete_recovery_point(:sc_p1);
SELECT * FROM pg_temp.sc_check('a point soft-deleted');
SELECT vault_undelete_point(:sc_p1);
SELECT * FROM pg_temp.sc_check('the point undeleted');
SELECT vault_backup('sc', 'public.sc_copy', retain_until => now() + interval '1 day') > 0 AS expiring;
SELECT points_expired FROM vault_apply_retention(now() + interval '2 days') WHERE vault = 'sc';
SELECT * FROM pg_temp.sc_check('an expiry');
SELECT vault_delete_recovery_point(:sc_p1);
SELECT points_purged FROM vault_purge(now() + interval '15 days') WHERE vault = 'sc';
SELECT * FROM pg_temp.sc_check('a purge');
-- what the deletions recorded for the items' shares went with the collection
SELECT vault_delete_recovery_point(max(recovery_point)) FROM vault_recovery_points WHERE vault = 'sc' AND item = 'sc_s';
SELECT points_purged FROM vault_purge(now() + interval '15 days') WHERE vault = 'sc';
SELECT count(*) AS share_gone_left FROM vault_internal.share_gone;
SELECT * FROM pg_temp.sc_check('a second purge');
SELECT count(*) AS ledger_rows FROM vault_internal.vault_usage u JOIN vault_internal.vaults v USING (vault_id)
WHERE v.name = 'sc';

-- what vault_vaults shows is the maintained figure
SELECT v.recovery_points = (SELECT count(*) FROM vault_recovery_points WHERE vault = 'sc') AS points_agree,
	   v.chunks = (SELECT recounted FROM vault_check('sc') WHERE figure = 'chunks') AS chunks_agree,
	   v.stored_bytes = (SELECT sum(recounted) FROM vault_check('sc')
						 WHERE figure IN ('chunk bytes', 'manifest bytes')) AS stored_bytes_agree
FROM vault_vaults v WHERE v.vault = 'sc';
-- and each item's point count in vault_items is its kept one (item_usage)
SELECT count(*) AS items,
	   count(*) FILTER (WHERE i.recovery_points = (SELECT count(*) FROM vault_internal.points p
												  WHERE p.item_id = i.item_id)) AS items_agree
FROM vault_items i WHERE i.vault = 'sc';

-- a drift is reported, with both figures
UPDATE vault_internal.vault_usage SET chunks = chunks + 3
WHERE vault_id = (SELECT vault_id FROM vault_internal.vaults WHERE name = 'sc');
SELECT figure, maintained - recounted AS drift, ok FROM vault_check('sc') WHERE NOT ok;
UPDATE vault_internal.vault_usage SET chunks = chunks - 3
WHERE vault_id = (SELECT vault_id FROM vault_internal.vaults WHERE name = 'sc');
DELETE FROM vault_internal.collect_queue;
INSERT INTO vault_internal.chunks (vault_id, chunk_id, plain_len, stored_len, data)
SELECT vault_id, '\x01', 1, 1, '\x00' FROM vault_internal.vaults WHERE name = 'sc';
SELECT figure, maintained - recounted AS drift, ok FROM vault_check('sc') WHERE NOT ok ORDER BY figure;
DELETE FROM vault_internal.chunks WHERE chunk_id = '\x01';
INSERT INTO vault_internal.item_usage (item_id, points)
SELECT item_id, 2 FROM vault_internal.items WHERE name = 'public.sc_t';
SELECT figure, maintained - recounted AS drift, ok FROM vault_check('sc') WHERE NOT ok;
SELECT i.recovery_points - (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id)
	   AS shown_drift
FROM vault_items i WHERE i.vault = 'sc' AND i.name = 'public.sc_t';
INSERT INTO vault_internal.item_usage (item_id, points)
SELECT item_id, -2 FROM vault_internal.items WHERE name = 'public.sc_t';
SELECT count(*) FILTER (WHERE NOT ok) AS drifted FROM vault_check('sc');
UPDATE vault_internal.item_shares SET bytes = bytes + 5
WHERE item_id = (SELECT item_id FROM vault_internal.items WHERE name = 'public.sc_copy');
SELECT figure, maintained - recounted AS drift, ok FROM vault_check('sc') WHERE NOT ok;
UPDATE vault_internal.item_shares SET bytes = bytes - 5
WHERE item_id = (SELECT item_id FROM vault_internal.items WHERE name = 'public.sc_copy');
SELECT count(*) FILTER (WHERE NOT ok) AS drifted FROM vault_check('sc');

-- the daily report's stored bytes of an item are its kept share and its
-- points' manifests; a day reported after later points came (here the
-- vault's first two points moved onto yesterday, the others stay today)
-- has what a count from every manifest of the points made by the day's end
-- gives, and today's rows add up to the vault
CREATE FUNCTION pg_temp.sc_counted(t1 timestamptz) RETURNS TABLE(item text, bytes numeric)
LANGUAGE sql AS $$
WITH pts AS (SELECT p.point_id, p.item_id FROM vault_internal.points p JOIN vault_internal.vaults v USING (vault_id)
			 WHERE v.name = 'sc' AND p.created_at < t1),
d AS (SELECT DISTINCT p.item_id, x.chunk_no FROM pts p JOIN vault_internal.manifests m USING (point_id),
		   LATERAL unnest(m.chunk_nos) AS x(chunk_no)),
r AS (SELECT item_id, chunk_no FROM d
	  UNION SELECT d.item_id, c.base_no FROM d JOIN vault_internal.chunks c USING (chunk_no) WHERE c.base_no IS NOT NULL),
s AS (SELECT r.item_id, sum(c.stored_len / r.n + CASE WHEN r.k <= c.stored_len % r.n THEN 1 ELSE 0 END) AS b
	  FROM (SELECT item_id, chunk_no, count(*) OVER (PARTITION BY chunk_no) AS n,
				   row_number() OVER (PARTITION BY chunk_no ORDER BY item_id) AS k FROM r) r
	  JOIN vault_internal.chunks c USING (chunk_no) GROUP BY r.item_id),
mb AS (SELECT p.item_id, sum(24 + 8 * cardinality(m.chunk_nos)) AS b
	   FROM pts p JOIN vault_internal.manifests m USING (point_id) GROUP BY p.item_id)
SELECT i.name, coalesce(s.b, 0) + coalesce(mb.b, 0)
FROM vault_internal.items i JOIN vault_internal.vaults v USING (vault_id)
LEFT JOIN s USING (item_id) LEFT JOIN mb USING (item_id)
WHERE v.name = 'sc'
$$;
UPDATE vault_internal.points SET created_at = created_at - (date_trunc('day', created_at) - (current_date - 1)::timestamptz)
WHERE point_id IN (SELECT p.point_id FROM vault_internal.points p JOIN vault_internal.vaults v USING (vault_id)
				   WHERE v.name = 'sc' ORDER BY p.point_id LIMIT 2);
SELECT count(*) AS points, count(*) FILTER (WHERE p.created_at < current_date) AS points_yesterday
FROM vault_internal.points p JOIN vault_internal.vaults v USING (vault_id) WHERE v.name = 'sc';
SELECT vault_internal.share_sync();
SELECT vault_internal.report_fill_day(current_date - 1, now());
SELECT vault_internal.report_fill_day(current_date, now());
SELECT count(*) AS items, count(*) FILTER (WHERE r.stored_bytes = c.bytes) AS as_counted,
	   count(*) FILTER (WHERE r.stored_bytes > 0) AS storing,
	   count(*) FILTER (WHERE r.stored_bytes <> t.stored_bytes) AS unlike_today
FROM vault_report_daily r JOIN pg_temp.sc_counted(current_date::timestamptz) c USING (item)
JOIN vault_report_daily t ON t.vault = r.vault AND t.item = r.item AND t.day = current_date
WHERE r.vault = 'sc' AND r.day = current_date - 1;
SELECT count(*) AS items, count(*) FILTER (WHERE r.stored_bytes = c.bytes) AS as_counted
FROM vault_report_daily r JOIN pg_temp.sc_counted('infinity') c USING (item)
WHERE r.vault = 'sc' AND r.day = current_date;
SELECT (SELECT sum(stored_bytes) FROM vault_report_daily WHERE vault = 'sc' AND day = current_date)
	   = stored_bytes AS adds_up
FROM vault_vaults WHERE vault = 'sc';

-- who may check, and what
CREATE ROLE sc_reader;
GRANT vault_reader TO sc_reader;
SELECT vault_grant('sc', 'sc_reader', 'reader');
SET ROLE sc_reader;
SELECT * FROM vault_check('sc');
RESET ROLE;
SELECT * FROM vault_check('nosuch');
SELECT * FROM vault_check(NULL);

-- a vault dropped takes its figures with it
SELECT vault_configure('sc', soft_delete => 'off');
SELECT vault_unprotect('sc', 'public.sc_t', true);
SELECT vault_unprotect('sc', 'public.sc_copy', true);
SELECT vault_unprotect('sc', 'sc_s', true);
SELECT vault_drop('sc');
SELECT count(*) AS ledger_rows_left FROM vault_internal.vault_usage u
WHERE NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = u.vault_id);
SELECT vault_internal.share_sync();
SELECT (SELECT count(*) FROM vault_internal.item_shares s
		WHERE NOT EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.item_id = s.item_id)) AS shares_left,
	   (SELECT count(*) FROM vault_internal.share_refs r
		WHERE NOT EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.item_id = r.item_id)) AS share_refs_left,
	   (SELECT count(*) FROM vault_internal.share_points s
		WHERE NOT EXISTS (SELECT 1 FROM vault_internal.points p WHERE p.point_id = s.point_id)) AS counted_points_left;
DROP SCHEMA sc_s CASCADE;
DROP TABLE public.sc_t, public.sc_copy;
DROP ROLE sc_reader;
