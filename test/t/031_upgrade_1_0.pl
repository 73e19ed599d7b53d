# 1.0 -> 1.1: a database that holds vaults, points, policies, protected items
# and grants made with version 1.0 of the extension's SQL keeps every point
# restorable and every setting through ALTER EXTENSION vault UPDATE, and the
# updated catalog equals a fresh 1.1 install's.
#
# The 1.0 data is made by 1.0's own SQL objects (CREATE EXTENSION vault
# VERSION '1.0': its capture functions, tables and views), served by the
# installed library, which runs a database still at 1.0 the way 1.0 did; the
# same holds on a server between installing the new library and updating.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'vault'\nvault.scheduler = off\n");
$node->start;
my $db = 'postgres';
sub q1 { return $node->safe_psql($db, $_[0]); }

q1(q{CREATE EXTENSION vault VERSION '1.0' CASCADE});
is(q1(q{SELECT extversion FROM pg_extension WHERE extname = 'vault'}), '1.0', 'installed at 1.0');

# 1.0 data: two vaults, a grant, a policy with scheduled points, on-demand
# table and schema points (serial, identity, foreign keys, partitions, a view)
q1(q{
CREATE ROLE ops;
SELECT vault_create('prod');
SELECT vault_create('archive');
SELECT vault_grant('prod', 'ops', 'operator');
CREATE TABLE public.orders (id serial PRIMARY KEY, placed date NOT NULL, amount numeric CHECK (amount > 0));
INSERT INTO public.orders (placed, amount) SELECT date '2024-01-01' + i % 300, i FROM generate_series(1, 5000) i;
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE);
CREATE TABLE shop.invoices (id serial, at date, customer_id bigint REFERENCES shop.customers,
                            PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.invoices_2024 PARTITION OF shop.invoices FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.invoices_rest PARTITION OF shop.invoices DEFAULT;
CREATE VIEW shop.recent AS SELECT * FROM shop.invoices WHERE at > '2024-06-01';
INSERT INTO shop.customers (name) SELECT 'c' || i FROM generate_series(1, 300) i;
INSERT INTO shop.invoices (at, customer_id) SELECT date '2023-06-01' + i % 500, 1 + i % 300 FROM generate_series(1, 4000) i;
SELECT vault_policy_create('nightly', 'daily at 02:00', 'daily 30, weekly 8', 'Europe/Berlin');
SELECT vault_protect('prod', 'public.orders', 'nightly');
SELECT vault_protect_schema('archive', 'shop', 'nightly');
});
my $p_table = q1(q{SELECT vault_backup('prod', 'public.orders')});
my $p_schema = q1(q{SELECT vault_backup_schema('archive', 'shop')});
# scheduled backups on three days to come, with the explicit clock
q1(q{SELECT count(*) FROM generate_series(1, 3) d, LATERAL vault_run_due(now() + d * interval '1 day')});
my @points = split /\n/, q1(q{SELECT recovery_point FROM vault_recovery_points ORDER BY 1});
cmp_ok(scalar @points, '>=', 8, 'on-demand and scheduled points made with 1.0 (' . scalar(@points) . ')');
is(q1(q{SELECT definition ? 'relative_to' FROM vault_internal.point_tables LIMIT 1}), 'f',
	'1.0 captured its own definition format');

# what 1.0 shows, to be found again after the update
my $settings = q{
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	SELECT format('vault %s %s %s %s %s %s', vault, owner, items, recovery_points, logical_bytes, encryption) AS x FROM vault_vaults
	UNION ALL SELECT format('item %s %s %s %s %s %s %s', vault, kind, name, policy, state, recovery_points, next_run_at) FROM vault_items
	UNION ALL SELECT format('point %s %s %s %s %s %s %s %s', recovery_point, vault, item, trigger, expires_at, tables, rows, logical_bytes)
		FROM vault_recovery_points
	UNION ALL SELECT format('policy %s %s %s %s %s', policy, owner, schedule, retention, timezone) FROM vault_policies
	UNION ALL SELECT format('access %s %s %s %s', vault, role, level, scope) FROM vault_access
	UNION ALL SELECT format('job %s %s %s %s %s', job_id, operation, state, recovery_point, rows) FROM vault_jobs) s};
my $before = q1($settings);
my $digest = q{SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t};
my %sums = map { $_ => q1(sprintf($digest, $_)) } qw(public.orders shop.customers shop.invoices);

q1(q{ALTER EXTENSION vault UPDATE});
is(q1(q{SELECT extversion FROM pg_extension WHERE extname = 'vault'}), '1.1', 'updated to 1.1');
is(q1($settings), $before, 'every vault, item, point, policy, grant and job as it was');
is(q1(q{SELECT count(*) FROM vault_recovery_points WHERE objects <> 0}), '0',
	'points made by 1.0 hold no other objects (objects = 0)');
