# The parallel pipeline under failure: a cancelled caller stops its workers,
# a worker killed with SIGKILL fails the backup cleanly (no point, no
# orphan chunk, the next backup works), a restore reads with its workers,
# a backup's reads leave shared buffers to the database (each reader keeps
# to a small ring), and with no worker slot to be had a backup runs in the
# caller's backend and succeeds.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use VaultNode;

my $node = vault_node('parallel',
	"restart_after_crash = on\nvault.scheduler = off\nshared_buffers = 128MB\n");
$node->safe_psql('postgres', q{
SELECT vault_create('v');
CREATE TABLE big AS SELECT i, md5(i::text) AS a, md5((-i)::text) AS b, random() AS r
  FROM generate_series(1, 2500000) i;
});
my $state = sub {
	$node->safe_psql('postgres',
		q{SELECT (SELECT count(*) FROM vault_internal.points) || '/' || (SELECT count(*) FROM vault_internal.chunks)});
};
my $workers = sub {
	$node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vault parallel worker'});
};
my $before = $state->();

# start a parallel backup in the background (into vault v, with two
# workers unless told); its pid once its workers run
my $start_backup = sub {
	my ($vault, $degree) = @_;
	$vault //= 'v';
	$degree //= 2;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/,
		"\\echo started\nSELECT vault_backup('$vault', 'big', parallel => $degree);\n");
	my $n = 0;
	for (1 .. 500)
	{
		$n = $workers->();
		last if $n == $degree;
		usleep(10_000);
	}
	return ($bg, $pid, $n);
};

# cancel the caller: its workers are gone within five seconds, the caller
# reports the cancel and nothing is left
my $cancel = sub {
	my ($bg, $pid, $what) = @_;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	my $gone = 0;
	for (1 .. 500)
	{
		$gone = $workers->() == 0;
		last if $gone;
		usleep(10_000);
	}
	ok($gone, "cancelling the caller stops its workers ($what)");
	$bg->quit;
	like($bg->{stderr}, qr/canceling statement due to user request/, "the caller reports the cancel ($what)");
	is($state->(), $before, "the cancelled backup left no point and no chunk ($what)");
};

# --- the caller cancelled: its workers stop
my ($bg, $pid, $n) = $start_backup->();
is($n, '2', 'the backup runs with two workers');
usleep(100_000);
$cancel->($bg, $pid, 'two workers');

# --- the same with one worker: the caller reads ranges of the table itself
# whenever the worker has sent it nothing, so the cancel may find it reading
$node->safe_psql('postgres', "SELECT vault_create('lead_cancel')");
($bg, $pid, $n) = $start_backup->('lead_cancel', 1);
is($n, '1', 'a backup runs with one worker and its caller');
usleep(300_000);
$cancel->($bg, $pid, 'one worker');

# --- a worker killed with SIGKILL: the postmaster restarts every backend
($bg, $pid, $n) = $start_backup->();
is($n, '2', 'another backup runs with two workers');
usleep(300_000);
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'vault parallel worker' LIMIT 1});
like($victim, qr/^\d+$/, 'a worker to kill');
kill 'KILL', $victim;
$bg->quit;
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the cluster recovered after the kill');
is($state->(), $before, 'the killed backup left no point and no chunk');
$node->safe_psql('postgres', 'VACUUM vault_internal.chunks');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM vault_internal.chunks c
WHERE NOT EXISTS (SELECT 1 FROM vault_internal.manifests m WHERE c.chunk_no = ANY (m.chunk_nos))}),
	'0', 'no orphan chunk after VACUUM');
is($workers->(), '0', 'no worker is left');

# --- the next backup works, in parallel, and restores every row
my $p = $node->safe_psql('postgres', "SELECT vault_backup('v', 'big', parallel => 2)");
like($p, qr/^\d+$/, 'the next backup succeeds');
is($node->safe_psql('postgres', "SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = $p"),
	'2', 'with its two workers');
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p)"), 't', 'and verifies');
is($node->safe_psql('postgres', "SELECT vault_restore($p, 'big_back')"), 'public.big_back', 'and restores');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT * FROM big EXCEPT ALL SELECT * FROM big_back) x'), '0',
	'with every row');
$node->safe_psql('postgres', 'DROP TABLE big_back');

