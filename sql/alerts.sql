-- alerts: each kind raised by its event (explicit clocks where time
-- matters), job alerts at the first failure with one open alert per item
-- counting further failures and resolved by the next success, the per-vault
-- switch, acknowledging, and who sees what.  NOTIFY and vault.alert_command
-- are in test/t/061_alerts.pl.
SET client_min_messages = warning;
CREATE TABLE public.al_t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300) g;
CREATE TABLE public.al_u AS SELECT g AS id FROM generate_series(1, 10) g;
CREATE ROLE al_op;
CREATE ROLE al_reader;
CREATE ROLE al_stranger;
CREATE ROLE al_guard;
CREATE ROLE al_guard_a IN ROLE al_guard;
CREATE ROLE al_guard_b IN ROLE al_guard;
SELECT vault_create('al');
SELECT vault_grant('al', 'al_op', 'operator');
SELECT vault_grant('al', 'al_reader', 'reader');
SELECT vault_policy_create('al_daily', 'every 1 hours', 'daily 30');

CREATE VIEW al_seen AS
SELECT severity, category, vault, item, kind, occurrences, state, resolved_at IS NOT NULL AS resolved
FROM vault_alerts WHERE vault IN ('al', 'al_quiet') ORDER BY alert;

-- job alerts: a scheduled backup fails (its table was dropped): an alert at
-- the first failure, counted after, resolved by the next success
SELECT vault_protect('al', 'public.al_u', 'al_daily') > 0 AS protected;
ALTER TABLE public.al_u RENAME TO al_u_away;
SELECT state, error FROM vault_run_due(now() + interval '2 hours') WHERE vault = 'al';
SELECT * FROM al_seen;
SELECT message FROM vault_alerts WHERE vault = 'al' AND kind = 'backup failure';
SELECT state FROM vault_run_due(now() + interval '4 hours') WHERE vault = 'al';
SELECT * FROM al_seen;
ALTER TABLE public.al_u_away RENAME TO al_u;
SELECT state FROM vault_run_due(now() + interval '6 hours') WHERE vault = 'al';
SELECT * FROM al_seen;

-- an on-demand backup that fails rolls back with its caller; its alert is
-- raised by the next round (here the explicit-clock vault_run_due)
SET ROLE al_op;
SELECT vault_backup('al', 'public.al_t');
RESET ROLE;
SELECT count(*) AS open_now FROM vault_alerts WHERE vault = 'al' AND state <> 'resolved';
SELECT count(*) FROM vault_run_due(now());
SELECT * FROM al_seen WHERE item = 'public.al_t';
SELECT message FROM vault_alerts WHERE vault = 'al' AND item = 'public.al_t';
SELECT vault_backup('al', 'public.al_t') > 0 AS backed_up;
SELECT * FROM al_seen WHERE item = 'public.al_t';

-- job alerts off: a failure raises nothing; security alerts stay on
SELECT vault_create('al_quiet');
SELECT vault_configure('al_quiet', job_alerts => false);
SELECT vault_protect('al_quiet', 'public.al_u', 'al_daily') > 0 AS protected;
ALTER TABLE public.al_u RENAME TO al_u_away;
SELECT vault, state FROM vault_run_due(now() + interval '8 hours') WHERE vault = 'al_quiet';
SELECT count(*) AS quiet_alerts FROM vault_alerts WHERE vault = 'al_quiet';
ALTER TABLE public.al_u_away RENAME TO al_u;

-- acknowledging: operator on the vault; twice, or unknown, refused
SELECT alert AS ack_me FROM vault_alerts WHERE vault = 'al' AND item = 'public.al_u' AND kind = 'backup failure' AND state = 'active' \gset
SET ROLE al_reader;
SELECT vault_alert_ack(:ack_me);
SET ROLE al_op;
SELECT vault_alert_ack(:ack_me);
SELECT set_config('al.ack', :'ack_me', false) IS NOT NULL AS noted;
DO $$
BEGIN
	PERFORM vault_alert_ack(current_setting('al.ack')::bigint);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
	RAISE WARNING '% (SQLSTATE %)', regexp_replace(SQLERRM, '[0-9]+', 'N'), SQLSTATE;
