# Zone-redundant vaults on a synchronous streaming standby: a backup into a
# zone vault is refused while no synchronous standby streams (no standby at
# all, or one that is only asynchronous), and once one does, the point is on
# the standby when vault_backup returns (its commit waited for remote_apply)
# and verifies there, on the hot standby; a scheduled backup the same; with
# the standby gone, backups are refused again and nothing is left behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('zone_primary');
$primary->init(allows_streaming => 1);
# synchronous_commit = local: only the zone vault's own commits wait for the
# standby (vault raises them to remote_apply), so that the rest of the
# primary, and the failed job a refused scheduled run records, do not hang
# once the synchronous standby is gone
$primary->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = off\nsynchronous_commit = local\n");
$primary->start;
sub p { return $primary->safe_psql('postgres', $_[0]); }

p(q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.orders AS SELECT i AS id, md5(i::text) AS note FROM generate_series(1, 20000) i;
SELECT vault_create('z');
SELECT vault_configure('z', redundancy => 'zone');
SELECT vault_create('l');
SELECT vault_policy_create('hourly', 'every 1 hours', 'daily 7');
});
is(p(q{SELECT redundancy FROM vault_vaults WHERE vault = 'z'}), 'zone', 'vault z is zone-redundant');

my $nothing = q{SELECT (SELECT count(*) FROM vault_recovery_points WHERE vault = 'z') || ' points, '
  || (SELECT count(*) FROM vault_internal.chunks c JOIN vault_internal.vaults v USING (vault_id) WHERE v.name = 'z')
  || ' chunks, ' || (SELECT count(*) FROM vault_jobs WHERE vault = 'z' AND state <> 'failed') || ' jobs'};

# --- no standby at all
my ($rc, $out, $err) = $primary->psql('postgres', q{SELECT vault_backup('z', 'public.orders')});
isnt($rc, 0, 'no standby: a backup into the zone vault is refused');
like($err, qr/vault "z" is zone-redundant, but no synchronous standby is streaming/, 'saying why');
like($err, qr/synchronous_standby_names is empty/, 'and what is missing');
is(p($nothing), '0 points, 0 chunks, 0 jobs', 'nothing written');
like(p(q{SELECT vault_backup('l', 'public.orders')}), qr/^\d+$/, 'a local vault backs up meanwhile');

# --- a streaming standby, asynchronous
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('zone_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# pg_basebackup carries the platform key file (it is in the data directory)
# with mode 0600; the test framework's copy of the backup does not keep modes
my $standby_key = $standby->data_dir . '/vault_platform.key';
ok(-e $standby_key, 'the base backup carried the platform key file');
chmod 0600, $standby_key;
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
($rc, $out, $err) = $primary->psql('postgres', q{SELECT vault_backup('z', 'public.orders')});
isnt($rc, 0, 'an asynchronous standby is not enough');
like($err, qr/no synchronous standby is streaming/, 'still refused');

# --- the standby made synchronous
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'zone_standby'\n");
$primary->reload;
ok($primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'zone_standby' AND sync_state = 'sync'}),
	'the standby streams synchronously');
my $point = p(q{SELECT vault_backup('z', 'public.orders')});
like($point, qr/^\d+$/, 'with it, the zone backup works');
# no waiting here: remote_apply means the standby applied the point before the commit returned
is($standby->safe_psql('postgres', "SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $point"),
	'1', 'the point is on the standby as soon as vault_backup returns');
is($standby->safe_psql('postgres', "SELECT ok FROM vault_verify($point)"), 't', 'and verifies there, on the hot standby');
is($standby->safe_psql('postgres', q{SELECT pg_is_in_recovery()}), 't', '(which is a standby)');

# the commit waits for apply: with replay paused on the standby, a backup into
# the zone vault stays in SyncRep until replay resumes, while a local vault's
# backup returns at once
$standby->safe_psql('postgres', q{SELECT pg_wal_replay_pause()});
my $bg = $primary->background_psql('postgres');
$bg->query_until(qr/started/, q{\echo started
SELECT vault_backup('z', 'public.orders') AS waited \gset
});
ok($primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%vault_backup%'}),
	'with replay paused, the zone backup waits in SyncRep');
like(p(q{SELECT vault_backup('l', 'public.orders')}), qr/^\d+$/, 'a local vault backup does not wait');
$standby->safe_psql('postgres', q{SELECT pg_wal_replay_resume()});
$bg->query_safe(q{SELECT 1});
my $waited = $bg->query_safe(q{\echo :waited});
$bg->quit;
like($waited, qr/^\d+$/, 'once replay resumes the backup returns');
is($standby->safe_psql('postgres', "SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $waited"),
	'1', 'and its point is on the standby');

# a scheduled backup waits the same way
p(q{SELECT vault_protect('z', 'public.orders', 'hourly')});
my $sched = p(q{SELECT recovery_point FROM vault_run_due(now() + interval '2 hours') WHERE vault = 'z'});
like($sched, qr/^\d+$/, 'a scheduled backup into the zone vault completes');
is($standby->safe_psql('postgres', "SELECT trigger FROM vault_recovery_points WHERE recovery_point = $sched"),
	'scheduled', 'and is on the standby when the run returns');
is($standby->safe_psql('postgres', "SELECT ok FROM vault_verify($sched)"), 't', 'verifying there');

# --- the standby gone: refused again, nothing left behind
$standby->stop;
ok($primary->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_replication}),
	'the standby is gone');
my $before = p($nothing);
($rc, $out, $err) = $primary->psql('postgres', q{SELECT vault_backup('z', 'public.orders')});
isnt($rc, 0, 'without the synchronous standby the zone backup is refused');
like($err, qr/No standby in pg_stat_replication has sync_state sync or quorum/, 'saying that none streams');
my $failed = p(q{SELECT state || ': ' || error FROM vault_run_due(now() + interval '4 hours') WHERE vault = 'z'});
like($failed, qr/^failed: vault "z" is zone-redundant, but no synchronous standby is streaming/,
	'a scheduled run becomes a failed job with that error');
is(p($nothing), $before, 'nothing written by either');
($rc, $out, $err) = $primary->psql('postgres', q{SELECT vault_configure('z', redundancy => 'local')});
like($err, qr/already holds data/, 'the redundancy of a vault that holds data cannot change');

$primary->stop;
done_testing();
