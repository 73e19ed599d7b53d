-- Backup policies, protected items, the periodic work with an explicit
-- clock (vault_run_due, vault_apply_retention), expiry and job records.
-- The simulated clock starts in 2100, so that every item protected "now"
-- is due on the first simulated day whatever the real date.
SET TimeZone = 'UTC';
SET client_min_messages = warning;

CREATE TABLE pol_orders (id int PRIMARY KEY, day date, note text);
CREATE TABLE pol_doomed (id int);
CREATE SCHEMA pol_shop;
CREATE TABLE pol_shop.items (id int PRIMARY KEY, name text);
INSERT INTO pol_shop.items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
SELECT vault_create('pol');
-- deletions here take effect at once (soft delete is protection.sql's)
SELECT vault_configure('pol', soft_delete => 'off');

-- ---------------------------------------------------------------------------
-- policies
-- ---------------------------------------------------------------------------
SELECT vault_policy_create('gfs', 'daily at 02:00', 'daily 7, weekly 4 on sun, monthly 3 on day 1');
SELECT vault_policy_create('berlin', 'weekly on sun at 23:30', 'weekly 12', 'europe/berlin');
SELECT policy, schedule, retention, timezone, protected_items FROM vault_policies ORDER BY policy;

-- refusals
SELECT vault_policy_create('gfs', 'daily at 03:00', 'daily 7');
SELECT vault_policy_create('', 'daily at 03:00', 'daily 7');
SELECT vault_policy_create(repeat('p', 64), 'daily at 03:00', 'daily 7');
SELECT vault_policy_create('x', 'daily at 3 pm', 'daily 7');
SELECT vault_policy_create('x', 'daily at 03:00', 'daily 3');
SELECT vault_policy_create('x', 'daily at 03:00', 'daily 7', 'Atlantis/Capital');
SELECT vault_policy_create(NULL, 'daily at 03:00', 'daily 7');
SELECT vault_policy_create('x', NULL, 'daily 7');
SELECT vault_policy_create('x', 'daily at 03:00', NULL);
SELECT vault_policy_create('x', 'daily at 03:00', 'daily 7', NULL);
SELECT vault_policy_alter('nope', 'hourly');
SELECT vault_policy_alter('gfs');
SELECT vault_policy_drop('nope');
SELECT vault_policy_drop(NULL);

-- ---------------------------------------------------------------------------
-- protecting items
-- ---------------------------------------------------------------------------
SELECT vault_protect('pol', 'pol_orders', 'gfs') > 0 AS protected;
SELECT vault_protect('pol', 'pol_doomed', 'gfs') > 0 AS protected;
SELECT vault_protect_schema('pol', 'pol_shop', 'berlin') > 0 AS protected;
SELECT name, kind, policy, state, next_run_at > now() AS scheduled FROM vault_items WHERE vault = 'pol' ORDER BY item_id;

-- refusals
SELECT vault_protect('nope', 'pol_orders', 'gfs');
SELECT vault_protect('pol', 'pol_orders', 'nope');
SELECT vault_protect('pol', 'pg_class', 'gfs');
CREATE VIEW pol_orders_view AS SELECT * FROM pol_orders;
SELECT vault_protect('pol', 'pol_orders_view', 'gfs');
SELECT vault_protect(NULL, 'pol_orders', 'gfs');
SELECT vault_protect('pol', NULL, 'gfs');
SELECT vault_protect('pol', 'pol_orders', NULL);
SELECT vault_protect_schema('pol', 'nope', 'gfs');
SELECT vault_protect_schema('pol', 'pg_catalog', 'gfs');
SELECT vault_protect_schema('pol', NULL, 'gfs');
-- the policy's owner runs the backups: it must be able to read the table
CREATE ROLE pol_owner;
GRANT vault_contributor TO pol_owner;
SET ROLE pol_owner;
SELECT vault_policy_create('weak', 'hourly', 'daily 7');
RESET ROLE;
SELECT vault_protect('pol', 'pol_orders', 'weak');
SELECT vault_policy_drop('gfs');

-- ---------------------------------------------------------------------------
-- the periodic work, simulated.  Each day a batch of rows arrives, then the
-- day's due backups run.  The first call runs each item once, however many
-- slots were missed since it was protected.
-- ---------------------------------------------------------------------------
DROP TABLE pol_doomed;
SELECT vault, item, state, recovery_point IS NOT NULL AS has_point, error
FROM vault_run_due('2100-01-01 03:00+00') ORDER BY item;
SELECT name, next_run_at FROM vault_items WHERE vault = 'pol' ORDER BY item_id;
-- a failed backup is a failed job with its error; the others still ran
SELECT item, operation, trigger, state, error FROM vault_jobs WHERE vault = 'pol' AND state = 'failed';
SELECT vault_unprotect('pol', 'public.pol_doomed', true);

-- 120 days: 2100-01-01 .. 2100-04-30, one batch and one due run per day
DO $$
DECLARE
	t timestamptz;
BEGIN
	FOR t IN SELECT generate_series('2100-01-01 02:00+00'::timestamptz, '2100-04-30 02:00+00', '1 day') LOOP
		INSERT INTO pol_orders SELECT g, t::date, md5(g::text || t::text)
		FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM pol_orders),
							 (SELECT coalesce(max(id), 0) + 200 FROM pol_orders)) g;
		PERFORM vault_run_due(t + interval '1 hour');
	END LOOP;
