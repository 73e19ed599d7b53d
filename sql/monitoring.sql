-- monitoring: each item's health (transient, persistent, healthy again; a
-- degraded and an unhealthy case; the recovery point objective), the daily
-- reports (simulated days, per-item storage adding up to the vault, history
-- trimmed while the reports stay), and who sees what.  Progress and alerts
-- have their own suites and TAP tests.
SET client_min_messages = warning;
CREATE TABLE public.mo_a AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g;
CREATE TABLE public.mo_b AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g;
CREATE TABLE public.mo_c AS SELECT g AS id, repeat(md5(g::text), 3) AS v FROM generate_series(1, 2000) g;
CREATE ROLE mo_op;
CREATE ROLE mo_stranger;
SELECT vault_create('mo');
SELECT vault_grant('mo', 'mo_op', 'operator');
SELECT vault_policy_create('mo_hourly', 'every 1 hours', 'daily 30');
CREATE VIEW mo_health AS
SELECT item, health, last_success IS NOT NULL AS succeeded, last_failure IS NOT NULL AS failed,
	   last_error, rpo_breached
FROM vault_health WHERE vault IN ('mo', 'mo_zone') ORDER BY vault, item;

-- health: a user error (the protected table is gone) degrades the item:
-- transient at the first failure, persistent from the third in a row,
-- healthy again at the next success
SELECT vault_protect('mo', 'public.mo_a', 'mo_hourly') > 0 AS protected;
SELECT * FROM mo_health;
SELECT state FROM vault_run_due(now() + interval '1 hour') WHERE vault = 'mo';
SELECT * FROM mo_health;
ALTER TABLE public.mo_a RENAME TO mo_a_away;
SELECT state FROM vault_run_due(now() + interval '2 hours') WHERE vault = 'mo';
SELECT * FROM mo_health;
SELECT state FROM vault_run_due(now() + interval '3 hours') WHERE vault = 'mo';
SELECT health FROM mo_health;
SELECT state FROM vault_run_due(now() + interval '4 hours') WHERE vault = 'mo';
SELECT health FROM mo_health;
SELECT state FROM vault_run_due(now() + interval '5 hours') WHERE vault = 'mo';
SELECT health FROM mo_health;
ALTER TABLE public.mo_a_away RENAME TO mo_a;
SELECT state FROM vault_run_due(now() + interval '6 hours') WHERE vault = 'mo';
SELECT * FROM mo_health;
-- the failed jobs keep their SQLSTATE (the class health is read from)
SELECT state, sqlstate, vault_internal.error_class(sqlstate), count(*) FROM vault_internal.jobs
WHERE vault_name = 'mo' AND item_name = 'public.mo_a' GROUP BY 1, 2 ORDER BY 1;

-- an on-demand backup that fails rolls back with its caller: recorded by
-- the next round (here vault_run_due) as a failed job that counts for
-- health; rights lost are a user error too
SELECT vault_backup('mo', 'public.mo_b') > 0 AS backed_up;
SET ROLE mo_op;
SELECT vault_backup('mo', 'public.mo_b');
RESET ROLE;
SELECT count(*) FROM vault_run_due(now());
SELECT * FROM mo_health WHERE item = 'public.mo_b';
SELECT trigger, state, error FROM vault_jobs WHERE vault = 'mo' AND item = 'public.mo_b' AND state = 'failed';
SELECT vault_backup('mo', 'public.mo_b') > 0 AS backed_up;
SELECT item, health FROM mo_health WHERE item = 'public.mo_b';

-- a vault-side error makes an item unhealthy: a zone-redundant vault
-- without a synchronous standby refuses every backup
SELECT vault_create('mo_zone');
SELECT vault_configure('mo_zone', redundancy => 'zone');
SELECT vault_protect('mo_zone', 'public.mo_c', 'mo_hourly') > 0 AS protected;
SELECT state FROM vault_run_due(now() + interval '7 hours') WHERE vault = 'mo_zone';
SELECT item, health, rpo_breached FROM mo_health WHERE item = 'public.mo_c';
SELECT state FROM vault_run_due(now() + interval '8 hours') WHERE vault = 'mo_zone';
SELECT state FROM vault_run_due(now() + interval '9 hours') WHERE vault = 'mo_zone';
SELECT item, health FROM mo_health WHERE item = 'public.mo_c';

