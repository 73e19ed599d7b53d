# The escape hatch: a point's stream, exported with vault_export, loads with
# plain COPY ... FROM (FORMAT binary) on a server without the extension.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use VaultNode;

my $node = vault_node('export');
my $plain = PostgreSQL::Test::Cluster->new('plain');    # no vault at all
$plain->init;
$plain->start;

my $ddl = q{CREATE TABLE t (id int PRIMARY KEY, txt text, b bytea, n numeric, ts timestamptz,
                            j jsonb, arr int[], maybe text)};
$node->safe_psql('postgres', qq{
SELECT vault_create('v');
$ddl;
INSERT INTO t SELECT i, 'zeile ' || i || ' ✓ 日本', decode(md5(i::text), 'hex') || '\\x00'::bytea, i / 3.0,
       '2025-01-01'::timestamptz + i * interval '1 hour', jsonb_build_object('i', i, 'sq', i * i),
       ARRAY[i, NULL, -i], CASE WHEN i % 3 = 0 THEN 'x' END
FROM generate_series(1, 30000) i;
});
my $p = $node->safe_psql('postgres', "SELECT vault_backup('v', 't')");

my $hex = $node->safe_psql('postgres', "SELECT encode(x, 'hex') FROM vault_export($p) x");
$hex =~ s/\s+//g;
my $file = $plain->basedir . '/t.copy';
open(my $fh, '>:raw', $file) or die;
print $fh pack('H*', $hex);
close($fh);
cmp_ok(-s $file, '>', 1_000_000, 'exported stream written to a file (' . (-s $file) . ' bytes)');

$plain->safe_psql('postgres', $ddl);
$plain->safe_psql('postgres', "COPY t FROM '$file' (FORMAT binary)");
my $digest = q{SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM t};
is($plain->safe_psql('postgres', 'SELECT count(*) FROM t'), '30000', 'every row loaded without the extension');
is($plain->safe_psql('postgres', $digest), $node->safe_psql('postgres', $digest), 'and identical to the source');

$node->stop;
$plain->stop;
done_testing();
