# Integrity: one flipped byte anywhere in a stored chunk (payload, header or
# tag) makes vault_verify report that chunk and makes restore fail with an
# error naming the point, leaving no table behind.  A deleted chunk too.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use VaultNode;

my $node = vault_node('integrity');
$node->safe_psql('postgres', q{
SELECT vault_create('v');
CREATE TABLE t AS SELECT i AS id, md5(i::text) AS a, repeat(md5((i*3)::text), 2) AS b
  FROM generate_series(1, 50000) i;
});
my $p = $node->safe_psql('postgres', "SELECT vault_backup('v', 't')");
my $nchunks = $node->safe_psql('postgres', "SELECT chunks FROM vault_recovery_points WHERE recovery_point = $p");
cmp_ok($nchunks, '>=', 5, "the point spans several chunks ($nchunks)");
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p)"), 't', 'intact point verifies');

# a chunk in the middle of the stream
my $victim = $node->safe_psql('postgres',
	"SELECT (chunk_nos)[3] FROM vault_internal.manifests WHERE point_id = $p AND segment = 0");
my $len = $node->safe_psql('postgres', "SELECT length(data) FROM vault_internal.chunks WHERE chunk_no = $victim");

my %where = (
	'payload' => int($len / 2),
	'header (length field)' => 9,
	'nonce' => 14,
	'tag' => $len - 3,
);
for my $what (sort keys %where)
{
	my $off = $where{$what};
	my $flip = "UPDATE vault_internal.chunks SET data = set_byte(data, $off, get_byte(data, $off) # 1) WHERE chunk_no = $victim";
	$node->safe_psql('postgres', $flip);

	my ($ok, $bad, $detail) = split /\|/,
	  $node->safe_psql('postgres', "SELECT ok, bad_chunks, detail FROM vault_verify($p)");
	is($ok, 'f', "verify fails after flipping a byte of the $what");
	is($bad, '1', "exactly one bad chunk ($what)");
	like($detail, qr/chunk $victim\b/, "detail names chunk $victim ($what)");

	my ($ret, $out, $err) = $node->psql('postgres', "SELECT vault_restore($p, 't_back')");
	isnt($ret, 0, "restore fails ($what)");
	like($err, qr/recovery point $p is damaged/, "restore error names recovery point $p ($what)");
	is($node->safe_psql('postgres', "SELECT to_regclass('t_back') IS NULL"), 't', "no table left behind ($what)");

	$node->safe_psql('postgres', $flip);    # flip it back
	is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p)"), 't', "verifies again after repair ($what)");
}

# every chunk of the point: one flipped byte at a random offset is caught
my @all = split /\n/, $node->safe_psql('postgres', qq{
SELECT c.chunk_no, length(c.data) FROM vault_internal.manifests m, unnest(m.chunk_nos) AS n(chunk_no)
JOIN vault_internal.chunks c USING (chunk_no) WHERE m.point_id = $p ORDER BY 1});
my ($caught, $restores_refused, $tried_restores) = (0, 0, 0);
for my $i (0 .. $#all)
{
	my ($no, $l) = split /\|/, $all[$i];
	my $off = int(rand($l));
	my $flip = "UPDATE vault_internal.chunks SET data = set_byte(data, $off, get_byte(data, $off) # 128) WHERE chunk_no = $no";
	$node->safe_psql('postgres', $flip);
	my ($bad, $detail) = split /\|/, $node->safe_psql('postgres', "SELECT bad_chunks, detail FROM vault_verify($p)");
	$caught++ if $bad eq '1' && $detail =~ /chunk $no\b/;
	if ($i % 10 == 0)
	{
		$tried_restores++;
		my ($ret, $out, $err) = $node->psql('postgres', "SELECT vault_restore($p, 't_back')");
		$restores_refused++ if $ret != 0 && $err =~ /recovery point $p is damaged/
		  && $node->safe_psql('postgres', "SELECT to_regclass('t_back') IS NULL") eq 't';
	}
	$node->safe_psql('postgres', $flip);
}
is($caught, scalar(@all), "a flipped byte in each of the point's " . scalar(@all) . " chunks is reported by verify");
is($restores_refused, $tried_restores, "and refuses the restore ($tried_restores tried), leaving nothing behind");
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p)"), 't', 'all repaired');

# a chunk swapped for another one of the same vault: the id check catches it
my $other = $node->safe_psql('postgres',
	"SELECT (chunk_nos)[4] FROM vault_internal.manifests WHERE point_id = $p AND segment = 0");
$node->safe_psql('postgres', qq{
CREATE TABLE saved AS SELECT * FROM vault_internal.chunks WHERE chunk_no = $victim;
UPDATE vault_internal.chunks SET data = (SELECT data FROM vault_internal.chunks WHERE chunk_no = $other)
 WHERE chunk_no = $victim;
});
is($node->safe_psql('postgres', "SELECT ok FROM vault_verify($p)"), 'f', 'a chunk moved to another id is detected');
$node->safe_psql('postgres', "UPDATE vault_internal.chunks c SET data = s.data FROM saved s WHERE c.chunk_no = s.chunk_no");

# a missing chunk
$node->safe_psql('postgres', "DELETE FROM vault_internal.chunks WHERE chunk_no = $victim");
my ($ok, $bad, $detail) = split /\|/, $node->safe_psql('postgres', "SELECT ok, bad_chunks, detail FROM vault_verify($p)");
is($ok, 'f', 'verify fails with a chunk missing');
like($detail, qr/chunk $victim missing/, 'detail says the chunk is missing');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT vault_restore($p, 't_back')");
like($err, qr/recovery point $p is damaged/, 'restore of a point with a missing chunk fails naming the point');
is($node->safe_psql('postgres', "SELECT to_regclass('t_back') IS NULL"), 't', 'no table left behind');

$node->stop;
done_testing();
