# The background workers for real: a launcher and one scheduler per database
# with the extension.  A policy "every 1 minutes" makes points on its own; a
# failing item (its table dropped) becomes a failed job without stopping the
# others; kill -9 of the scheduler in the middle of a scheduled backup
# restarts the server, that job shows as failed ("interrupted"), the next one
# succeeds; pg_cancel_backend makes a cancelled job; a SIGHUP with a new vault.naptime is obeyed; dropping the
# extension stops the scheduler, and creating it starts one.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use lib 'test/perl';
use VaultNode;

my $node = vault_node('sched', "restart_after_crash = on\nvault.naptime = 1\n");

# wait up to $secs for $sql to return 't'
sub wait_for
{
	my ($sql, $secs, $db) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		my ($rc, $out) = $node->psql($db // 'postgres', $sql);
		return 1 if $rc == 0 && $out eq 't';
		usleep(200_000);
	}
	return 0;
}

my $schedulers = q{(SELECT count(*) FROM pg_stat_activity
                    WHERE backend_type = 'vault scheduler' AND datname = 'postgres')};
ok(wait_for("SELECT $schedulers = 1", 30), 'a scheduler runs in the database with the extension');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vault launcher'"),
	'1', 'one launcher');

$node->safe_psql('postgres', q{
SELECT vault_create('w');
CREATE TABLE small AS SELECT i, md5(i::text) AS s FROM generate_series(1, 20000) i;
CREATE TABLE doomed (i int);
CREATE TABLE big AS SELECT i, md5(i::text) AS a, md5((-i)::text) AS b, random() AS r
  FROM generate_series(1, 3000000) i;
SELECT vault_policy_create('minutely', 'every 1 minutes', 'daily 7');
SELECT vault_protect('w', 'small', 'minutely');
SELECT vault_protect('w', 'doomed', 'minutely');
SELECT vault_protect('w', 'big', 'minutely');
DROP TABLE doomed;
});

# --- the worker makes points on its own; a failing item does not stop the others
my $completed = sub {
	my ($item) = @_;
	return qq{SELECT (SELECT count(*) FROM vault_jobs WHERE item = '$item' AND operation = 'backup'
	          AND trigger = 'scheduled' AND state = 'completed')};
};
ok(wait_for($completed->('public.small') . ' >= 1', 90), 'the scheduler backed up small on its own');
ok(wait_for(q{SELECT count(*) >= 1 FROM vault_jobs WHERE item = 'public.doomed' AND state = 'failed'}, 30),
	'the dropped table gives a failed job');
like($node->safe_psql('postgres',
		q{SELECT error FROM vault_jobs WHERE item = 'public.doomed' AND state = 'failed' LIMIT 1}),
	qr/protected table public\.doomed does not exist/, 'with a clear error');
is($node->safe_psql('postgres',
		q{SELECT count(*) >= 1 FROM vault_recovery_points WHERE item = 'public.small' AND trigger = 'scheduled'}),
	't', 'a scheduled recovery point of small exists');

# --- kill -9 of the scheduler while it backs up big
my $pid;
my $deadline = time() + 60;
while (time() < $deadline)
{
	$pid = $node->safe_psql('postgres',
		q{SELECT pid FROM vault_internal.jobs WHERE item_name = 'public.big' AND state = 'in-progress'});
	last if $pid;
	usleep(50_000);
}
ok($pid, 'a scheduled backup of big is in progress');
usleep(500_000);    # well into the stream
my $job = $node->safe_psql('postgres',
	q{SELECT job_id FROM vault_internal.jobs WHERE item_name = 'public.big' AND state = 'in-progress'});
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server restarted after the kill');
ok(wait_for("SELECT $schedulers = 1", 60), 'a scheduler runs again');
ok(wait_for("SELECT state = 'failed' FROM vault_jobs WHERE job_id = $job", 30),
	'the interrupted job is marked failed');
like($node->safe_psql('postgres', "SELECT error FROM vault_jobs WHERE job_id = $job"),
	qr/interrupted/, 'as interrupted');
ok(wait_for($completed->('public.big') . ' >= 1', 120), 'the next scheduled backup of big succeeds');
my $big_point = $node->safe_psql('postgres',
	q{SELECT max(recovery_point) FROM vault_recovery_points WHERE item = 'public.big'});
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($big_point)"), 't', 'and verifies');

# --- pg_cancel_backend during a scheduled backup: a cancelled job, the scheduler goes on
# (big changed first: a backup of it unchanged reuses every page, over before
# a cancel could reach it)
$node->safe_psql('postgres', 'UPDATE big SET r = random()');
my $changed_at = $node->safe_psql('postgres', 'SELECT clock_timestamp()');
my ($cpid, $cjob);
$deadline = time() + 90;
while (time() < $deadline)
{
	($cpid, $cjob) = split /\|/, $node->safe_psql('postgres',
		qq{SELECT pid || '|' || job_id FROM vault_internal.jobs
		   WHERE item_name = 'public.big' AND state = 'in-progress' AND started_at > '$changed_at'});
	last if $cpid;
	usleep(50_000);
}
ok($cpid, 'another scheduled backup of big is in progress');
ok(wait_for("SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $cpid AND query = 'vault: scheduled backup'", 30),
	'and under way');
usleep(300_000);
$node->safe_psql('postgres', "SELECT pg_cancel_backend($cpid)");
ok(wait_for("SELECT state = 'cancelled' FROM vault_jobs WHERE job_id = $cjob", 30),
	'pg_cancel_backend makes it a cancelled job');
is($node->safe_psql('postgres', "SELECT $schedulers"), '1', 'and the scheduler goes on');

# --- SIGHUP: a long naptime is obeyed (nothing runs though due), a short one again
$node->safe_psql('postgres', 'ALTER SYSTEM SET vault.naptime = 3600');
$node->reload;
usleep(1_500_000);    # the scheduler wakes for the SIGHUP, then sleeps an hour
my $jobs_before = $node->safe_psql('postgres', q{SELECT count(*) FROM vault_jobs WHERE operation = 'backup'});
# wait until small is due again (its next run has passed), plus a margin
ok(wait_for(q{SELECT next_run_at + interval '3 seconds' < now() FROM vault_items WHERE name = 'public.small'}, 75),
	'small is due');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vault_jobs WHERE operation = 'backup'}),
	$jobs_before, 'with vault.naptime = 3600 the scheduler sleeps through it');
$node->safe_psql('postgres', 'ALTER SYSTEM SET vault.naptime = 1');
$node->reload;
ok(wait_for(qq{SELECT count(*) > $jobs_before FROM vault_jobs WHERE operation = 'backup'}, 20),
	'after SIGHUP with vault.naptime = 1 the due backups run');

# --- the extension's life: dropped -> the scheduler stops; created -> one starts
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('postgres', 'DROP EXTENSION vault');
ok(wait_for("SELECT $schedulers = 0", 30), 'dropping the extension stops its scheduler');
$node->safe_psql('other', 'CREATE EXTENSION vault CASCADE');
ok(wait_for(q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'vault scheduler'
              AND datname = 'other'}, 30), 'creating it in another database starts one there');
# a connected scheduler does not block DROP DATABASE
$node->safe_psql('postgres', 'DROP DATABASE other');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'other'}), '0',
	'DROP DATABASE stops the scheduler and succeeds');

# SIGTERM (a fast shutdown) ends the workers cleanly
my $log_offset = -s $node->logfile;
$node->stop('fast');
my $log = substr(slurp_file($node->logfile), $log_offset);
unlike($log, qr/vault (launcher|scheduler).*terminated by signal/, 'no worker died by a signal at shutdown');
done_testing();
