# Live progress: while a large backup and a large restore run, a second
# session, in another database of the cluster, reads vault_progress and sees
# the operation's phases advance and its bytes and chunks grow; a backup held
# up by a lock shows as "locking" to whoever may see its vault and to no one
# else; when the operations end (or fail) the view is empty again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'vault'\nvault.scheduler = off\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.big (id bigint PRIMARY KEY, note text, pad text);
INSERT INTO public.big SELECT i, md5(i::text), repeat(md5((i % 1000)::text), 2) FROM generate_series(1, 1500000) i;
SELECT vault_create('v');
CREATE ROLE watcher LOGIN;
CREATE ROLE stranger LOGIN;
SELECT vault_grant('v', 'watcher', 'reader');
});
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE samples AS SELECT clock_timestamp() AS at, * FROM vault_progress WITH NO DATA;
});

# samples vault_progress from database "other" every 20 ms, until an
# operation has shown and is gone again
my $sampler = q{
DO $$
DECLARE
	seen boolean := false;
	n integer;
	t0 timestamptz := clock_timestamp();
BEGIN
	LOOP
		INSERT INTO samples SELECT clock_timestamp(), * FROM vault_progress;
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n > 0 THEN
			seen := true;
		ELSIF seen THEN
			EXIT;
		END IF;
		EXIT WHEN clock_timestamp() - t0 > interval '180 seconds';
		PERFORM pg_sleep(0.02);
	END LOOP;
END
$$;
};

sub sampled
{
	my ($op, $sql) = @_;
	return $node->safe_psql('other', "SELECT $sql FROM samples WHERE operation = '$op'");
}

# --- a backup held up by a lock: "locking", seen by its readers only
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE public.big IN ACCESS EXCLUSIVE MODE');
my $backup = $node->background_psql('postgres');
$backup->query_until(qr/started/, q{\echo started
SELECT vault_backup('v', 'public.big') AS point \gset
});
ok($node->poll_query_until('other',
		q{SELECT count(*) = 1 FROM vault_progress WHERE phase = 'locking' AND operation = 'backup'}),
	'another database sees the backup waiting for its lock');
is($node->safe_psql('other', q{SELECT database || ' ' || vault || ' ' || item || ' ' || operation FROM vault_progress}),
	'postgres v public.big backup', 'naming its database, vault and item');
is($node->safe_psql('postgres', q{SET ROLE watcher; SELECT count(*) FROM vault_progress}),
	'1', 'a reader of the vault sees it');
is($node->safe_psql('postgres', q{SET ROLE stranger; SELECT count(*) FROM vault_progress}),
	'0', 'a role without a level does not');
is($node->safe_psql('other', q{SET ROLE watcher; SELECT count(*) FROM vault_progress}),
	'0', 'nor does the reader from another database (only pg_read_all_stats does)');

# the sampler starts, then the lock goes
my $watch = $node->background_psql('other');
$watch->query_until(qr/sampling/, "\\echo sampling\n$sampler\n");
$locker->query_safe('COMMIT');
$locker->quit;
$backup->query_safe('SELECT 1');
my $point = $backup->query_safe(q{\echo :point});
$backup->quit;
like($point, qr/^\d+$/, 'the backup completes');
$watch->query_safe('SELECT 1');

ok(sampled('backup', 'count(*)') > 3, 'the second session sampled the backup several times');
like(sampled('backup', q{string_agg(DISTINCT phase, ',' ORDER BY phase)}), qr/locking/, 'it saw the lock wait');
like(sampled('backup', q{string_agg(DISTINCT phase, ',' ORDER BY phase)}), qr/reading table/,
	'and the phase move on to reading the table');
is($node->safe_psql('other', q{
	SELECT bool_and(bytes_done >= prev AND chunks_new + chunks_reused >= prev_chunks)
	FROM (SELECT bytes_done, chunks_new, chunks_reused,
				 lag(bytes_done, 1, 0::bigint) OVER (ORDER BY at) AS prev,
				 lag(chunks_new + chunks_reused, 1, 0::bigint) OVER (ORDER BY at) AS prev_chunks
		  FROM samples WHERE operation = 'backup') s}), 't', 'bytes and chunks never go back');
