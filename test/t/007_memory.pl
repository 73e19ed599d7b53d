# Memory stays bounded: backing up or restoring a table several times larger
# than the limit grows the backend's private memory by less than 64 MiB
# beyond what the server's own settings grant (maintenance_work_mem for the
# index build of a restore).  Private = peak RSS minus the shared memory the
# backend mapped (shared buffers it touched), both read from /proc/self.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vault'
shared_buffers = 16MB
maintenance_work_mem = 16MB
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION vault CASCADE;
SELECT vault_create('mem');
CREATE TABLE big (id bigint PRIMARY KEY, a text, b text, n numeric, t timestamptz);
INSERT INTO big SELECT i, md5(i::text), repeat(md5((i * 7)::text), 3), i / 7.0,
       '2025-01-01'::timestamptz + i * interval '1 second'
FROM generate_series(1, 1500000) i;
-- no index: a restore is only the load, so any growth is the vault's own
CREATE TABLE docs (id bigint, created timestamptz, amount numeric(14,2), note text, attrs jsonb);
INSERT INTO docs SELECT i, '2024-01-01'::timestamptz + i * interval '1 minute', (i % 100000) / 7.0, md5(i::text),
       jsonb_build_object('customer', i % 1000000, 'score', (i % 9973) / 9973.0, 'ref', md5((i * 3)::text))
FROM generate_series(1, 1500000) i;
});

# kB value of a field of /proc/self/status, read by the backend itself
sub status_kb
{
	my ($field) = @_;
	return "(SELECT (regexp_match(pg_read_file('/proc/self/status'), '$field:\\s+(\\d+)'))[1]::bigint)";
}
my $private_now  = status_kb('VmRSS') . ' - ' . status_kb('RssShmem');
my $private_peak = status_kb('VmHWM') . ' - ' . status_kb('RssShmem');

# private memory growth (MB) of one statement, measured in its own session
sub growth_mb
{
	my ($stmt) = @_;
	my $out = $node->safe_psql('postgres', qq{
SELECT $private_now AS before \\gset
$stmt \\gset
SELECT ($private_peak - :before) / 1024.0;
});
	return $out;
}

for my $t ('big', 'docs')
{
	my $mb = $node->safe_psql('postgres', "SELECT pg_relation_size('$t') / (1024 * 1024)");
	cmp_ok($mb, '>', 200, "table $t ($mb MB) is several times the memory limit");

	my $g = growth_mb("SELECT vault_backup('mem', '$t') AS point");
	note sprintf('backup of %s: private memory growth %.1f MB', $t, $g);
	cmp_ok($g, '<', 64, "backup of $t grows the backend's private memory by < 64 MB");
}

my ($pbig, $pdocs) = split /\n/, $node->safe_psql('postgres',
	'SELECT recovery_point FROM vault_recovery_points ORDER BY 1');

# with a primary key: the index build may use maintenance_work_mem on top
my $g = growth_mb("SELECT vault_restore($pbig, 'big_back') AS r");
note sprintf('restore of big (with its primary key): private memory growth %.1f MB', $g);
cmp_ok($g, '<', 64 + 16, 'restore of big grows the backend by < 64 MB + maintenance_work_mem');

# the load alone: nothing may grow with the size of the table
$g = growth_mb("SELECT vault_restore($pdocs, 'docs_back') AS r");
note sprintf('restore of docs (no index): private memory growth %.1f MB', $g);
cmp_ok($g, '<', 16, 'restore of docs (load only) grows the backend by < 16 MB');

is($node->safe_psql('postgres', 'SELECT count(*) FROM big_back'), '1500000', 'restored every row of big');
is($node->safe_psql('postgres', 'SELECT count(*) FROM docs_back'), '1500000', 'restored every row of docs');

$node->stop;
done_testing();
