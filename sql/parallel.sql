-- The parallel pipeline: backups read, cut and sealed by background workers
-- hold exactly what the calling backend alone would store, and fall back to
-- it where workers cannot see what the caller sees.
SET client_min_messages = warning;
-- small tables are worth workers here (as parallel query's own tests do)
SET min_parallel_table_scan_size = 0;

SHOW vault.max_parallel_workers;
SET vault.max_parallel_workers = -1;
SELECT vault_create('par');

CREATE SCHEMA par_s;
CREATE TABLE par_s.big AS
  SELECT g AS id, md5(g::text) AS a, g * 1.5 AS n, now()::date - g % 400 AS d,
         jsonb_build_object('g', g, 'tag', md5((g % 7)::text)) AS j
  FROM generate_series(1, 20000) g;
ALTER TABLE par_s.big ADD PRIMARY KEY (id);
CREATE TABLE par_s.small (id int PRIMARY KEY, v text);
INSERT INTO par_s.small SELECT g, repeat('x', g) FROM generate_series(1, 10) g;
CREATE TABLE par_s.empty (id int);
CREATE TABLE par_s.parted (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE par_s.parted_1 PARTITION OF par_s.parted FOR VALUES FROM (1) TO (3000);
CREATE TABLE par_s.parted_2 PARTITION OF par_s.parted FOR VALUES FROM (3000) TO (6000);
CREATE TABLE par_s.parted_3 PARTITION OF par_s.parted FOR VALUES FROM (6000) TO (9000);
INSERT INTO par_s.parted SELECT g, md5(g::text) FROM generate_series(1, 5999) g;

-- the same schema by the backend alone and by two workers: the same rows,
-- bytes and (a table smaller than one range) the same chunks
SELECT vault_backup_schema('par', 'par_s', parallel => 0) AS s0 \gset
-- REPEATABLE READ: no unchanged-table proof, every table is read again
-- (and against its previous stream: the workers send bytes, this backend cuts)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup_schema('par', 'par_s', parallel => 2) AS s2 \gset
COMMIT;
SELECT recovery_point = :s0 AS serial, parallel_workers, tables, rows, new_chunks > 0 AS stored,
       unchanged_tables
FROM vault_recovery_points WHERE recovery_point IN (:s0, :s2) ORDER BY 1 DESC;
SELECT a.table_name, a.rows = b.rows AS same_rows, a.logical_bytes = b.logical_bytes AS same_bytes,
       a.chunks = b.chunks AS same_chunks
FROM vault_internal.point_tables a JOIN vault_internal.point_tables b USING (ordinal)
WHERE a.point_id = :s0 AND b.point_id = :s2 ORDER BY a.ordinal;

-- a copy of a table, new to the vault: the workers cut and seal it, and
-- cut it where the backend cut the original (every chunk is already there)
CREATE TABLE par_s_big_copy AS SELECT * FROM par_s.big;
SELECT vault_backup('par', 'par_s_big_copy', parallel => 2) AS c2 \gset
SELECT parallel_workers, new_chunks, chunks > 0 AS has_chunks
FROM vault_recovery_points WHERE recovery_point = :c2;

-- many small ranges (4 blocks each): sealed chunks arrive from both workers
-- out of order and take their places in order; a range may span partitions
SET vault.parallel_range_size = 4;
SELECT vault_create('par_r');
SELECT vault_backup_schema('par_r', 'par_s', parallel => 2) AS r1 \gset
SELECT parallel_workers, tables, rows FROM vault_recovery_points WHERE recovery_point = :r1;
SELECT ok, bad_chunks FROM vault_verify(:r1);
SELECT vault_restore(:r1, 'par_r1');
SELECT t, (SELECT count(*) FROM (TABLE par_s.big EXCEPT ALL TABLE par_r1.big) x) +
          (SELECT count(*) FROM (TABLE par_r1.big EXCEPT ALL TABLE par_s.big) x) AS big_diff,
       (SELECT count(*) FROM (TABLE par_s.parted EXCEPT ALL TABLE par_r1.parted) x) +
          (SELECT count(*) FROM (TABLE par_r1.parted EXCEPT ALL TABLE par_s.parted) x) AS parted_diff,
       (SELECT count(*) FROM par_r1.parted) AS parted_rows,
       (SELECT count(*) FROM par_r1.small) AS small_rows,
       (SELECT count(*) FROM par_r1.empty) AS empty_rows
FROM (VALUES ('restored')) v(t);

-- the calling backend reads ranges too while its workers have sent it
-- nothing (vault.parallel_leader_participation, on by default), cutting and
-- sealing each as a worker would: a copy of a table backed up by one worker
-- and the caller is cut exactly where two workers alone cut the original
-- (every chunk is already there), and restores equal
SELECT boot_val FROM pg_settings WHERE name = 'vault.parallel_leader_participation';
SELECT vault_create('par_l');
CREATE TABLE par_lead AS SELECT * FROM par_s.big;
SET vault.parallel_leader_participation = off;
SELECT vault_backup('par_l', 'par_lead', parallel => 2) AS l2 \gset
SET vault.parallel_leader_participation = on;
CREATE TABLE par_lead_copy AS SELECT * FROM par_s.big;
SELECT vault_backup('par_l', 'par_lead_copy', parallel => 1) AS l1 \gset
SELECT v.point, p.parallel_workers, p.new_chunks > 0 AS stored_anew,
       p.chunks = (SELECT chunks FROM vault_recovery_points WHERE recovery_point = :l2) AS same_chunks,
       p.rows
FROM (VALUES ('two workers', :l2), ('one worker and the caller', :l1)) v(point, id)
JOIN vault_recovery_points p ON p.recovery_point = v.id ORDER BY v.id;
SELECT ok, bad_chunks FROM vault_verify(:l1);
SELECT vault_restore(:l1, 'par_lead_r');
SELECT (SELECT count(*) FROM (TABLE par_s.big EXCEPT ALL TABLE par_lead_r) x) +
       (SELECT count(*) FROM (TABLE par_lead_r EXCEPT ALL TABLE par_s.big) x) AS diff;
DROP TABLE par_lead, par_lead_copy, par_lead_r;

-- the tables' page digests were taken from the records of the blocks the
-- workers read, range by range: the next point finds each table unchanged
-- (the same digest, taken up front) and reads none
SELECT vault_backup_schema('par_r', 'par_s', parallel => 2) AS r1again \gset
SELECT tables, unchanged_tables, new_chunks FROM vault_recovery_points WHERE recovery_point = :r1again;

-- a scattered update, backed up by workers in small ranges: the previous
-- stream (referenced from r1) was written by workers in ranges of this
-- size, so the workers seal this one too, each range's changed chunks as
-- deltas against the stretch the same range held there; it restores equal
SELECT t.range_blocks, cardinality(t.range_starts) AS marks, t.range_starts[1] AS first_mark,
       t.range_starts = o.range_starts AS copied_with_the_stream
FROM vault_internal.point_tables t JOIN vault_internal.point_tables o ON o.point_id = :r1 AND o.ordinal = t.ordinal
WHERE t.point_id = :r1again AND t.table_name = 'big';
UPDATE par_s.big SET n = n + 1 WHERE id % 100 = 7;
SET client_min_messages = debug1;
SELECT vault_backup('par_r', 'par_s.big', parallel => 2) AS r2 \gset
SET client_min_messages = warning;
SELECT parallel_workers, delta_chunks > 0 AS deltas, delta_chunks * 2 > new_chunks AS mostly_deltas,
       new_bytes * 10 < (SELECT new_bytes FROM vault_recovery_points WHERE recovery_point = :r1) AS small
FROM vault_recovery_points WHERE recovery_point = :r2;
SELECT vault_restore(:r2, 'par_big_r2');
SELECT (SELECT count(*) FROM (TABLE par_s.big EXCEPT ALL TABLE par_s.par_big_r2) x) +
       (SELECT count(*) FROM (TABLE par_s.par_big_r2 EXCEPT ALL TABLE par_s.big) x) AS diff;

-- only a previous stream written by workers in ranges of the size used now
-- is taken range by range; else the workers send the bytes and this backend
-- cuts them (against the same bases).  A range the previous stream did not
-- have (the table grew) is sealed whole.
SELECT vault_create('par_d');
CREATE TABLE par_delta AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 8000) g;
SELECT vault_backup('par_d', 'par_delta', parallel => 0) AS pd0 \gset
UPDATE par_delta SET a = upper(a) WHERE id % 50 = 1;
SET client_min_messages = debug1;
SELECT vault_backup('par_d', 'par_delta', parallel => 2) AS pd1 \gset
SET vault.parallel_range_size = 8;
UPDATE par_delta SET a = lower(a) WHERE id % 50 = 1;
SELECT vault_backup('par_d', 'par_delta', parallel => 2) AS pd2 \gset
UPDATE par_delta SET a = upper(a) WHERE id % 50 = 2;
INSERT INTO par_delta SELECT g, md5(g::text) FROM generate_series(8001, 12000) g;
SELECT vault_backup('par_d', 'par_delta', parallel => 2) AS pd3 \gset
SET client_min_messages = warning;
SELECT v.point, p.parallel_workers, t.range_blocks, cardinality(t.range_starts) AS marks,
       p.delta_chunks > 0 AS deltas,
       -- whole chunks where no base can be: the first point, the grown
       -- table's new rows (elsewhere whether a changed chunk finds a base
       -- depends on where the vault's random keys put the cuts)
       CASE WHEN v.point IN ('pd0', 'pd3') THEN p.new_chunks > p.delta_chunks END AS some_whole
FROM (VALUES ('pd0', :pd0), ('pd1', :pd1), ('pd2', :pd2), ('pd3', :pd3)) v(point, id)
JOIN vault_recovery_points p ON p.recovery_point = v.id
JOIN vault_internal.point_tables t ON t.point_id = v.id ORDER BY v.point;
SELECT vault_restore(:pd3, 'par_delta_r3');
SELECT (SELECT count(*) FROM (TABLE par_delta EXCEPT ALL TABLE par_delta_r3) x) +
       (SELECT count(*) FROM (TABLE par_delta_r3 EXCEPT ALL TABLE par_delta) x) AS diff,
       (SELECT count(*) FROM par_delta_r3) AS restored_rows;
RESET vault.parallel_range_size;

-- the degree: the call's, never above the setting
SELECT vault_backup('par_r', 'par_s.big', parallel => 1) AS d1 \gset
SET vault.max_parallel_workers = 1;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup_schema('par_r', 'par_s', parallel => 8) AS d8 \gset
COMMIT;
SET vault.max_parallel_workers = 0;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup_schema('par_r', 'par_s') AS dz \gset
COMMIT;
RESET vault.max_parallel_workers;
SELECT recovery_point = :d1 AS asked_1, recovery_point = :d8 AS asked_8, parallel_workers
FROM vault_recovery_points WHERE recovery_point IN (:d1, :d8, :dz) ORDER BY recovery_point;

-- no workers where they would not see what the caller sees: rows the
-- transaction wrote itself, or a SERIALIZABLE transaction
BEGIN;
INSERT INTO par_s.small VALUES (11, 'written in this transaction');
SELECT vault_backup('par_r', 'par_s.small', parallel => 2) AS w1 \gset
COMMIT;
SELECT parallel_workers, rows FROM vault_recovery_points WHERE recovery_point = :w1;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT vault_backup('par_r', 'par_s.big', parallel => 2) AS z1 \gset
COMMIT;
SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = :z1;
-- tables smaller than min_parallel_table_scan_size are not worth a worker
SET min_parallel_table_scan_size = '8MB';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup('par_r', 'par_s.big', parallel => 2) AS m1 \gset
COMMIT;
SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = :m1;
SET min_parallel_table_scan_size = 0;

-- restores: two workers open the chunks ahead of COPY
SELECT vault_restore(:r1, 'par_r1b', parallel => 2);
SELECT (SELECT count(*) FROM (TABLE par_r1.big EXCEPT ALL TABLE par_r1b.big) x) +
       (SELECT count(*) FROM (TABLE par_r1b.big EXCEPT ALL TABLE par_r1.big) x) +
       (SELECT count(*) FROM (TABLE par_r1.parted EXCEPT ALL TABLE par_r1b.parted) x) +
       (SELECT count(*) FROM (TABLE par_r1b.parted EXCEPT ALL TABLE par_r1.parted) x) AS diff,
       (SELECT count(*) FROM par_r1b.small) AS small_rows, (SELECT count(*) FROM par_r1b.empty) AS empty_rows;
-- a plain new table takes its rows formed by a worker (each field through
-- its type's receive function, each row a heap tuple; the caller only
-- inserts): values of many kinds, NULLs, TOASTed values, a NOT NULL column
CREATE TABLE par_kinds (id int8 NOT NULL, t text, b bytea, n numeric, f float8, ts timestamptz,
  ia int4[], ta text[], u uuid, ok bool, c char(5), v varchar(10), ip inet, iv interval, j jsonb,
  cm char(3), cu bpchar);
INSERT INTO par_kinds
SELECT g, CASE WHEN g % 1000 = 0 THEN repeat(md5(g::text), 600)
               WHEN g % 5 <> 0 THEN repeat(md5(g::text), g % 40) END,
       decode(md5(g::text), 'hex'), g / 7.0, g * 0.5, '2026-01-01'::timestamptz + g * interval '1 minute',
       ARRAY[g, NULL, -g]::int4[], ARRAY['a' || g, NULL], md5(g::text)::uuid, g % 2 = 0,
       (g % 1000)::text, 'v' || g % 100, ('10.0.' || g % 256 || '.1')::inet, g * interval '1 second',
       jsonb_build_object('g', g, 'half', g * 0.5),
       (ARRAY['é', 'äöü', 'ab', NULL, ''])[1 + g % 5], 'x' || repeat(' ', g % 3)
FROM generate_series(1, 5000) g;
SELECT vault_backup('par_r', 'par_kinds', parallel => 0) AS k1 \gset
SELECT vault_restore(:k1, 'par_kinds_r', parallel => 2);
SELECT (SELECT count(*) FROM (TABLE par_kinds EXCEPT ALL TABLE par_kinds_r) x) +
       (SELECT count(*) FROM (TABLE par_kinds_r EXCEPT ALL TABLE par_kinds) x) AS diff,
       (SELECT count(*) FROM par_kinds_r) AS kinds_rows;
-- without workers this backend forms the same rows itself, COPY's work
-- without COPY; both ways a character(n) value that is n ASCII characters
-- is taken as it is, any other through bpchar's own input, which pads it
-- (the padding counts the characters, not the bytes)
SELECT vault_restore(:k1, 'par_kinds_s', parallel => 0);
SELECT (SELECT count(*) FROM (TABLE par_kinds EXCEPT ALL TABLE par_kinds_s) x) +
       (SELECT count(*) FROM (TABLE par_kinds_s EXCEPT ALL TABLE par_kinds) x) AS diff,
       (SELECT count(*) FROM par_kinds k JOIN par_kinds_s s USING (id) JOIN par_kinds_r r USING (id)
        WHERE (octet_length(k.c), octet_length(k.cm), octet_length(k.cu))
              IS DISTINCT FROM (octet_length(s.c), octet_length(s.cm), octet_length(s.cu))
           OR (octet_length(k.c), octet_length(k.cm), octet_length(k.cu))
              IS DISTINCT FROM (octet_length(r.c), octet_length(r.cm), octet_length(r.cu))) AS length_diff,
       (SELECT array_agg(DISTINCT octet_length(cm) ORDER BY octet_length(cm)) FROM par_kinds_s) AS cm_bytes;
-- the forming worker's error is the caller's, and nothing is created
\set VERBOSITY terse
SET vault.debug_parallel_fail = 1234;
SELECT vault_restore(:k1, 'par_kinds_fail', parallel => 2);
\set VERBOSITY default
SELECT to_regclass('par_kinds_fail') IS NULL AS nothing_created;
-- a column of an enum (not a base type): the workers send the stream's
-- bytes and COPY reads it, so the row the worker would fail at is never formed
CREATE TYPE par_mood AS ENUM ('sad', 'ok');
CREATE TABLE par_moods AS SELECT g AS id, (ARRAY['sad', 'ok'])[1 + g % 2]::par_mood AS m
  FROM generate_series(1, 3000) g;
SELECT vault_backup('par_r', 'par_moods', parallel => 0) AS m1 \gset
SELECT vault_restore(:m1, 'par_moods_r', parallel => 2);
RESET vault.debug_parallel_fail;
SELECT count(*) AS moods_rows, count(*) FILTER (WHERE m = 'ok') AS ok_rows FROM par_moods_r;
-- which load a table takes without workers: its rows formed by this
-- backend, or COPY where a column is not of a base type (the enum)
SELECT vault_create('par_c');
CREATE TABLE par_chars AS SELECT g AS id, (g % 10)::char(4) AS c FROM generate_series(1, 100) g;
SELECT vault_backup('par_c', 'par_chars') AS pc \gset
SET client_min_messages = debug1;
SELECT vault_restore(:pc, 'par_chars_r', parallel => 0) IS NOT NULL AS restored;
SELECT vault_restore(:m1, 'par_moods_s', parallel => 0) IS NOT NULL AS restored;
SET client_min_messages = warning;
SELECT (SELECT count(*) FROM par_chars_r r JOIN par_chars s USING (id) WHERE r.c = s.c AND octet_length(r.c) = 4) AS formed_equal,
       (SELECT count(*) FROM (TABLE par_moods EXCEPT ALL TABLE par_moods_s) x) AS copied_diff;
-- one table of a schema point, and a point of deltas
SELECT vault_restore(:r1, 'par_parted_r1', source_table => 'parted', parallel => 2);
SELECT count(*) FROM par_s.par_parted_r1;
SELECT vault_restore(:r2, 'par_big_r2b', parallel => 2);
SELECT (SELECT count(*) FROM (TABLE par_s.par_big_r2 EXCEPT ALL TABLE par_s.par_big_r2b) x) +
       (SELECT count(*) FROM (TABLE par_s.par_big_r2b EXCEPT ALL TABLE par_s.par_big_r2) x) AS diff;
-- a point made in the restoring transaction itself: no workers (they could
-- not see it), the caller reads it
BEGIN;
SELECT vault_backup('par_r', 'par_s.small', parallel => 0) AS own \gset
SELECT vault_restore(:own, 'par_small_own', parallel => 2);
COMMIT;
SELECT count(*) AS own_rows FROM par_s.par_small_own;
-- a damaged chunk found by a worker fails the restore as the caller's own
-- error, and nothing is created
CREATE TABLE par_saved AS SELECT chunk_no, data FROM vault_internal.chunks
  WHERE chunk_no = (SELECT (chunk_nos)[3] FROM vault_internal.manifests
                    WHERE point_id = :r2 AND segment = 0);
UPDATE vault_internal.chunks c SET data = set_byte(c.data, 60, get_byte(c.data, 60) # 1)
  FROM par_saved s WHERE c.chunk_no = s.chunk_no;
SELECT set_config('par.r2', :'r2', false) IS NOT NULL AS noted;
CREATE FUNCTION par_try(degree int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE ctx text;
BEGIN
  PERFORM vault_restore(current_setting('par.r2')::bigint, 'par_damaged', parallel => degree);
  RETURN 'restored';
EXCEPTION WHEN data_corrupted THEN
  GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
  RETURN CASE WHEN SQLERRM LIKE '%is damaged: chunk%' THEN 'damaged chunk' ELSE SQLERRM END
         || CASE WHEN ctx LIKE '%vault parallel restore worker%' THEN ', found by a worker' ELSE '' END;
END $$;
SELECT par_try(2) AS two_workers, par_try(0) AS no_worker;
DROP FUNCTION par_try(int);
SELECT to_regclass('par_s.par_damaged') IS NULL AS nothing_created;
UPDATE vault_internal.chunks c SET data = s.data FROM par_saved s WHERE c.chunk_no = s.chunk_no;
DROP TABLE par_saved;

-- errors
\set VERBOSITY terse
SELECT vault_backup('par_r', 'par_s.big', parallel => -1);
SELECT vault_restore(:r2, 'par_neg', parallel => -1);
-- a worker's error is the caller's, and the backup leaves nothing behind
SELECT count(*) AS points_before FROM vault_internal.points \gset
SELECT count(*) AS chunks_before FROM vault_internal.chunks \gset
SET vault.parallel_range_size = 4;
SET vault.debug_parallel_fail = 5;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup_schema('par_r', 'par_s', parallel => 2);
ROLLBACK;
RESET vault.debug_parallel_fail;
RESET vault.parallel_range_size;
\set VERBOSITY default
SELECT (SELECT count(*) FROM vault_internal.points) = :points_before AS no_point,
       (SELECT count(*) FROM vault_internal.chunks) = :chunks_before AS no_chunk;
-- and the next backup works
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup_schema('par_r', 'par_s', parallel => 2) > 0 AS backed_up;
COMMIT;

-- the workers start on the first table to read while this backend decides
-- the next ones (before the first, when no table is in an earlier point of
-- the vault), and pass over the tables found unchanged, before that table
-- (m1) and after it (m3); with nothing to read, none starts
SET vault.parallel_range_size = 4;
SELECT vault_create('par_m');
CREATE SCHEMA par_m;
CREATE TABLE par_m.m1 AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 500) g;
CREATE TABLE par_m.m2 AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 5000) g;
CREATE TABLE par_m.m3 AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 500) g;
SET client_min_messages = debug1;
SELECT vault_backup_schema('par_m', 'par_m', parallel => 2) AS n1 \gset
SET client_min_messages = warning;
SELECT vault_backup_schema('par_m', 'par_m', parallel => 2) AS n2 \gset
UPDATE par_m.m2 SET a = upper(a) WHERE id % 10 = 3;
SELECT vault_backup_schema('par_m', 'par_m', parallel => 2) AS n3 \gset
RESET vault.parallel_range_size;
SELECT v.point, p.parallel_workers, p.tables, p.unchanged_tables, p.rows
FROM (VALUES ('n1', :n1), ('n2', :n2), ('n3', :n3)) v(point, id)
JOIN vault_recovery_points p ON p.recovery_point = v.id ORDER BY v.point;
SELECT table_name, unchanged_since IS NOT NULL AS unchanged, rows
FROM vault_internal.point_tables WHERE point_id = :n3 ORDER BY ordinal;
SELECT vault_restore(:n3, 'par_n3');
SELECT t, (SELECT count(*) FROM (TABLE par_m.m2 EXCEPT ALL TABLE par_n3.m2) x) +
          (SELECT count(*) FROM (TABLE par_n3.m2 EXCEPT ALL TABLE par_m.m2) x) AS m2_diff,
       (SELECT count(*) FROM par_n3.m1) + (SELECT count(*) FROM par_n3.m3) AS m1_m3_rows
FROM (VALUES ('restored')) v(t);
