# The HTML report, rendered by a real browser: vault_report_html(30) on a
# database with two vaults, an item named like a script tag, a soft-deleted
# point and its alert, and a day of report rows. Headless Chromium loads the
# page from a file: its DOM has a chart in #storage and in #jobs, one row in
# the items table per row of vault_items, the script-tag name as text and
# no script element; its screenshot is not blank (decoded here, with core
# Perl, by test/perl/PngCheck.pm, which also sees a blank page as blank);
# its network log shows no request on the page's behalf (a control page
# with remote references shows that it would). The page itself holds no
# script, link, remote source or url(). A bad number of days is refused
# with 22023, and a role with no level on any vault gets an empty items
# table, a reader of one vault that vault's items only.
#
# Chromium comes with `make test` (test/run.sh installs the Debian package
# "chromium" when /usr/bin/chromium is missing); run by hand without it,
# the test is skipped.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use PngCheck qw(png_stats);

my $chromium = '/usr/bin/chromium';
plan skip_all => "$chromium is missing (make test installs the package chromium)" unless -x $chromium;

my $node = PostgreSQL::Test::Cluster->new('report_html');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'vault'\nvault.scheduler = off\n");
$node->start;

my $script_name = '<script>alert(1)</script>';
$node->safe_psql('postgres', q{
CREATE EXTENSION vault CASCADE;
CREATE TABLE public.t1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g;
CREATE TABLE public.t2 AS SELECT g AS id FROM generate_series(1, 100) g;
CREATE TABLE public."<script>alert(1)</script>" AS SELECT g AS id FROM generate_series(1, 10) g;
SELECT vault_create('v1');
SELECT vault_create('v2');
SELECT vault_backup('v1', 'public.t1');
SELECT vault_backup('v1', 'public."<script>alert(1)</script>"');
SELECT vault_backup('v2', 'public.t2');
CREATE ROLE stranger LOGIN;
CREATE ROLE reader2 LOGIN;
SELECT vault_grant('v2', 'reader2', 'reader');
});
# a second point of t1, and the first one soft-deleted: a purge to come and
# a "backup data deleted" alert
my $deleted = $node->safe_psql('postgres', q{SELECT min(recovery_point) FROM vault_recovery_points WHERE item = 'public.t1'});
$node->safe_psql('postgres', q{SELECT vault_backup('v1', 'public.t1')});
$node->safe_psql('postgres', "SELECT vault_delete_recovery_point($deleted)");
$node->safe_psql('postgres', 'SELECT vault_report_refresh(now())');

my $items = $node->safe_psql('postgres', 'SELECT count(*) FROM vault_items');
ok($items >= 3, "items to show: $items");
my $item_name = $node->safe_psql('postgres', q{SELECT name FROM vault_items WHERE name LIKE '%<script>%'});
like($item_name, qr/\Q$script_name\E/, "an item named like a script tag: $item_name");
ok($node->safe_psql('postgres', 'SELECT count(*) FROM vault_report_daily') > 0, 'the report has rows');

my $dir = PostgreSQL::Test::Utils::tempdir();
my $html = $node->safe_psql('postgres', 'SELECT vault_report_html(30)');
my $page = "$dir/report.html";
write_file($page, $html);

sub write_file
{
	my ($file, $text) = @_;
	open(my $fh, '>:raw', $file) or die "$file: $!";
	print $fh $text;
	close($fh);
}

sub esc
{
	my $s = shift;
	$s =~ s/&/&amp;/g;
	$s =~ s/</&lt;/g;
	$s =~ s/>/&gt;/g;
	$s =~ s/"/&quot;/g;
	$s =~ s/'/&#39;/g;
	return $s;
}

# the inner HTML of <section id="$id">
sub section
{
	my ($doc, $id) = @_;
	return $doc =~ m{<section id="\Q$id\E"[^>]*>(.*?)</section>}s ? $1 : undef;
}

sub item_rows
{
	my $doc = shift;
	my $items = section($doc, 'items') // return -1;
	my ($tbody) = $items =~ m{<tbody>(.*?)</tbody>}s or return -1;
	my @rows = $tbody =~ m{<tr[\s>]}g;
	return scalar(@rows);
}

