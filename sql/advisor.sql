-- the advisor: each rule fired by a minimal setup and silent without it,
-- the reliability findings in impact order, in-line protection, snooze
-- (explicit clock), dismiss and reactivate, ids kept when a finding comes
-- back, the refusals, and who sees what.  The worker's own refresh is in
-- test/t/064_advisor.pl.
SET client_min_messages = warning;
CREATE ROLE adv_op;
CREATE ROLE adv_reader;
CREATE ROLE adv_stranger;
CREATE SCHEMA adv;
CREATE SCHEMA adv2;
GRANT USAGE ON SCHEMA adv, adv2 TO adv_op, adv_reader, adv_stranger;
-- written a lot (high), middling (medium), empty and tiny (low), protected (none)
CREATE TABLE adv.hot (id int, v text);
INSERT INTO adv.hot SELECT g, md5(g::text) FROM generate_series(1, 110000) g;
CREATE TABLE adv.mid (id int, v text);
INSERT INTO adv.mid SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
CREATE TABLE adv.empty (id int);
CREATE TABLE adv.tiny AS SELECT 1 AS id;
CREATE TABLE adv.safe AS SELECT g AS id, repeat(md5(g::text), 10) AS v FROM generate_series(1, 1000) g;
-- two unprotected tables only: no schema finding for adv2
CREATE TABLE adv2.a AS SELECT 1 AS id;
CREATE TABLE adv2.b AS SELECT 1 AS id;
GRANT SELECT ON adv.hot, adv.mid, adv.safe TO adv_op;
GRANT SELECT ON adv.hot TO adv_reader;
SELECT pg_stat_force_next_flush();
SELECT pg_sleep(0.1);

SELECT vault_create('adv_v');
SELECT vault_grant('adv_v', 'adv_op', 'operator');
SELECT vault_grant('adv_v', 'adv_reader', 'reader');
SELECT vault_policy_create('adv_hourly', 'every 1 hours', 'daily 30');
SELECT vault_protect('adv_v', 'adv.safe', 'adv_hourly') > 0 AS protected;

