# Dedup: an unchanged table backed up again adds under 1% of its first
# point's stored bytes; 1% appended rows add under 3%.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use VaultNode;

my $node = vault_node('dedup');
$node->safe_psql('postgres', q{
SELECT vault_create('v');
CREATE TABLE orders (id bigint PRIMARY KEY, customer text, placed timestamptz, amount numeric(12,2),
                     status text, note text);
INSERT INTO orders
SELECT i, 'customer ' || (random() * 50000)::int, '2025-01-01'::timestamptz + random() * interval '300 days',
       round((random() * 1000)::numeric, 2), (ARRAY['new', 'paid', 'shipped', 'void'])[1 + (random() * 3)::int],
       md5(random()::text) || md5(random()::text)
FROM generate_series(1, 200000) i;
});
my $new = sub {
	my ($p) = @_;
	return $node->safe_psql('postgres', "SELECT new_bytes FROM vault_recovery_points WHERE recovery_point = $p");
};

my $p1 = $node->safe_psql('postgres', "SELECT vault_backup('v', 'orders')");
my ($logical, $n1, $chunks) = split /\|/, $node->safe_psql('postgres',
	"SELECT logical_bytes, new_bytes, chunks FROM vault_recovery_points WHERE recovery_point = $p1");
note("full: $logical stream bytes in $chunks chunks, $n1 bytes stored");
cmp_ok($logical, '>', 20_000_000, 'the stream is over 20 MB');

my $p2 = $node->safe_psql('postgres', "SELECT vault_backup('v', 'orders')");
my $n2 = $new->($p2);
note(sprintf('unchanged: %d bytes new = %.3f%% of the full point', $n2, 100 * $n2 / $n1));
cmp_ok($n2, '<', 0.01 * $n1, 'unchanged re-backup adds < 1%');
cmp_ok($n2, '>', 0, 'and still records its manifest');

$node->safe_psql('postgres', q{
INSERT INTO orders
SELECT i, 'customer ' || (random() * 50000)::int, '2025-11-01'::timestamptz + random() * interval '20 days',
       round((random() * 1000)::numeric, 2), 'new', md5(random()::text) || md5(random()::text)
FROM generate_series(200001, 202000) i;
});
my $p3 = $node->safe_psql('postgres', "SELECT vault_backup('v', 'orders')");
my $n3 = $new->($p3);
note(sprintf('1%% appended: %d bytes new = %.3f%% of the full point', $n3, 100 * $n3 / $n1));
cmp_ok($n3, '<', 0.03 * $n1, '1% appended rows add < 3%');

is($node->safe_psql('postgres', "SELECT vault_restore($p3, 'orders_back')"), 'public.orders_back', 'restore of the last point');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT * FROM orders EXCEPT SELECT * FROM orders_back) a)
     + (SELECT count(*) FROM (SELECT * FROM orders_back EXCEPT SELECT * FROM orders) b)}), '0',
	'restored table equals the source both ways');
my ($stored) = $node->safe_psql('postgres', "SELECT stored_bytes FROM vault_vaults WHERE vault = 'v'");
note(sprintf('vault stores %d bytes for 3 points of %d stream bytes each', $stored, $logical));

$node->stop;
done_testing();
