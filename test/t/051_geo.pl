# Geo-redundant vaults: a vault's storage copied, inserts only, to a secondary
# cluster by logical replication, where it outlives a compromised primary.
#
# Three clusters on loopback: the primary (wal_level logical), a synchronous
# streaming standby made with pg_basebackup, and the geo secondary, which
# vault_secondary_attach subscribes to the primary (subscription vault_geo).
#
#  1. a geo point verifies on the hot standby too.
#  2. points made on the primary, on demand and scheduled, before the attach
#     (the initial copy) and after it (streamed, within seconds), are on the
#     secondary under the same ids, flagged replica; a local vault of the
#     primary does not travel; there the vault belongs to the role that
#     attached, and the primary's grants do not travel (a vault_grant made on
#     the secondary does).
#  3. on the secondary every point verifies; restore and export are refused
#     (55000, naming cross-region restore) until cross-region restore, turned
#     on at the primary, has replicated; then each point restores equal
#     (EXCEPT ALL both ways) to a reference rebuilt on the secondary by the
#     same deterministic SQL, as a completed job of the secondary's, and the
#     export is byte for byte the primary's; it cannot be turned off again.
#  4. writes to the replicated vault are refused on the secondary (55000) and
#     change nothing; a local vault there works, its point id is none of the
#     replicated ones, points keep streaming in after it, and both restore;
#     another database that holds vaults cannot attach, nor (wal_level
#     minimal) have a geo vault.
#  5. the redundancy of a vault that holds data cannot change.
#  6. retention on the secondary is its own: a point deleted and purged on
#     the primary stays; a scheduled point arrives with the primary's expiry,
#     follows an extension but never a reduction, is kept through
#     soft_delete_days after its expiry and removed after that by the
#     secondary's vault_apply_retention (explicit clock).
#  7. vault_replication_status: with the secondary stopped the primary shows
#     it disconnected, points pending and lag; restarted, it catches up.
#  8. the compromised primary: a superuser unprotects with delete_data,
#     deletes the chunks and manifests, expires every point, truncates the
#     storage, drops the extension, and the cluster dies; the secondary still
#     lists every point it had, with its expiry, verifying and restoring
#     equal to its reference.
#  9. attach and detach are a superuser's only; detach keeps the data.
#
# The scheduler is off: the scheduled path is vault_run_due with a clock.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy qw(copy);
use Time::HiRes qw(time);

# --- the table's history --------------------------------------------------------
# public.orders on the primary goes through these versions, one statement
# each; a point holds the version current when it was made, and version n is
# rebuilt anywhere, under another name (TBL), by replaying the first n
my @history = (
	q{CREATE TABLE public.TBL AS SELECT i AS id, md5(i::text) AS note, (i % 7)::int AS qty FROM generate_series(1, 3000) i},
	q{UPDATE public.TBL SET qty = qty + 1 WHERE id % 3 = 0},
	q{UPDATE public.TBL SET note = upper(note) WHERE id % 5 = 0},
	q{DELETE FROM public.TBL WHERE id % 11 = 0},
	q{INSERT INTO public.TBL SELECT i, md5(i::text), i % 5 FROM generate_series(3001, 3200) i},
	q{UPDATE public.TBL SET qty = qty * 2 WHERE id % 4 = 0},
	q{UPDATE public.TBL SET note = reverse(note) WHERE id % 6 = 0},
	q{DELETE FROM public.TBL WHERE id BETWEEN 100 AND 160},
	q{UPDATE public.TBL SET qty = -qty WHERE id % 13 = 0});
sub for_table { my ($sql, $table) = @_; $sql =~ s/\bTBL\b/$table/g; return $sql; }
sub history_sql
{
	my ($table, $upto) = @_;
	return join(";\n", map { for_table($_, $table) } @history[ 0 .. $upto - 1 ]);
}

