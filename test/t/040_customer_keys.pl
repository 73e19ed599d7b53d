# Customer-managed keys: a vault whose data and MAC keys are wrapped by an
# OpenPGP RSA key of the customer's instead of the platform key.
#
#  1. vault_key_add takes armored RSA public keys (2048, 3072 bits; fingerprint
#     and bits as gpg shows them in vault_keys) and refuses a non-RSA key, a
#     secret key block, garbage, bad or reserved names (22023) and a
#     duplicate name (42710); vault_configure(encryption_key => ...) is
#     allowed before the vault's first item only (then 55000, "already holds
#     data"), and 'platform' on a customer-keyed vault is refused (55000).
#  2. backup, schema backup, verify, export and restore work with the key.
#  3. no platform-wrapped copy of the vault's keys remains: with the platform
#     key file in place but the customer key gone, restore fails naming the
#     key; the stored wrapped keys open with the customer's secret key alone
#     (pgp_pub_decrypt_bytea: 64 bytes, data key then MAC key), not with
#     another key.
#  4. the key command failing (empty output, another key, the key file gone)
#     fails backup, schema backup, restore, verify, export and a scheduled
#     run with an error naming the key and the vault, leaving no point, chunk,
#     item or in-progress job behind (the scheduled job is recorded failed);
#     vault_keys.last_error shows it at once; other vaults (platform key, a
#     second customer key) go on; the file back, everything works again.
#  5. vault_key_disable does the same inside the database; enable undoes it.
#  6. vault_key_rotate re-wraps under another key (same 64 bytes inside) and
#     rewrites no chunk; then the old key can go and every point restores;
#     on a guarded vault it needs an approved 'encryption_key' request.
#  7. a platform key file with group or world access is refused (F0000, the
#     mode in the detail); vault_platform_key_rotate writes a new file,
#     re-wraps the platform vaults of this database and (by its worker) of
#     another one, rewrites no chunk, keeps the old key on disk only until
#     commit, and a rollback puts the old file back.
#  8. none of the key material (the data and MAC keys of step 3, the secret
#     keys) appears in the server log, written at log_min_messages = debug1.
#
# The keys are made at test time with gpg in batch mode in a temporary
# GNUPGHOME; each secret key is exported armored into a key store directory
# as <name>.sec (mode 0600), and vault.key_command = 'cat <dir>/%k.sec'.
# Revoking a key = moving its file away.  The scheduler is off: the scheduled
# path under test is vault_run_due(now) with an explicit clock.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy qw(move copy);
use IPC::Run;
use MIME::Base64 qw(encode_base64);
use lib 'test/perl';
use VaultNode;

# --- the keys, made with gpg ------------------------------------------------
my $gpg = '/usr/bin/gpg';
-x $gpg or die "$gpg is missing: this test needs gnupg";
my $gnupghome = PostgreSQL::Test::Utils::tempdir_short();    # short: gpg-agent's socket lives here
chmod 0700, $gnupghome;
my $keystore = PostgreSQL::Test::Utils::tempdir('keystore');
my $away = PostgreSQL::Test::Utils::tempdir('revoked');    # where revoked key files go

sub gpg
{
	my @args = @_;
	my ($out, $err) = ('', '');
	local $ENV{GNUPGHOME} = $gnupghome;
	IPC::Run::run([ $gpg, '--batch', '--no-tty', @args ], '<', \'', '>', \$out, '2>', \$err)
	  or die "gpg @args failed: $err";
	return $out;
}

my %keygen = (
	alpha => "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign,cert\n"
	  . "Subkey-Type: RSA\nSubkey-Length: 2048\nSubkey-Usage: encrypt\n",
	beta => "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign,cert\n"
	  . "Subkey-Type: RSA\nSubkey-Length: 2048\nSubkey-Usage: encrypt\n",
	gamma => "Key-Type: RSA\nKey-Length: 3072\nKey-Usage: sign,cert\n"
	  . "Subkey-Type: RSA\nSubkey-Length: 3072\nSubkey-Usage: encrypt\n",
	delta => "Key-Type: EDDSA\nKey-Curve: ed25519\nKey-Usage: sign,cert\n"
	  . "Subkey-Type: ECDH\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n");
my $params = "$gnupghome/keys.params";
open(my $pf, '>', $params) or die;
for my $k (sort keys %keygen)
{
	print $pf "%no-protection\n$keygen{$k}Name-Real: vault-cmk-$k\nExpire-Date: 0\n%commit\n";
}
close($pf);
gpg('--gen-key', $params);

