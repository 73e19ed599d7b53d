# Protecting the backups with the real workers: the scheduler purges
# soft-deleted data on its own once its purge_at has come (and a legal hold
# keeps what it covers until released), every state-changing call of a
# vault's life cycle leaves its vault_audit row (role, vault, item,
# operation), and a critical operation refused for want of an approval is
# reported to the server log with role, vault and operation while nothing of
# it stays in the audit.
#
# Time: soft-deleted data is due 14..180 days after its deletion; the test
# moves purge_at into the past with a fixture UPDATE (as a superuser writing
# the storage tables would), and the scheduler, with the real clock, does
# the rest.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use lib 'test/perl';
use VaultNode;

my $node = vault_node('protect', "vault.naptime = 1\n");
sub q1 { return $node->safe_psql('postgres', $_[0]); }

# wait up to $secs for $sql to return 't'
sub wait_for
{
	my ($sql, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		my ($rc, $out) = $node->psql('postgres', $sql);
		return 1 if $rc == 0 && $out eq 't';
		usleep(200_000);
	}
	return 0;
}

# run $sql as $role (SET ROLE in the session); returns (rc, stdout, stderr)
sub as_role
{
	my ($role, $sql) = @_;
	my ($stdout, $stderr);
	my $rc = $node->psql('postgres', "SET ROLE $role;\n$sql",
		stdout => \$stdout, stderr => \$stderr, on_error_stop => 1);
	return ($rc, $stdout, $stderr);
}

sub as_role_ok
{
	my ($role, $sql, $name) = @_;
	my ($rc, $out, $err) = as_role($role, $sql);
	is($rc, 0, $name) or diag($err);
	return $out;
}

# a fixture: the time of every soft-deleted point and item of the vault has come
sub make_due
{
	q1(q{UPDATE vault_internal.points SET purge_at = now() - interval '1 second' WHERE state = 'soft-deleted';
	     UPDATE vault_internal.items SET purge_at = now() - interval '1 second' WHERE state = 'soft-deleted'});
}

# how many scheduled purges of $item have completed is $n
sub purged
{
	my ($item, $n) = @_;
	return qq{SELECT count(*) = $n FROM vault_jobs WHERE operation = 'purge' AND trigger = 'scheduled'
	          AND state = 'completed' AND item = '$item'};
}
my $no_stray_chunks = q{SELECT (SELECT count(*) FROM vault_internal.chunks) =
                        (SELECT count(DISTINCT n) FROM vault_internal.manifests, unnest(chunk_nos) n)};
my $digest = q{SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t};

my $boot = q1(q{SELECT rolname FROM pg_roles WHERE oid = 10});
q1(q{
CREATE ROLE ops;
CREATE ROLE security;
CREATE ROLE alice IN ROLE security;
CREATE TABLE public.keep AS SELECT i, md5(i::text) AS s FROM generate_series(1, 20000) i;
CREATE TABLE public.gone AS SELECT i, repeat(md5(i::text), 3) AS s FROM generate_series(1, 20000) i;
GRANT SELECT ON public.keep, public.gone TO ops;
SELECT vault_create('lc');
SELECT vault_configure('lc', soft_delete_days => 30);
SELECT vault_grant('lc', 'ops', 'contributor');
SELECT vault_policy_create('nightly', 'daily at 01:00', 'daily 7');
});

# --- soft delete, undelete, soft delete again, by the contributor
as_role_ok('ops', q{SELECT vault_protect('lc', 'public.gone', 'nightly')}, 'ops protects gone');
my ($g1, $g2, $k1, $k2, $k3) = map {
	as_role_ok('ops', "SELECT vault_backup('lc', 'public.$_')", "ops backs up $_")
} qw(gone gone keep keep keep);
as_role_ok('ops', "SELECT vault_delete_recovery_point($g1)", 'ops deletes a point of gone');
is(q1("SELECT state FROM vault_recovery_points WHERE recovery_point = $g1"), 'soft-deleted', 'it is soft-deleted');
as_role_ok('ops', "SELECT vault_undelete_point($g1)", 'and undeletes it');
as_role_ok('ops', q{SELECT vault_unprotect('lc', 'public.gone', true)}, 'ops deletes the data of gone');
as_role_ok('ops', q{SELECT vault_undelete('lc', 'public.gone')}, 'undeletes it');
as_role_ok('ops', q{SELECT vault_unprotect('lc', 'public.gone', true)}, 'and deletes it again');
as_role_ok('ops', "SELECT vault_delete_recovery_point($k1)", 'ops deletes the oldest point of keep');
is(q1(q{SELECT count(*) FILTER (WHERE state = 'soft-deleted') || '/' || count(*) FROM vault_recovery_points}),
	'3/5', 'three of five points soft-deleted');

# a legal hold on keep covers its soft-deleted point too
my $hold = q1(q{SELECT vault_legal_hold('lc', 'case 7', 'public.keep')});
is(q1("SELECT points FROM vault_legal_holds WHERE hold = $hold"), '3', 'the hold covers the 3 points of keep');

