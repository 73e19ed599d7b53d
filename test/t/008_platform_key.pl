# The platform key: created 0600 on first use in the data directory, outside
# the database tables; without it (or with another one) a vault fails closed
# with a clear error, and works again once the right key is back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy;

my $node = PostgreSQL::Test::Cluster->new('keys');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'vault'\n");
$node->start;

my $keyfile = $node->data_dir . '/vault_platform.key';
$node->safe_psql('postgres', 'CREATE EXTENSION vault CASCADE');
ok(!-e $keyfile, 'no platform key before the first vault');

$node->safe_psql('postgres', q{
SELECT vault_create('k');
CREATE TABLE t AS SELECT i, md5(i::text) AS s FROM generate_series(1, 10000) i;
});
ok(-e $keyfile, 'platform key created by the first vault_create');
my $mode = (stat($keyfile))[2] & 07777;
is(sprintf('%04o', $mode), '0600', 'platform key file has mode 0600');

my $point = $node->safe_psql('postgres', "SELECT vault_backup('k', 't')");
like($point, qr/^\d+$/, 'backup with the platform key');

# the key is nowhere in the database
my $hex = slurp_file($keyfile);
$hex =~ s/^.*\n//;    # drop the magic line
chomp $hex;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM vault_internal.vaults WHERE position(decode('$hex', 'hex') in wrapped_keys) > 0"),
	'0', 'the platform key is not stored in the vault tables');

# the key file goes missing: fail closed, with a clear error, nothing written
move($keyfile, "$keyfile.saved") or die;
$node->reload;
my ($ret, $out, $err) = $node->psql('postgres', "SELECT vault_backup('k', 't')");
isnt($ret, 0, 'backup fails without the platform key');
like($err, qr/could not open platform key file/, 'error names the missing key file');
($ret, $out, $err) = $node->psql('postgres', "SELECT vault_restore($point, 't_back')");
isnt($ret, 0, 'restore fails without the platform key');
is($node->safe_psql('postgres', "SELECT to_regclass('t_back') IS NULL"), 't', 'failed restore left no table');

# no new key is made while vaults exist
($ret, $out, $err) = $node->psql('postgres', "SELECT vault_create('other')");
isnt($ret, 0, 'no vault is created while the platform key is missing');
ok(!-e $keyfile, 'and no new platform key replaces the missing one');

# another key in its place: the vault's keys do not unwrap
open(my $fh, '>', $keyfile) or die;
print $fh "vault-platform-key-v1\n" . ('ab' x 32) . "\n";
close($fh);
chmod 0600, $keyfile;
($ret, $out, $err) = $node->psql('postgres', "SELECT vault_backup('k', 't')");
isnt($ret, 0, 'backup fails under a different platform key');
like($err, qr/could not unwrap the keys of vault "k"/, 'error says the vault keys do not unwrap');

# the right key back: everything works again
move("$keyfile.saved", $keyfile) or die;
$node->restart;
is($node->safe_psql('postgres', "SELECT vault_restore($point, 't_back')"), 'public.t_back', 'restore works with the key back');
is($node->safe_psql('postgres', 'SELECT count(*) FROM (SELECT * FROM t EXCEPT SELECT * FROM t_back) d'),
	'0', 'restored rows match');
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($point)"), 't', 'point verifies');
is($node->safe_psql('postgres', "SELECT count(*) FROM vault_recovery_points"), '1', 'failed backups left no point');

$node->stop;
done_testing();