-- the recovery point objective: no success for longer than the policy's
-- interval and a half, here 90 minutes (moved back in time; the view reads now())
UPDATE vault_internal.item_health SET last_success = now() - interval '80 minutes'
WHERE item_id = (SELECT item_id FROM vault_items WHERE vault = 'mo' AND name = 'public.mo_a');
UPDATE vault_internal.items SET protected_at = now() - interval '1 day'
WHERE item_id = (SELECT item_id FROM vault_items WHERE vault = 'mo' AND name = 'public.mo_a');
SELECT item, rpo_breached FROM mo_health WHERE item = 'public.mo_a';
UPDATE vault_internal.item_health SET last_success = now() - interval '100 minutes'
WHERE item_id = (SELECT item_id FROM vault_items WHERE vault = 'mo' AND name = 'public.mo_a');
SELECT item, rpo_breached FROM mo_health WHERE item = 'public.mo_a';
-- an item backed up only on demand has no objective
SELECT item, rpo_breached FROM mo_health WHERE item = 'public.mo_b';

-- daily reports: three simulated days (the jobs and points of the vault
-- moved onto the day before yesterday and yesterday, at their time of day:
-- the rounds above ran up to nine hours ahead, today or tomorrow), then the
-- refresh fills every day up to now
SELECT vault_backup('mo', 'public.mo_c') > 0 AS backed_up;
SELECT vault_create('mo_zone2');
UPDATE vault_internal.jobs
   SET started_at = started_at - (date_trunc('day', started_at) - (current_date - 2)::timestamptz),
	   ended_at = ended_at - (date_trunc('day', started_at) - (current_date - 2)::timestamptz)
WHERE vault_name = 'mo' AND item_name = 'public.mo_a';
UPDATE vault_internal.points SET created_at = created_at - (date_trunc('day', created_at) - (current_date - 2)::timestamptz)
WHERE item_id = (SELECT item_id FROM vault_items WHERE vault = 'mo' AND name = 'public.mo_a');
UPDATE vault_internal.jobs
   SET started_at = started_at - (date_trunc('day', started_at) - (current_date - 1)::timestamptz),
	   ended_at = ended_at - (date_trunc('day', started_at) - (current_date - 1)::timestamptz)
WHERE vault_name = 'mo' AND item_name = 'public.mo_b';
UPDATE vault_internal.points SET created_at = created_at - (date_trunc('day', created_at) - (current_date - 1)::timestamptz)
WHERE item_id = (SELECT item_id FROM vault_items WHERE vault = 'mo' AND name = 'public.mo_b');
UPDATE vault_internal.items SET protected_at = protected_at - interval '2 days' WHERE vault_id = (SELECT vault_id FROM vault_internal.vaults WHERE name = 'mo');
SELECT vault_report_refresh(now());
SELECT day - current_date AS day, item, jobs_succeeded, jobs_failed, jobs_cancelled,
	   logical_bytes > 0 AS has_logical, recovery_points, stored_bytes > 0 AS stores, adherent
FROM vault_report_daily WHERE vault = 'mo' AND day >= current_date - 2 ORDER BY day, item NULLS FIRST;
-- per-item stored bytes add up to the vault's (today: nothing awaits collection)
SELECT (SELECT sum(stored_bytes) FROM vault_report_daily WHERE vault = 'mo' AND day = current_date)
	   = stored_bytes AS items_add_up