# what gpg says of each key: the primary fingerprint (field 10 of the fpr:
# line after pub:), the encryption subkey's bits and key id
my (%fpr, %bits, %subkeyid, %pub, %sec);
for my $k (sort keys %keygen)
{
	my $in = '';
	for my $line (split /\n/, gpg('--with-colons', '--fingerprint', "=vault-cmk-$k"))
	{
		my @f = split /:/, $line, -1;
		if ($f[0] eq 'pub') { $in = 'pub'; }
		elsif ($f[0] eq 'fpr' && $in eq 'pub') { $fpr{$k} = $f[9]; $in = ''; }
		elsif ($f[0] eq 'sub' && $f[11] =~ /e/) { $bits{$k} = $f[2]; $subkeyid{$k} = $f[4]; }
	}
	die "gpg did not make key $k" unless $fpr{$k} && $fpr{$k} =~ /^[0-9A-F]{40}$/ && $bits{$k};
	$pub{$k} = gpg('--armor', '--export', $fpr{$k});
	die "no armored public key for $k" unless $pub{$k} =~ /^-----BEGIN PGP PUBLIC KEY BLOCK-----/m;
	next if $k eq 'delta';
	$sec{$k} = gpg('--armor', '--export-secret-keys', $fpr{$k});
	die "no armored secret key for $k" unless $sec{$k} =~ /^-----BEGIN PGP PRIVATE KEY BLOCK-----/m;
	my $file = "$keystore/$k.sec";
	open(my $fh, '>', $file) or die;
	chmod 0600, $file;
	print $fh $sec{$k};
	close($fh);
}
die "unexpected key sizes" unless "$bits{alpha} $bits{beta} $bits{gamma}" eq '2048 2048 3072';

# epsilon: an RSA key with an RSA encryption subkey, and also an ed25519
# signing subkey, a shape pgcrypto cannot encrypt to
open($pf, '>', "$gnupghome/epsilon.params") or die;
print $pf "%no-protection\n$keygen{alpha}Name-Real: vault-cmk-epsilon\nExpire-Date: 0\n%commit\n";
close($pf);
gpg('--gen-key', "$gnupghome/epsilon.params");
my ($fpr_epsilon) = gpg('--with-colons', '--fingerprint', '=vault-cmk-epsilon') =~ /^fpr:+([0-9A-F]{40}):/m;
gpg('--pinentry-mode', 'loopback', '--passphrase', '', '--quick-add-key', $fpr_epsilon, 'ed25519', 'sign', 'never');
$pub{epsilon} = gpg('--armor', '--export', $fpr_epsilon);
if (-x '/usr/bin/gpgconf')
{
	# gpg is done; end the agent it started for this GNUPGHOME
	local $ENV{GNUPGHOME} = $gnupghome;
	my ($o, $e);
	IPC::Run::run([ '/usr/bin/gpgconf', '--kill', 'gpg-agent' ], '>', \$o, '2>', \$e);
}

sub revoke   { move("$keystore/$_[0].sec", "$away/$_[0].sec") or die "revoke $_[0]: $!"; }
sub unrevoke { move("$away/$_[0].sec", "$keystore/$_[0].sec") or die "unrevoke $_[0]: $!"; }

# --- the node -----------------------------------------------------------------
my $node = vault_node('cmk', "log_min_messages = debug1\nvault.scheduler = off\n");
my $keyfile = $node->data_dir . '/vault_platform.key';
sub q1 { return $node->safe_psql('postgres', $_[0]); }
sub lit { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }

# $sql must fail with SQLSTATE $state and an ERROR line matching $re;
# returns psql's stderr (DETAIL and all)
sub refused
{
	my ($sql, $state, $re, $name) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	my $msg = $err =~ /ERROR:  (.*)$/m ? $1 : '';
	ok($rc != 0 && $msg =~ /^\Q$state\E: / && $msg =~ $re, "$name ($state)")
	  or diag("rc $rc, stderr:\n$err");
	return $err;
}
# an ERROR line naming the key and the vault
sub names { my ($key, $vault) = @_; return qr/^(?=.*key "\Q$key\E")(?=.*vault "\Q$vault\E")/; }

my $digest = q{SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t};
sub digest { return q1(sprintf($digest, $_[0])); }
my $chunks_md5 = q{SELECT count(*) || ' ' || md5(string_agg(c::text, '|' ORDER BY chunk_no)) FROM vault_internal.chunks c};

# what failed operations must leave as it was: points, chunks and items of the
# vault, and no job in progress anywhere
sub state_of
{
	my ($vault) = @_;
	return q1(qq{SELECT (SELECT count(*) FROM vault_recovery_points WHERE vault = '$vault') || ' points, '
	  || (SELECT count(*) FROM vault_internal.chunks c JOIN vault_internal.vaults w USING (vault_id)
	      WHERE w.name = '$vault') || ' chunks, '
	  || (SELECT count(*) FROM vault_items WHERE vault = '$vault') || ' items, '
	  || (SELECT count(*) FROM vault_jobs WHERE state = 'in-progress') || ' in progress'});
}

# one scheduled round at now() + $hours hours: vault => [job_id, state, error]
sub run_due
{
	my ($hours) = @_;
	my %r;
	for my $row (split /\n/, q1(qq{SELECT job_id, vault, state, coalesce(error, '')
	                               FROM vault_run_due(now() + interval '$hours hours') ORDER BY job_id}))
	{
		my ($job, $vault, $state, $error) = split /\|/, $row, 4;
		$r{$vault} = [ $job, $state, $error ];
	}
	return \%r;
}

