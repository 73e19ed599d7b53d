-- protecting the backups: soft delete, immutability, the guard (multi-user
-- authorization), legal holds, the audit trail.  Time is the explicit clock
-- of vault_apply_retention / vault_purge, or, where a point must have expired
-- by the real clock, a fixture that moves its expiry into the past.
SET client_min_messages = warning;
CREATE ROLE prot_contrib;
CREATE ROLE prot_operator;
CREATE ROLE prot_reader;
CREATE ROLE prot_guards;
CREATE ROLE prot_guard_a IN ROLE prot_guards;
CREATE ROLE prot_guard_b IN ROLE prot_guards;
CREATE ROLE prot_stranger;
GRANT vault_contributor TO prot_contrib;
GRANT vault_operator TO prot_operator;
GRANT vault_reader TO prot_reader;

CREATE TABLE public.prot_t (id int PRIMARY KEY, v text);
INSERT INTO public.prot_t SELECT g, repeat('row ' || g, 20) FROM generate_series(1, 3000) g;
CREATE TABLE public.prot_u (id int PRIMARY KEY, v text);
INSERT INTO public.prot_u SELECT g, repeat('other ' || g, 20) FROM generate_series(1, 2000) g;
GRANT SELECT ON public.prot_t, public.prot_u TO prot_contrib, prot_operator;

-- a new vault: soft delete on, 14 days, not immutable, no guard
SELECT vault_create('safe');
SELECT soft_delete, soft_delete_days, immutability, guard FROM vault_vaults WHERE vault = 'safe';

-- settings: values and ranges
SELECT vault_configure('safe', soft_delete_days => 14);
SELECT vault_configure('safe', soft_delete_days => 180);
SELECT vault_configure('safe', soft_delete_days => 13);
SELECT vault_configure('safe', soft_delete_days => 181);
SELECT vault_configure('safe', soft_delete => 'sometimes');
SELECT vault_configure('safe', immutability => 'forever');
SELECT vault_configure('safe');
SELECT vault_configure('nosuch', soft_delete => 'on');
SELECT vault_configure(NULL, soft_delete => 'on');
SELECT vault_configure('safe', soft_delete_days => 14);
SET ROLE prot_operator;
SELECT vault_configure('safe', soft_delete => 'off');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- the soft-delete life cycle
-- ---------------------------------------------------------------------------
SELECT vault_backup('safe', 'public.prot_t') AS p1 \gset
CREATE TEMP TABLE t_at_p1 AS SELECT * FROM public.prot_t;
UPDATE public.prot_t SET v = 'changed' WHERE id <= 30;
SELECT vault_backup('safe', 'public.prot_t') AS p2 \gset
SELECT vault_backup('safe', 'public.prot_u') AS p3 \gset

-- deleting the item's data soft-deletes it: nothing can be restored or
-- exported, everything still verifies, nothing new goes into the item
SELECT vault_unprotect('safe', 'public.prot_t', true);
SELECT name, state, purge_at BETWEEN now() + interval '14 days' - interval '1 minute'
                              AND now() + interval '14 days' AS purge_in_14_days
  FROM vault_items WHERE vault = 'safe' ORDER BY name;
SELECT recovery_point = :p1 AS is_p1, state, purge_at IS NOT NULL AS has_purge_at
  FROM vault_recovery_points WHERE vault = 'safe' ORDER BY recovery_point;
SELECT vault_restore(:p1, 'public.prot_back');
SELECT count(*) FROM vault_export(:p1);
SELECT ok FROM vault_verify(:p1);
SELECT vault_backup('safe', 'public.prot_t');
SELECT vault_policy_create('prot_daily', 'daily at 01:00', 'daily 30');
SELECT vault_protect('safe', 'public.prot_t', 'prot_daily');
SELECT vault_unprotect('safe', 'public.prot_t', true);
SELECT vault_delete_recovery_point(:p1);
SELECT vault_undelete_point(:p1);

