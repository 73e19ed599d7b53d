# Monitoring across the cluster, with the scheduler workers: each database's
# scheduler publishes its counts, and vault_cluster_status read from one
# database shows the others (counts only, to any role); the workers fill the
# daily reports without being asked; vault_metrics() is accepted by
# Prometheus' own checker (promtool check metrics) and shows a role only the
# vaults it may see.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('monitoring');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = on\nvault.naptime = '1s'\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE db_a');
$node->safe_psql('postgres', 'CREATE DATABASE db_b');
for my $db ('db_a', 'db_b')
{
	$node->safe_psql($db, q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g;
CREATE TABLE public.gone AS SELECT g AS id FROM generate_series(1, 10) g;
SELECT vault_create('v_' || current_database());
SELECT vault_policy_create('often', 'every 1 minutes', 'daily 7');
SELECT vault_backup('v_' || current_database(), 'public.t');
});
}
$node->safe_psql('postgres', 'CREATE ROLE stranger LOGIN');

# db_b: an item whose table goes, so that its scheduled backups fail (a user
# error: degraded), and a second vault
$node->safe_psql('db_b', q{
SELECT vault_create('v_b2');
SELECT vault_protect('v_db_b', 'public.gone', 'often');
DROP TABLE public.gone;
});

# read from db_a: db_b's row, published by db_b's scheduler
ok( $node->poll_query_until('db_a',
		q{SELECT vaults = 2 AND items = 2 AND degraded = 1 AND healthy = 1 AND last_job_end IS NOT NULL
		  FROM vault_cluster_status WHERE database = 'db_b'}),
	"db_b's counts reach db_a, its failing item counted degraded");
is($node->safe_psql('db_a', q{SELECT vaults, items, healthy FROM vault_cluster_status WHERE database = 'db_a'}),
	'1|1|1', "db_a's own row, counted live");
is($node->safe_psql('db_a', q{SELECT string_agg(database, ',' ORDER BY database) FROM vault_cluster_status}),
	'db_a,db_b', 'one row per database with the extension');
ok( $node->poll_query_until('db_a',
		q{SELECT active_alerts >= 1 FROM vault_cluster_status WHERE database = 'db_b'}),
	"db_b's failure alert counted");

# any role reads the counts (and no name of a vault or item is in them)
is($node->safe_psql('db_a', q{SET ROLE stranger; SELECT vaults, items FROM vault_cluster_status WHERE database = 'db_b'}),
	'2|2', 'a role without a level reads the counts');
is($node->safe_psql('db_a', q{SET ROLE stranger; SELECT count(*) FROM vault_vaults}),
	'0', 'and sees no vault of db_a itself');

# a database whose extension is dropped leaves the board
$node->safe_psql('postgres', 'CREATE DATABASE db_c');
$node->safe_psql('db_c', q{CREATE EXTENSION vault CASCADE; SELECT vault_create('v_c');});
ok($node->poll_query_until('db_a', q{SELECT count(*) = 1 FROM vault_cluster_status WHERE database = 'db_c'}),
	'db_c appears');
$node->safe_psql('db_c', 'DROP EXTENSION vault');
ok($node->poll_query_until('db_a', q{SELECT count(*) = 0 FROM vault_cluster_status WHERE database = 'db_c'}),
	'and goes when its extension is dropped');

# the workers fill today's report rows themselves
ok( $node->poll_query_until('db_a',
		q{SELECT count(*) > 0 FROM vault_report_daily WHERE day = current_date AND item = 'public.t'}),
	'the scheduler fills the daily report');
is( $node->safe_psql('db_a',
		q{SELECT sum(stored_bytes) = (SELECT stored_bytes FROM vault_vaults) FROM vault_report_daily WHERE day = current_date}),
	't', "the day's rows add up to the vault's stored bytes");

# vault_metrics(): the exposition format, checked by promtool
my ($promdir) = grep { -x "$_/promtool" } split(/:/, $ENV{PATH});
my $promtool = $promdir ? "$promdir/promtool" : undef;
SKIP:
{
	skip 'promtool is missing (make test installs the package prometheus)', 3 unless $promtool;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $metrics = $node->safe_psql('db_b', 'SELECT vault_metrics()');
	PostgreSQL::Test::Utils::append_to_file("$dir/metrics.txt", "$metrics\n");
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $promtool, 'check', 'metrics' ], '<', "$dir/metrics.txt", '>', \$out, '2>', \$err);
	ok($ok, 'promtool check metrics accepts vault_metrics()') or diag("promtool: $out $err");
	like($metrics, qr/^vault_jobs_total\{vault="v_db_b",operation="backup",state="failed"\} [1-9]/m,
		'failed scheduled backups counted');
	like($metrics, qr/^vault_item_health\{vault="v_db_b",item="public.gone",health="(transient|persistent) degraded"\} 1$/m,
		'the failing item degraded');
}
my $seen = $node->safe_psql('db_b', q{SET ROLE stranger; SELECT vault_metrics()});
unlike($seen, qr/v_db_b/, 'a role without a level sees no vault in the metrics');
like($seen, qr/^# TYPE vault_stored_bytes gauge$/m, 'but the metric families are there');

$node->stop;
done_testing();