ok(sampled('backup', q{count(DISTINCT bytes_done) FILTER (WHERE phase = 'reading table')}) >= 3,
	'bytes done grew while the table was read (three or more values)');
is(sampled('backup', q{max(bytes_done) > 0 AND max(chunks_new) > 0 AND min(bytes_total) > 0}), 't',
	'with chunks stored and an estimate of the total');
ok(sampled('backup', q{count(*) FILTER (WHERE rate > 0 AND eta IS NOT NULL)}) > 0, 'a rate and time left');
is(sampled('backup', q{string_agg(DISTINCT tables_total::text, ',') FILTER (WHERE phase <> 'locking')}), '1',
	'one table to do');
my $logical = $node->safe_psql('postgres', "SELECT logical_bytes FROM vault_recovery_points WHERE recovery_point = $point");
ok(sampled('backup', 'max(bytes_done)') <= $logical && sampled('backup', 'max(bytes_done)') > $logical / 2,
	'bytes done stay within the stream the point holds');
is($node->safe_psql('other', 'SELECT count(*) FROM vault_progress'), '0', 'the view is empty afterwards');

# --- a restore: creating, loading rows, building the index
$node->safe_psql('other', 'TRUNCATE samples');
$watch->query_until(qr/sampling/, "\\echo sampling\n$sampler\n");
$node->safe_psql('postgres', "SELECT vault_restore($point, 'public.big_restored')");
$watch->query_safe('SELECT 1');
my $phases = sampled('restore', q{string_agg(DISTINCT phase, ',' ORDER BY phase)});
like($phases, qr/loading rows/, "the restore was seen loading rows ($phases)");
ok(sampled('restore', q{count(DISTINCT bytes_done) FILTER (WHERE phase = 'loading rows')}) >= 3,
	'its bytes grew while loading');
is(sampled('restore', q{max(bytes_total)}), $logical, 'out of the stream the point holds');
is(sampled('restore', q{min(item)}), 'public.big', 'the item restored');
is($node->safe_psql('postgres', q{SELECT count(*) FROM (SELECT * FROM big EXCEPT ALL SELECT * FROM big_restored) d}),
	'0', 'and the restore is whole');
is($node->safe_psql('other', 'SELECT count(*) FROM vault_progress'), '0', 'the view is empty afterwards');

# --- verify and export read every chunk: their bytes grow the same way
for my $op (['verify', "SELECT ok FROM vault_verify($point)", 't'],
	['export', "SELECT sum(length(c)) FROM vault_export($point) c", $logical])
{
	my ($name, $sql, $want) = @$op;
	$node->safe_psql('other', 'TRUNCATE samples');
	$watch->query_until(qr/sampling/, "\\echo sampling\n$sampler\n");
	is($node->safe_psql('postgres', $sql), $want, "the $name completes");
	$watch->query_safe('SELECT 1');
	is(sampled($name, q{string_agg(DISTINCT phase, ',')}), 'reading chunks', "the $name was seen reading chunks");
	ok(sampled($name, 'count(DISTINCT bytes_done)') >= 2, "its bytes grew");
	is(sampled($name, 'max(bytes_total)'), $logical, 'out of the stream the point holds');
}
is($node->safe_psql('other', 'SELECT count(*) FROM vault_progress'), '0', 'the view is empty afterwards');

# --- a backup cancelled half-way leaves nothing on the board
my ($rc, $out, $err) = $node->psql('postgres', q{
	SET statement_timeout = '200ms';
	SELECT vault_backup('v', 'public.big');
});
like($err, qr/statement timeout/, 'a backup cancelled by statement_timeout half-way');
is($node->safe_psql('other', 'SELECT count(*) FROM vault_progress'), '0', 'leaves the view empty');

$watch->quit;
$node->stop;
done_testing();
