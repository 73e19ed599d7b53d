# Consistency under load: pgbench's TPC-B-like load runs while its schema is
# backed up with vault_backup_schema (by parallel workers where the settings
# allow them); every restored schema satisfies
# pgbench's invariant sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use VaultNode;

my $node = vault_node('pgbench', "max_connections = 30\n");
$node->safe_psql('postgres', q{
CREATE SCHEMA bench;
SELECT vault_create('v');
});

# pgbench works in schema bench
my $connstr = $node->connstr('postgres') . " options='-csearch_path=bench'";
my ($iout, $ierr) = ('', '');
IPC::Run::run([ 'pgbench', '-i', '-s', '2', '-q', $connstr ], '>', \$iout, '2>', \$ierr)
  or die "pgbench -i failed: $ierr";
is($node->safe_psql('postgres', 'SELECT count(*) FROM bench.pgbench_accounts'), '200000', 'pgbench schema loaded');

my ($out, $err) = ('', '');
my $load = IPC::Run::start([ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', '20', $connstr ],
	'>', \$out, '2>', \$err);

# wait until the load is really running
$node->poll_query_until('postgres', 'SELECT count(*) > 100 FROM bench.pgbench_history', 't')
  or die 'pgbench did not start';

my @points;
for my $i (1 .. 3)
{
	push @points, $node->safe_psql('postgres', "SELECT vault_backup_schema('v', 'bench')");
	usleep(2_000_000);
}
# still writing: its history grows (its sessions' last statements alone
# may all be a BEGIN or an END at the instant one looks)
my $history = "SELECT count(*) FROM bench.pgbench_history";
my $before = $node->safe_psql('postgres', $history);
usleep(500_000);
cmp_ok($node->safe_psql('postgres', $history), '>', $before,
	'pgbench was still running after the last backup');
$load->finish;
like($out, qr/number of transactions actually processed: \d+/, 'pgbench ran its load');
note(($out =~ /(number of transactions actually processed: \d+)/)[0]);

# every table of a point is read under the one snapshot, whether the
# backend reads them alone or its parallel workers do (test/run.sh runs this
# test with two workers, one and none: the points say how many they had)
my $want = $node->safe_psql('postgres',
	"SELECT least(current_setting('vault.max_parallel_workers')::int, 2)");
for my $p (@points)
{
	is($node->safe_psql('postgres',
		"SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = $p"),
		$want, "point $p was read by $want parallel worker(s)");
}

my $n = 0;
for my $p (@points)
{
	$n++;
	is($node->safe_psql('postgres', "SELECT vault_restore($p, 'bench_r$n')"), "bench_r$n", "point $p restored");
	my ($a, $t, $b, $d, $h) = split /\|/, $node->safe_psql('postgres', qq{
SELECT (SELECT sum(abalance) FROM bench_r$n.pgbench_accounts),
       (SELECT sum(tbalance) FROM bench_r$n.pgbench_tellers),
       (SELECT sum(bbalance) FROM bench_r$n.pgbench_branches),
       (SELECT coalesce(sum(delta), 0) FROM bench_r$n.pgbench_history),
       (SELECT count(*) FROM bench_r$n.pgbench_history)});
	note("point $p: accounts $a, tellers $t, branches $b, history $d over $h rows");
	cmp_ok($h, '>', 0, "point $p caught transactions in flight ($h history rows)");
	ok($a == $t && $t == $b && $b == $d, "point $p: sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta) = $a");
}

$node->stop;
done_testing();
