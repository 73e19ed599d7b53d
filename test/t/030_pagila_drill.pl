# The disaster drill on a pagila-shaped schema (test/pagila/pagila.sql): back
# the schema up, DROP SCHEMA ... CASCADE, restore it under its own name, and
# find everything as it was: rows, views, functions, triggers, sequences, and
# pg_dump --schema-only's picture of it.  Then a second restore beside the
# original must stand on its own: nothing of it points back, and dropping the
# original takes nothing of it away.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 'test/perl';
use VaultNode;

my $node = vault_node('pagila');
my $db = 'postgres';
$node->safe_psql($db, "SELECT vault_create('drill')");
$node->safe_psql($db, slurp_file('test/pagila/pagila.sql'));

sub q1 { return $node->safe_psql($db, $_[0]); }

my @tables = split /\n/, q1(q{SELECT relname FROM pg_class WHERE relnamespace = 'pagila'::regnamespace
                                 AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1});
my @views = split /\n/, q1(q{SELECT relname FROM pg_class WHERE relnamespace = 'pagila'::regnamespace
                                AND relkind IN ('v', 'm') ORDER BY 1});
is(scalar @tables, 15, '15 tables');
is(scalar @views, 8, 'seven views and a materialized view');

# a copy of every table and of what every view returns, kept elsewhere as
# text (a copy typed by pagila's own types would lose those columns with it)
q1('CREATE SCHEMA keep');
q1("CREATE TABLE keep.$_ AS SELECT r::text AS r FROM pagila.$_ r") for @tables;
q1("CREATE TABLE keep.view_$_ AS SELECT r::text AS r FROM pagila.$_ r") for @views;
sub same_rows
{
	my ($relation, $kept) = @_;
	return q1("SELECT (SELECT count(*) FROM (SELECT r::text FROM $relation r EXCEPT ALL SELECT r FROM $kept) a)
	                + (SELECT count(*) FROM (SELECT r FROM $kept EXCEPT ALL SELECT r::text FROM $relation r) b)");
}

# what the functions answer, and how far the sequences got
my $answers = q{SET search_path = pagila;
SELECT (SELECT string_agg(x::text, ',' ORDER BY x) FROM film_in_stock(1, 1) x),
       (SELECT string_agg(x::text, ',' ORDER BY x) FROM film_not_in_stock(50, 2) x),
       get_customer_balance(7, '2022-05-01'), inventory_held_by_customer(1),
       inventory_in_stock(100), film_count_in('Comedy'),
       (SELECT count(*) FROM rewards_report(3, 10.00)),
       (SELECT group_concat(name ORDER BY name) FROM category)};
my $answers_before = q1($answers);
my %maxima;
for my $t (qw(actor film customer rental store payment))
{
	my $id = $t eq 'payment' ? 'payment_id' : "${t}_id";
	$maxima{$t} = q1("SELECT max($id) FROM pagila.$t");
}

sub schema_dump
{
	my ($schema) = @_;
	my $out = $node->basedir . "/$schema.dump";
	$node->command_ok(
		[ 'pg_dump', '--schema-only', '--no-owner', '-n', $schema, '-f', $out, $node->connstr($db) ],
		"pg_dump --schema-only of $schema");
	# pg_dump 15.14+ brackets its output with a random \restrict key
	return join '', grep { !/^\\(un)?restrict / } split /^/, slurp_file($out);
}
my $dump_before = schema_dump('pagila');

# the backup, and the disaster
my $p = q1("SELECT vault_backup_schema('drill', 'pagila')");
cmp_ok(q1("SELECT objects FROM vault_recovery_points WHERE recovery_point = $p"), '>=', 40,
	'the point holds the schema\'s other objects');
q1('DROP SCHEMA pagila CASCADE');
is(q1("SELECT count(*) FROM pg_namespace WHERE nspname = 'pagila'"), '0', 'the schema is gone');

is(q1("SELECT vault_restore($p, 'pagila')"), 'pagila', 'restored into its own name');

is(same_rows("pagila.$_", "keep.$_"), '0', "table $_: every row as before") for @tables;
is(same_rows("pagila.$_", "keep.view_$_"), '0', "view $_ returns what it returned") for @views;
cmp_ok(q1('SELECT count(*) FROM pagila.rental_by_category'), '>', 0, 'the materialized view is populated');
is(q1($answers), $answers_before, 'the functions answer the same');

# the triggers fire, the sequences continue past the old maxima
is(q1(q{UPDATE pagila.actor SET first_name = first_name WHERE actor_id = 1
        RETURNING last_update = now()}), 't', 'an UPDATE fires last_updated');
is(q1(q{UPDATE pagila.film SET description = 'A restored story' WHERE film_id = 1
        RETURNING fulltext @@ to_tsquery('english', 'restored')}), 't', 'the full-text trigger fires');
for my $t (qw(actor film customer store))
{
	my $id = "${t}_id";
	my $cols = {
		actor => q{(first_name, last_name) VALUES ('NEW', 'ACTOR')},
		film => q{(title, language_id, fulltext) VALUES ('NEW FILM', 1, '')},
		customer => q{(store_id, first_name, last_name, address_id) VALUES (1, 'NEW', 'CUSTOMER', 1)},
		store => q{(manager_staff_id, address_id) VALUES (9, 9)},    # a deferred key: rolled back
	}->{$t};
	my $new = q1("BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO pagila.$t $cols RETURNING $id; ROLLBACK");
	cmp_ok($new, '>', $maxima{$t}, "an insert into $t draws from the restored sequence ($new > $maxima{$t})");
}
my $new_rental = q1(q{INSERT INTO pagila.rental (rental_date, inventory_id, customer_id, staff_id)
                      VALUES ('2022-08-01', 1, 1, 1) RETURNING rental_id});
cmp_ok($new_rental, '>', $maxima{rental}, 'rental ids continue too');
is(($new_rental - $maxima{rental}) % 2, 0, 'in steps of the sequence\'s increment (2)');
my $new_payment = q1(q{INSERT INTO pagila.payment (customer_id, staff_id, rental_id, amount, payment_date)
                       VALUES (1, 1, 1000 + 2, 1.00, '2022-03-03') RETURNING payment_id});
cmp_ok($new_payment, '>', $maxima{payment}, 'and the partitioned table\'s');
q1("DELETE FROM pagila.payment WHERE payment_id = $new_payment");
q1("DELETE FROM pagila.rental WHERE rental_id = $new_rental");

# pg_dump sees the same schema (the restore ran as the same role: same privileges)
my $dump_after = schema_dump('pagila');
is($dump_after, $dump_before, 'pg_dump --schema-only of the restored schema equals the original');

# a second restore beside the original stands on its own
is(q1("SELECT vault_restore($p, 'pagila_copy')"), 'pagila_copy', 'restored again under another name');
my $stray = q{
	WITH objs AS (
		SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c WHERE c.relnamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t WHERE t.typnamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p WHERE p.pronamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
			WHERE c.relnamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_constraint'::regclass, co.oid FROM pg_constraint co WHERE co.connamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
			WHERE c.relnamespace = 'pagila_copy'::regnamespace
		UNION ALL SELECT 'pg_trigger'::regclass, t.oid FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = 'pagila_copy'::regnamespace),
	theirs AS (
		SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c WHERE c.relnamespace = 'pagila'::regnamespace
		UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t WHERE t.typnamespace = 'pagila'::regnamespace
		UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p WHERE p.pronamespace = 'pagila'::regnamespace)
	SELECT count(*) FROM pg_depend d
	JOIN objs o ON o.classid = d.classid AND o.objid = d.objid
	JOIN theirs t ON t.classid = d.refclassid AND t.objid = d.refobjid};
is(q1($stray), '0', 'no default, view, trigger, column type or key of the copy uses the original schema');
my $columns = q{SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                WHERE c.relnamespace = 'pagila_copy'::regnamespace AND c.relkind IN ('r', 'p')
                  AND a.attnum > 0 AND NOT a.attisdropped};
my $defaults = q{SELECT count(*) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
                 WHERE c.relnamespace = 'pagila_copy'::regnamespace};
my ($ncols, $ndefs) = (q1($columns), q1($defaults));
cmp_ok($ndefs, '>', 30, "the copy has its defaults ($ndefs)");

q1('DROP SCHEMA pagila CASCADE');
is(q1($columns), $ncols, 'after DROP SCHEMA pagila CASCADE the copy has every column');
is(q1($defaults), $ndefs, 'and every default');
is(same_rows("pagila_copy.$_", "keep.$_"), '0', "and every row of $_") for @tables;
cmp_ok(q1(q{INSERT INTO pagila_copy.actor (first_name, last_name) VALUES ('A', 'B') RETURNING actor_id}),
	'>', $maxima{actor}, 'its sequences are its own');
is(q1(q{SELECT count(*) > 0 FROM pagila_copy.film_list}), 't', 'its views work');

$node->stop;
done_testing();