END
$$;
SELECT item, trigger, count(*) AS points, min(created_at), max(created_at)
FROM vault_recovery_points WHERE vault = 'pol' GROUP BY item, trigger ORDER BY item;
SELECT state, count(*) FROM vault_jobs WHERE vault = 'pol' AND operation = 'backup' GROUP BY state ORDER BY state;

-- each point is dated by the slot it serves, though it ran an hour later
SELECT item, count(*) FILTER (WHERE created_at - scheduled_for = interval '1 hour') AS one_hour_late,
	   count(*) FILTER (WHERE extract(dow FROM scheduled_for AT TIME ZONE 'Europe/Berlin') = 0) AS on_sunday_berlin
FROM vault_recovery_points WHERE vault = 'pol' GROUP BY item ORDER BY item;

-- retention at 2100-04-30 12:00 under "daily 7, weekly 4 on sun, monthly 3 on day 1".
-- Expected, computed here from the calendar alone: a point (slots at 02:00)
-- stays if it is from the last 7 days, a Sunday of the last 4 weeks, or the
-- 1st of one of the last 3 months.
CREATE TEMP TABLE expected_kept AS
SELECT recovery_point, scheduled_for AS created_at FROM vault_recovery_points
WHERE item = 'public.pol_orders'
  AND (scheduled_for + interval '7 days' > '2100-04-30 12:00+00'
	   OR (extract(dow FROM scheduled_for) = 0 AND scheduled_for + interval '4 weeks' > '2100-04-30 12:00+00')
	   OR (extract(day FROM scheduled_for) = 1 AND scheduled_for + interval '3 months' > '2100-04-30 12:00+00'));
SELECT count(*) AS expected_kept FROM expected_kept;
SELECT to_char(created_at, 'Dy YYYY-MM-DD') AS kept FROM expected_kept
WHERE created_at + interval '7 days' <= '2100-04-30 12:00+00' ORDER BY created_at;

CREATE TEMP TABLE chunks_before AS SELECT count(*) AS n FROM vault_internal.chunks
WHERE vault_id = (SELECT vault_id FROM vault_internal.vaults WHERE name = 'pol');
SELECT vault, points_examined, points_expired, chunks_removed > 0 AS removed_chunks, freed_bytes > 0 AS freed
FROM vault_apply_retention('2100-04-30 12:00+00') WHERE vault = 'pol';
-- the schema's weekly points (slots on Sundays in Berlin) all stay: 12 weeks
SELECT count(*) AS shop_points FROM vault_recovery_points WHERE item = 'pol_shop';

-- exactly the expected points are left, both ways
SELECT count(*) AS unexpected_left FROM (
	SELECT recovery_point FROM vault_recovery_points WHERE item = 'public.pol_orders'
	EXCEPT SELECT recovery_point FROM expected_kept) x;
SELECT count(*) AS expected_but_gone FROM (
	SELECT recovery_point FROM expected_kept
	EXCEPT SELECT recovery_point FROM vault_recovery_points WHERE item = 'public.pol_orders') x;
-- every chunk left is referenced (by a manifest, or as the base of a delta a
-- manifest references), every referenced chunk is left
WITH v AS (SELECT vault_id FROM vault_internal.vaults WHERE name = 'pol'),
left_chunks AS (SELECT c.chunk_no FROM vault_internal.chunks c, v WHERE c.vault_id = v.vault_id),
in_manifests AS (SELECT DISTINCT n AS chunk_no FROM vault_internal.manifests m
				 JOIN vault_internal.points p USING (point_id), v, unnest(m.chunk_nos) n
				 WHERE p.vault_id = v.vault_id),
referenced AS (SELECT chunk_no FROM in_manifests
			   UNION SELECT c.base_no FROM vault_internal.chunks c JOIN in_manifests USING (chunk_no)
			   WHERE c.base_no IS NOT NULL)
SELECT (SELECT count(*) FROM (SELECT * FROM left_chunks EXCEPT SELECT * FROM referenced) x) AS unreferenced_left,
	   (SELECT count(*) FROM (SELECT * FROM referenced EXCEPT SELECT * FROM left_chunks) x) AS referenced_missing,
	   (SELECT count(*) FROM left_chunks) < (SELECT n FROM chunks_before) AS fewer_than_before;
-- one expiry job per removed point
SELECT count(*) AS expiry_jobs FROM vault_jobs WHERE vault = 'pol' AND operation = 'expiry';
-- the oldest point left still verifies and restores the rows it had
SELECT ok, bad_chunks FROM vault_verify((SELECT min(recovery_point) FROM vault_recovery_points WHERE item = 'public.pol_orders'));
SELECT vault_restore((SELECT min(recovery_point) FROM vault_recovery_points WHERE item = 'public.pol_orders'), 'pol_orders_feb1');
SELECT count(*), max(day) FROM pol_orders_feb1;
-- a second run at the same time removes nothing more
SELECT points_expired, chunks_removed FROM vault_apply_retention('2100-04-30 12:00+00') WHERE vault = 'pol';

