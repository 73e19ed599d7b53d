# VaultNode: a throwaway PostgreSQL::Test::Cluster with the vault preloaded
# and installed, for the TAP tests.  VAULT_TAP_CONF (environment) adds its
# lines to every node's configuration: test/run.sh runs the suites with
# the parallel pipeline's settings varied.
package VaultNode;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Exporter 'import';
our @EXPORT = qw(vault_node);

sub vault_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'vault'\n" . ($ENV{VAULT_TAP_CONF} // '') . "\n" . ($conf // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION vault CASCADE');
	return $node;
}

1;