# every point of $vault verifies and restores equal to its (unchanged) source
my %src_digest;
sub check_points
{
	my ($vault, $label) = @_;
	my @points = split /\n/, q1(qq{SELECT recovery_point || '|' || kind || '|' || item
	                               FROM vault_recovery_points WHERE vault = '$vault' ORDER BY 1});
	cmp_ok(scalar @points, '>=', 1, "$label: vault $vault has points (" . scalar(@points) . ')');
	my ($rc, $out, $err) = $node->psql('postgres', qq{SELECT count(*) || ' ' || count(*) FILTER (WHERE ok)
	  FROM vault_recovery_points p, vault_verify(p.recovery_point) v WHERE p.vault = '$vault'});
	is($out, scalar(@points) . ' ' . scalar(@points), "$label: every point of vault $vault verifies")
	  or diag($err);
	my @bad;
	for my $row (@points)
	{
		my ($p, $kind, $item) = split /\|/, $row;
		my $target = $kind eq 'table' ? "r_$p" : "rs_$p";
		my $want = $kind eq 'table' ? "public.r_$p" : "rs_$p";
		($rc, $out, $err) = $node->psql('postgres', "SELECT vault_restore($p, '$target')");
		if ($rc != 0 || $out ne $want)
		{
			push @bad, "point $p: restore gave '$out' $err";
			next;
		}
		my @tables = $kind eq 'table' ? ([ $item, $want ])
		  : map { [ "$item.$_", "$target.$_" ] }
		  split /\n/, q1("SELECT tablename FROM pg_tables WHERE schemaname = '$item' ORDER BY 1");
		for my $t (@tables)
		{
			push @bad, "point $p: $t->[1] differs from $t->[0]"
			  unless digest($t->[1]) eq $src_digest{ $t->[0] };
		}
		q1($kind eq 'table' ? "DROP TABLE $want" : "DROP SCHEMA $target CASCADE");
	}
	is(join("\n", @bad), '', "$label: every point of vault $vault restores equal to its source");
}

# the key store through vault.key_command, set by a superuser, read on SIGHUP
my $key_command = "cat $keystore/%k.sec";
q1('ALTER SYSTEM SET vault.key_command = ' . lit($key_command));
$node->reload;
ok($node->poll_query_until('postgres', 'SELECT current_setting(\'vault.key_command\') = ' . lit($key_command)),
	'vault.key_command set with ALTER SYSTEM takes effect on reload');
refused(q{SET vault.key_command = 'true'}, '55P02', qr/cannot be changed now/,
	'vault.key_command cannot be set in a session');
q1('CREATE ROLE cmk_plain');
refused(q{SET ROLE cmk_plain; SHOW vault.key_command}, '42501', qr/vault\.key_command/,
	'an ordinary role cannot read vault.key_command');

# sources: they never change, every restore is compared with them
q1(q{
CREATE TABLE public.t AS SELECT i, md5(i::text) AS s, i % 97 AS n FROM generate_series(1, 20000) i;
CREATE TABLE public.t_new AS SELECT i FROM generate_series(1, 100) i;
CREATE TABLE public.pt AS SELECT i, md5((-i)::text) AS s FROM generate_series(1, 5000) i;
CREATE TABLE public.bt AS SELECT i, repeat(md5(i::text), 2) AS s FROM generate_series(1, 5000) i;
CREATE SCHEMA cmk_s;
CREATE TABLE cmk_s.a AS SELECT i, 'a' || i AS s FROM generate_series(1, 3000) i;
CREATE TABLE cmk_s.b AS SELECT i, now()::date - i AS d FROM generate_series(1, 2000) i;
SELECT vault_policy_create('hourly', 'every 1 hours', 'daily 7');
});
$src_digest{$_} = digest($_) for qw(public.t public.pt public.bt cmk_s.a cmk_s.b);

# =============================================================================
# 1. registering keys; configuring a vault
# =============================================================================
# bad names, each with gamma's valid key (gamma is not registered yet)
for my $bad ('', 'two words', 'semi;colon', "quo'te", 'slash/dot', 'x' x 64, 'platform')
{
	refused('SELECT vault_key_add(' . lit($bad) . ', ' . lit($pub{gamma}) . ')', '22023', qr/./,
		'key name ' . lit($bad) . ' is refused');
}
is(q1(q{SELECT vault_key_add('alpha', } . lit($pub{alpha}) . ')'), '', 'alpha (RSA 2048) registered');
is(q1(q{SELECT vault_key_add('beta', } . lit($pub{beta}) . ')'), '', 'beta (RSA 2048) registered');
is(q1(q{SELECT vault_key_add('gamma', } . lit($pub{gamma}) . ')'), '', 'gamma (RSA 3072) registered');
refused(q{SELECT vault_key_add('delta', } . lit($pub{delta}) . ')', '22023', qr/./,
	'an ed25519/cv25519 key is refused');
refused(q{SELECT vault_key_add('epsilon', } . lit($pub{epsilon}) . ')', '22023', qr/cannot be used by pgcrypto/,
	'an RSA key with a further ed25519 subkey is refused: pgcrypto cannot encrypt to it');
refused(qq{SELECT vault_key_add('secret', pg_read_file('$keystore/gamma.sec'))}, '22023', qr/./,
	'a secret key block is refused');
refused(q{SELECT vault_key_add('junk', 'not a key at all')}, '22023', qr/./, 'garbage is refused');
refused(q{SELECT vault_key_add('junk', E'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAAAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n')},
	'22023', qr/./, 'a broken armored block is refused');
refused(q{SELECT vault_key_add('alpha', } . lit($pub{beta}) . ')', '42710', qr/alpha/, 'a duplicate name is refused');
is(q1(q{SELECT string_agg(name, ',' ORDER BY name) FROM vault_keys}), 'alpha,beta,gamma',
	'only the three RSA keys are registered');

q1(q{SELECT vault_create('v')});
ok(-e $keyfile, 'the first vault made the platform key file');
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}), 'platform', 'a new vault is platform-keyed');
refused(q{SELECT vault_configure('v', encryption_key => 'nosuch')}, '42704', qr/nosuch/,
	'configuring an unknown key is refused');
q1(q{SELECT vault_configure('v', encryption_key => 'alpha')});
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}), 'customer:alpha',
	'before its first item the vault takes the customer key alpha');