# --- the primary -----------------------------------------------------------------
my $primary = PostgreSQL::Test::Cluster->new('geo_primary');
$primary->init(allows_streaming => 'logical');
# synchronous_commit = local: only what asks for it waits for the
# synchronous standby (see 050_zone.pl)
$primary->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = off\nsynchronous_commit = local\ntimezone = 'UTC'\n");
$primary->start;
sub p { return $primary->safe_psql('postgres', $_[0]); }

my $version = 0;    # of public.orders on the primary
sub advance
{
	$version++;
	die "the history has no version $version" if $version > @history;
	p(for_table($history[ $version - 1 ], 'orders'));
}

my %version_of;     # geo point => the version of public.orders it holds
sub backup_g
{
	my ($extra) = @_;
	my $point = p("SELECT vault_backup('g', 'public.orders'" . ($extra // '') . ")");
	die "vault_backup returned '$point'" unless $point =~ /^\d+$/;
	$version_of{$point} = $version;
	return $point;
}

# $sql (in $db, default postgres) must fail with SQLSTATE $state and a
# message (DETAIL and HINT included) matching $re; returns psql's stderr
sub refused
{
	my ($node, $sql, $state, $re, $name, $db) = @_;
	my ($rc, $out, $err) = $node->psql($db // 'postgres', "\\set VERBOSITY verbose\n$sql");
	my $code = $err =~ /ERROR:  ([0-9A-Z]{5}): /m ? $1 : '';
	ok($rc != 0 && $code eq $state && $err =~ $re, "$name ($state)")
	  or diag("rc $rc, stderr:\n$err");
	return $err;
}

sub expiry
{
	my ($node, $point) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(expires_at::text, 'none') FROM vault_recovery_points WHERE recovery_point = $point");
}

# version $v of the table as public.ref_v<v> on $node, built once
my %ref_built;
sub reference
{
	my ($node, $v) = @_;
	$node->safe_psql('postgres', history_sql("ref_v$v", $v)) unless $ref_built{ $node->name }{$v}++;
	return "public.ref_v$v";
}

# restores $point on $node into a new table and compares it with version $v
# of the source, both ways; '0 extra, 0 missing' when equal
my $restores = 0;
sub restore_diff
{
	my ($node, $point, $v) = @_;
	my $target = 'public.r' . ++$restores . "_p$point";
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT vault_restore($point, '$target')");
	return "restore failed: $err" if $rc != 0;
	return "restored into '$out', not $target" if $out ne $target;
	my $ref = reference($node, $v);
	return $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM (TABLE $target EXCEPT ALL TABLE $ref) a) || ' extra, '
		     || (SELECT count(*) FROM (TABLE $ref EXCEPT ALL TABLE $target) b) || ' missing'");
}

p(q{
CREATE EXTENSION vault CASCADE;
CREATE ROLE alice;
GRANT vault_contributor TO alice;
CREATE ROLE mallory LOGIN;
SET ROLE alice;
SELECT vault_create('g');
RESET ROLE;
SELECT vault_configure('g', redundancy => 'geo');
SELECT vault_grant('g', 'mallory', 'reader');
SELECT vault_create('l');
SELECT vault_policy_create('hourly', 'every 1 hours', 'daily 7');
});
advance();    # version 1
is(p(q{SELECT redundancy || ' ' || owner FROM vault_vaults WHERE vault = 'g'}), 'geo alice',
	'vault g is geo-redundant, owned by alice on the primary');
my $keyfile = $primary->data_dir . '/vault_platform.key';
ok(-e $keyfile, 'the first vault made the platform key file');

# --- the synchronous streaming standby ---------------------------------------------
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('geo_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# the framework's copy of the backup does not keep the key file's mode
my $standby_key = $standby->data_dir . '/vault_platform.key';
ok(-e $standby_key, 'the base backup carried the platform key file');
chmod 0600, $standby_key;
$standby->start;
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'geo_standby'\n");
$primary->reload;
ok($primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'geo_standby' AND sync_state = 'sync'}),
	'the standby streams synchronously');

# --- the geo secondary ---------------------------------------------------------------
my $secondary = PostgreSQL::Test::Cluster->new('geo_secondary');
$secondary->init;
$secondary->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = off\ntimezone = 'UTC'\n");
# the same platform key as the primary's, in place before the secondary starts
my $secondary_key = $secondary->data_dir . '/vault_platform.key';
copy($keyfile, $secondary_key) or die "copying the platform key file: $!";
chmod 0600, $secondary_key;
$secondary->start;
sub sec { return $secondary->safe_psql('postgres', $_[0]); }
sec(q{CREATE EXTENSION vault CASCADE; CREATE ROLE mallory LOGIN;});
my $su = sec('SELECT current_user');

# waits until the secondary lists $point, a replicated point of g
sub arrives
{
	my ($point) = @_;
	return $secondary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM vault_recovery_points WHERE recovery_point = $point AND vault = 'g' AND replica");
}
# waits until the subscription has applied all the primary wrote until now
# (its walsender: application_name vault_geo, on a vault_geo* slot)
sub geo_caught_up
{
	my $lsn = $primary->lsn('write');
	return $primary->poll_query_until('postgres',
		"SELECT bool_and('$lsn' <= r.replay_lsn AND r.state = 'streaming')
		 FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
		 WHERE r.application_name = 'vault_geo' OR s.slot_name LIKE 'vault\\_geo%'");
}
sub points_of_g
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT string_agg(recovery_point::text, ',' ORDER BY recovery_point) FROM vault_recovery_points WHERE vault = 'g'});
}
sub sorted_points { return join(',', sort { $a <=> $b } @_); }