-- a call's outcome, its error with the ids (which depend on what other
-- suites left) written as N
CREATE FUNCTION adv_try(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_msg text;
	v_hint text;
	v_state text;
BEGIN
	EXECUTE call;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT, v_hint = PG_EXCEPTION_HINT;
	RETURN v_state || ' ' || regexp_replace(v_msg, '\d+', 'N', 'g')
		   || coalesce(nullif(' (hint: ' || regexp_replace(v_hint, '\d+', 'N', 'g') || ')', ' (hint: )'), '');
END
$$;
GRANT EXECUTE ON FUNCTION adv_try(text) TO PUBLIC;

CREATE VIEW adv_seen AS
SELECT id, category, impact, object_kind, object_name, recommendation, state, snoozed_until
FROM vault_advisor
WHERE object_name LIKE 'adv%' OR object_name IN ('adv', 'adv2');
CREATE VIEW adv_rules AS
SELECT category, impact, object_kind, object_name, recommendation FROM adv_seen;
GRANT SELECT ON adv_seen, adv_rules TO PUBLIC;

-- reliability: exactly the unprotected tables of adv and adv2, by impact,
-- and the schema of three or more
SELECT vault_advisor_refresh(now());
SELECT category, impact, object_kind, object_name, recommendation FROM adv_seen
WHERE category = 'reliability';
SELECT why FROM vault_advisor WHERE object_name = 'adv.hot';
SELECT apply_sql = format('SELECT vault_advisor_apply(%s, vault => ''<vault>'', policy => ''<policy>'');', id)
	   AS apply_sql_names_it
FROM vault_advisor WHERE object_name = 'adv.hot';

-- protecting one in-line (as vault_protect: rights and checks) makes it go
-- at the next refresh
SELECT id AS hot_id, first_seen AS hot_first FROM vault_advisor WHERE object_name = 'adv.hot' \gset
SET ROLE adv_op;
SELECT vault_advisor_apply(:hot_id, 'adv_v', 'adv_hourly') AS hot_item \gset
RESET ROLE;
SELECT name, policy, state, item_id = :hot_item AS the_returned_item
FROM vault_items WHERE vault = 'adv_v' ORDER BY name;
SELECT vault_advisor_refresh(now());
SELECT count(*) AS hot_findings FROM vault_advisor WHERE object_name = 'adv.hot';
-- it comes back when the table is no longer protected: the same id and first_seen
SELECT vault_unprotect('adv_v', 'adv.hot');
SELECT vault_advisor_refresh(now());
SELECT id = :hot_id AS same_id, first_seen = :'hot_first' AS same_first_seen, state
FROM vault_advisor WHERE object_name = 'adv.hot';

-- snooze hides it until its time (explicit clock); dismiss until reactivated
SELECT id AS mid_id FROM vault_advisor WHERE object_name = 'adv.mid' \gset
SELECT id AS tiny_id FROM vault_advisor WHERE object_name = 'adv.tiny' \gset
SELECT vault_advisor_snooze(:mid_id, now() + interval '2 days');
SELECT vault_advisor_dismiss(:tiny_id);
SELECT object_name, state, snoozed_until > now() AS until FROM adv_seen
WHERE object_name IN ('adv.mid', 'adv.tiny') ORDER BY 1;
SELECT vault_advisor_refresh(now() + interval '1 day');
SELECT object_name, state FROM adv_seen WHERE object_name IN ('adv.mid', 'adv.tiny') ORDER BY 1;
SELECT vault_advisor_refresh(now() + interval '3 days');
SELECT object_name, state FROM adv_seen WHERE object_name IN ('adv.mid', 'adv.tiny') ORDER BY 1;
SELECT vault_advisor_reactivate(:tiny_id);
SELECT object_name, state FROM adv_seen WHERE object_name = 'adv.tiny';
-- a dismissed finding whose cause goes and comes back stays dismissed
SELECT vault_advisor_dismiss(:tiny_id);
ALTER TABLE adv.tiny RENAME TO tiny2;
SELECT vault_advisor_refresh(now());
ALTER TABLE adv.tiny2 RENAME TO tiny;
SELECT vault_advisor_refresh(now());
SELECT id = :tiny_id AS same_id, state FROM adv_seen WHERE object_name = 'adv.tiny';

-- refusals
SELECT adv_try(format('SELECT vault_advisor_snooze(%s, %L)', :mid_id, '2020-01-01'));
SELECT adv_try(format('SELECT vault_advisor_snooze(%s, now() + interval ''13 months'')', :mid_id));
SELECT adv_try(format('SELECT vault_advisor_snooze(%s, NULL)', :mid_id));
SELECT adv_try('SELECT vault_advisor_snooze(-1, now() + interval ''1 day'')');
SELECT adv_try(format('SELECT vault_advisor_dismiss(%s)', :tiny_id));
SELECT adv_try(format('SELECT vault_advisor_reactivate(%s)', :mid_id));
SELECT adv_try(format('SELECT vault_advisor_apply(%s)', :mid_id));
SELECT adv_try(format('SELECT vault_advisor_apply(%s, %L, NULL)', :mid_id, 'adv_v'));
SELECT adv_try(format('SELECT vault_advisor_apply(%s, %L, %L)', :mid_id, 'no_such_vault', 'adv_hourly'));

-- the vault's and policies' rules: each fired, then silent
SELECT vault_create('adv_w');
SELECT vault_create('adv_geo');	-- an empty vault: no redundancy finding
SELECT vault_policy_create('adv_unused', 'daily at 03:00', 'daily 7');
SELECT vault_advisor_refresh(now());
SELECT * FROM adv_rules WHERE object_kind IN ('vault', 'policy') ORDER BY 1, 2, 3, 4;
SELECT vault_configure('adv_v', soft_delete => 'off');
SELECT vault_configure('adv_w', immutability => 'on');
SELECT vault_policy_drop('adv_unused');
SELECT vault_advisor_refresh(now());
SELECT * FROM adv_rules WHERE object_kind IN ('vault', 'policy') ORDER BY 1, 2, 3, 4;
-- applying settings: soft delete back on, immutability on (both reversible);
-- the others are refused with the call to make by hand
SELECT id AS sd_id FROM vault_advisor WHERE object_name = 'adv_v' AND recommendation LIKE 'Turn soft delete on%' \gset
SELECT id AS imm_id FROM vault_advisor WHERE object_name = 'adv_v' AND recommendation LIKE '%immutable%' \gset
SELECT id AS red_id FROM vault_advisor WHERE object_name = 'adv_v' AND recommendation LIKE '%redundancy is local%' \gset
SET ROLE adv_op;
SELECT adv_try(format('SELECT vault_advisor_apply(%s)', :sd_id));
RESET ROLE;
SELECT adv_try(format('SELECT vault_advisor_apply(%s, %L, %L)', :sd_id, 'adv_v', 'adv_hourly'));
SELECT vault_advisor_apply(:sd_id);
SELECT vault_advisor_apply(:imm_id);
SELECT soft_delete, immutability FROM vault_vaults WHERE vault = 'adv_v';
SELECT adv_try(format('SELECT vault_advisor_apply(%s)', :red_id));
SELECT vault_configure('adv_v', immutability => 'off');
-- always-on for a vault of five items or more
CREATE TABLE adv.p1 AS SELECT 1 AS id;
CREATE TABLE adv.p2 AS SELECT 1 AS id;
CREATE TABLE adv.p3 AS SELECT 1 AS id;
SELECT vault_protect('adv_v', 'adv.p1', 'adv_hourly') > 0, vault_protect('adv_v', 'adv.p2', 'adv_hourly') > 0;
SELECT vault_advisor_refresh(now());
SELECT count(*) AS always_on_at_four FROM vault_advisor WHERE object_name = 'adv_v' AND recommendation LIKE '%always-on%';
SELECT vault_protect('adv_v', 'adv.p3', 'adv_hourly') > 0;
SELECT vault_advisor_refresh(now());
SELECT impact, recommendation FROM vault_advisor WHERE object_name = 'adv_v' AND recommendation LIKE '%always-on%';

-- items: inactive for 7 days, failing with an alert for a day
ALTER TABLE adv.p1 RENAME TO p1_away;
SELECT state FROM vault_run_due(now() + interval '1 hour') WHERE item = 'adv.p1';
SELECT vault_advisor_refresh(now());
SELECT count(*) AS item_findings_now FROM vault_advisor WHERE object_kind = 'item' AND object_name LIKE 'adv.%';
SELECT vault_advisor_refresh(now() + interval '8 days');
SELECT category, impact, object_name, recommendation FROM adv_seen WHERE object_kind = 'item' ORDER BY 1, 3;
ALTER TABLE adv.p1_away RENAME TO p1;

-- cost: many points that add almost nothing; soft-deleted data kept long;
-- chunks no point uses
SELECT count(*) AS cost_items_before FROM adv_seen WHERE category = 'cost' AND object_kind = 'item';
SELECT count(*) FROM (SELECT vault_backup('adv_v', 'adv.safe') FROM generate_series(1, 11)) b;
SELECT vault_advisor_refresh(now());
SELECT impact, object_name, recommendation FROM adv_seen WHERE category = 'cost' AND object_kind = 'item';
SELECT vault_create('adv_x');
SELECT vault_configure('adv_x', soft_delete_days => 60, immutability => 'on');
SELECT vault_configure('adv_x', immutability => 'off');
CREATE TABLE adv.gone AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g;
SELECT vault_backup('adv_x', 'adv.gone') AS gone_point \gset
SELECT vault_backup('adv_x', 'adv.gone') AS kept_point \gset
SELECT vault_advisor_refresh(now());
SELECT count(*) AS cost_before FROM adv_seen WHERE category = 'cost' AND object_name = 'adv_x';
SELECT vault_delete_recovery_point(:gone_point);
SELECT vault_advisor_refresh(now());
SELECT impact, object_name, recommendation FROM adv_seen WHERE category = 'cost' AND object_name = 'adv_x' ORDER BY 3;
-- chunks no point uses: points gone without their chunks (as when the
-- collection was skipped), removed by hand here
DELETE FROM vault_internal.points WHERE point_id IN (:gone_point, :kept_point);
SELECT vault_advisor_refresh(now());
SELECT impact, object_name, regexp_replace(recommendation, '[0-9]+ kB', 'N kB') AS recommendation
FROM adv_seen WHERE category = 'cost' AND object_name = 'adv_x' ORDER BY 3;

-- performance: every backup of a table whose rows all change stores it again
CREATE TABLE adv.churn AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;
SELECT vault_protect('adv_v', 'adv.churn', 'adv_hourly') > 0;
SELECT vault_backup('adv_v', 'adv.churn') > 0;
UPDATE adv.churn SET v = md5(v);
SELECT vault_backup('adv_v', 'adv.churn') > 0;
UPDATE adv.churn SET v = md5(v);
SELECT vault_backup('adv_v', 'adv.churn') > 0;
SELECT vault_advisor_refresh(now());
SELECT count(*) AS churn_after_two_changes FROM vault_advisor WHERE object_name = 'adv.churn';
UPDATE adv.churn SET v = md5(v);
SELECT vault_backup('adv_v', 'adv.churn') > 0;
SELECT vault_advisor_refresh(now());
SELECT category, impact, object_name, recommendation FROM adv_seen WHERE object_name = 'adv.churn';
-- performance: a policy whose backups take longer than its interval (the
-- scheduled jobs' durations made long here: the measured figure it reads)
SELECT state FROM vault_run_due(now() + interval '2 hours') WHERE item = 'adv.safe';
SELECT vault_advisor_refresh(now());
SELECT count(*) AS slow_before FROM vault_advisor WHERE object_kind = 'policy' AND object_name = 'adv_hourly';
UPDATE vault_internal.jobs SET started_at = ended_at - interval '3 hours'
WHERE item_name = 'adv.safe' AND trigger = 'scheduled' AND state = 'completed';
SELECT vault_advisor_refresh(now());
SELECT category, impact, object_name, recommendation FROM adv_seen WHERE object_kind = 'policy';

-- who sees what: a table only to who may SELECT it; a vault's findings
-- only to who holds a level on it
SET ROLE adv_reader;
SELECT object_kind, object_name FROM adv_seen WHERE object_kind IN ('table', 'schema') ORDER BY 1, 2;
SELECT count(*) > 0 AS reader_sees_vault FROM adv_seen WHERE object_kind = 'vault' AND object_name = 'adv_v';
SELECT adv_try(format('SELECT vault_advisor_dismiss(%s)', :mid_id));
SELECT adv_try(format('SELECT vault_advisor_dismiss(%s)', :red_id));
SET ROLE adv_stranger;
SELECT count(*) AS stranger_sees FROM adv_seen;
SELECT vault_advisor_refresh();
SELECT vault_advisor_refresh(now());
SET ROLE adv_op;
SELECT vault_advisor_refresh();
RESET ROLE;

-- clean up
DROP VIEW adv_rules, adv_seen;
DROP FUNCTION adv_try(text);
SELECT vault_configure(v, soft_delete => 'off', immutability => 'off') FROM unnest(ARRAY['adv_v', 'adv_w', 'adv_x']) v;
SELECT vault_unprotect(vault, name, true) FROM vault_items WHERE vault IN ('adv_v', 'adv_w', 'adv_x') AND state <> 'soft-deleted';
SELECT count(*) >= 0 FROM vault_purge(now() + interval '1 year');
SELECT count(*) >= 0 FROM vault_apply_retention(now());
DELETE FROM vault_internal.chunks WHERE vault_id = (SELECT vault_id FROM vault_internal.vaults WHERE name = 'adv_x');
SELECT vault_drop(v) FROM unnest(ARRAY['adv_v', 'adv_w', 'adv_x', 'adv_geo']) v;
SELECT vault_policy_drop('adv_hourly');
DROP SCHEMA adv, adv2 CASCADE;
RESET client_min_messages;
DROP ROLE adv_op, adv_reader, adv_stranger;