-- expiries are recomputed only where points changed since they were
-- computed: after that run nothing is stale, so an expiry set by hand
-- survives the next run; a point changing state (as a soft delete and an
-- undelete do, here by hand: this vault has soft delete off) marks its item,
-- and the run after that recomputes it
CREATE TEMP VIEW pol_stale AS
SELECT count(*) AS stale_items FROM vault_internal.expiry_stale s
JOIN vault_internal.items i USING (item_id) JOIN vault_internal.vaults v USING (vault_id) WHERE v.name = 'pol';
SELECT * FROM pol_stale;
SELECT recovery_point AS pol_newest, expires_at AS pol_newest_expiry FROM vault_recovery_points
WHERE item = 'public.pol_orders' ORDER BY recovery_point DESC LIMIT 1 \gset
UPDATE vault_internal.points SET expires_at = '2200-01-01' WHERE point_id = :pol_newest;
SELECT points_expired FROM vault_apply_retention('2100-04-30 12:00+00') WHERE vault = 'pol';
SELECT expires_at = '2200-01-01' AS hand_set_expiry_kept FROM vault_recovery_points WHERE recovery_point = :pol_newest;
UPDATE vault_internal.points SET state = 'soft-deleted' WHERE point_id = :pol_newest;
UPDATE vault_internal.points SET state = 'available' WHERE point_id = :pol_newest;
SELECT * FROM pol_stale;
SELECT points_expired FROM vault_apply_retention('2100-04-30 12:00+00') WHERE vault = 'pol';
SELECT expires_at = :'pol_newest_expiry' AS recomputed FROM vault_recovery_points WHERE recovery_point = :pol_newest;
SELECT * FROM pol_stale;
DROP VIEW pol_stale;

-- ---------------------------------------------------------------------------
-- changing the retention rule re-applies it to existing points
-- ---------------------------------------------------------------------------
SELECT count(*) FILTER (WHERE expires_at > '2100-06-01') AS kept_past_june
FROM vault_recovery_points WHERE item = 'public.pol_orders';
SELECT vault_policy_alter('gfs', retention => 'daily 7, monthly 12');
SELECT count(*) FILTER (WHERE expires_at > '2100-06-01') AS kept_past_june,
	   to_char(max(expires_at), 'YYYY-MM-DD') AS last_expiry
FROM vault_recovery_points WHERE item = 'public.pol_orders';
SELECT vault_policy_alter('gfs', schedule => 'daily at 05:15');
SELECT policy, schedule, retention FROM vault_policies WHERE policy = 'gfs';

-- ---------------------------------------------------------------------------
-- stopping protection: points stay and still expire by the rule
-- ---------------------------------------------------------------------------
SELECT vault_unprotect('pol', 'public.pol_orders');
SELECT name, state, policy, next_run_at FROM vault_items WHERE name = 'public.pol_orders';
SELECT count(*) AS due FROM vault_run_due('2100-05-10 00:00+00') WHERE item = 'public.pol_orders';
SELECT points_expired > 0 AS expired_more FROM vault_apply_retention('2100-06-15 00:00+00') WHERE vault = 'pol';
SELECT vault_unprotect('pol', 'public.pol_orders');
SELECT vault_unprotect('pol', 'public.nothing');
SELECT vault_unprotect('pol', NULL);
SELECT vault_unprotect('pol', 'public.pol_orders', NULL);
SELECT vault_policy_drop('gfs');
-- deleting the data removes the points and every chunk only they used
SELECT vault_unprotect('pol', 'public.pol_orders', true);
SELECT vault_unprotect('pol', 'pol_shop', true);
SELECT items, recovery_points, chunks FROM vault_vaults WHERE vault = 'pol';
SELECT operation, state, rows > 0 AS deleted_points FROM vault_jobs WHERE vault = 'pol' AND operation = 'delete' ORDER BY job_id;
SELECT vault_policy_drop('gfs');
SELECT vault_policy_drop('berlin');
SELECT vault_policy_drop('weak');
SELECT policy FROM vault_policies;

-- on-demand backups and restores are jobs too
SELECT vault_backup('pol', 'pol_orders_feb1') > 0 AS backed_up;
SELECT operation, trigger, state, item, rows FROM vault_jobs WHERE vault = 'pol' AND trigger = 'on-demand' AND operation = 'backup';

-- explicit clocks must be given and finite; retention needs READ COMMITTED
SELECT * FROM vault_run_due(NULL);
SELECT * FROM vault_apply_retention('infinity');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM vault_apply_retention(now());
ROLLBACK;

DROP VIEW pol_orders_view;
DROP TABLE pol_orders, pol_orders_feb1;
DROP SCHEMA pol_shop CASCADE;
REVOKE vault_contributor FROM pol_owner;
DROP ROLE pol_owner;