END
$$;
RESET ROLE;
SELECT vault_alert_ack(0);
SELECT vault_alert_ack(NULL);

-- security: backup data deleted (a point, an item)
SELECT vault_backup('al', 'public.al_t') AS p1 \gset
SELECT vault_delete_recovery_point(:p1);
SELECT kind, severity, category, item, state FROM vault_alerts
 WHERE vault = 'al' AND kind = 'backup data deleted' ORDER BY alert;
SELECT message ~ ('recovery point ' || :p1 || ' of vault al was deleted by') AS names_point_and_role
  FROM vault_alerts WHERE vault = 'al' AND kind = 'backup data deleted';

-- upcoming purge: two days before purge_at, once; then purge complete
SELECT purge_at AS due FROM vault_recovery_points WHERE recovery_point = :p1 \gset
SELECT count(*) FROM vault_purge(:'due'::timestamptz - interval '3 days');
SELECT count(*) AS upcoming_3_days_before FROM vault_alerts WHERE vault = 'al' AND kind = 'upcoming purge';
SELECT count(*) FROM vault_purge(:'due'::timestamptz - interval '1 day');
SELECT count(*) FROM vault_purge(:'due'::timestamptz - interval '1 hour');
SELECT kind, item, occurrences, state FROM vault_alerts WHERE vault = 'al' AND kind = 'upcoming purge';
SELECT vault, item, points_purged FROM vault_purge(:'due'::timestamptz + interval '1 minute');
SELECT kind, item, state FROM vault_alerts WHERE vault = 'al' AND kind IN ('upcoming purge', 'purge complete')
 ORDER BY alert;

-- soft delete disabled
SELECT vault_configure('al', soft_delete => 'off');
SELECT kind, item, severity FROM vault_alerts WHERE vault = 'al' AND kind = 'soft delete disabled';
SELECT vault_configure('al', soft_delete => 'on');

-- retention shortened: a policy whose rule keeps fewer points
SELECT vault_policy_alter('al_daily', retention => 'daily 7');
SELECT kind, item, severity, message ~ '"daily 7"' AS says_rule FROM vault_alerts
 WHERE vault = 'al' AND kind = 'retention shortened';
SELECT vault_policy_alter('al_daily', retention => 'daily 40');
SELECT count(*) AS still_one FROM vault_alerts WHERE vault = 'al' AND kind = 'retention shortened';

-- guard removed (an approved request)
SELECT vault_guard_set('al', 'al_guard');
SELECT vault_request('al', 'guard_change', 'rotation of duty') AS req \gset
SET ROLE al_guard_b;
SELECT vault_approve(:req);
RESET ROLE;
SELECT vault_guard_set('al', NULL);
SELECT kind, severity FROM vault_alerts WHERE vault = 'al' AND kind = 'guard removed';

-- rights: a role without a level sees none of the vault's alerts
SET ROLE al_stranger;
SELECT count(*) AS stranger_sees FROM vault_alerts WHERE vault = 'al';
SET ROLE al_reader;
SELECT count(*) > 0 AS reader_sees FROM vault_alerts WHERE vault = 'al';
RESET ROLE;

-- every kind an alert of this suite carries, with its category and severity
SELECT DISTINCT kind, category, severity FROM vault_alerts WHERE vault = 'al' ORDER BY kind;

-- clean up
DROP VIEW al_seen;
SELECT vault_configure(v, soft_delete => 'off') FROM unnest(ARRAY['al', 'al_quiet']) v;
SELECT vault_unprotect(v, 'public.al_u', true) FROM unnest(ARRAY['al', 'al_quiet']) v;
SELECT vault_unprotect('al', 'public.al_t', true);
SELECT vault_drop(v) FROM unnest(ARRAY['al', 'al_quiet']) v;
SELECT vault_policy_drop('al_daily');
DROP TABLE public.al_t, public.al_u;
RESET client_min_messages;
DROP ROLE al_op, al_reader, al_stranger, al_guard_a, al_guard_b, al_guard;