is(q1(q{SELECT count(*) FILTER (WHERE NOT c.ok) || '/' || count(*) FROM vault_vaults v, vault_check(v.vault) c}),
	'0/' . 9 * q1(q{SELECT count(*) FROM vault_vaults}),
	'the figures 1.1 maintains start from a recount of the 1.0 data');

# monitoring starts from the 1.0 history: each item's health from its jobs,
# the metrics' job counters from the jobs table
is( q1(q{SELECT count(*) || ' ' || bool_and(h.health = 'healthy' AND h.last_success =
			(SELECT max(j.ended_at) FROM vault_jobs j WHERE j.vault = h.vault AND j.item = h.item
			   AND j.operation = 'backup' AND j.state = 'completed'))
		  FROM vault_health h}),
	q1(q{SELECT count(*) FROM vault_items WHERE state <> 'soft-deleted'}) . ' true',
	"each 1.0 item's health and last success taken from its 1.0 jobs");
is( q1(q[SELECT sum(split_part(line, ' ', 2)::bigint) FROM regexp_split_to_table(vault_metrics(), E'\n') AS line
		  WHERE line LIKE 'vault_jobs_total{%']),
	q1(q{SELECT count(*) FROM vault_jobs WHERE state <> 'in-progress' AND vault IS NOT NULL}),
	'the job counters start at the 1.0 jobs');

# every point made with 1.0 verifies and restores
for my $p (@points)
{
	is(q1("SELECT ok FROM vault_verify($p)"), 't', "1.0 point $p verifies after the update");
}
is(q1("SELECT vault_restore($p_table, 'public.orders_back')"), 'public.orders_back', 'a 1.0 table point restores');
is(q1(sprintf($digest, 'public.orders_back')), $sums{'public.orders'}, 'with every row');
is(q1(q{INSERT INTO public.orders_back (placed, amount) VALUES ('2024-02-02', 1) RETURNING id > 5000}), 't',
	'and its serial continues');
is(q1("SELECT vault_restore($p_schema, 'shop_back')"), 'shop_back', 'a 1.0 schema point restores');
is(q1(sprintf($digest, 'shop_back.customers')), $sums{'shop.customers'}, 'customers as they were');
is(q1(sprintf($digest, 'shop_back.invoices')), $sums{'shop.invoices'}, 'invoices, across partitions');
is(q1(q{SELECT pg_get_serial_sequence('shop_back.invoices', 'id')}), 'shop_back.invoices_id_seq',
	'its serial column draws from a sequence of its own, as 1.0 restored it');
is(q1(q{SELECT count(*) FROM pg_constraint WHERE connamespace = 'shop_back'::regnamespace AND contype = 'f'
        AND conparentid = 0 AND confrelid = 'shop_back.customers'::regclass}), '1',
	'its foreign key points inside the restored schema');
my $scheduled = q1(q{SELECT max(recovery_point) FROM vault_recovery_points WHERE trigger = 'scheduled' AND item = 'shop'});
is(q1("SELECT vault_restore($scheduled, 'shop_sched')"), 'shop_sched', 'a scheduled 1.0 point restores');
is(q1(q{SELECT count(*) FROM shop_sched.invoices}), '4000', 'with its rows');
like(q1("SELECT string_agg(kind || ' ' || action, ',') FROM vault_restore_plan($p_schema, 'x')"),
	qr/schema create,table create/, 'a 1.0 point has a restore plan');

# the policies keep running, and a new backup holds the schema's other objects
q1(q{SELECT count(*) FROM vault_run_due(now() + interval '4 days')});
is(q1(q{SELECT count(*) FROM vault_jobs WHERE state = 'completed' AND started_at IS NOT NULL
        AND recovery_point > } . $points[-1]), '2', 'scheduled backups run after the update');
my $p_new = q1(q{SELECT vault_backup_schema('archive', 'shop')});
cmp_ok(q1("SELECT objects FROM vault_recovery_points WHERE recovery_point = $p_new"), '>=', 1,
	'a 1.1 point of the schema holds its view and sequences');
q1('DROP SCHEMA shop CASCADE');
is(q1("SELECT vault_restore($p_new, 'shop')"), 'shop', 'and restores them');
is(q1(q{SELECT count(*) FROM shop.recent}), q1(q{SELECT count(*) FROM shop_back.invoices WHERE at > '2024-06-01'}),
	'the view came back');

# protecting the backups on the updated database: 1.0 vaults get the 1.1
# defaults (soft delete on, 14 days, not immutable, no guard); deleting
# 1.0 points soft-deletes them, undelete brings them back restorable, a legal
# hold keeps a deleted point through a purge, a guard asks for approval, and
# the audit records it all (and nothing from before the update)
is(q1(q{SELECT string_agg(format('%s %s %s %s %s', vault, soft_delete, soft_delete_days, immutability,
                                  coalesce(guard::text, '-')), ',' ORDER BY vault) FROM vault_vaults}),
	'archive on 14 off -,prod on 14 off -', '1.0 vaults take the 1.1 protection defaults');
