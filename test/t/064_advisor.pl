# The advisor refreshes on its own: with a short vault.advisor_interval the
# scheduler worker finds an unprotected table, finds a second one created
# later, and drops the first once it is protected, without anyone calling
# vault_advisor_refresh; and the geo rule, which needs wal_level = logical.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('advisor');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'vault'\nvault.scheduler = on\nvault.naptime = '1s'\n"
	  . "vault.advisor_interval = '2s'\nwal_level = logical\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.t AS SELECT g AS id FROM generate_series(1, 100) g;
SELECT vault_create('v');
SELECT vault_policy_create('hourly', 'every 1 hours', 'daily 7');
});
is($node->safe_psql('postgres', 'SHOW vault.advisor_interval'), '2s', 'the interval is set');

ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM vault_advisor WHERE object_kind = 'table' AND object_name = 'public.t'}),
	'the worker finds the unprotected table');
my ($id, $first) = split /\|/,
  $node->safe_psql('postgres', q{SELECT id, last_seen FROM vault_advisor WHERE object_name = 'public.t'});

$node->safe_psql('postgres', q{CREATE TABLE public.u AS SELECT 1 AS id});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM vault_advisor WHERE object_kind = 'table' AND object_name = 'public.u'}),
	'and a table created later, at a later refresh');
is( $node->safe_psql('postgres', qq{SELECT id = $id AND last_seen > '$first' FROM vault_advisor WHERE object_name = 'public.t'}),
	't', 'the first finding keeps its id and is seen again');

$node->safe_psql('postgres', q{SELECT vault_protect('v', 'public.t', 'hourly')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM vault_advisor WHERE object_name = 'public.t'}),
	'once protected, it goes at the next refresh');

# a geo vault without cross-region restore (geo needs wal_level = logical,
# hence here and not in the regression suite), silent once it is allowed
$node->safe_psql('postgres', q{SELECT vault_create('g'); SELECT vault_configure('g', redundancy => 'geo')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM vault_advisor WHERE object_name = 'g' AND recommendation LIKE 'Allow cross-region restore%'}),
	'a geo vault without cross-region restore is found');
$node->safe_psql('postgres', q{SELECT vault_configure('g', cross_region_restore => true)});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM vault_advisor WHERE object_name = 'g' AND recommendation LIKE 'Allow cross-region restore%'}),
	'and not once cross-region restore is on');

$node->stop;
done_testing();
