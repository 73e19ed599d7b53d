# Memory stays bounded: backing up or restoring a table several times larger
# than the limit grows the backend's memory by less than 64 MiB beyond what
# the server's own settings grant (shared_buffers pages it touches, and
# maintenance_work_mem for the index build of a restore).
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
});
my $table_mb = $node->safe_psql('postgres',
	"SELECT pg_relation_size('big') / (1024 * 1024)");
note "table size: $table_mb MB";
cmp_ok($table_mb, '>', 200, 'the table is several times the memory limit');

# kB value of a field of /proc/self/status, read by the backend itself
my $status_kb = sub {
	my ($field) = @_;
	return "(SELECT (regexp_match(pg_read_file('/proc/self/status'), '$field:\\s+(\\d+)'))[1]::bigint)";
};

my $limit_mb = 64 + 16;    # 64 MiB + shared_buffers the backend may touch
my ($rss_before, $hwm_after, $point) = split /\|/, $node->safe_psql('postgres', qq{
SELECT @{[ $status_kb->('VmRSS') ]} AS before \\gset
SELECT vault_backup('mem', 'big') AS point \\gset
SELECT :before, @{[ $status_kb->('VmHWM') ]}, :point;
});
my $growth_mb = ($hwm_after - $rss_before) / 1024;
note sprintf("backup: RSS before %.1f MB, peak after %.1f MB, growth %.1f MB",
	$rss_before / 1024, $hwm_after / 1024, $growth_mb);
cmp_ok($growth_mb, '<', $limit_mb, "backup of a $table_mb MB table grows the backend by < $limit_mb MB");

$limit_mb = 64 + 16 + 16;  # and maintenance_work_mem for the primary key build
my ($rss_before2, $hwm_after2) = split /\|/, $node->safe_psql('postgres', qq{
SELECT @{[ $status_kb->('VmRSS') ]} AS before \\gset
SELECT vault_restore($point, 'big_back2') \\gset
SELECT :before, @{[ $status_kb->('VmHWM') ]};
});
$growth_mb = ($hwm_after2 - $rss_before2) / 1024;
note sprintf("restore: RSS before %.1f MB, peak after %.1f MB, growth %.1f MB",
	$rss_before2 / 1024, $hwm_after2 / 1024, $growth_mb);
cmp_ok($growth_mb, '<', $limit_mb, "restore of a $table_mb MB table grows the backend by < $limit_mb MB");

is($node->safe_psql('postgres', 'SELECT count(*) FROM big_back2'), '1500000', 'restored every row');

$node->stop;
done_testing();