refused(q{SELECT vault_configure('v', encryption_key => 'platform')}, '55000', qr/./,
	'back to the platform key is refused');
q1(q{SELECT vault_protect('v', 'public.t', 'hourly')});
refused(q{SELECT vault_configure('v', encryption_key => 'beta')}, '55000', qr/already holds data/,
	'once the vault has an item the key cannot be configured');
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}), 'customer:alpha', 'it stays customer:alpha');

# the other vaults: p on the platform key, b on beta
q1(q{
SELECT vault_create('p');
SELECT vault_protect('p', 'public.pt', 'hourly');
SELECT vault_create('b');
SELECT vault_configure('b', encryption_key => 'beta');
SELECT vault_protect('b', 'public.bt', 'hourly');
});
is(q1(q{SELECT string_agg(vault || ' ' || encryption, ',' ORDER BY vault) FROM vault_vaults}),
	'b customer:beta,p platform,v customer:alpha', 'vault_vaults.encryption of each vault');
my $boot = q1('SELECT current_user');
is(q1(q{SELECT string_agg(concat_ws(' ', name, fingerprint, bits, enabled, vaults, added_by,
                                     added_at IS NOT NULL), E'\n' ORDER BY name) FROM vault_keys}),
	join("\n", "alpha $fpr{alpha} 2048 t 1 $boot t", "beta $fpr{beta} 2048 t 1 $boot t",
		"gamma $fpr{gamma} 3072 t 0 $boot t"),
	'vault_keys: gpg\'s fingerprints, the encryption subkeys\' bits, the vaults using each key');

# =============================================================================
# 2. backup and restore with the customer key
# =============================================================================
my $p1 = q1(q{SELECT vault_backup('v', 'public.t')});
like($p1, qr/^\d+$/, 'a backup into the customer-keyed vault');
is(q1("SELECT ok FROM vault_verify($p1)"), 't', 'it verifies');
is(q1("SELECT vault_restore($p1, 't_back')"), 'public.t_back', 'it restores');
is(digest('public.t_back'), $src_digest{'public.t'}, 'all 20000 rows equal to the source');
my $ps = q1(q{SELECT vault_backup_schema('v', 'cmk_s')});
is(q1("SELECT vault_restore($ps, 'cmk_s_back')"), 'cmk_s_back', 'a schema point restores');
is(digest('cmk_s_back.a') . ' ' . digest('cmk_s_back.b'), "$src_digest{'cmk_s.a'} $src_digest{'cmk_s.b'}",
	'with both tables equal to the source');
{
	my $hex = q1("SELECT encode(x, 'hex') FROM vault_export($p1) x");
	$hex =~ s/\s+//g;
	my $file = $node->basedir . '/t.copy';
	open(my $fh, '>:raw', $file) or die;
	print $fh pack('H*', $hex);
	close($fh);
	q1("CREATE TABLE t_exp (LIKE public.t); COPY t_exp FROM '$file' (FORMAT binary)");
	is(digest('t_exp'), $src_digest{'public.t'}, 'vault_export gives the stream, loadable with COPY');
}
q1('DROP TABLE t_back, t_exp; DROP SCHEMA cmk_s_back CASCADE');
is(q1(q{SELECT last_used_at IS NOT NULL AND last_error IS NULL FROM vault_keys WHERE name = 'alpha'}), 't',
	'vault_keys shows alpha used, without error');
is(q1(q{SELECT last_used_at IS NULL FROM vault_keys WHERE name = 'gamma'}), 't', 'and gamma never used');

# =============================================================================
# 3. no platform-wrapped copy; the customer can unwrap the keys
# =============================================================================
revoke('alpha');
ok(-e $keyfile, 'the platform key file is in place');
refused("SELECT vault_restore($p1, 't_nokey')", '55000', names('alpha', 'v'),
	'with the platform key alone and alpha gone, restore is impossible');