# --- one worker and the caller (vault.parallel_leader_participation, on by
# default): into a vault new to the table, the caller reads some of its
# ranges itself, and the point restores every row; so its next backup after
# a scattered update, each range sealed against the stretch of the previous
# stream it held; with the setting off the caller reads none
$node->safe_psql('postgres', "SELECT vault_create('lead'); SELECT vault_create('lead_off')");
# a backup into vault $vault with one worker at debug2: (point, messages)
my $backup_debug = sub {
	my ($vault, $settings) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET client_min_messages = debug2; $settings
SELECT vault_backup('$vault', 'big', parallel => 1);", stdout => \$out, stderr => \$err);
	like($out, qr/^\d+$/, "a backup into $vault with one worker");
	return ($out, $err);
};
# the caller's share of the ranges, the point verifying and restoring equal
my $lead_checks = sub {
	my ($point, $err, $what) = @_;
	my ($read, $ranges) = $err =~ /the calling backend read (\d+) of the (\d+) ranges itself/;
	cmp_ok($read // 0, '>', 0, "the caller read some of the ranges itself ($what: " . ($read // 0) . ' of ' . ($ranges // '?') . ')');
	cmp_ok($read // 0, '<', $ranges // 0, "and the worker the others ($what)");
	is($node->safe_psql('postgres', "SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = $point"),
		'1', "the point counts its one worker ($what)");
	is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($point)"), 't', "it verifies ($what)");
	is($node->safe_psql('postgres', "SELECT vault_restore($point, 'big_lead')"), 'public.big_lead', "and restores ($what)");
	is($node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM (TABLE big EXCEPT ALL TABLE big_lead) x) + (SELECT count(*) FROM (TABLE big_lead EXCEPT ALL TABLE big) x)'),
		'0', "equal to the table ($what)");
	$node->safe_psql('postgres', 'DROP TABLE big_lead');
};
my ($lp, $lerr) = $backup_debug->('lead', '');
$lead_checks->($lp, $lerr, 'sealed whole');
$node->safe_psql('postgres', 'UPDATE big SET r = -r WHERE i % 100000 = 17');
($lp, $lerr) = $backup_debug->('lead', '');
like($lerr, qr/the workers seal "big" against the ranges of its previous stream/, 'sealed against the previous ranges');
is($node->safe_psql('postgres', "SELECT delta_chunks > 0 AND new_chunks < 100 FROM vault_recovery_points WHERE recovery_point = $lp"),
	't', 'its new chunks are few, deltas among them');
$lead_checks->($lp, $lerr, 'deltas');
$node->safe_psql('postgres', 'UPDATE big SET r = -r WHERE i % 100000 = 17');
($lp, $lerr) = $backup_debug->('lead_off', 'SET vault.parallel_leader_participation = off;');
unlike($lerr, qr/the calling backend read/, 'with the setting off the caller reads no range');

# --- a restore: workers open the chunks ahead of the load (a plain new
# table's rows are formed by one of them, the other has nothing to do)
my $rs = $node->background_psql('postgres', on_error_stop => 0);
$rs->query_until(qr/started/,
	"\\echo started\nSELECT vault_restore($p, 'big_par', parallel => 2) AS restored \\gset\n");
$n = 0;
for (1 .. 500)
{
	$n = $workers->();
	last if $n >= 1;
	usleep(10_000);
}
cmp_ok($n, '>=', 1, 'the restore runs with its workers');
$rs->query_safe('SELECT 1');
is($rs->query_safe(q{\echo :restored}), 'public.big_par', 'and completes');
$rs->quit;
is($node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT * FROM big EXCEPT ALL SELECT * FROM big_par) x'), '0',
	'with every row');
is($workers->(), '0', 'its workers are gone');

# --- a small table (below a quarter of shared_buffers, where a plain
# sequential scan keeps every page it reads) backed up from cold buffers,
# by two workers and then serially: each reader keeps to its ring of 32
# buffers, so the table's pages do not fill shared buffers
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_buffercache;
CREATE TABLE small AS SELECT i, md5(i::text) AS a, md5((-i)::text) AS b FROM generate_series(1, 250000) i;
});
my $small_blocks = $node->safe_psql('postgres', q{SELECT pg_relation_size('small') / 8192});
cmp_ok($small_blocks, '>', 2048, 'the small table has two ranges');
cmp_ok($small_blocks, '<', 4096, 'and is below a quarter of shared_buffers');
my $cached = sub {
	$node->safe_psql('postgres', q{
SELECT count(*) FROM pg_buffercache b
WHERE b.relfilenode = pg_relation_filenode('small') AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())});
};
for my $degree (2, 0)
{
	$node->restart;
	is($cached->(), '0', "no page of the small table is in shared buffers before the backup ($degree workers)");
	# a vault of its own: no earlier point, every row is read
	$p = $node->safe_psql('postgres',
		"SELECT vault_create('ring_$degree'); SELECT vault_backup('ring_$degree', 'small', parallel => $degree)");
	is($node->safe_psql('postgres', "SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = $p"),
		$degree, "the small table backed up by $degree workers");
	cmp_ok($cached->(), '<=', 64, "and at most 64 of its $small_blocks pages stay in shared buffers");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM small'), '250000', 'a plain scan of it');
cmp_ok($cached->(), '>', 2048, 'keeps its pages in shared buffers (the check can tell)');

# --- no worker slot free: the backup runs in the caller's backend alone
$node->append_conf('postgresql.conf', "max_worker_processes = 2\n");
$node->restart;
ok($node->poll_query_until('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('logical replication launcher', 'vault launcher')},
	'2'), 'both worker slots are taken');
$p = $node->safe_psql('postgres', q{
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT vault_backup('v', 'big', parallel => 2);
COMMIT;});
like($p, qr/^\d+$/, 'a backup with no worker slot free succeeds');
is($node->safe_psql('postgres', "SELECT parallel_workers FROM vault_recovery_points WHERE recovery_point = $p"),
	'0', 'without workers');
is($node->safe_psql('postgres', "SELECT vault_restore($p, 'big_back')"), 'public.big_back', 'and restores');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT * FROM big EXCEPT ALL SELECT * FROM big_back) x'), '0',
	'with every row');

$node->stop;
done_testing();