-- undelete: the item and its points come back, and restore as they were
SELECT vault_undelete('safe', 'public.prot_t');
SELECT vault_undelete('safe', 'public.prot_t');
SELECT name, state, purge_at FROM vault_items WHERE vault = 'safe' ORDER BY name;
SELECT vault_restore(:p1, 'public.prot_back');
SELECT (SELECT count(*) FROM (TABLE public.prot_back EXCEPT ALL TABLE t_at_p1) a)
     + (SELECT count(*) FROM (TABLE t_at_p1 EXCEPT ALL TABLE public.prot_back) b) AS differences;
DROP TABLE public.prot_back;

-- delete again; purge one second early does nothing, on time it removes the
-- points and the chunks only they used, while the other points still verify
SELECT vault_unprotect('safe', 'public.prot_t', true);
SELECT purge_at AS due FROM vault_items WHERE vault = 'safe' AND name = 'public.prot_t' \gset
SELECT chunks AS chunks_before FROM vault_vaults WHERE vault = 'safe' \gset
SELECT * FROM vault_purge(:'due'::timestamptz - interval '1 second');
SELECT vault, item, points_purged, chunks_removed > 0 AS removed_chunks, freed_bytes > 0 AS freed
  FROM vault_purge(:'due');
SELECT name, state FROM vault_items WHERE vault = 'safe' ORDER BY name;
SELECT chunks < :chunks_before AS fewer_chunks FROM vault_vaults WHERE vault = 'safe';
SELECT bool_and(ok) AS others_verify FROM vault_recovery_points r, LATERAL vault_verify(r.recovery_point)
 WHERE r.vault = 'safe';
SELECT operation, item, rows FROM vault_jobs WHERE vault = 'safe' AND operation = 'purge';
SELECT * FROM vault_purge(:'due'::timestamptz + interval '1 year');

-- one point: soft-deleted, refused twice, undeleted; an expired one comes
-- back only with a retain_until
SELECT vault_delete_recovery_point(:p3);
SELECT vault_delete_recovery_point(:p3);
SELECT state FROM vault_recovery_points WHERE recovery_point = :p3;
SELECT vault_undelete_point(:p3);
SELECT state, purge_at FROM vault_recovery_points WHERE recovery_point = :p3;
SELECT vault_undelete_point(:p3);
SELECT vault_backup('safe', 'public.prot_u', now() + interval '1 day') AS p4 \gset
SELECT vault_delete_recovery_point(:p4);
UPDATE vault_internal.points SET retain_until = now() - interval '1 day' WHERE point_id = :p4;	-- time passes
\set VERBOSITY terse
SELECT vault_undelete_point(:p4);
SELECT vault_undelete_point(:p4, now() - interval '1 hour');
\set VERBOSITY default
SELECT vault_undelete_point(:p4, now() + interval '30 days');
SELECT state, expires_at > now() AS kept_again FROM vault_recovery_points WHERE recovery_point = :p4;
SELECT vault_undelete_point(NULL);
SELECT vault_undelete_point(999999);
SELECT vault_delete_recovery_point(999999);
SELECT vault_undelete('safe', 'public.nothing');

-- an undeleted item whose points expired meanwhile keeps them until it is
-- protected again
SELECT vault_backup('safe', 'public.prot_t', now() + interval '1 day') AS p5 \gset
SELECT vault_unprotect('safe', 'public.prot_t', true);
UPDATE vault_internal.points SET retain_until = now() - interval '1 day' WHERE point_id = :p5;	-- time passes
SELECT vault_undelete('safe', 'public.prot_t');
SELECT points_expired FROM vault_apply_retention(now() + interval '1 day') WHERE vault = 'safe';
SELECT state FROM vault_recovery_points WHERE recovery_point = :p5;
SELECT vault_protect('safe', 'public.prot_t', 'prot_daily') > 0 AS protected_again;
SELECT points_expired > 0 AS expired_now FROM vault_apply_retention(now() + interval '1 day') WHERE vault = 'safe';
SELECT count(*) AS p5_left FROM vault_recovery_points WHERE recovery_point = :p5;

