-- unchanged: a table provably unchanged since an earlier point of the vault
-- is not read again; its stream is referenced.  Every change that could make
-- the stream differ must make the next backup read the table.
SET client_min_messages = notice;
SELECT vault_create('fast');
CREATE SCHEMA fp;         -- not on the search_path: names print qualified

-- back up; say for each table of the new point whether it was 'read' or
-- 'reused', with its row count
CREATE FUNCTION pg_temp.bk(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    p bigint := vault_backup('fast', t);
BEGIN
    RETURN (SELECT string_agg(CASE WHEN unchanged_since IS NULL THEN 'read' ELSE 'reused' END
                              || ' ' || rows, ', ' ORDER BY ordinal)
            FROM vault_internal.point_tables WHERE point_id = p);
END $$;
-- restore the latest point of a table and count rows that differ either way
CREATE FUNCTION pg_temp.diff(t regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p bigint;
    n bigint;
BEGIN
    SELECT max(recovery_point) INTO p FROM vault_recovery_points
     WHERE vault = 'fast' AND item = t::text;
    PERFORM vault_restore(p, 'fp.unchanged_check');
    EXECUTE format('SELECT (SELECT count(*) FROM (TABLE %s EXCEPT ALL TABLE fp.unchanged_check) a)
                         + (SELECT count(*) FROM (TABLE fp.unchanged_check EXCEPT ALL TABLE %s) b)', t, t)
       INTO n;
    DROP TABLE fp.unchanged_check;
    RETURN n;
END $$;

CREATE TYPE fp.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE fp.pair AS (a int, b text);
CREATE TABLE fp.quiet (id int PRIMARY KEY, v text, m fp.mood, p fp.pair);
INSERT INTO fp.quiet
SELECT g, md5(g::text), (ARRAY['sad', 'ok', 'happy']::fp.mood[])[1 + g % 3], ROW(g, 'x' || g)::fp.pair
  FROM generate_series(1, 20000) g;
VACUUM fp.quiet;

SELECT pg_temp.bk('fp.quiet') AS first;
SELECT pg_temp.bk('fp.quiet') AS again;
SELECT pg_temp.bk('fp.quiet') AS and_again;
SELECT pg_temp.diff('fp.quiet') AS differences;
SELECT recovery_point - lag(recovery_point) OVER (ORDER BY recovery_point) AS step,
       logical_bytes = first_value(logical_bytes) OVER (ORDER BY recovery_point) AS same_bytes,
       new_bytes < 1000 AS only_a_manifest, unchanged_tables
  FROM vault_recovery_points WHERE vault = 'fast' ORDER BY recovery_point;

-- data changes
INSERT INTO fp.quiet VALUES (0, 'new', 'ok', NULL);
SELECT pg_temp.bk('fp.quiet') AS after_insert, pg_temp.bk('fp.quiet') AS then;
UPDATE fp.quiet SET v = 'changed' WHERE id = 500;
SELECT pg_temp.bk('fp.quiet') AS after_update;
DELETE FROM fp.quiet WHERE id = 501;
SELECT pg_temp.bk('fp.quiet') AS after_delete;
SELECT pg_temp.diff('fp.quiet') AS differences;
SELECT count(*) FROM fp.quiet WHERE id = 501;

-- a row lock changes no row, but writes the page: read again (conservative)
BEGIN;
SELECT id FROM fp.quiet WHERE id = 7 FOR UPDATE;
COMMIT;
SELECT pg_temp.bk('fp.quiet') AS after_row_lock;

-- changes made earlier in the backup's own transaction, committed or not
BEGIN;
UPDATE fp.quiet SET v = 'in the same transaction' WHERE id = 8;
SELECT pg_temp.bk('fp.quiet') AS own_uncommitted_update;
ROLLBACK;
SELECT pg_temp.bk('fp.quiet') AS after_rollback;
BEGIN;
SELECT pg_temp.bk('fp.quiet') AS in_transaction, pg_temp.bk('fp.quiet') AS twice;
DELETE FROM fp.quiet WHERE id = 9;
SELECT pg_temp.bk('fp.quiet') AS after_own_delete;
COMMIT;

-- definition changes that rewrite nothing
ALTER TABLE fp.quiet ADD COLUMN c int DEFAULT 7;     -- no rewrite: attmissingval
SELECT pg_temp.bk('fp.quiet') AS after_add_column;
SELECT pg_temp.diff('fp.quiet') AS differences;
ALTER TYPE fp.mood RENAME VALUE 'sad' TO 'blue';     -- the stream carries labels
SELECT pg_temp.bk('fp.quiet') AS after_enum_rename;
SELECT pg_temp.diff('fp.quiet') AS differences;
ALTER TYPE fp.pair ADD ATTRIBUTE c int CASCADE;       -- composites carry their layout
SELECT pg_temp.bk('fp.quiet') AS after_composite_change;
ALTER TABLE fp.quiet RENAME COLUMN v TO w;
SELECT pg_temp.bk('fp.quiet') AS after_column_rename;
ALTER TABLE fp.quiet ALTER COLUMN c SET DEFAULT 8;
SELECT pg_temp.bk('fp.quiet') AS after_new_default;
SELECT pg_temp.bk('fp.quiet') AS then;

-- rewrites and truncation
VACUUM FULL fp.quiet;
SELECT pg_temp.bk('fp.quiet') AS after_vacuum_full;
DELETE FROM fp.quiet WHERE id > 19000;
VACUUM fp.quiet;                                     -- truncates the empty tail
SELECT pg_temp.bk('fp.quiet') AS after_delete_and_vacuum;
SELECT pg_temp.bk('fp.quiet') AS then;
CREATE TEMP TABLE keep AS SELECT * FROM fp.quiet;
TRUNCATE fp.quiet;
INSERT INTO fp.quiet SELECT * FROM keep;
SELECT pg_temp.bk('fp.quiet') AS after_truncate_and_refill;
SELECT pg_temp.diff('fp.quiet') AS differences;

-- a REPEATABLE READ backup cannot give a proof (its snapshot is older than
-- anything it could read); an unchanged table still reuses the last proof
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.bk('fp.quiet') AS repeatable_read;
COMMIT;
SELECT p.scan_lsn IS NULL AS no_proof, t.page_digest IS NULL AS no_digest
  FROM vault_internal.points p JOIN vault_internal.point_tables t USING (point_id)
 WHERE p.point_id = (SELECT max(recovery_point) FROM vault_recovery_points WHERE vault = 'fast');
SELECT pg_temp.bk('fp.quiet') AS after_repeatable_read;

-- tables that never qualify: unlogged, and a column that travels as text
CREATE UNLOGGED TABLE fp.scratch AS SELECT g FROM generate_series(1, 1000) g;
SELECT pg_temp.bk('fp.scratch') AS unlogged, pg_temp.bk('fp.scratch') AS unlogged_again;
CREATE TABLE fp.acl_copy AS SELECT g, ARRAY['postgres=r/postgres']::aclitem[] AS a
  FROM generate_series(1, 100) g;
SELECT pg_temp.bk('fp.acl_copy') AS text_fallback, pg_temp.bk('fp.acl_copy') AS text_fallback_again;

-- partitioned: every leaf is checked
CREATE TABLE fp.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE fp.events_2024 PARTITION OF fp.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE fp.events_2025 PARTITION OF fp.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO fp.events SELECT g, date '2024-01-01' + g % 700 FROM generate_series(1, 5000) g;
SELECT pg_temp.bk('fp.events') AS partitioned, pg_temp.bk('fp.events') AS again;
INSERT INTO fp.events VALUES (0, '2025-06-01');
SELECT pg_temp.bk('fp.events') AS after_insert_into_one_leaf, pg_temp.bk('fp.events') AS then;
SELECT pg_temp.diff('fp.events') AS differences;

-- a schema point: each table on its own
CREATE SCHEMA calm;
CREATE TABLE calm.a AS SELECT g FROM generate_series(1, 3000) g;
CREATE TABLE calm.b AS SELECT g, g::text AS s FROM generate_series(1, 3000) g;
CREATE FUNCTION pg_temp.bks(s name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    p bigint := vault_backup_schema('fast', s);
BEGIN
    RETURN (SELECT string_agg(table_name || ' ' || CASE WHEN unchanged_since IS NULL THEN 'read' ELSE 'reused' END,
                              ', ' ORDER BY ordinal)
            FROM vault_internal.point_tables WHERE point_id = p);
END $$;
SELECT pg_temp.bks('calm') AS schema_first, pg_temp.bks('calm') AS schema_again;
UPDATE calm.b SET s = 'x' WHERE g = 1;
SELECT pg_temp.bks('calm') AS schema_after_update;
-- a table-item point and a schema-item point of the same table share proofs
SELECT pg_temp.bk('calm.a') AS table_item_after_schema_point;

-- every reused point verifies and restores like any other
SELECT bool_and(ok) AS all_verify
  FROM vault_recovery_points r, LATERAL vault_verify(r.recovery_point) v WHERE r.vault = 'fast';

-- restores load frozen (COPY FREEZE): every page all-visible and all-frozen
-- at once.  Where COPY would refuse FREEZE (an open cursor could see the
-- rows early) the restore still works, unfrozen.
CREATE EXTENSION pg_visibility;
SELECT vault_restore(max(recovery_point), 'calm.a_restored') FROM vault_recovery_points
 WHERE vault = 'fast' AND item = 'calm.a';
SELECT count(*) > 0 AS has_pages, bool_and(all_visible AND all_frozen) AS all_frozen
  FROM pg_visibility_map('calm.a_restored');
BEGIN;
DECLARE early CURSOR FOR SELECT 1;
SELECT vault_restore(max(recovery_point), 'calm.a_beside_cursor') FROM vault_recovery_points
 WHERE vault = 'fast' AND item = 'calm.a';
SELECT count(*) > 0 AS has_pages, bool_or(all_frozen) AS any_frozen
  FROM pg_visibility_map('calm.a_beside_cursor');
COMMIT;
SELECT (SELECT count(*) FROM calm.a_restored) AS restored, (SELECT count(*) FROM calm.a_beside_cursor) AS beside_cursor;
DROP EXTENSION pg_visibility;

-- the newest earlier proof is found behind any number of newer points of
-- the table that cannot serve (here forty taken while the table had a
-- comment, a definition of its own): the look walks on, newest first, a
-- page of 32 points at a time
CREATE TABLE fp.walked (id int PRIMARY KEY, v text);
INSERT INTO fp.walked SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
VACUUM fp.walked;
SELECT pg_temp.bk('fp.walked') AS walked_first;
COMMENT ON TABLE fp.walked IS 'for a while';
\set ECHO none
\o /dev/null
SELECT 'SELECT pg_temp.bk(''fp.walked'')' FROM generate_series(1, 40) \gexec
\o
\set ECHO all
SELECT count(*) AS points_of_it FROM vault_recovery_points WHERE vault = 'fast' AND item = 'fp.walked';
COMMENT ON TABLE fp.walked IS NULL;
SELECT pg_temp.bk('fp.walked') AS walked_past_forty;
SELECT pg_temp.diff('fp.walked') AS walked_differs;

DROP SCHEMA calm CASCADE;
DROP TABLE keep;
DROP SCHEMA fp CASCADE;