is(q1(q{SELECT to_regclass('public.t_nokey') IS NULL}), 't', 'and made no table');
unrevoke('alpha');

cmp_ok(q1(q{SELECT length(wrapped_keys) FROM vault_internal.vaults WHERE name = 'v'}), '>', 64,
	'the stored form is longer than the 64 bytes of keys');
is(uc q1(q{SELECT pgp_key_id(wrapped_keys) FROM vault_internal.vaults WHERE name = 'v'}), uc $subkeyid{alpha},
	'it is an OpenPGP message to alpha\'s encryption subkey');
# the secret keys go into SQL only by file name (a failing statement is logged)
my $keys_hex = q1(qq{SELECT encode(pgp_pub_decrypt_bytea(wrapped_keys, dearmor(pg_read_file('$keystore/alpha.sec'))), 'hex')
                    FROM vault_internal.vaults WHERE name = 'v'});
is(length($keys_hex), 128, 'alpha\'s secret key unwraps exactly 64 bytes with pgp_pub_decrypt_bytea');
my ($data_hex, $mac_hex) = (substr($keys_hex, 0, 64), substr($keys_hex, 64, 64));
ok($data_hex ne $mac_hex && $data_hex !~ /^0+$/ && $mac_hex !~ /^0+$/, 'a data key and a MAC key, distinct');
refused(qq{SELECT pgp_pub_decrypt_bytea(wrapped_keys, dearmor(pg_read_file('$keystore/beta.sec')))
           FROM vault_internal.vaults WHERE name = 'v'}, '39000', qr/./, 'beta\'s secret key does not unwrap them');

