-- redundancy settings and zone vaults without a standby (the regression
-- cluster has none): chosen before the first item only; a zone backup is
-- refused before anything is written, on demand and scheduled.  A real
-- synchronous standby is in test/t/050_zone.pl.
SET client_min_messages = warning;
CREATE TABLE public.red_t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 500) g;

SELECT vault_create('red_zone');
SELECT vault, redundancy, cross_region_restore FROM vault_vaults WHERE vault = 'red_zone';
SELECT vault_configure('red_zone', redundancy => 'region');
SELECT vault_configure('red_zone', redundancy => 'zone');
SELECT vault, redundancy FROM vault_vaults WHERE vault = 'red_zone';
SELECT vault_configure('red_zone', cross_region_restore => true);
SELECT vault_configure('red_zone', cross_region_restore => false);

-- no synchronous standby: refused, nothing written
\set VERBOSITY terse
SELECT vault_backup('red_zone', 'public.red_t');
\set VERBOSITY default
SELECT vault_backup('red_zone', 'public.red_t');
SELECT (SELECT count(*) FROM vault_items WHERE vault = 'red_zone') AS items,
	   (SELECT count(*) FROM vault_recovery_points WHERE vault = 'red_zone') AS points,
	   (SELECT count(*) FROM vault_internal.chunks c JOIN vault_internal.vaults v USING (vault_id)
		WHERE v.name = 'red_zone') AS chunks,
	   (SELECT count(*) FROM vault_jobs WHERE vault = 'red_zone') AS jobs;

-- scheduled: a failed job with the same error
SELECT vault_policy_create('red_hourly', 'every 1 hours', 'daily 7');
SELECT vault_protect('red_zone', 'public.red_t', 'red_hourly') > 0 AS protected;
SELECT vault, item, state, recovery_point, error FROM vault_run_due(now() + interval '2 hours')
 WHERE vault = 'red_zone';
SELECT operation, trigger, state, error FROM vault_jobs WHERE vault = 'red_zone';

-- the redundancy is fixed once the vault holds anything
SELECT vault_configure('red_zone', redundancy => 'local');
SELECT vault, redundancy FROM vault_vaults WHERE vault = 'red_zone';

-- a local vault backs up as before
SELECT vault_create('red_local');
SELECT vault_backup('red_local', 'public.red_t') > 0 AS backed_up;
SELECT vault_configure('red_local', redundancy => 'zone');

-- rights: contributor on the vault
CREATE ROLE red_operator;
SELECT vault_create('red_new');
SELECT vault_grant('red_new', 'red_operator', 'operator');
SET ROLE red_operator;
SELECT vault_configure('red_new', redundancy => 'zone');
RESET ROLE;
SELECT operation, detail FROM vault_audit WHERE vault = 'red_zone' AND operation = 'configure';

-- geo: needs wal_level = logical (the regression cluster runs "replica"),
-- refused before anything changes; cross-region restore needs geo
SELECT vault_configure('red_new', redundancy => 'geo');
SELECT vault_configure('red_new', redundancy => 'geo', cross_region_restore => true);
SELECT vault, redundancy, cross_region_restore, replica FROM vault_vaults WHERE vault = 'red_new';
SELECT count(*) AS publications FROM pg_publication WHERE pubname LIKE 'vault_geo%';

-- the secondary's functions: superuser, alone in their transaction, a
-- primary that answers; nothing to detach here; the status view is empty
SET ROLE red_operator;
SELECT vault_secondary_attach('host=/nonexistent dbname=postgres');
SELECT vault_secondary_detach();
RESET ROLE;
BEGIN;
SELECT vault_secondary_attach('host=/nonexistent dbname=postgres');
ROLLBACK;
SELECT vault_secondary_attach(NULL);
-- a database with vaults of its own cannot take the primary's ids
SELECT vault_secondary_attach('host=/nonexistent dbname=postgres');
SELECT vault_secondary_detach();
SELECT count(*) AS subscriptions FROM pg_subscription;
SELECT * FROM vault_replication_status;

-- what arrives from a primary is marked; here nothing has
SELECT count(*) FILTER (WHERE replica) AS replica_items, count(*) > 0 AS has_items FROM vault_items;
SELECT count(*) FILTER (WHERE replica) AS replica_points, count(*) > 0 AS has_points FROM vault_recovery_points;

-- clean up
SELECT vault_configure(v, soft_delete => 'off') FROM unnest(ARRAY['red_zone', 'red_local']) v;
SELECT vault_unprotect(v, 'public.red_t', true) FROM unnest(ARRAY['red_zone', 'red_local']) v;
SELECT vault_drop(v) FROM unnest(ARRAY['red_zone', 'red_local', 'red_new']) v;
SELECT vault_policy_drop('red_hourly');
DROP TABLE public.red_t;
RESET client_min_messages;
DROP ROLE red_operator;