FROM vault_vaults WHERE vault = 'mo';
-- mo_a and mo_b hold the same rows: the chunks they share are split evenly
-- (they differ by their manifests only: mo_a has more points)
SELECT abs(a.stored_bytes - b.stored_bytes) < a.stored_bytes / 20 AS shared_evenly
FROM vault_report_daily a JOIN vault_report_daily b USING (day, vault)
WHERE a.vault = 'mo' AND a.item = 'public.mo_a' AND b.item = 'public.mo_b' AND a.day = current_date;
-- a point deleted for good leaves its chunks awaiting collection: the
-- vault's own row holds them, and the day still adds up
SELECT vault_configure('mo', soft_delete => 'off');
SELECT vault_delete_recovery_point(max(recovery_point)) FROM vault_recovery_points WHERE vault = 'mo' AND item = 'public.mo_c';
SELECT vault_report_refresh(now());
SELECT (SELECT sum(stored_bytes) FROM vault_report_daily WHERE vault = 'mo' AND day = current_date)
	   = stored_bytes AS still_adds_up
FROM vault_vaults WHERE vault = 'mo';

-- history: forty days on, the jobs (older than vault.job_history, 30 days)
-- are gone, their days' reports stay; after vault.report_history (400
-- days) the reports go too
SELECT count(*) > 0 AS jobs_before FROM vault_jobs WHERE vault = 'mo';
SELECT vault_report_refresh(now() + interval '40 days');
SELECT count(*) AS jobs_after FROM vault_jobs WHERE vault = 'mo';
SELECT count(*) AS resolved_alerts_after FROM vault_alerts WHERE vault = 'mo' AND state = 'resolved';
SELECT sum(jobs_succeeded) > 0 AS reports_kept, count(DISTINCT day) >= 40 AS days_filled
FROM vault_report_daily WHERE vault = 'mo';
-- the metrics' job counters are kept apart: they outlive the jobs
SELECT line FROM regexp_split_to_table(vault_metrics(), E'\n') AS line
WHERE line LIKE 'vault_jobs_total{vault="mo",%' ORDER BY line;
SELECT vault_report_refresh(now() + interval '403 days');
SELECT min(day) >= current_date + 3 AS old_reports_gone FROM vault_report_daily WHERE vault = 'mo';
SHOW vault.job_history;
SHOW vault.report_history;
ALTER SYSTEM SET vault.job_history = 'a month';
ALTER SYSTEM SET vault.report_history = '12 hours';

-- refusals and rights: the refresh needs contributor on every vault (it
-- trims all of them); a role without a level sees no health and no report
SELECT vault_report_refresh(NULL);
SELECT vault_report_refresh('infinity');
SET ROLE mo_op;
SELECT vault_report_refresh(now());
SET ROLE mo_stranger;
SELECT count(*) AS stranger_health FROM vault_health WHERE vault = 'mo';
SELECT count(*) AS stranger_reports FROM vault_report_daily WHERE vault = 'mo';
SELECT strpos(vault_metrics(), 'vault="mo"') AS stranger_metrics;
SET ROLE mo_op;
SELECT count(*) > 0 AS operator_health FROM vault_health WHERE vault = 'mo';
SELECT strpos(vault_metrics(), 'vault_stored_bytes{vault="mo"}') > 0 AS operator_metrics;
SELECT count(*) > 0 AS operator_reports FROM vault_report_daily WHERE vault = 'mo';
RESET ROLE;

-- clean up
DROP VIEW mo_health;
SELECT vault_configure(v, soft_delete => 'off') FROM unnest(ARRAY['mo_zone']) v;
SELECT vault_unprotect('mo', 'public.mo_a', true);
SELECT vault_unprotect('mo', 'public.mo_b', true);
SELECT vault_unprotect('mo', 'public.mo_c', true);
SELECT vault_unprotect('mo_zone', 'public.mo_c', true);
SELECT vault_drop(v) FROM unnest(ARRAY['mo', 'mo_zone', 'mo_zone2']) v;
SELECT vault_policy_drop('mo_hourly');
DROP TABLE public.mo_a, public.mo_b, public.mo_c;
RESET client_min_messages;
DROP ROLE mo_op, mo_stranger;