my $p1 = backup_g();
like($p1, qr/^\d+$/, 'a point in g before the secondary attaches');

(my $conninfo = $primary->connstr('postgres')) =~ s/'/''/g;
sec("SELECT vault_secondary_attach('$conninfo')");
is(sec(q{SELECT count(*) FROM pg_subscription WHERE subname = 'vault_geo'}), '1',
	'vault_secondary_attach subscribed the secondary (vault_geo)');
ok($secondary->poll_query_until('postgres',
		q{SELECT count(*) > 0 AND bool_and(srsubstate IN ('r', 's')) FROM pg_subscription_rel}),
	'the initial copy of the storage tables completes');
ok(arrives($p1), 'the point made before the attach was copied, under its id');

# --- on demand and scheduled points stream ------------------------------------------
advance();    # version 2
my $t0 = time;
my $p2 = backup_g(q{, retain_until => now() + interval '365 days'});
ok(arrives($p2), 'an on-demand point made after the attach streams to the secondary');
cmp_ok(time - $t0, '<', 30, 'within seconds');

advance();    # version 3
p(q{SELECT vault_protect('g', 'public.orders', 'hourly')});
my $s = p(q{SELECT recovery_point FROM vault_run_due(now() + interval '2 hours') WHERE vault = 'g'});
like($s, qr/^\d+$/, 'a scheduled backup into the geo vault');
$version_of{$s} = $version;
ok(arrives($s), 'the scheduled point streams to the secondary');
is(sec("SELECT trigger FROM vault_recovery_points WHERE recovery_point = $s"), 'scheduled', 'as a scheduled point');
my $e1 = expiry($primary, $s);
like($e1, qr/^\d{4}-/, 'the scheduled point expires by its policy on the primary');
is(expiry($secondary, $s), $e1, 'and arrives on the secondary with that expiry');

# --- the hot standby ---------------------------------------------------------------------
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', "SELECT ok FROM vault_verify($p2)"), 't', 'a geo point verifies on the hot standby');
is($standby->safe_psql('postgres', "SELECT ok FROM vault_verify($s)"), 't', 'the scheduled one too');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', '(which is a standby)');

