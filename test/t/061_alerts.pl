# Alerts that reach people: a session listening on channel vault_alerts
# receives each new alert as JSON with the pinned fields; an on-demand backup
# that fails inside its caller's transaction (which rolls back) is still
# raised, by the scheduler worker within a round; a repeated failure counts
# on the open alert without a second notification; vault.alert_command, a
# script that fails the first time it is given each alert, ends up writing
# every alert to its file exactly once.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('alerts');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = on\nvault.naptime = '1s'\n");
$node->start;

# the alert command: fails the first time for each alert, then appends it
my $dir = PostgreSQL::Test::Utils::tempdir();
my $script = "$dir/alert.sh";
open(my $fh, '>', $script) or die;
print $fh <<"SH";
#!/bin/sh
payload=\$(cat)
id=\$(printf '%s' "\$payload" | sed -n 's/.*"alert" *: *\\([0-9]*\\).*/\\1/p')
if [ ! -e "$dir/failed.\$id" ]; then touch "$dir/failed.\$id"; exit 3; fi
printf '%s\\n' "\$payload" >> "$dir/alerts.out"
SH
close($fh);
chmod 0755, $script;
$node->safe_psql('postgres', "ALTER SYSTEM SET vault.alert_command = '$script'");
$node->reload;

$node->safe_psql('postgres', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.t AS SELECT g AS id FROM generate_series(1, 100) g;
CREATE ROLE op LOGIN;
SELECT vault_create('v');
SELECT vault_grant('v', 'op', 'operator');
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'vault scheduler'}),
	'the scheduler runs');

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN vault_alerts');

sub notifications
{
	my $out = $listener->query_safe('SELECT 1');
	return map { decode_json($1) } ($out =~ /Asynchronous notification "vault_alerts" with payload "(.*?)" received/g);
}

# a security alert, raised in the deleting transaction: notified at its commit
my $p = $node->safe_psql('postgres', q{SELECT vault_backup('v', 'public.t')});
$node->safe_psql('postgres', "SELECT vault_delete_recovery_point($p)");
my @n = notifications();
is(scalar(@n), 1, 'one notification for the deletion');
is_deeply([ sort keys %{ $n[0] } ],
	[ sort qw(alert raised_at severity category vault item kind message) ], 'with the JSON fields');
is(join(' ', map { $n[0]{$_} } qw(severity category vault item kind)),
	'critical security v public.t backup data deleted', 'naming what happened where');
is($node->safe_psql('postgres', "SELECT alert FROM vault_alerts WHERE kind = 'backup data deleted'"),
	$n[0]{alert}, 'under the id vault_alerts shows');

# an on-demand backup that fails rolls back with its caller; the scheduler
# raises its alert in its next round
my ($rc, $out, $err) = $node->psql('postgres', q{SET ROLE op; SELECT vault_backup('v', 'public.t')});
like($err, qr/permission denied to back up table/, 'an on-demand backup fails in its caller\'s transaction');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM vault_alerts WHERE kind = 'backup failure' AND state = 'active'}),
	'the scheduler raised its alert all the same');
@n = notifications();
is(scalar(@n), 1, 'and notified it');
is("$n[0]{kind} $n[0]{item} $n[0]{severity}", 'backup failure public.t error', 'as a backup failure of the item');
like($n[0]{message}, qr/permission denied/, 'with the error');

# a second failure counts on the open alert, with no second notification
$node->psql('postgres', q{SET ROLE op; SELECT vault_backup('v', 'public.t')});
ok($node->poll_query_until('postgres',
		q{SELECT occurrences = 2 FROM vault_alerts WHERE kind = 'backup failure' AND state = 'active'}),
	'a second failure counts on it');
is(scalar(notifications()), 0, 'without a new notification');

# the next success resolves it
$node->safe_psql('postgres', q{SELECT vault_backup('v', 'public.t')});
is($node->safe_psql('postgres', q{SELECT state FROM vault_alerts WHERE kind = 'backup failure'}),
	'resolved', 'the next successful backup resolves it');

# a restore that fails while loading (a damaged chunk) rolls back too: the
# scheduler raises a "restore failure" for the item
$node->safe_psql('postgres', q{CREATE TABLE public.t2 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g});
my $p2 = $node->safe_psql('postgres', q{SELECT vault_backup('v', 'public.t2')});
$node->safe_psql('postgres', qq{
	UPDATE vault_internal.chunks SET data = set_byte(data, 40, get_byte(data, 40) # 1)
	WHERE chunk_no = (SELECT chunk_nos[1] FROM vault_internal.manifests WHERE point_id = $p2 LIMIT 1)});
($rc, $out, $err) = $node->psql('postgres', "SELECT vault_restore($p2, 't2_back')");
isnt($rc, 0, 'a restore from a damaged chunk fails');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM vault_alerts WHERE kind = 'restore failure' AND item = 'public.t2' AND state = 'active'}),
	'the scheduler raised a restore failure for the item');
@n = notifications();
is(join(',', map { $_->{kind} } @n), 'restore failure', 'and notified it');

# vault.alert_command: every alert written once, after one failure each
my $alerts = $node->safe_psql('postgres', q{SELECT string_agg(alert::text, ',' ORDER BY alert) FROM vault_alerts});
my @ids = split /,/, $alerts;
ok(@ids >= 2, 'alerts to hand over: ' . scalar(@ids));
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM vault_internal.alerts WHERE sent_at IS NULL}, 't'),
	'the scheduler handed every alert to vault.alert_command');
sleep(3);	# a few more rounds: nothing is handed over again
my %written;
open(my $in, '<', "$dir/alerts.out") or die "no alerts.out";
while (my $line = <$in>)
{
	my $a = decode_json($line);
	$written{ $a->{alert} }++;
}
close($in);
is(join(',', map { $written{$_} // 0 } @ids), join(',', map { 1 } @ids), 'each alert written exactly once');
ok(!grep({ !-e "$dir/failed.$_" } @ids), 'each after a first attempt that failed');
is($node->safe_psql('postgres', q{SELECT bool_and(send_attempts = 2 AND send_error IS NULL) FROM vault_internal.alerts}),
	't', 'two attempts each, the second a success');
like(slurp_file($node->logfile), qr/alert \d+ was not handed over: vault.alert_command child process exited with exit code 3/,
	'the failed attempts are in the server log');

$listener->quit;
$node->stop;
done_testing();