# --- the page as the function returns it
like($html, qr/\A<!DOCTYPE html>/i, 'an HTML5 page');
like($html, qr/<meta charset="utf-8">/i, 'in UTF-8');
for my $id (qw(storage jobs items alerts storage-per-item purges))
{
	ok(defined(section($html, $id)), "with section #$id");
}
like($html, qr/<h1>vault report<\/h1>/, 'titled');
like($html, qr/\Q<b>postgres<\/b>\E/, 'naming the database');
unlike($html, qr/<(?:script|link|img|iframe|object|embed|audio|video|source)\b/i, 'no script, link or embedded resource');
unlike($html, qr/<[^<>]*\s(?:src|href|xlink:href)\s*=/i, 'no src= or href= in any tag');
unlike($html, qr/src="http/i, 'no remote source');
unlike($html, qr/url\(|\@import/i, 'no url() or @import in the styles');
like($html, qr/\Q${\ esc($item_name)}\E/, 'the script-tag item name is escaped');
is(item_rows($html), $items, 'one items row per row of vault_items');
like(section($html, 'alerts'), qr/backup data deleted/, 'the deletion\'s alert is active');
like(section($html, 'purges'), qr/recovery point $deleted\b/, 'the soft-deleted point waits for its purge');

# --- chromium: a private profile and HOME, nothing but the page to load
my $home = PostgreSQL::Test::Utils::tempdir('home');
my $runs = 0;

sub chromium
{
	my @args = @_;
	my ($out, $err) = ('', '');
	local $ENV{HOME} = $home;
	$runs++;
	my $ok = IPC::Run::run(
		[
			'timeout', '60', $chromium, '--headless', '--no-sandbox', '--disable-gpu',
			'--disable-dev-shm-usage', '--hide-scrollbars', "--user-data-dir=$home/profile$runs",
			'--no-first-run', '--disable-background-networking', '--disable-component-update',
			'--disable-sync', '--disable-default-apps', '--disable-extensions', @args
		],
		'<', \'', '>', \$out, '2>', \$err);
	diag("chromium @args failed: $err") unless $ok;
	return $out;
}

# the DOM as the browser built it
my $dom = chromium('--dump-dom', "file://$page");
like($dom, qr/<section id="storage"/, 'chromium built the DOM');
my @svg = (section($dom, 'storage') // '') =~ /<svg\b/g;
ok(@svg >= 1, 'a chart in #storage (' . scalar(@svg) . ')');
@svg = (section($dom, 'jobs') // '') =~ /<svg\b/g;
ok(@svg >= 1, 'a chart in #jobs');
is(item_rows($dom), $items, 'one row in the items table per item');
like(section($dom, 'items'), qr/\Q&lt;script&gt;alert(1)&lt;\/script&gt;\E/, 'the script-tag name shows as text');
unlike($dom, qr/<script/i, 'and no script element exists');

# the screenshot: decoded, not blank
my $png = "$dir/report.png";
chromium("--screenshot=$png", '--window-size=1280,2000', "file://$page");
ok(-s $png, 'a screenshot');
my ($differ, $colours, $w, $h) = png_stats($png);
is("${w}x$h", '1280x2000', 'of the window\'s size');
ok($differ > 0.01, sprintf('%.1f %% of its pixels differ from the top-left one', 100 * $differ));
ok($colours >= 16, "$colours distinct colours");
# the same check on a blank page: it can tell
write_file("$dir/blank.html", "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>\n");
chromium("--screenshot=$dir/blank.png", '--window-size=1280,2000', "file://$dir/blank.html");
($differ, $colours) = png_stats("$dir/blank.png");
ok($differ < 0.01 && $colours <= 2, "a blank page looks blank to the same check ($colours colours)");

# no request on the page's behalf: the network log's URL requests made for
# the file:// page (its initiator, or its isolation key) are none but
# file:// ones; requests chromium makes for itself (updates, time) are not
# the page's and only listed
sub page_requests
{
	my $url = shift;
	my $log = "$dir/net$runs.json";
	chromium("--log-net-log=$log", '--net-log-capture-mode=Everything', '--dump-dom', $url);
	open(my $fh, '<', $log) or die "no network log: $!";
	my $text = do { local $/; <$fh> };
	close($fh);
	my $net = eval { decode_json($text) }
	  // decode_json($text =~ s/,?\s*\z//r . ']}');    # a log cut short lacks its end
	my $start = $net->{constants}{logEventTypes}{URL_REQUEST_START_JOB} // die 'no URL_REQUEST_START_JOB';
	my (@page, @own);
	for my $e (@{ $net->{events} })
	{
		next unless $e->{type} == $start && defined $e->{params}{url};
		my $p = $e->{params};
		if (($p->{initiator} // '') eq 'null' || ($p->{network_isolation_key} // '') =~ m{^file://})
		{
			push @page, $p->{url};
		}
		else
		{
			push @own, $p->{url};
		}
	}
	note("chromium's own requests: @own") if @own;
	return @page;
}

my @remote = grep { m{^(?:https?|wss?)://}i } page_requests("file://$page");
is_deeply(\@remote, [], 'the report makes no network request');
write_file("$dir/control.html", '<!DOCTYPE html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/a.css">'
	  . '</head><body><img src="http://127.0.0.1:9/b.png"><div style="background: url(http://127.0.0.1:9/c.png)">x</div>'
	  . "</body></html>\n");
@remote = grep { m{^(?:https?|wss?)://}i } page_requests("file://$dir/control.html");
ok(@remote >= 2, 'a page with remote references shows them in the same log (' . scalar(@remote) . ')');

# --- the argument, and what each role sees
for my $bad ('0', '3661', '-1', 'NULL')
{
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT vault_report_html($bad)");
	like($err, qr/ERROR:  22023: days must be between 1 and 3660/, "days = $bad is refused with 22023");
}
ok(length($node->safe_psql('postgres', 'SELECT vault_report_html(1)')) > 1000, 'one day is a page too');
ok(length($node->safe_psql('postgres', 'SELECT vault_report_html(3660)')) > 1000, 'and 3660 days');

my $strange = $node->safe_psql('postgres', 'SET ROLE stranger; SELECT vault_report_html(30)');
is(item_rows($strange), 0, 'a role with no level on any vault: no items');
unlike($strange, qr/<svg\b/, 'no charts');
unlike($strange, qr/\Q${\ esc($item_name)}\E|public\.t1/, 'nothing of the vaults');
my $reader = $node->safe_psql('postgres', 'SET ROLE reader2; SELECT vault_report_html(30)');
is(item_rows($reader), $node->safe_psql('postgres', 'SET ROLE reader2; SELECT count(*) FROM vault_items'),
	'a reader of v2: its items');
unlike(section($reader, 'items'), qr{<td>v1</td>}, 'none of v1');

$node->stop;
done_testing();