# --- what the secondary shows ------------------------------------------------------------
is(points_of_g($secondary), sorted_points($p1, $p2, $s), 'the secondary holds the three points, same ids');
is(sec(q{SELECT bool_and(replica) FROM vault_recovery_points WHERE vault = 'g'}), 't', 'flagged replica');
is(sec(q{SELECT redundancy || ' ' || replica || ' ' || cross_region_restore FROM vault_vaults WHERE vault = 'g'}),
	'geo true false', 'vault g on the secondary: geo, replica, no cross-region restore yet');
is(sec(q{SELECT string_agg(name || ' ' || replica, ',') FROM vault_items WHERE vault = 'g'}), 'public.orders true',
	'its item, flagged replica');
is(sec(q{SELECT owner FROM vault_vaults WHERE vault = 'g'}), $su,
	"on the secondary g belongs to the role that attached ($su), not alice");

# grants: the primary's do not travel; one made on the secondary counts
is(p(q{SET ROLE mallory; SELECT count(*) FROM vault_vaults WHERE vault = 'g'}), '1',
	'on the primary mallory, a reader there, sees g');
is(sec(q{SET ROLE mallory; SELECT count(*) FROM vault_vaults WHERE vault = 'g'}), '0',
	'on the secondary the primary\'s grant does not count: mallory does not see g');
is(sec(q{SET ROLE mallory; SELECT count(*) FROM vault_recovery_points WHERE vault = 'g'}), '0', 'nor its points');
sec(q{SELECT vault_grant('g', 'mallory', 'reader')});
is(sec(q{SET ROLE mallory; SELECT count(*) FROM vault_vaults WHERE vault = 'g'}), '1',
	'vault_grant on the secondary lets mallory see the replicated vault');
is(sec(q{SET ROLE mallory; SELECT count(*) FROM vault_recovery_points WHERE vault = 'g'}),
	sec(q{SELECT count(*) FROM vault_recovery_points WHERE vault = 'g'}), 'and all its points');

# --- cross-region restore --------------------------------------------------------------------
my $crr = qr/cross[- _]region[ _]restore/i;
refused($secondary, "SELECT vault_restore($p1, 'public.too_early')", '55000', $crr,
	'restore on the secondary before cross-region restore is refused');
is(sec(q{SELECT to_regclass('public.too_early') IS NULL}), 't', 'and created nothing');
refused($secondary, "SELECT count(*) FROM vault_export($p1)", '55000', $crr, 'export too');
is(sec(q{SELECT string_agg(r.recovery_point || ' ' || v.ok, ',' ORDER BY r.recovery_point)
		 FROM vault_recovery_points r, LATERAL vault_verify(r.recovery_point) v WHERE r.vault = 'g'}),
	join(',', map { "$_ true" } sort { $a <=> $b } ($p1, $p2, $s)), 'while every replicated point verifies there');

p(q{SELECT vault_configure('g', cross_region_restore => true)});
ok($secondary->poll_query_until('postgres', q{SELECT cross_region_restore FROM vault_vaults WHERE vault = 'g'}),
	'cross-region restore, turned on at the primary, reaches the secondary');
for my $point ($p1, $p2, $s)
{
	is(restore_diff($secondary, $point, $version_of{$point}), '0 extra, 0 missing',
		"point $point restores on the secondary equal to version $version_of{$point} of the source");
}
is(sec(q{SELECT sum(delta_chunks) > 0 FROM vault_recovery_points WHERE vault = 'g'}), 't',
	'some of those chunks are deltas: their bases came along');
is(sec(q{SELECT count(*) FROM vault_internal.chunks d
		 WHERE d.base_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vault_internal.chunks b WHERE b.chunk_no = d.base_no)}),
	'0', 'no delta on the secondary lacks its base');
is(sec(q{SELECT string_agg(recovery_point::text, ',' ORDER BY recovery_point) FROM vault_jobs
		 WHERE vault = 'g' AND operation = 'restore' AND state = 'completed'}),
	sorted_points($p1, $p2, $s), 'each restore is a completed job of the secondary\'s');
