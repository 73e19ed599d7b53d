# Memory stays bounded: backing up or restoring a table several times larger
# than the limit grows the backend's private memory by less than 64 MiB
# beyond what the server's own settings grant (maintenance_work_mem for the
# index build of a restore).  Private = peak RSS minus the shared memory the
# backend mapped (shared buffers it touched), both read from /proc/self.
# Each of the parallel workers the backups and restores run with (two, by
# default) keeps to a fixed few MiB of private memory (RssAnon, read from
# /proc/<pid>/status while they run), whatever the size of the table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

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

# The largest private memory (RssAnon, kB) of the vault's parallel workers
# running now, and how many of them were read
sub workers_rss_kb
{
	my ($max, $n) = (0, 0);
	my $pids = $node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'vault parallel worker'});
	for my $pid (split / /, $pids)
	{
		open(my $fh, '<', "/proc/$pid/status") or next;	# gone meanwhile
		while (my $line = <$fh>)
		{
			if ($line =~ /^RssAnon:\s+(\d+) kB/)
			{
				$max = $1 if $1 > $max;
				$n++;
			}
		}
		close($fh);
	}
	return ($max, $n);
}

# One statement in a session of its own: the growth (MB) of the backend's
# private memory over it, the largest private memory (MB) one of its
# parallel workers had while it ran (read every 20 ms), and how many such
# readings there were
sub measure
{
	my ($stmt) = @_;
	my $bg = $node->background_psql('postgres');
	$bg->query_safe("SELECT $private_now AS before \\gset");
	$bg->query_until(qr/started/, "\\echo started\n$stmt \\gset\n\\echo finished\n");
	my ($worker_kb, $readings) = (0, 0);
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while ($bg->{stdout} !~ /finished/ && $bg->{run}->pumpable && time() < $deadline)
	{
		my ($kb, $n) = workers_rss_kb();
		$worker_kb = $kb if $kb > $worker_kb;
		$readings += $n;
		usleep(20_000);
		$bg->{run}->pump_nb;
	}
	$bg->query_until(qr/finished/, '');	# the statement's end, read
	my $growth = $bg->query_safe("SELECT ($private_peak - :before) / 1024.0");
	$bg->quit;
	return ($growth, $worker_kb / 1024.0, $readings);
}

# each parallel worker of the statement: read while it ran, and small
sub check_workers
{
	my ($what, $worker_mb, $readings) = @_;
	note sprintf('%s: largest private memory of a parallel worker %.1f MB (%d readings)',
		$what, $worker_mb, $readings);
	cmp_ok($readings, '>=', 2, "$what ran with parallel workers, read while they ran");
	cmp_ok($worker_mb, '<', 16, "$what: each parallel worker's private memory stays < 16 MB");
}

for my $t ('big', 'docs')
{
	my $mb = $node->safe_psql('postgres', "SELECT pg_relation_size('$t') / (1024 * 1024)");
	cmp_ok($mb, '>', 200, "table $t ($mb MB) is several times the memory limit");

	my ($g, $w, $n) = measure("SELECT vault_backup('mem', '$t') AS point");
	note sprintf('backup of %s: private memory growth %.1f MB', $t, $g);
	cmp_ok($g, '<', 64, "backup of $t grows the backend's private memory by < 64 MB");
	check_workers("backup of $t", $w, $n);
}

my ($pbig, $pdocs) = split /\n/, $node->safe_psql('postgres',
	'SELECT recovery_point FROM vault_recovery_points ORDER BY 1');

# with a primary key: the index build may use maintenance_work_mem on top
my ($g, $w, $n) = measure("SELECT vault_restore($pbig, 'big_back') AS r");
note sprintf('restore of big (with its primary key): private memory growth %.1f MB', $g);
cmp_ok($g, '<', 64 + 16, 'restore of big grows the backend by < 64 MB + maintenance_work_mem');
check_workers('restore of big', $w, $n);

# the load alone: nothing may grow with the size of the table
($g, $w, $n) = measure("SELECT vault_restore($pdocs, 'docs_back') AS r");
note sprintf('restore of docs (no index): private memory growth %.1f MB', $g);
cmp_ok($g, '<', 16, 'restore of docs (load only) grows the backend by < 16 MB');
check_workers('restore of docs', $w, $n);

is($node->safe_psql('postgres', 'SELECT count(*) FROM big_back'), '1500000', 'restored every row of big');
is($node->safe_psql('postgres', 'SELECT count(*) FROM docs_back'), '1500000', 'restored every row of docs');

$node->stop;
done_testing();