# --- the scheduler purges what is due, and only that
make_due();
ok(wait_for(purged('public.gone', 1), 60), 'the scheduler purged gone on its own');
is(q1(q{SELECT count(*) FROM vault_items WHERE name = 'public.gone'}), '0', 'the item is gone');
is(q1(q{SELECT count(*) FROM vault_recovery_points WHERE item = 'public.gone'}), '0', 'with its points');
is(q1("SELECT state FROM vault_recovery_points WHERE recovery_point = $k1"), 'soft-deleted',
	'the held soft-deleted point of keep stays');
is(q1($no_stray_chunks), 't', 'no chunk is left that no point uses');
is(q1(q{SELECT rows || ' point(s), ' || (freed_bytes > 0) FROM vault_jobs
          WHERE operation = 'purge' AND item = 'public.gone'}),
	'2 point(s), true', 'the purge job counts 2 points and freed bytes');

as_role_ok('ops', q{SELECT vault_legal_hold_release(} . $hold . ')', 'ops (contributor) releases the hold');
ok(wait_for(purged('public.keep', 1), 60), 'then the scheduler purges the point the hold kept');
is(q1("SELECT count(*) FROM vault_recovery_points WHERE recovery_point = $k1"), '0', 'it is gone');
is(q1("SELECT bool_and(ok) FROM vault_recovery_points p, vault_verify(p.recovery_point) WHERE p.item = 'public.keep'"),
	't', 'the other points of keep verify');
my $keep_sum = q1(sprintf($digest, 'public.keep'));
q1("SELECT vault_restore($k3, 'public.keep_back')");
is(q1(sprintf($digest, 'public.keep_back')), $keep_sum, 'and restore equal to the source');
is(q1($no_stray_chunks), 't', 'still no stray chunk');

# --- the guard: a refused critical operation goes to the server log only
q1(q{SELECT vault_guard_set('lc', 'security')});
my $log_offset = -s $node->logfile;
my ($rc, $out, $err) = as_role('ops', "SELECT vault_delete_recovery_point($k2)");
isnt($rc, 0, 'deleting a point of the guarded vault without an approval is refused');
like($err, qr/permission denied for vault "lc": .*needs an approved request/, 'for want of an approval');
my ($src, $sout, $serr) = as_role($boot, "SELECT vault_delete_recovery_point($k2)");
isnt($src, 0, 'a superuser is refused too');
ok($node->wait_for_log(qr/vault: refused critical operation delete_data on vault "lc" by role "ops"/, $log_offset),
	'the server log names the role, the vault and the operation');
ok($node->log_contains(qr/vault: refused critical operation delete_data on vault "lc" by role "\Q$boot\E"/, $log_offset),
	'the superuser\'s refusal too');
is(q1("SELECT state FROM vault_recovery_points WHERE recovery_point = $k2"), 'available', 'the point is untouched');

my $req = as_role_ok('ops', q{SELECT vault_request('lc', 'delete_data', 'ticket 42: duplicate point')},
	'ops asks for an approval');
as_role_ok('alice', "SELECT vault_approve($req, '10 minutes')", 'a guard member approves');
as_role_ok('ops', "SELECT vault_delete_recovery_point($k2)", 'then ops deletes the point');
is(q1("SELECT state FROM vault_requests WHERE request = $req"), 'used', 'the approval is used');
make_due();
ok(wait_for(purged('public.keep', 2), 60), 'the scheduler purges it');

# --- the audit: every state-changing call of the life cycle, in order, with
# its role; the refused calls left nothing
my $audit = q1(q{SELECT string_agg(format('%s|%s|%s', operation, role, coalesce(item, '-')), E'\n' ORDER BY at)
                 FROM vault_audit WHERE vault = 'lc' OR vault IS NULL});
my @expected = (
	"vault create|$boot|-",
	"configure|$boot|-",
	"grant|$boot|-",
	"policy create|$boot|-",
	"protect|ops|public.gone",
	"soft delete|ops|public.gone",
	"undelete|ops|public.gone",
	"soft delete|ops|public.gone",
	"undelete|ops|public.gone",
	"soft delete|ops|public.gone",
	"soft delete|ops|public.keep",
	"legal hold|$boot|public.keep",
	"purge|$boot|public.gone",
	"legal hold release|ops|public.keep",
	"purge|$boot|public.keep",
	"guard|$boot|-",
	"request|ops|-",
	"approve|alice|-",
	"soft delete|ops|public.keep",
	"purge|$boot|public.keep");
is($audit, join("\n", @expected), 'vault_audit holds each operation of the life cycle, with its role');
like(q1(q{SELECT detail FROM vault_audit WHERE operation = 'purge' AND item = 'public.gone'}),
	qr/^2 recovery point\(s\) and the item purged, [1-9]\d* chunk\(s\) removed, [1-9]\d* bytes freed$/,
	'the purge row says what went');
like(q1(q{SELECT detail FROM vault_audit WHERE operation = 'approve'}), qr/request \d+/, 'the approval names the request');

# ops sees the audit of its vault, not the policy rows; nobody can delete it
my $ops_view = as_role_ok('ops', q{SELECT count(*) FILTER (WHERE vault IS NULL) || '/' || count(*) FROM vault_audit},
	'ops reads vault_audit');
is($ops_view, '0/' . (scalar(@expected) - 1), 'every row of its vault, none of no vault');
($rc, $out, $err) = as_role('ops', q{DELETE FROM vault_internal.audit});
like($err, qr/permission denied/, 'ops cannot delete audit rows');

$node->stop;
done_testing();
