# Encryption at rest: a marker string present in backed-up rows appears
# nowhere in the vault's storage, neither in its columns nor in its files on
# disk (heap, TOAST, indexes).  The source table's own file, as a control,
# does contain it.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use VaultNode;

my $node = vault_node('atrest');
my $marker = 'MARKER-7f3a9c-vault';
$node->safe_psql('postgres', qq{
SELECT vault_create('v');
CREATE TABLE src (id int, t text, b bytea);
ALTER TABLE src ALTER COLUMN t SET STORAGE EXTERNAL;   -- keep the marker plain in the source too
INSERT INTO src SELECT i, '$marker ' || i || repeat(' filler', 20), convert_to('$marker', 'UTF8')
  FROM generate_series(1, 20000) i;
INSERT INTO src SELECT 0, repeat('$marker', 5000), NULL;   -- a TOASTed value
SELECT vault_backup('v', 'src');
SELECT vault_backup('v', 'src');
CHECKPOINT;
});

# (a) no column of any storage table holds the marker
my $sql_hits = $node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM vault_internal.chunks
         WHERE position(convert_to('$marker', 'UTF8') in data) > 0
            OR position(convert_to('$marker', 'UTF8') in chunk_id) > 0)
     + (SELECT count(*) FROM vault_internal.point_tables WHERE definition::text LIKE '%$marker%')
     + (SELECT count(*) FROM vault_internal.manifests WHERE chunk_nos::text LIKE '%$marker%')
     + (SELECT count(*) FROM vault_internal.vaults WHERE position(convert_to('$marker', 'UTF8') in wrapped_keys) > 0)
     + (SELECT count(*) FROM vault_internal.points p WHERE p::text LIKE '%$marker%')
});
is($sql_hits, '0', 'no storage column contains the marker');

# (b) the files on disk
my @rels = split /\n/, $node->safe_psql('postgres', q{
SELECT pg_relation_filepath(c.oid) FROM pg_class c
 WHERE c.relnamespace = 'vault_internal'::regnamespace AND c.relkind IN ('r', 'i', 't')
UNION
SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c
 WHERE c.relnamespace = 'vault_internal'::regnamespace AND c.reltoastrelid <> 0
UNION
SELECT pg_relation_filepath(i.indexrelid) FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid
 WHERE c.relnamespace = 'vault_internal'::regnamespace AND c.reltoastrelid <> 0
});
my $datadir = $node->data_dir;
my ($files, $bytes, $hits) = (0, 0, 0);
for my $rel (@rels)
{
	for my $f (glob("$datadir/$rel $datadir/$rel.[0-9]*"))
	{
		next unless -f $f;
		my $content = slurp_file($f);
		$files++;
		$bytes += length($content);
		$hits++ if index($content, $marker) >= 0;
	}
}
cmp_ok($files, '>=', 5, "checked $files storage files ($bytes bytes)");
cmp_ok($bytes, '>', 100_000, 'the storage files hold the backup');
is($hits, 0, 'no storage file on disk contains the marker');

# control: the check can fail
my $srcfile = $datadir . '/' . $node->safe_psql('postgres', "SELECT pg_relation_filepath('src')");
ok(index(slurp_file($srcfile), $marker) >= 0, 'control: the source table file does contain the marker');

$node->stop;
done_testing();
