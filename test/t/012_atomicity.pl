# Atomicity: a backup rolled back, or in a backend killed with SIGKILL
# mid-backup, leaves no recovery point and no chunk; the cluster recovers
# and the vault still verifies and works.  A chunk collection killed
# half-way leaves the point, its chunks and the vault's figures as they were,
# and the next purge finishes it.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use lib 'test/perl';
use VaultNode;

my $node = vault_node('atomic', "restart_after_crash = on\n");
$node->safe_psql('postgres', q{
SELECT vault_create('v');
CREATE TABLE small AS SELECT i, md5(i::text) AS s FROM generate_series(1, 20000) i;
CREATE TABLE big AS SELECT i, md5(i::text) AS a, md5((-i)::text) AS b, random() AS r
  FROM generate_series(1, 3000000) i;
});
my $p1 = $node->safe_psql('postgres', "SELECT vault_backup('v', 'small')");
my $state = sub {
	$node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM vault_internal.points) || \'/\' || (SELECT count(*) FROM vault_internal.chunks)');
};
my $before = $state->();

# rolled back
$node->safe_psql('postgres', "BEGIN; SELECT vault_backup('v', 'big'); ROLLBACK;");
is($state->(), $before, 'a rolled-back backup leaves no point and no chunk');

# a failing statement later in the same transaction
my ($ret) = $node->psql('postgres', "BEGIN; SELECT vault_backup('v', 'big'); SELECT 1/0; COMMIT;");
is($state->(), $before, 'a backup whose transaction fails later leaves nothing');

# SIGKILL of the backend in the middle of a backup
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\nSELECT vault_backup('v', 'big');\n");
my $running = 0;
for (1 .. 200)
{
	$running = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND query LIKE '%vault_backup%' AND state = 'active'");
	last if $running;
	usleep(20_000);
}
is($running, '1', 'the backup is running');
usleep(300_000);    # well into the stream
my $partial = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_locks WHERE pid = $pid AND locktype = 'relation'");
cmp_ok($partial, '>', 0, 'backup holds its locks when killed');
kill 'KILL', $pid;
$bg->quit;

# the postmaster restarts everything; wait until it accepts queries again
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the cluster recovered after the kill');
is($state->(), $before, 'the killed backup left no point and no chunk');
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p1)"), 't', 'the earlier point still verifies');
is($node->safe_psql('postgres', "SELECT string_agg(figure, ', ') FROM vault_check('v') WHERE NOT ok"), '',
	'the figures the vault maintains equal a recount after the kill');

# and the vault works as before
my $p2 = $node->safe_psql('postgres', "SELECT vault_backup('v', 'big')");
like($p2, qr/^\d+$/, 'a new backup succeeds');
is($node->safe_psql('postgres', "SELECT vault_restore($p2, 'big_back')"), 'public.big_back', 'and restores');
is($node->safe_psql('postgres', 'SELECT count(*) FROM big_back'), '3000000', 'with every row');
is($node->safe_psql('postgres', "SELECT string_agg(figure, ', ') FROM vault_check('v') WHERE NOT ok"), '',
	'and the figures still equal a recount');

# SIGKILL in the middle of a chunk collection.  Another session locks a
# chunk only the deleted point used, so the purge's collection waits on it
# with the point deleted, its manifests' chunks queued and other chunks
# removed in its transaction; killed there, all of that comes back whole.
$node->safe_psql('postgres', "SELECT vault_delete_recovery_point($p2)");
my $victim_chunk = $node->safe_psql('postgres',
	"SELECT chunk_nos[cardinality(chunk_nos) / 2] FROM vault_internal.manifests WHERE point_id = $p2 ORDER BY segment DESC LIMIT 1");
my $locker = $node->background_psql('postgres', on_error_stop => 0);
$locker->query_safe('BEGIN');
$locker->query_safe("SELECT 1 FROM vault_internal.chunks WHERE chunk_no = $victim_chunk FOR UPDATE");
my $purger = $node->background_psql('postgres', on_error_stop => 0);
my $purger_pid = $purger->query_safe('SELECT pg_backend_pid()');
$purger->query_until(qr/started/, "\\echo started\nSELECT * FROM vault_purge(now() + interval '400 days');\n");
ok($node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = $purger_pid AND wait_event_type = 'Lock'", '1'),
	'the collection waits on the locked chunk, half-way');
kill 'KILL', $purger_pid;
$purger->quit;
$locker->quit;
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the cluster recovered after the kill');
is($node->safe_psql('postgres', "SELECT state FROM vault_internal.points WHERE point_id = $p2"), 'soft-deleted',
	'the point is still there, soft-deleted');
is($node->safe_psql('postgres', "SELECT count(*) FROM vault_internal.chunks WHERE chunk_no = $victim_chunk"), '1',
	'and its chunks');
is($node->safe_psql('postgres', "SELECT string_agg(figure, ', ') FROM vault_check('v') WHERE NOT ok"), '',
	'the figures equal a recount after the killed collection');
is($node->safe_psql('postgres', "SELECT points_purged FROM vault_purge(now() + interval '400 days') WHERE item = 'public.big'"),
	'1', 'the next purge takes the point');
is($node->safe_psql('postgres', "SELECT count(*) FROM vault_internal.chunks WHERE chunk_no = $victim_chunk"), '0',
	'and collects its chunks');
is($node->safe_psql('postgres', "SELECT string_agg(figure, ', ') FROM vault_check('v') WHERE NOT ok"), '',
	'with the figures equal to a recount and no chunk left unqueued');
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p1)"), 't', 'the other point still verifies');

$node->stop;
done_testing();