# =============================================================================
# 4. the key cannot be had: every operation fails, nothing is left behind
# =============================================================================
my $before = state_of('v');
my $alpha_file = "$keystore/alpha.sec";
# the command prints nothing
rename($alpha_file, "$alpha_file.keep") or die;
open(my $empty, '>', $alpha_file) or die;
close($empty);
chmod 0600, $alpha_file;
refused(q{SELECT vault_backup('v', 'public.t')}, '55000', names('alpha', 'v'), 'key command printing nothing: backup fails');
# the command prints another key
copy("$keystore/beta.sec", $alpha_file) or die;
refused(q{SELECT vault_backup('v', 'public.t')}, '55000', names('alpha', 'v'), 'key command printing beta: backup fails');
rename("$alpha_file.keep", $alpha_file) or die;
# the command fails: the key file is gone
my $alpha_used = q1(q{SELECT last_used_at FROM vault_keys WHERE name = 'alpha'});
revoke('alpha');
refused(q{SELECT vault_backup('v', 'public.t')}, '55000', names('alpha', 'v'), 'key file gone: backup fails');
refused(q{SELECT vault_backup('v', 'public.t_new')}, '55000', names('alpha', 'v'), 'a backup of a new item fails');
refused(q{SELECT vault_backup_schema('v', 'cmk_s')}, '55000', names('alpha', 'v'), 'a schema backup fails');
refused("SELECT vault_restore($p1, 't_fail')", '55000', names('alpha', 'v'), 'restore fails');
refused("SELECT vault_restore($ps, 'cmk_s_fail')", '55000', names('alpha', 'v'), 'schema restore fails');
refused("SELECT * FROM vault_verify($p1)", '55000', names('alpha', 'v'), 'verify fails');
refused("SELECT count(*) FROM vault_export($p1)", '55000', names('alpha', 'v'), 'export fails');
my $due = run_due(2);
is($due->{v}[1], 'failed', 'a scheduled backup into v fails');
like($due->{v}[2], names('alpha', 'v'), 'naming the key and the vault');
is(q1('SELECT state FROM vault_jobs WHERE job_id = ' . ($due->{v}[0] // 0)), 'failed', 'its job is recorded failed');
like(q1('SELECT error FROM vault_jobs WHERE job_id = ' . ($due->{v}[0] // 0)), names('alpha', 'v'),
	'with the key and the vault in its error');
is(($due->{p}[1] // '') . ' ' . ($due->{b}[1] // ''), 'completed completed',
	'the same round backs up the platform vault and the beta vault');
is(state_of('v'), $before, 'no point, chunk or item of v left behind, no job in progress');
is(q1(q{SELECT count(*) FROM pg_tables WHERE tablename IN ('t_fail') OR schemaname = 'cmk_s_fail'}), '0',
	'the failed restores made nothing');
my $last_error = q1(q{SELECT last_error FROM vault_keys WHERE name = 'alpha'});
like($last_error, qr/key_command/, 'vault_keys.last_error of alpha shows the failing command at once');
is(q1(q{SELECT last_error IS NULL FROM vault_keys WHERE name = 'beta'}), 't', 'beta has no error');
# the other vaults work meanwhile
for my $o ([ 'p', 'public.pt' ], [ 'b', 'public.bt' ])
{
	my ($vault, $src) = @$o;
	my $pt = q1("SELECT vault_backup('$vault', '$src')");
	is(q1("SELECT vault_restore($pt, 'o_back')"), 'public.o_back', "vault $vault backs up and restores meanwhile");
	is(digest('public.o_back'), $src_digest{$src}, 'equal to its source');
	q1('DROP TABLE o_back');
}
# the key back: everything works again
unrevoke('alpha');
is(q1("SELECT vault_restore($p1, 't_again')"), 'public.t_again', 'with the key file back, restore works');
is(digest('public.t_again'), $src_digest{'public.t'}, 'equal to the source');
q1('DROP TABLE t_again');
is(q1(q{SELECT last_error IS NULL FROM vault_keys WHERE name = 'alpha'}), 't', 'last_error is cleared by the success');
is(q1(q{SELECT last_used_at > } . lit($alpha_used) . q{ FROM vault_keys WHERE name = 'alpha'}), 't',
	'and last_used_at moved on');
like(q1(q{SELECT vault_backup('v', 'public.t')}), qr/^\d+$/, 'a backup works');
$due = run_due(4);
is($due->{v}[1], 'completed', 'and so does the next scheduled backup');

# =============================================================================
# 5. disabled in the database: the same
# =============================================================================
q1(q{SELECT vault_key_disable('alpha')});
is(q1(q{SELECT enabled FROM vault_keys WHERE name = 'alpha'}), 'f', 'vault_keys shows alpha disabled');
is(q1(q{SELECT string_agg(severity || ' ' || category || ' ' || (message ~ 'key alpha was disabled')::text, ',')
		FROM vault_alerts WHERE vault = 'v' AND kind = 'key inaccessible'}),
	'critical security true', 'disabling the key raised a "key inaccessible" alert on its vault');
$before = state_of('v');
my $disabled = qr/key "alpha" of vault "v" is disabled/;
refused(q{SELECT vault_backup('v', 'public.t')}, '55000', $disabled, 'disabled: backup fails');
refused(q{SELECT vault_backup('v', 'public.t_new')}, '55000', $disabled, 'a backup of a new item fails');
refused(q{SELECT vault_backup_schema('v', 'cmk_s')}, '55000', $disabled, 'a schema backup fails');
refused("SELECT vault_restore($p1, 't_fail')", '55000', $disabled, 'restore fails');
refused("SELECT * FROM vault_verify($p1)", '55000', $disabled, 'verify fails');
refused("SELECT count(*) FROM vault_export($p1)", '55000', $disabled, 'export fails');
$due = run_due(6);
is($due->{v}[1], 'failed', 'a scheduled backup fails');
like(q1('SELECT error FROM vault_jobs WHERE job_id = ' . ($due->{v}[0] // 0)), $disabled, 'its job says the key is disabled');
is(($due->{p}[1] // '') . ' ' . ($due->{b}[1] // ''), 'completed completed', 'the other vaults are not affected');
is(state_of('v'), $before, 'nothing left behind');
q1(q{SELECT vault_key_enable('alpha')});
is(q1(q{SELECT enabled FROM vault_keys WHERE name = 'alpha'}), 't', 'enabled again');
is(q1("SELECT vault_restore($p1, 't_again')"), 'public.t_again', 'restore works');
is(digest('public.t_again'), $src_digest{'public.t'}, 'equal to the source');
q1('DROP TABLE t_again');
$due = run_due(8);
is($due->{v}[1], 'completed', 'a scheduled backup works');

# =============================================================================
# 6. rotation to beta: the same keys inside, no chunk rewritten
# =============================================================================
refused(q{SELECT vault_key_rotate('p', 'beta')}, '55000', qr/./, 'rotating a platform-keyed vault is refused');
refused(q{SELECT vault_key_rotate('v', 'nosuch')}, '42704', qr/nosuch/, 'rotating to an unknown key is refused');
my $wrapped = q{SELECT md5(wrapped_keys) FROM vault_internal.vaults WHERE name = 'v'};
my $wrapped_before = q1($wrapped);
revoke('alpha');
refused(q{SELECT vault_key_rotate('v', 'beta')}, '55000', names('alpha', 'v'), 'rotation needs the old key');
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}) . ' ' . q1($wrapped), "customer:alpha $wrapped_before",
	'the vault is as it was');
unrevoke('alpha');
my $chunks_before = q1($chunks_md5);
q1(q{SELECT vault_key_rotate('v', 'beta')});
is(q1($chunks_md5), $chunks_before, 'vault_key_rotate rewrites no chunk');
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}), 'customer:beta', 'the vault is customer:beta');
is(uc q1(q{SELECT pgp_key_id(wrapped_keys) FROM vault_internal.vaults WHERE name = 'v'}), uc $subkeyid{beta},
	'its keys are wrapped to beta\'s encryption subkey');
is(q1(qq{SELECT encode(pgp_pub_decrypt_bytea(wrapped_keys, dearmor(pg_read_file('$keystore/beta.sec'))), 'hex')
         FROM vault_internal.vaults WHERE name = 'v'}), $keys_hex,
	'beta\'s secret key unwraps the same data and MAC keys');
refused(qq{SELECT pgp_pub_decrypt_bytea(wrapped_keys, dearmor(pg_read_file('$keystore/alpha.sec')))
           FROM vault_internal.vaults WHERE name = 'v'}, '39000', qr/./, 'alpha\'s no longer does');
revoke('alpha');
q1(q{SELECT vault_key_disable('alpha')});
check_points('v', 'alpha gone and disabled');
is(q1(q{SELECT string_agg(name || ' ' || vaults, ',' ORDER BY name) FROM vault_keys}), 'alpha 0,beta 2,gamma 0',
	'vault_keys counts the vaults of each key');

# under a guard, changing a vault's key is the critical operation encryption_key
q1(q{CREATE ROLE cmk_guards; CREATE ROLE cmk_guard_a IN ROLE cmk_guards; SELECT vault_guard_set('v', 'cmk_guards')});
refused(q{SELECT vault_key_rotate('v', 'gamma')}, '42501', qr/needs an approved request/,
	'on a guarded vault, rotation needs an approval');
my $req = q1(q{SELECT vault_request('v', 'encryption_key', 'yearly key rotation')});
q1("SET ROLE cmk_guard_a; SELECT vault_approve($req)");
q1(q{SELECT vault_key_rotate('v', 'gamma')});
is(q1(q{SELECT encryption FROM vault_vaults WHERE vault = 'v'}), 'customer:gamma', 'with one, it rotates to gamma');
is(q1("SELECT state FROM vault_requests WHERE request = $req"), 'used', 'using the approval');
refused(q{SELECT vault_key_rotate('v', 'beta')}, '42501', qr/needs an approved request/, 'once');
is(q1($chunks_md5), $chunks_before, 'still no chunk rewritten');
check_points('v', 'on gamma, alpha gone');

# =============================================================================
# 7. the platform key file: its mode, and its rotation
# =============================================================================
is(sprintf('%04o', (stat($keyfile))[2] & 07777), '0600', 'the platform key file is 0600');
for my $mode ([ 0644, qr/\b0?644\b|rw-r--r--/ ], [ 0640, qr/\b0?640\b|rw-r-----/ ])
{
	my $m = sprintf('%04o', $mode->[0]);
	chmod $mode->[0], $keyfile;
	$before = state_of('p');
	my $err = refused(q{SELECT vault_create('p2')}, 'F0000', qr/platform key file ".*" has group or world access/,
		"platform key file $m: vault_create refused");
	like($err, qr/^DETAIL:.*(?:$mode->[1])/m, 'the detail names the mode');
	refused(q{SELECT vault_backup('p', 'public.pt')}, 'F0000', qr/platform key file ".*" has group or world access/,
		"platform key file $m: a backup into the platform vault refused");
	is(state_of('p'), $before, 'nothing left behind');
}
is(q1(q{SELECT count(*) FROM vault_vaults WHERE vault = 'p2'}), '0', 'no vault p2');
chmod 0600, $keyfile;
q1(q{SELECT vault_create('p2')});
like(q1(q{SELECT vault_backup('p', 'public.pt')}), qr/^\d+$/, 'with 0600 again, vault_create and backup work');

# rotation rolled back: the old file back in place, nothing changed
my $vault_wraps = q{SELECT string_agg(name || ' ' || md5(wrapped_keys), ',' ORDER BY name) FROM vault_internal.vaults};
my $key_before = slurp_file($keyfile);
my ($old_key_hex) = $key_before =~ /^([0-9a-f]{64})$/m;
ok($old_key_hex, 'the platform key file holds one key');
my $wraps_before = q1($vault_wraps);
$chunks_before = q1($chunks_md5);
# the old key stays on disk until the commit (in the key file, where a
# rotation puts the new key in front of it, or in <file>.old)
sub old_key_on_disk
{
	return index(slurp_file($keyfile), $old_key_hex) >= 0
	  || (-e "$keyfile.old" && index(slurp_file("$keyfile.old"), $old_key_hex) >= 0);
}
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe('SELECT vault_platform_key_rotate()');
ok(old_key_on_disk(), 'inside the transaction the old key is still on disk');
$bg->query_safe('ROLLBACK');
ok(slurp_file($keyfile) eq $key_before, 'after ROLLBACK the platform key file is the old one');
ok(!-e "$keyfile.old", 'and no .old file is left');
is(q1($vault_wraps), $wraps_before, 'no vault\'s wrapped keys changed here');
check_points('p', 'after a rolled-back platform key rotation');

# a second database with its own platform vault: the key file serves both
q1('CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.ot AS SELECT i, md5(i::text) AS s FROM generate_series(1, 3000) i;
SELECT vault_create('o');
});
my $other_point = $node->safe_psql('other', q{SELECT vault_backup('o', 'public.ot')});
my $other_digest = $node->safe_psql('other', sprintf($digest, 'public.ot'));
my $other_wrap = q{SELECT md5(wrapped_keys) FROM vault_internal.vaults WHERE name = 'o'};
my $other_wrap_before = $node->safe_psql('other', $other_wrap);

# rolled back after the worker re-wrapped the other database: the key file
# keeps both keys (the other database's vault is under the new one now)
$bg->query_safe('BEGIN');
$bg->query_safe('SELECT vault_platform_key_rotate()');
$bg->query_safe('ROLLBACK');
my $key_both = slurp_file($keyfile);
ok($key_both =~ /\Avault-platform-keyring-v2\n(?:[0-9a-f]{64}\n){2}\z/ && index($key_both, $old_key_hex) >= 0,
	'a rollback after another database changed keeps the old key and the new one');
isnt($node->safe_psql('other', $other_wrap), $other_wrap_before, 'the other database\'s vault was re-wrapped');
is(q1($vault_wraps), $wraps_before, 'this database\'s were not');
check_points('p', 'with both keys in the key file');
is($node->safe_psql('other', "SELECT vault_restore($other_point, 'ot_back')"), 'public.ot_back',
	'the other database\'s vault restores');
is($node->safe_psql('other', sprintf($digest, 'public.ot_back')), $other_digest, 'equal to its source');
$node->safe_psql('other', 'DROP TABLE ot_back');

# rotation committed
$bg->query_safe('BEGIN');
$bg->query_safe('SELECT vault_platform_key_rotate()');
ok(old_key_on_disk(), 'rotating: until the commit the old key is still on disk');
$bg->query_safe('COMMIT');
$bg->quit;
my $key_after = slurp_file($keyfile);
ok($key_after ne $key_before, 'vault_platform_key_rotate wrote a new platform key file');
ok($key_after =~ /\Avault-platform-key-v1\n[0-9a-f]{64}\n\z/ && index($key_after, $old_key_hex) < 0
	  && index($key_both, substr($key_after, -65, 64)) < 0,
	'holding a new key alone: the old keys are gone from it');
is(sprintf('%04o', (stat($keyfile))[2] & 07777), '0600', 'with mode 0600');
ok(!-e "$keyfile.old", 'the .old file is gone after commit');
is(q1($chunks_md5), $chunks_before, 'no chunk rewritten');
my %wraps_old = map { split / / } split /,/, $wraps_before;
my %wraps_new = map { split / / } split /,/, q1($vault_wraps);
is(join(',', map { $wraps_old{$_} ne $wraps_new{$_} ? 'changed' : 'same' } qw(p p2 v b)),
	'changed,changed,same,same', 'the platform vaults\' keys re-wrapped, the customer vaults\' untouched');
check_points($_, 'after the platform key rotation') for qw(p v b);
isnt($node->safe_psql('other', $other_wrap), $other_wrap_before,
	'the other database\'s platform vault was re-wrapped too (by the rotation\'s worker)');
is($node->safe_psql('other', "SELECT vault_restore($other_point, 'ot_back')"), 'public.ot_back',
	'and restores under the new key');
is($node->safe_psql('other', sprintf($digest, 'public.ot_back')), $other_digest, 'equal to its source');
like(q1(q{SELECT detail FROM vault_audit WHERE operation = 'platform key rotate' ORDER BY at DESC LIMIT 1}),
	qr/^2 vault\(s\) here and 1 in \d+ other database\(s\) re-wrapped$/, 'the audit says what was re-wrapped where');

# =============================================================================
# 8. no key material in the server log
# =============================================================================
$node->stop;
my $data_b64 = encode_base64(pack('H*', $data_hex), '');
my $mac_b64 = encode_base64(pack('H*', $mac_hex), '');
my @needles = (
	[ 'data key hex', lc $data_hex ], [ 'data key HEX', uc $data_hex ], [ 'data key base64', $data_b64 ],
	[ 'MAC key hex', lc $mac_hex ], [ 'MAC key HEX', uc $mac_hex ], [ 'MAC key base64', $mac_b64 ],
	[ 'both keys base64', encode_base64(pack('H*', $keys_hex), '') ]);
# the lines of each armored secret key that its public key does not share
for my $k (qw(alpha beta gamma))
{
	my %public = map { $_ => 1 } split /\n/, $pub{$k};
	my @secret = grep { length($_) >= 40 && !$public{$_} && !/^-----|^=/ } split /\n/, $sec{$k};
	die "no secret lines in $k" if @secret < 10;
	push @needles, map { [ "line of $k\'s secret key", $_ ] } @secret;
}
sub leaks
{
	my ($text) = @_;
	my %seen;
	return grep { !$seen{$_}++ } map { $_->[0] } grep { index($text, $_->[1]) >= 0 } @needles;
}
my $log = slurp_file($node->logfile);
cmp_ok(length($log), '>', 10_000, 'the server log was written (' . length($log) . ' bytes)');
like($log, qr/DEBUG:/, 'at debug level');
is(join(', ', leaks($log)), '', 'the server log holds none of the key material');
# the check can fail
is(join(', ', leaks('x' . $data_hex . 'y')), 'data key hex', 'control: the check finds the data key in hex');
is(join(', ', leaks('x' . uc($mac_hex) . 'y')), 'MAC key HEX', 'control: and the MAC key in upper-case hex');
is(join(', ', leaks("x$data_b64 y")), 'data key base64', 'control: and the data key in base64');
is(join(', ', leaks($sec{alpha})), 'line of alpha\'s secret key', 'control: and alpha\'s secret key');

done_testing();