my $export = q{SELECT md5(string_agg(x, ''::bytea)) FROM vault_export(%d) x};
my $exported = sec(sprintf($export, $p2));
like($exported, qr/^[0-9a-f]{32}$/, 'the export works on the secondary');
is($exported, p(sprintf($export, $p2)), 'byte for byte the primary\'s');
refused($primary, q{SELECT vault_configure('g', cross_region_restore => false)}, '55000', qr/cannot be turned off/,
	'cross-region restore cannot be turned off');
is(p(q{SELECT cross_region_restore FROM vault_vaults WHERE vault = 'g'}), 't', 'it stays on');

# --- writes to the replicated vault refused on the secondary ----------------------------------
my $g_state = q{SELECT (SELECT string_agg(recovery_point || ' ' || state, ',' ORDER BY recovery_point)
		FROM vault_recovery_points WHERE vault = 'g') || '; soft_delete_days '
		|| (SELECT soft_delete_days FROM vault_vaults WHERE vault = 'g')};
my $g_before = sec($g_state);
my $ref1 = reference($secondary, 1);
my $replica_refusal = qr/replica|secondary|primary/i;
refused($secondary, "SELECT vault_backup('g', '$ref1')", '55000', $replica_refusal,
	'a backup into the replicated vault is refused on the secondary');
refused($secondary, q{SELECT vault_configure('g', soft_delete_days => 30)}, '55000', $replica_refusal,
	'so is vault_configure');
refused($secondary, "SELECT vault_delete_recovery_point($p1)", '55000', $replica_refusal,
	'so is deleting a replicated point');
refused($secondary, q{SELECT vault_drop('g')}, '55000', $replica_refusal, 'so is dropping the vault');
is(sec($g_state), $g_before, 'none of them changed anything');

# --- a vault that holds data keeps its redundancy; local vaults do not travel -------------------
my $lp = p(q{SELECT vault_backup('l', 'public.orders')});
like($lp, qr/^\d+$/, 'a backup into the local vault l on the primary');
refused($primary, q{SELECT vault_configure('l', redundancy => 'geo')}, '55000', qr/already holds data/,
	'l cannot become geo once it holds data');
is(p(q{SELECT redundancy FROM vault_vaults WHERE vault = 'l'}), 'local', 'it stays local');

# --- a local vault on the secondary ----------------------------------------------------------------
sec(q{SELECT vault_create('local_here')});
my $local = sec("SELECT vault_backup('local_here', '$ref1')");
like($local, qr/^\d+$/, 'a local vault on the secondary backs up');
advance();    # version 4
my $p4 = backup_g();
ok(arrives($p4), 'geo points still stream in after it');
ok(!grep({ $_ == $local } keys %version_of), "the local point ($local) has none of the replicated ids");
ok(geo_caught_up(), 'the secondary has caught up');
is(sec(q{SELECT string_agg(vault || ' ' || replica, ',' ORDER BY vault) FROM vault_vaults}),
	'g true,local_here false', 'vault_vaults on the secondary: g replicated, local_here local, the primary\'s l absent');
is(sec("SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $lp AND vault = 'l'"), '0',
	'the point of the local vault l did not travel');
is(sec(q{SELECT string_agg(name || ' ' || replica, ',') FROM vault_items WHERE vault = 'local_here'}),
	"$ref1 false", 'the local item is not flagged replica');
is(sec("SELECT replica FROM vault_recovery_points WHERE recovery_point = $local"), 'f',
	'nor the local point');
is(restore_diff($secondary, $local, 1), '0 extra, 0 missing', 'the local point restores');
is(restore_diff($secondary, $p4, $version_of{$p4}), '0 extra, 0 missing', 'the geo point made after it restores');

# another database of the secondary, holding a vault: no attach, no geo
$secondary->safe_psql('postgres', 'CREATE DATABASE elsewhere');
$secondary->safe_psql('elsewhere', q{CREATE EXTENSION vault CASCADE; SELECT vault_create('x');});
refused($secondary, "SELECT vault_secondary_attach('$conninfo')", '55000', qr/vault/i,
	'a database that already holds vaults cannot attach', 'elsewhere');