-- ---------------------------------------------------------------------------
-- the retention-cut path: a point whose expiry a retention change moved
-- earlier is soft-deleted when it comes; ordinary expiry deletes
-- ---------------------------------------------------------------------------
SELECT vault_create('cut');
CREATE TABLE public.prot_c (id int);
INSERT INTO public.prot_c SELECT generate_series(1, 100);
SELECT vault_policy_create('prot_keep', 'daily at 01:00', 'daily 30', 'UTC');
SELECT vault_protect('cut', 'public.prot_c', 'prot_keep') > 0 AS protected;
-- day 0 is a UTC midnight at least a day ahead: every run from day 1 on is due
SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 days' AS day0 \gset
SELECT count(*) AS runs FROM generate_series(1, 10) d,
	   LATERAL vault_run_due(:'day0'::timestamptz + d * interval '1 day' + interval '2 hours')
 WHERE vault = 'cut';
SELECT count(*) AS points, count(DISTINCT expires_at) AS expiries FROM vault_recovery_points WHERE vault = 'cut';
SELECT vault_policy_alter('prot_keep', retention => 'daily 7');
-- at day 12 the points of days 1-5 are past their new expiry (7 days) but not their old one (30)
SELECT points_expired FROM vault_apply_retention(:'day0'::timestamptz + interval '12 days 3 hours')
 WHERE vault = 'cut';
SELECT state, count(*), bool_and(purge_at = :'day0'::timestamptz + interval '12 days 3 hours' + interval '14 days')
       AS purge_at_run_plus_14_days
  FROM vault_recovery_points WHERE vault = 'cut' GROUP BY state ORDER BY state;
SELECT operation, count(*) FROM vault_jobs WHERE vault = 'cut' AND operation IN ('expiry', 'delete') GROUP BY 1;
SELECT count(*) AS audited FROM vault_audit WHERE vault = 'cut' AND operation = 'soft delete';
-- a point made under the new rule expires ordinarily: deleted, an expiry job
SELECT count(*) FROM vault_run_due(:'day0'::timestamptz + interval '13 days 2 hours') WHERE vault = 'cut';
SELECT points_expired FROM vault_apply_retention(:'day0'::timestamptz + interval '21 days 3 hours')
 WHERE vault = 'cut';
SELECT count(*) AS expiry_jobs FROM vault_jobs WHERE vault = 'cut' AND operation = 'expiry';
-- and the soft-deleted ones go at their purge_at
SELECT sum(points_purged) AS purged FROM vault_purge(:'day0'::timestamptz + interval '27 days') WHERE vault = 'cut';
SELECT state, count(*) FROM vault_recovery_points WHERE vault = 'cut' GROUP BY state ORDER BY state;

-- ---------------------------------------------------------------------------
-- off purges at once; always-on and locked are for good
-- ---------------------------------------------------------------------------
SELECT vault_create('offv');
SELECT vault_backup('offv', 'public.prot_u') AS op1 \gset
SELECT vault_unprotect('offv', 'public.prot_u', true);
SELECT items, recovery_points, chunks > 0 AS has_chunks FROM vault_vaults WHERE vault = 'offv';
SELECT vault_drop('offv');
SELECT vault_configure('offv', soft_delete => 'off');
SELECT items, recovery_points, chunks FROM vault_vaults WHERE vault = 'offv';
SELECT vault_backup('offv', 'public.prot_u') AS op2 \gset
SELECT vault_delete_recovery_point(:op2);
SELECT recovery_points, chunks FROM vault_vaults WHERE vault = 'offv';
SELECT vault_configure('offv', soft_delete => 'always-on', soft_delete_days => 30);
SELECT vault_configure('offv', soft_delete => 'on');
SELECT vault_configure('offv', soft_delete => 'off');
SELECT vault_configure('offv', soft_delete => 'always-on', soft_delete_days => 20);
SELECT vault_configure('offv', immutability => 'locked');
SELECT vault_configure('offv', immutability => 'on');
SELECT vault_configure('offv', immutability => 'off');
SELECT soft_delete, soft_delete_days, immutability FROM vault_vaults WHERE vault = 'offv';