is(q1(q{SELECT count(*) FROM vault_audit}), '0', 'the audit starts empty: 1.0 had none');
is(q1(q{SELECT count(*) FROM vault_items WHERE purge_at IS NOT NULL}) . '/'
	. q1(q{SELECT count(*) FROM vault_recovery_points WHERE purge_at IS NOT NULL OR on_hold}), '0/0',
	'no 1.0 item or point is soft-deleted or held');
q1(qq{SELECT vault_delete_recovery_point($points[0])});
is(q1("SELECT state FROM vault_recovery_points WHERE recovery_point = $points[0]"), 'soft-deleted',
	'deleting a 1.0 point soft-deletes it');
my ($rc, $out, $err) = $node->psql($db, "SELECT vault_restore($points[0], 'public.orders_again')");
like($err, qr/soft-deleted/, 'a soft-deleted 1.0 point cannot be restored');
q1(qq{SELECT vault_undelete_point($points[0])});
is(q1("SELECT vault_restore($points[0], 'public.orders_again')"), 'public.orders_again', 'undeleted, it restores');
is(q1(sprintf($digest, 'public.orders_again')), $sums{'public.orders'}, 'with every row');
q1(q{SELECT vault_unprotect('prod', 'public.orders', true)});
is(q1(q{SELECT state FROM vault_items WHERE name = 'public.orders'}), 'soft-deleted',
	'deleting the data of a 1.0 item soft-deletes it');
my $hold = q1(qq{SELECT vault_legal_hold('prod', 'audit 2026', 'public.orders', NULL, NULL)});
is(q1(q{SELECT count(*) FROM vault_purge(now() + interval '1 year')}), '0', 'a legal hold keeps it through a purge');
q1(q{CREATE ROLE secops; CREATE ROLE sec_a IN ROLE secops; SELECT vault_guard_set('prod', 'secops')});
($rc, $out, $err) = $node->psql($db, "SELECT vault_legal_hold_release($hold)");
like($err, qr/needs an approved request/, 'under a guard, releasing the hold needs an approval');
my $req = q1(q{SELECT vault_request('prod', 'legal_hold_release', 'case closed')});
q1("SET ROLE sec_a; SELECT vault_approve($req)");
q1("SELECT vault_legal_hold_release($hold)");
q1(q{SELECT vault_undelete('prod', 'public.orders')});
is(q1(q{SELECT state || ' ' || recovery_points FROM vault_items WHERE name = 'public.orders'}),
	'stopped ' . q1(q{SELECT count(*) FROM vault_recovery_points WHERE item = 'public.orders'}),
	'undeleted, the 1.0 item is stopped with all its points');
is(q1(q{SELECT bool_and(ok) FROM vault_recovery_points p, vault_verify(p.recovery_point) WHERE p.vault = 'prod'}),
	't', 'and they verify');
is(q1(q{SELECT string_agg(operation, ',' ORDER BY at) FROM vault_audit}),
	'soft delete,undelete,soft delete,legal hold,guard,request,approve,legal hold release,undelete',
	'the audit holds each of these operations');
q1('DROP TABLE public.orders_again');
is(q1(q{SELECT count(*) FROM vault_vaults v, vault_check(v.vault) c WHERE NOT c.ok}), '0',
	'and after all of it the maintained figures equal a recount');

# the updated catalog equals a fresh 1.1 install's
q1('CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION vault CASCADE');
# the lines only one side has, for the log
sub difference
{
	my ($a, $b) = @_;
	my %in_b = map { $_ => 1 } split /\n/, $b;
	my %in_a = map { $_ => 1 } split /\n/, $a;
	return join("\n", (map { "updated only: $_" } grep { !$in_b{$_} } split /\n/, $a),
		(map { "fresh only: $_" } grep { !$in_a{$_} } split /\n/, $b));
}

sub catalog_dump
{
	my ($dbname) = @_;
	my $out = $node->basedir . "/$dbname.catalog";
	# --binary-upgrade is the one mode in which pg_dump writes an extension's
	# own objects; what it says of storage (oids, xids) and of the data
	# (sequence values) differs by nature
	$node->command_ok(
		[ 'pg_dump', '--schema-only', '--binary-upgrade', '-f', $out, $node->connstr($dbname) ],
		"schema dump of $dbname");
	return join '', grep {
		!/binary_upgrade_set_next|relfilenode|relfrozenxid|WHERE oid = '\d+'|^SELECT pg_catalog.setval|^\\(un)?restrict |^-- Dumped/
	} split /^/, slurp_file($out);
}
q1('DROP TABLE public.orders, public.orders_back');
q1('DROP SCHEMA shop, shop_back, shop_sched CASCADE');
my $updated = catalog_dump($db);
my $fresh = catalog_dump('fresh');
like($updated, qr/CREATE TABLE vault_internal\.point_objects/, 'the dump holds the extension\'s objects');
ok($updated eq $fresh, 'an updated 1.0 install and a fresh 1.1 install have the same catalog')
  or diag(difference($updated, $fresh));

$node->stop;
done_testing();