is(sec(q{SELECT count(*) FROM pg_subscription}), '1', 'no second subscription was made');
refused($secondary, q{SELECT vault_configure('x', redundancy => 'geo')}, '55000', qr/wal_level/,
	'geo needs wal_level = logical', 'elsewhere');

# --- retention on the secondary ----------------------------------------------------------------------
# a point deleted, then purged, on the primary stays on the secondary
advance();    # version 5
my $d = backup_g();
ok(arrives($d), 'a point to delete on the primary reaches the secondary');
p("SELECT vault_delete_recovery_point($d)");
p(q{SELECT * FROM vault_purge(now() + interval '15 days')});
is(p("SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $d"), '0',
	'on the primary the deleted point is gone once purged');
ok(geo_caught_up(), 'the secondary has caught up with the deletion');
is(sec("SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $d"), '1', 'it is still on the secondary');

# the scheduled point: an extension travels, a reduction does not
p(q{SELECT vault_policy_alter('hourly', retention => 'daily 20')});
my $e2 = expiry($primary, $s);
is(p("SELECT '$e2'::timestamptz > '$e1'::timestamptz"), 't', 'a longer retention extends the scheduled point on the primary');
ok($secondary->poll_query_until('postgres', "SELECT expires_at = '$e2' FROM vault_recovery_points WHERE recovery_point = $s"),
	'the extension reaches the secondary');
p(q{SELECT vault_policy_alter('hourly', retention => 'daily 7')});
p(q{SELECT * FROM vault_apply_retention(now())});
my $e3 = expiry($primary, $s);
is(p("SELECT '$e3'::timestamptz < '$e2'::timestamptz"), 't', 'a shorter retention reduces it on the primary');
ok(geo_caught_up(), 'the secondary has caught up with the reduction');
is(expiry($secondary, $s), $e2, 'the secondary keeps the longer expiry');

# the secondary's own retention, by its clock
my $listed = "SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $s";
sec("SELECT count(*) FROM vault_apply_retention('$e3'::timestamptz + interval '15 days')");
is(sec($listed), '1', 'the secondary keeps the point past the reduced expiry plus soft_delete_days');
sec("SELECT count(*) FROM vault_apply_retention('$e2'::timestamptz + interval '1 day')");
is(sec($listed), '1', 'and a day past its own expiry (soft_delete_days 14)');
sec("SELECT count(*) FROM vault_apply_retention('$e2'::timestamptz + interval '15 days')");
is(sec($listed), '0', 'its retention removes it 15 days past its expiry');
delete $version_of{$s};
is(points_of_g($secondary), sorted_points(keys %version_of), 'and nothing else');

# --- vault_replication_status ------------------------------------------------------------------------
my $status = q{SELECT %s FROM vault_replication_status WHERE vault = 'g'};
ok($primary->poll_query_until('postgres', sprintf($status, q{role = 'primary' AND state = 'streaming' AND points_pending = 0})),
	'vault_replication_status on the primary: streaming, nothing pending');
is(sec(sprintf($status, q{role || ' ' || state})), 'secondary streaming', 'on the secondary: secondary, streaming');
$secondary->stop;
ok($primary->poll_query_until('postgres', sprintf($status, 'state'), 'disconnected'),
	'with the secondary stopped the primary shows it disconnected');
advance();    # version 6
my $q1 = backup_g();
advance();    # version 7
my $q2 = backup_g();
is(p(sprintf($status, 'points_pending >= 2')), 't', 'with the two new points pending');
is(p(sprintf($status, 'lag_bytes > 0')), 't', 'and lag in bytes');
is(p(sprintf($status, 'last_point')), $q2, 'its last point is the newest');
$secondary->start;
ok($primary->poll_query_until('postgres', sprintf($status, q{state = 'streaming' AND points_pending = 0})),
	'restarted, the secondary catches up: streaming, nothing pending');