-- ---------------------------------------------------------------------------
-- the immutability matrix: with 'on', then with 'locked'
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
	RETURN 'refused ' || SQLSTATE;
END
$$;
-- each run: a vault with the given immutability, an item under policy pol
-- (daily 30, weekly 4) with an unexpired scheduled point, an unexpired
-- on-demand point and an expired one
CREATE FUNCTION pg_temp.matrix(v text, immutability text, pol text, OUT operation text, OUT outcome text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	point bigint;
	expired_point bigint;
BEGIN
	PERFORM vault_create(v);
	PERFORM vault_policy_create(pol, 'daily at 01:00', 'daily 30, weekly 4');
	PERFORM vault_protect(v, 'public.prot_c', pol);
	PERFORM vault_run_due(now() + interval '2 days');
	point := vault_backup(v, 'public.prot_u');
	expired_point := vault_backup(v, 'public.prot_u', now() + interval '1 day');
	UPDATE vault_internal.points SET retain_until = now() - interval '1 hour' WHERE point_id = expired_point;	-- time passes
	PERFORM vault_configure(v, immutability => immutability);

	operation := 'delete an unexpired point';
	outcome := pg_temp.try(format('SELECT vault_delete_recovery_point(%s)', point)); RETURN NEXT;
	operation := 'delete the data of an item with unexpired points';
	outcome := pg_temp.try(format('SELECT vault_unprotect(%L, %L, true)', v, 'public.prot_c')); RETURN NEXT;
	operation := 'lower a rule''s count';
	outcome := pg_temp.try(format('SELECT vault_policy_alter(%L, retention => ''daily 29, weekly 4'')', pol)); RETURN NEXT;
	operation := 'remove a rule';
	outcome := pg_temp.try(format('SELECT vault_policy_alter(%L, retention => ''daily 30'')', pol)); RETURN NEXT;
	operation := 'move the item to a shorter policy';
	outcome := pg_temp.try(format('SELECT vault_protect(%L, %L, %L)', v, 'public.prot_c', 'prot_imm_short')); RETURN NEXT;
	operation := 'raise retention';
	outcome := pg_temp.try(format('SELECT vault_policy_alter(%L, retention => ''daily 31, weekly 4'')', pol)); RETURN NEXT;
	operation := 'change the schedule';
	outcome := pg_temp.try(format('SELECT vault_policy_alter(%L, schedule => ''daily at 03:00'')', pol)); RETURN NEXT;
	operation := 'delete an expired point';
	outcome := pg_temp.try(format('SELECT vault_delete_recovery_point(%s)', expired_point)); RETURN NEXT;
	operation := 'ordinary expiry';
	PERFORM vault_undelete_point(expired_point, now() + interval '1 day');
	UPDATE vault_internal.points SET retain_until = now() - interval '1 hour' WHERE point_id = expired_point;	-- time passes
	outcome := pg_temp.try('SELECT * FROM vault_apply_retention(now())'); RETURN NEXT;
	operation := 'expired point gone';
	outcome := (SELECT CASE WHEN count(*) = 0 THEN 'yes' ELSE 'no' END FROM vault_recovery_points
				WHERE recovery_point = expired_point); RETURN NEXT;
	operation := 'move the item to a longer policy';
	outcome := pg_temp.try(format('SELECT vault_protect(%L, %L, %L)', v, 'public.prot_c', 'prot_imm_long')); RETURN NEXT;
	operation := 'turn immutability off';
	outcome := pg_temp.try(format('SELECT vault_configure(%L, immutability => ''off'')', v)); RETURN NEXT;
END
$$;
SELECT vault_policy_create('prot_imm_short', 'daily at 01:00', 'daily 7');
SELECT vault_policy_create('prot_imm_long', 'daily at 01:00', 'daily 60, weekly 8');
SELECT m1.operation, m1.outcome AS "on", m2.outcome AS locked
  FROM pg_temp.matrix('imm', 'on', 'prot_imm_a') WITH ORDINALITY m1
  JOIN pg_temp.matrix('imml', 'locked', 'prot_imm_b') WITH ORDINALITY m2 USING (ordinality);
SELECT vault, immutability FROM vault_vaults WHERE vault IN ('imm', 'imml') ORDER BY vault;
-- the refusals name the vault and the rule
SELECT recovery_point AS ip1 FROM vault_recovery_points WHERE vault = 'imml' AND item = 'public.prot_u' \gset
SELECT vault_delete_recovery_point(:ip1);
SELECT vault_unprotect('imml', 'public.prot_c', true);
SELECT vault_policy_alter('prot_imm_long', retention => 'daily 30');
-- 'on' can be turned off, and then deleting works
SELECT vault_create('imm2');
SELECT vault_configure('imm2', immutability => 'on');
SELECT vault_backup('imm2', 'public.prot_u') AS i2p \gset
SELECT vault_delete_recovery_point(:i2p);
SELECT vault_configure('imm2', immutability => 'off');
SELECT vault_delete_recovery_point(:i2p);

-- ---------------------------------------------------------------------------
-- the guard matrix
-- ---------------------------------------------------------------------------
SELECT vault_create('guarded');
SELECT vault_create('guarded_too');
SELECT vault_grant('guarded', 'prot_operator', 'operator');
SELECT vault_backup('guarded', 'public.prot_u') AS gp1 \gset
SELECT vault_backup('guarded', 'public.prot_u') AS gp2 \gset
SET ROLE prot_contrib;
SELECT vault_guard_set('guarded', 'prot_guards');
RESET ROLE;
SELECT vault_guard_set('guarded', 'prot_guards');
SELECT vault_guard_set('guarded_too', 'prot_guards');
SELECT vault_guard_set('guarded', 'prot_guards');
SELECT guard FROM vault_vaults WHERE vault = 'guarded';
SELECT vault_request('safe', 'delete_data', 'no guard there');
SELECT vault_request('guarded', 'drop_everything', 'nope');
SELECT vault_request('guarded', 'delete_data', '');
SET ROLE prot_reader;
SELECT vault_request('guarded', 'delete_data', 'a reader asks');
RESET ROLE;
-- no approval: refused, whoever calls (a superuser included)
SELECT vault_delete_recovery_point(:gp1);
SET ROLE prot_contrib;
SELECT vault_delete_recovery_point(:gp1);
-- a request by the operator; approved by the requester, a non-member, a
-- superuser who is not a member: refused
SET ROLE prot_operator;
SELECT vault_request('guarded', 'delete_data', 'ticket 17: remove a bad point') AS r1 \gset
SELECT request = :r1 AS mine, operation, reason, requested_by, state FROM vault_requests;
SELECT vault_approve(:r1);
SET ROLE prot_stranger;
SELECT vault_approve(:r1);
SELECT count(*) AS stranger_sees FROM vault_requests;
RESET ROLE;
SELECT vault_approve(:r1);
SET ROLE prot_guard_a;
SELECT count(*) AS guard_sees FROM vault_requests WHERE vault = 'guarded';
SELECT vault_approve(:r1, '25 hours');
SELECT vault_approve(:r1, '0 seconds');
SELECT vault_approve(999999);
SELECT vault_approve(:r1, '30 minutes');
SELECT vault_approve(:r1);
RESET ROLE;
SELECT state, approved_by FROM vault_requests WHERE request = :r1;
-- approved, but for another role, vault and operation: refused
SET ROLE prot_contrib;
SELECT vault_delete_recovery_point(:gp1);
RESET ROLE;
GRANT vault_contributor TO prot_operator;
SET ROLE prot_operator;
SELECT vault_backup('guarded_too', 'public.prot_u') AS gt1 \gset
SELECT vault_delete_recovery_point(:gt1);
SELECT vault_configure('guarded', soft_delete => 'off');
-- the proper one works, once
SELECT vault_delete_recovery_point(:gp1);
SELECT state FROM vault_requests WHERE request = :r1;
SELECT vault_delete_recovery_point(:gp2);
-- an expired approval is refused
SELECT vault_request('guarded', 'delete_data', 'ticket 18') AS r2 \gset
SET ROLE prot_guard_b;
SELECT vault_approve(:r2, '1 minute');
RESET ROLE;
UPDATE vault_internal.requests SET valid_until = now() - interval '1 second' WHERE request_id = :r2;	-- time passes
SET ROLE prot_operator;
SELECT state FROM vault_requests WHERE request = :r2;
SELECT vault_delete_recovery_point(:gp2);
RESET ROLE;
REVOKE vault_contributor FROM prot_operator;
-- every critical operation asks: lowering soft-delete days, soft delete off,
-- immutability off, changing and removing the guard
SELECT vault_configure('guarded', soft_delete_days => 30);
SELECT vault_configure('guarded', soft_delete_days => 20);
SELECT vault_configure('guarded', immutability => 'on');
SELECT vault_configure('guarded', immutability => 'off');
SELECT vault_guard_set('guarded', 'prot_stranger');
SELECT vault_guard_set('guarded', NULL);
SELECT vault_request('guarded', 'immutability_off', 'ticket 19') AS r3 \gset
SET ROLE prot_guard_a;
SELECT vault_approve(:r3);
RESET ROLE;
SELECT vault_configure('guarded', immutability => 'off');
SELECT immutability FROM vault_vaults WHERE vault = 'guarded';
-- a retention reduction asks too, immutable or not (a rule removed from the
-- policy, a move to a policy that keeps fewer points), and so does deleting
-- an item's data; a longer retention does not
SELECT vault_policy_create('prot_gpol', 'daily at 01:00', 'daily 30, weekly 4');
SELECT vault_policy_create('prot_gshort', 'daily at 01:00', 'daily 7');
SELECT vault_protect('guarded', 'public.prot_t', 'prot_gpol') > 0 AS protected;
SELECT vault_policy_alter('prot_gpol', retention => 'daily 30, weekly 8');
SELECT vault_policy_alter('prot_gpol', retention => 'daily 30');
SELECT vault_protect('guarded', 'public.prot_t', 'prot_gshort');
SELECT vault_unprotect('guarded', 'public.prot_t', true);
SELECT vault_request('guarded', 'reduce_retention', 'ticket 20: weekly points go to the archive vault') AS r5 \gset
SET ROLE prot_guard_b;
SELECT vault_approve(:r5);
RESET ROLE;
SELECT vault_policy_alter('prot_gpol', retention => 'daily 30');
SELECT retention FROM vault_policies WHERE policy = 'prot_gpol';
SELECT vault_protect('guarded', 'public.prot_t', 'prot_gshort');
SELECT name, policy, state FROM vault_items WHERE vault = 'guarded' ORDER BY name;
SELECT state, count(*) FROM vault_requests GROUP BY state ORDER BY state;

-- ---------------------------------------------------------------------------
-- legal hold: outlives expiry, purge, delete and off; its release is critical
-- ---------------------------------------------------------------------------
SELECT vault_create('held');
SELECT vault_backup('held', 'public.prot_u', now() + interval '1 day') AS hp1 \gset
SELECT vault_backup('held', 'public.prot_t', now() + interval '1 day') AS hp2 \gset
SELECT vault_legal_hold('held', 'case 2026-041', 'public.prot_u') AS h1 \gset
SELECT vault_legal_hold('held', '', 'public.prot_u');
SELECT vault_legal_hold('held', 'x', 'public.nothing');
SELECT vault_legal_hold('held', 'x', NULL, now(), now() - interval '1 day');
SELECT vault_legal_hold('held', 'covers nothing', NULL, now() + interval '1 year');
SELECT hold = :h1 AS h1, vault, item, reason, points, state FROM vault_legal_holds WHERE vault = 'held' ORDER BY hold;
SELECT recovery_point = :hp1 AS is_hp1, on_hold FROM vault_recovery_points WHERE vault = 'held' ORDER BY recovery_point;
UPDATE vault_internal.points SET retain_until = now() - interval '1 hour' WHERE vault_id = (
	SELECT vault_id FROM vault_internal.vaults WHERE name = 'held');	-- time passes
SELECT points_expired FROM vault_apply_retention(now()) WHERE vault = 'held';
SELECT recovery_point = :hp1 AS is_hp1, state FROM vault_recovery_points WHERE vault = 'held' ORDER BY recovery_point;
SELECT vault_delete_recovery_point(:hp1);
SELECT vault_unprotect('held', 'public.prot_u', true);
-- a hold covers soft-deleted points too: placed after the delete, it keeps them from purge
SELECT vault_backup('held', 'public.prot_t') AS hp3 \gset
SELECT vault_delete_recovery_point(:hp3);
SELECT vault_legal_hold('held', 'case 2026-042', 'public.prot_t') AS h2 \gset
SELECT vault, item, points_purged FROM vault_purge(now() + interval '1 year') ORDER BY vault, item;
SELECT vault_configure('held', soft_delete => 'off');
SELECT state FROM vault_recovery_points WHERE recovery_point = :hp3;
SELECT vault_configure('held', soft_delete => 'on');
-- release: once; under a guard only with an approval
SELECT vault_legal_hold_release(999999);
SELECT vault_guard_set('held', 'prot_guards');
SELECT vault_legal_hold_release(:h2);
SELECT vault_request('held', 'legal_hold_release', 'case 2026-042 closed') AS r4 \gset
SET ROLE prot_guard_b;
SELECT vault_approve(:r4);
RESET ROLE;
SELECT vault_legal_hold_release(:h2);
SELECT vault_legal_hold_release(:h2);
SELECT state, released_by IS NOT NULL AS released_by_set FROM vault_legal_holds WHERE hold = :h2;
SELECT vault_purge(now() + interval '1 year') IS NOT NULL AS purged;
SELECT count(*) AS hp3_left FROM vault_recovery_points WHERE recovery_point = :hp3;

-- ---------------------------------------------------------------------------
-- rights of the new calls
-- ---------------------------------------------------------------------------
SET ROLE prot_operator;
SELECT vault_configure('held', soft_delete_days => 30);
SELECT vault_legal_hold('held', 'x');
SELECT vault_undelete('held', 'public.prot_u');
SELECT * FROM vault_purge(now());
SET ROLE prot_contrib;
SELECT vault_guard_set('held', NULL);
RESET ROLE;

-- ---------------------------------------------------------------------------
-- the audit trail: every state-changing call, in its transaction
-- ---------------------------------------------------------------------------
SELECT operation, count(*) FROM vault_audit WHERE vault IN ('safe', 'cut', 'offv', 'imm', 'imml', 'imm2', 'guarded', 'held')
 GROUP BY operation ORDER BY operation;
SELECT role, item, operation, CASE WHEN operation = 'purge' THEN split_part(detail, ',', 1) ELSE detail END
  FROM vault_audit WHERE vault = 'safe' AND operation <> 'protect' ORDER BY at, operation LIMIT 8;
-- a refused call leaves no audit row
SELECT count(*) AS before FROM vault_audit \gset
SELECT vault_delete_recovery_point(:gp2);
SELECT count(*) = :before AS unchanged FROM vault_audit;
-- and the trail cannot be changed through anything a user can reach
SET ROLE prot_contrib;
DELETE FROM vault_internal.audit;
RESET ROLE;