ok(arrives($q1) && arrives($q2), 'the secondary has both new points');
ok($secondary->poll_query_until('postgres', sprintf($status, "state = 'streaming' AND last_point = $q2")),
	'and shows itself streaming, its last point the newest');
is(restore_diff($secondary, $q2, $version_of{$q2}), '0 extra, 0 missing', 'the newest point restores equal');

# --- the compromised primary ---------------------------------------------------------------------------
my @points = sort { $a <=> $b } keys %version_of;
is(points_of_g($secondary), join(',', @points), 'before the attack the secondary holds every geo point still due');
ok(!grep({ $_ == $local } @points), 'none of them has the local point\'s id');
my $listing = q{SELECT string_agg(recovery_point || ' ' || coalesce(expires_at::text, 'none'), ', ' ORDER BY recovery_point)
		FROM vault_recovery_points WHERE vault = 'g'};
my $before_attack = sec($listing);

# a superuser on the primary, bent on destroying the backups; what a guard
# or trigger may refuse is let go
for my $sql (
	q{UPDATE vault_internal.points SET expires_at = now() - interval '1 year', retain_until = now() - interval '1 year'},
	q{UPDATE vault_internal.point_tables SET definition = '{}', rows = 0},
	q{SELECT vault_configure('g', soft_delete => 'off')},
	q{SELECT vault_unprotect('g', 'public.orders', delete_data => true)},
	q{UPDATE vault_internal.vaults SET redundancy = 'local', wrapped_keys = '\x00', cross_region_restore = false},
	q{DELETE FROM vault_internal.chunks},
	q{DELETE FROM vault_internal.manifests},
	q{TRUNCATE vault_internal.chunks, vault_internal.manifests, vault_internal.point_tables,
	  vault_internal.points, vault_internal.items CASCADE})
{
	my ($rc, $out, $err) = $primary->psql('postgres', $sql);
	note("attack: $sql: " . ($rc == 0 ? 'done' : "refused: $err"));
}
ok(geo_caught_up(), 'the secondary has taken in all the attack sent through replication');
is(p(q{SELECT (SELECT count(*) FROM vault_internal.points) + (SELECT count(*) FROM vault_internal.chunks)}), '0',
	'the primary has lost every point and chunk');
$primary->psql('postgres', 'DROP EXTENSION vault CASCADE');
$primary->kill9;

is(sec($listing), $before_attack, 'every point is still on the secondary, with its expiry');
for my $point (@points)
{
	is(sec("SELECT ok FROM vault_verify($point)"), 't', "point $point verifies on the secondary");
	is(restore_diff($secondary, $point, $version_of{$point}), '0 extra, 0 missing',
		"point $point restores equal to version $version_of{$point} of the source");
}

# --- attach and detach --------------------------------------------------------------------------------
refused($secondary, "SET ROLE mallory;\nSELECT vault_secondary_detach()", '42501', qr/permission denied/,
	'a non-superuser cannot detach');
refused($secondary, "SET ROLE mallory;\nSELECT vault_secondary_attach('$conninfo')", '42501', qr/permission denied/,
	'nor attach');
is(sec(q{SELECT count(*) FROM pg_subscription WHERE subname = 'vault_geo'}), '1', 'the secondary is still attached');
sec(q{SELECT vault_secondary_detach()});
is(sec(q{SELECT count(*) FROM pg_subscription WHERE subname = 'vault_geo'}), '0', 'detached: no subscription left');
is(sec(sprintf($status, 'state')), 'detached', 'vault_replication_status says detached');
is(sec($listing), $before_attack, 'the replicated points stay, with their expiry');
is(restore_diff($secondary, $points[-1], $version_of{ $points[-1] }), '0 extra, 0 missing',
	'and restore equal after the detach');
refused($secondary, q{SELECT vault_secondary_detach()}, '55000', qr/attach|secondary/i,
	'detaching what is not attached');

$secondary->stop;
$standby->stop;
done_testing();
