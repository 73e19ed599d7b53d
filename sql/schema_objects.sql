-- schema fidelity: every kind of object a schema point holds, each alone in a
-- schema with one table, backed up, restored under another name and compared
-- with the original through the catalogs; the restored copy refers to
-- nothing of the original; an extension the point needs; the restore plan.
SET client_min_messages = warning;
SELECT vault_create('fidelity');
CREATE ROLE so_reader;

-- What a schema holds, as text that does not depend on the schema's name:
-- every definition printed with search_path = <schema>, pg_catalog, so the
-- schema's own objects come out unqualified.
CREATE FUNCTION pg_temp.shape(s name) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	n oid := quote_ident(s)::regnamespace;
BEGIN
	PERFORM set_config('search_path', quote_ident(s) || ', pg_catalog', true);
	RETURN QUERY
	-- relations: kind, options, row-level security flags, replica identity, comments, privileges
	SELECT format('rel %s %s opts=%s rls=%s/%s ri=%s populated=%s comment=%s acl=%s',
				  c.relname, c.relkind, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
				  c.relreplident, c.relispopulated, obj_description(c.oid, 'pg_class'), c.relacl)
	FROM pg_class c WHERE c.relnamespace = n AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c', 'f')
	UNION ALL
	-- columns: type, nullability, default, identity, generated, collation, comment, privileges
	SELECT format('col %s.%s %s notnull=%s default=%s identity=%s generated=%s coll=%s stat=%s comment=%s acl=%s',
				  c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation,
				  a.attstattarget, col_description(c.oid, a.attnum), a.attacl)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	WHERE c.relnamespace = n AND c.relkind IN ('r', 'p', 'v', 'm', 'c')
	UNION ALL
	SELECT format('seq %s %s %s..%s +%s start=%s cache=%s cycle=%s last=%s', c.relname,
				  format_type(q.seqtypid, NULL), q.seqmin, q.seqmax, q.seqincrement, q.seqstart, q.seqcache,
				  q.seqcycle, pg_sequence_last_value(c.oid))
	FROM pg_class c JOIN pg_sequence q ON q.seqrelid = c.oid WHERE c.relnamespace = n
	UNION ALL
	SELECT format('owned %s by %s.%s', c.relname, t.relname, a.attname)
	FROM pg_class c JOIN pg_depend dp ON dp.classid = 'pg_class'::regclass AND dp.objid = c.oid AND dp.deptype = 'a'
	JOIN pg_class t ON t.oid = dp.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = dp.refobjsubid
	WHERE c.relnamespace = n AND c.relkind = 'S'
	UNION ALL
	SELECT format('con %s on %s%s: %s comment=%s', co.conname, co.conrelid::regclass, co.contypid::regtype,
				  pg_get_constraintdef(co.oid), obj_description(co.oid, 'pg_constraint'))
	FROM pg_constraint co WHERE co.connamespace = n
	UNION ALL
	SELECT format('idx %s comment=%s clustered=%s', pg_get_indexdef(i.indexrelid, 0, true), obj_description(i.indexrelid, 'pg_class'),
				  i.indisclustered)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = n
	UNION ALL
	SELECT format('type %s %s default=%s notnull=%s base=%s comment=%s acl=%s labels=%s', t.typname, t.typtype,
				  t.typdefault, t.typnotnull, nullif(t.typbasetype, 0)::regtype, obj_description(t.oid, 'pg_type'), t.typacl,
				  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
	FROM pg_type t WHERE t.typnamespace = n AND t.typtype IN ('e', 'r', 'm', 'd', 'c')
	UNION ALL
	SELECT format('range %s of %s', r.rngtypid::regtype, r.rngsubtype::regtype)
	FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid WHERE t.typnamespace = n
	UNION ALL
	SELECT format('proc %s kind=%s returns=%s lang=%s secdef=%s volatile=%s body=%s sqlbody=%s comment=%s acl=%s',
				  p.oid::regprocedure, p.prokind, format_type(p.prorettype, NULL), l.lanname, p.prosecdef,
				  p.provolatile, p.prosrc, pg_get_function_sqlbody(p.oid), obj_description(p.oid, 'pg_proc'), p.proacl)
	FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = n
	UNION ALL
	SELECT format('agg %s sfunc=%s stype=%s init=%s', a.aggfnoid::regprocedure, a.aggtransfn,
				  format_type(a.aggtranstype, NULL), a.agginitval)
	FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.pronamespace = n
	UNION ALL
	SELECT format('view %s: %s', c.relname, pg_get_viewdef(c.oid))
	FROM pg_class c WHERE c.relnamespace = n AND c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('trigger %s enabled=%s comment=%s', pg_get_triggerdef(t.oid, true), t.tgenabled,
				  obj_description(t.oid, 'pg_trigger'))
	FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = n AND NOT t.tgisinternal
	UNION ALL
	SELECT format('rule %s enabled=%s comment=%s', pg_get_ruledef(r.oid, true), r.ev_enabled,
				  obj_description(r.oid, 'pg_rewrite'))
	FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = n AND r.rulename <> '_RETURN'
	UNION ALL
	SELECT format('policy %s on %s %s %s to %s using %s check %s comment=%s', p.polname, p.polrelid::regclass,
				  p.polcmd, p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
				  pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy'))
	FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = n
	UNION ALL
	SELECT format('statistics %s %s on %s target=%s comment=%s', s.stxname, s.stxkind,
				  pg_get_statisticsobjdef_columns(s.oid), s.stxstattarget, obj_description(s.oid, 'pg_statistic_ext'))
	FROM pg_statistic_ext s WHERE s.stxnamespace = n
	UNION ALL
	SELECT format('collation %s %s %s %s det=%s', co.collname, co.collprovider, co.collcollate, co.collctype,
				  co.collisdeterministic)
	FROM pg_collation co WHERE co.collnamespace = n
	UNION ALL
	SELECT format('schema comment=%s', obj_description(n, 'pg_namespace'));
END
$$;

-- objects of the restored schema that depend on anything in the original one
CREATE FUNCTION pg_temp.stray_refs(restored_name name, original_name name) RETURNS bigint LANGUAGE sql AS $$
	WITH ns AS (SELECT quote_ident(restored_name)::regnamespace AS restored,
					   quote_ident(original_name)::regnamespace AS original),
	objs AS (
		SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c WHERE c.relnamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t WHERE t.typnamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p WHERE p.pronamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
			WHERE c.relnamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_constraint'::regclass, co.oid FROM pg_constraint co WHERE co.connamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
			WHERE c.relnamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_trigger'::regclass, t.oid FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = (SELECT restored FROM ns)
		UNION ALL SELECT 'pg_policy'::regclass, p.oid FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
			WHERE c.relnamespace = (SELECT restored FROM ns)),
	theirs AS (
		SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c WHERE c.relnamespace = (SELECT original FROM ns)
		UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t WHERE t.typnamespace = (SELECT original FROM ns)
		UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p WHERE p.pronamespace = (SELECT original FROM ns)
		UNION ALL SELECT 'pg_collation'::regclass, co.oid FROM pg_collation co WHERE co.collnamespace = (SELECT original FROM ns))
	SELECT count(*) FROM pg_depend d
	JOIN objs o ON o.classid = d.classid AND o.objid = d.objid
	JOIN theirs t ON t.classid = d.refclassid AND t.objid = d.refobjid
$$;

-- back up schema s, restore it as s_r; what differs, and what still points back
CREATE FUNCTION pg_temp.roundtrip(s name, OUT objects integer, OUT differences bigint, OUT stray_refs bigint)
LANGUAGE plpgsql AS $$
DECLARE
	p bigint := vault_backup_schema('fidelity', s);
BEGIN
	PERFORM vault_restore(p, quote_ident(s || '_r'));
	SELECT r.objects INTO objects FROM vault_recovery_points r WHERE r.recovery_point = p;
	SELECT count(*) INTO differences FROM (
		(SELECT * FROM pg_temp.shape(s) EXCEPT ALL SELECT * FROM pg_temp.shape(s || '_r'))
		UNION ALL
		(SELECT * FROM pg_temp.shape(s || '_r') EXCEPT ALL SELECT * FROM pg_temp.shape(s))) d;
	stray_refs := pg_temp.stray_refs(s || '_r', s);
END
$$;

-- sequences: free-standing with options and a value, used by a default; owned (serial)
CREATE SCHEMA k_seq;
CREATE SEQUENCE k_seq.invoice_no AS integer START WITH 100 INCREMENT BY 5 MINVALUE 50 MAXVALUE 100000 CACHE 3 CYCLE;
CREATE TABLE k_seq.t (id serial PRIMARY KEY, invoice integer DEFAULT nextval('k_seq.invoice_no'));
INSERT INTO k_seq.t DEFAULT VALUES;
INSERT INTO k_seq.t DEFAULT VALUES;
SELECT * FROM pg_temp.roundtrip('k_seq');
-- both continue where the original stood
INSERT INTO k_seq_r.t DEFAULT VALUES RETURNING id, invoice;

-- an enum, a composite type, a range type (with its multirange), used by columns
CREATE SCHEMA k_type;
CREATE TYPE k_type.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE k_type.point3 AS (x float8, y float8, z float8);
CREATE TYPE k_type.floatrange AS RANGE (SUBTYPE = float8, MULTIRANGE_TYPE_NAME = k_type.floatmultirange);
CREATE TABLE k_type.t (m k_type.mood, p k_type.point3, r k_type.floatrange, mr k_type.floatmultirange);
INSERT INTO k_type.t VALUES ('ok', ROW(1, 2, 3), '[1.5,2.5)', '{[1,2),[3,4)}');
COMMENT ON TYPE k_type.mood IS 'how it feels';
COMMENT ON COLUMN k_type.point3.z IS 'height';
SELECT * FROM pg_temp.roundtrip('k_type');
SELECT m, p, r, mr FROM k_type_r.t;

-- domains: base type, default, NOT NULL, named CHECK constraints (one not valid), non-ASCII name
CREATE SCHEMA k_domain;
CREATE DOMAIN k_domain."jahr" AS integer DEFAULT 2000 NOT NULL
	CONSTRAINT "jahr_über_1900" CHECK (VALUE > 1900) CONSTRAINT jahr_under_3000 CHECK (VALUE < 3000);
CREATE TABLE k_domain.t (y k_domain."jahr");
INSERT INTO k_domain.t VALUES (1999);
ALTER DOMAIN k_domain."jahr" ADD CONSTRAINT jahr_even CHECK (VALUE % 2 = 0) NOT VALID;
COMMENT ON CONSTRAINT jahr_even ON DOMAIN k_domain."jahr" IS 'not checked for old rows';
SELECT * FROM pg_temp.roundtrip('k_domain');
INSERT INTO k_domain_r.t VALUES (1898);

-- functions and procedures: SQL and plpgsql, a SQL-standard body, SECURITY
-- DEFINER with a SET clause, one that returns the table's rows
CREATE SCHEMA k_func;
CREATE TABLE k_func.t (id int PRIMARY KEY, v text);
INSERT INTO k_func.t VALUES (1, 'one'), (2, 'two');
CREATE FUNCTION k_func.add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION k_func.rows_of(k_func.t) RETURNS text LANGUAGE plpgsql AS $$BEGIN RETURN $1.v; END$$;
CREATE FUNCTION k_func.everything() RETURNS SETOF k_func.t LANGUAGE sql STABLE
	BEGIN ATOMIC SELECT * FROM k_func.t ORDER BY id; END;
CREATE FUNCTION k_func.privileged() RETURNS int LANGUAGE sql SECURITY DEFINER SET work_mem = '8MB'
	AS 'SELECT 42';
CREATE PROCEDURE k_func.bump(INOUT n int) LANGUAGE plpgsql AS $$BEGIN n := n + 1; END$$;
COMMENT ON FUNCTION k_func.add(int, int) IS 'adds';
SELECT * FROM pg_temp.roundtrip('k_func');
SELECT k_func_r.add(2), (SELECT string_agg(v, ',') FROM k_func_r.everything()), k_func_r.privileged();
CALL k_func_r.bump(41);

-- an aggregate over a function of the schema
CREATE SCHEMA k_agg;
CREATE TABLE k_agg.t (v text);
INSERT INTO k_agg.t VALUES ('a'), ('b'), ('c');
CREATE FUNCTION k_agg.cat(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT coalesce($1 || '+', '') || $2$$;
CREATE AGGREGATE k_agg.joined(text) (SFUNC = k_agg.cat, STYPE = text, INITCOND = '>');
SELECT * FROM pg_temp.roundtrip('k_agg');
SELECT k_agg_r.joined(v ORDER BY v) FROM k_agg_r.t;

-- views: a view over a view, options, a check option, column comments, an
-- INSTEAD OF trigger and a rule on a view
CREATE SCHEMA k_view;
CREATE TABLE k_view.t (id int PRIMARY KEY, v text, secret text);
INSERT INTO k_view.t VALUES (1, 'one', 'x'), (2, 'two', 'y');
CREATE VIEW k_view.pub WITH (security_barrier) AS SELECT id, v FROM k_view.t WHERE id > 0 WITH LOCAL CHECK OPTION;
CREATE VIEW k_view.pub_upper AS SELECT id, upper(v) AS v FROM k_view.pub;
COMMENT ON COLUMN k_view.pub_upper.v IS 'shouted';
CREATE FUNCTION k_view.ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO k_view.t VALUES (NEW.id, lower(NEW.v), NULL); RETURN NEW; END$$;
CREATE TRIGGER pub_upper_ins INSTEAD OF INSERT ON k_view.pub_upper FOR EACH ROW EXECUTE FUNCTION k_view.ins();
CREATE RULE pub_no_delete AS ON DELETE TO k_view.pub DO INSTEAD NOTHING;
SELECT * FROM pg_temp.roundtrip('k_view');
SELECT * FROM k_view_r.pub_upper ORDER BY id;

-- materialized views: populated and not, with an index; refreshed at restore
CREATE SCHEMA k_matview;
CREATE TABLE k_matview.t (g int);
INSERT INTO k_matview.t SELECT generate_series(1, 10);
CREATE MATERIALIZED VIEW k_matview.total AS SELECT sum(g) AS s FROM k_matview.t;
CREATE UNIQUE INDEX total_s ON k_matview.total (s);
CREATE MATERIALIZED VIEW k_matview.later AS SELECT count(*) AS n FROM k_matview.t WITH NO DATA;
SELECT * FROM pg_temp.roundtrip('k_matview');
SELECT s FROM k_matview_r.total;

-- triggers: one enabled, one disabled, one with a WHEN clause, commented
CREATE SCHEMA k_trigger;
CREATE TABLE k_trigger.t (id int, changed timestamptz, n int DEFAULT 0);
CREATE FUNCTION k_trigger.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.changed := '2024-01-01'; NEW.n := NEW.n + 1; RETURN NEW; END$$;
CREATE TRIGGER touch BEFORE UPDATE ON k_trigger.t FOR EACH ROW EXECUTE FUNCTION k_trigger.touch();
CREATE TRIGGER touch_big BEFORE INSERT ON k_trigger.t FOR EACH ROW WHEN (NEW.id > 100) EXECUTE FUNCTION k_trigger.touch();
CREATE TRIGGER touch_off AFTER DELETE ON k_trigger.t FOR EACH STATEMENT EXECUTE FUNCTION k_trigger.touch();
ALTER TABLE k_trigger.t DISABLE TRIGGER touch_off;
COMMENT ON TRIGGER touch ON k_trigger.t IS 'stamps changes';
INSERT INTO k_trigger.t (id) VALUES (1), (200);
SELECT * FROM pg_temp.roundtrip('k_trigger');
-- the load did not fire them (rows as they were), an update does
SELECT id, changed, n FROM k_trigger_r.t ORDER BY id;
UPDATE k_trigger_r.t SET id = id WHERE id = 1;
SELECT id, changed, n FROM k_trigger_r.t ORDER BY id;

-- row-level security: enabled and forced, permissive and restrictive policies
CREATE SCHEMA k_rls;
CREATE TABLE k_rls.t (id int, owner_name text);
INSERT INTO k_rls.t VALUES (1, 'so_reader'), (2, 'someone');
ALTER TABLE k_rls.t ENABLE ROW LEVEL SECURITY;
ALTER TABLE k_rls.t FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON k_rls.t FOR SELECT TO so_reader USING (owner_name = current_user);
CREATE POLICY not_two ON k_rls.t AS RESTRICTIVE FOR ALL TO PUBLIC USING (id <> 2) WITH CHECK (id < 100);
COMMENT ON POLICY own_rows ON k_rls.t IS 'readers see their own';
GRANT USAGE ON SCHEMA k_rls TO so_reader;
GRANT SELECT ON k_rls.t TO so_reader;
SELECT * FROM pg_temp.roundtrip('k_rls');
GRANT USAGE ON SCHEMA k_rls_r TO so_reader;
SET ROLE so_reader;
SELECT * FROM k_rls_r.t;
RESET ROLE;

-- rules on a table
CREATE SCHEMA k_rule;
CREATE TABLE k_rule.t (id int, v text);
CREATE TABLE k_rule.log (id int, at text);
CREATE RULE log_insert AS ON INSERT TO k_rule.t DO ALSO INSERT INTO k_rule.log VALUES (NEW.id, 'inserted');
CREATE RULE no_update AS ON UPDATE TO k_rule.t DO INSTEAD NOTHING;
ALTER TABLE k_rule.t DISABLE RULE no_update;
COMMENT ON RULE log_insert ON k_rule.t IS 'audit';
SELECT * FROM pg_temp.roundtrip('k_rule');
INSERT INTO k_rule_r.t VALUES (7, 'seven');
SELECT * FROM k_rule_r.log;

-- comments on every kind of thing
CREATE SCHEMA k_comment;
COMMENT ON SCHEMA k_comment IS 'the schema''s own';
CREATE TABLE k_comment.t (id int CONSTRAINT t_pk PRIMARY KEY, v text CONSTRAINT v_short CHECK (length(v) < 10));
CREATE INDEX t_v ON k_comment.t (v);
COMMENT ON TABLE k_comment.t IS 'a table';
COMMENT ON COLUMN k_comment.t.v IS 'a column';
COMMENT ON CONSTRAINT t_pk ON k_comment.t IS 'a key';
COMMENT ON CONSTRAINT v_short ON k_comment.t IS 'a check';
COMMENT ON INDEX k_comment.t_v IS 'an index';
CREATE SEQUENCE k_comment.s;
COMMENT ON SEQUENCE k_comment.s IS 'a sequence';
SELECT * FROM pg_temp.roundtrip('k_comment');

-- statistics objects and column settings
CREATE SCHEMA k_stats;
CREATE TABLE k_stats.t (a int, b int, c text);
ALTER TABLE k_stats.t ALTER COLUMN c SET STATISTICS 500, ALTER COLUMN a SET (n_distinct = 42);
CREATE STATISTICS k_stats.ab (ndistinct, dependencies) ON a, b FROM k_stats.t;
CREATE STATISTICS k_stats.expr ON (a + b), c FROM k_stats.t;
ALTER STATISTICS k_stats.ab SET STATISTICS 300;
COMMENT ON STATISTICS k_stats.ab IS 'a and b go together';
SELECT * FROM pg_temp.roundtrip('k_stats');

-- privileges: on the schema, a table, columns, a sequence, a function, a type;
-- grants to a role and revokes from PUBLIC, with the restoring role as owner
CREATE SCHEMA k_acl;
CREATE TABLE k_acl.t (id int, secret text);
CREATE SEQUENCE k_acl.s;
CREATE FUNCTION k_acl.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TYPE k_acl.e AS ENUM ('a');
GRANT USAGE ON SCHEMA k_acl TO so_reader;
GRANT SELECT, INSERT ON k_acl.t TO so_reader WITH GRANT OPTION;
GRANT UPDATE (secret) ON k_acl.t TO so_reader;
GRANT USAGE ON SEQUENCE k_acl.s TO PUBLIC;
REVOKE EXECUTE ON FUNCTION k_acl.f() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION k_acl.f() TO so_reader;
REVOKE USAGE ON TYPE k_acl.e FROM PUBLIC;
REVOKE TRUNCATE ON k_acl.t FROM CURRENT_USER;
SELECT * FROM pg_temp.roundtrip('k_acl');
SELECT nspacl = (SELECT nspacl FROM pg_namespace WHERE nspname = 'k_acl') AS same_schema_acl
  FROM pg_namespace WHERE nspname = 'k_acl_r';

-- a collation of the schema, used by a column
CREATE SCHEMA k_coll;
CREATE COLLATION k_coll.bytes (provider = libc, locale = 'C');
CREATE TABLE k_coll.t (v text COLLATE k_coll.bytes);
SELECT * FROM pg_temp.roundtrip('k_coll');

-- partitions keep their own indexes, constraints and the names of the
-- indexes they inherit
CREATE SCHEMA k_part;
CREATE TABLE k_part.ref (id int PRIMARY KEY);
INSERT INTO k_part.ref VALUES (1), (2);
CREATE TABLE k_part.m (id int, at date, ref_id int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE k_part.m_2024 PARTITION OF k_part.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE k_part.m_rest PARTITION OF k_part.m DEFAULT;
ALTER INDEX k_part.m_2024_pkey RENAME TO m_2024_key_renamed;
CREATE INDEX m_2024_ref ON k_part.m_2024 (ref_id);
ALTER TABLE k_part.m_2024 ADD CONSTRAINT m_2024_ref_fk FOREIGN KEY (ref_id) REFERENCES k_part.ref;
ALTER TABLE k_part.m_rest ADD CONSTRAINT m_rest_small CHECK (id < 1000);
COMMENT ON TABLE k_part.m_2024 IS 'this year';
INSERT INTO k_part.m VALUES (1, '2024-03-03', 1), (2, '2023-03-03', 2);
SELECT * FROM pg_temp.roundtrip('k_part');

-- names that need quoting everywhere, holding the words a trigger's or a
-- rule's definition is cut at
CREATE SCHEMA "We""ird Sch";
CREATE TYPE "We""ird Sch"."Mood ""x""" AS ENUM ('a b', 'c''d');
CREATE TABLE "We""ird Sch"."A b" ("Col 1" int PRIMARY KEY, "m ON A b" "We""ird Sch"."Mood ""x""",
	"select" text DEFAULT 'x ON "A b" y');
CREATE FUNCTION "We""ird Sch"."tg fn"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER "t ON ""A b"" x" BEFORE UPDATE OF "m ON A b", "select" ON "We""ird Sch"."A b"
	FOR EACH ROW EXECUTE FUNCTION "We""ird Sch"."tg fn"();
CREATE RULE "r TO A b" AS ON DELETE TO "We""ird Sch"."A b" DO INSTEAD NOTHING;
CREATE VIEW "We""ird Sch"."V w" AS SELECT "Col 1", "m ON A b" FROM "We""ird Sch"."A b";
INSERT INTO "We""ird Sch"."A b" VALUES (1, 'c''d', 'q');
SELECT * FROM pg_temp.roundtrip('We"ird Sch');
SELECT * FROM "We""ird Sch_r"."V w";

-- one table: a table point, and a table out of a schema point, bring back
-- the table's triggers (when their function exists), policies and flags,
-- comments and grants
CREATE TABLE public.tp (id int PRIMARY KEY, v text, touched int DEFAULT 0);
CREATE FUNCTION public.tp_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END$$;
CREATE TRIGGER tp_touch BEFORE UPDATE ON public.tp FOR EACH ROW EXECUTE FUNCTION public.tp_touch();
ALTER TABLE public.tp ENABLE ROW LEVEL SECURITY;
CREATE POLICY tp_small ON public.tp USING (id < 10);
COMMENT ON TABLE public.tp IS 'table point';
COMMENT ON COLUMN public.tp.v IS 'value';
GRANT SELECT ON public.tp TO so_reader;
INSERT INTO public.tp VALUES (1, 'a'), (20, 'b');
SELECT vault_backup('fidelity', 'public.tp') AS tp_point \gset
SELECT objects FROM vault_recovery_points WHERE recovery_point = :tp_point;
DROP TABLE public.tp;
SELECT vault_restore(:tp_point, 'public.tp');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.tp'::regclass;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'public.tp'::regclass;
SELECT relrowsecurity, obj_description(oid, 'pg_class'), col_description(oid, 2),
       has_table_privilege('so_reader', oid, 'SELECT') AS reader_selects
  FROM pg_class WHERE oid = 'public.tp'::regclass;
UPDATE public.tp SET v = 'a2' WHERE id = 1 RETURNING touched;
-- beside the original, under another name: the same, on the copy
SELECT vault_restore(:tp_point, 'tp_copy');
SELECT tgname, tgfoid::regproc FROM pg_trigger WHERE tgrelid = 'public.tp_copy'::regclass;
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'public.tp_copy'::regclass;
-- a trigger whose function is gone is said and left out
DROP TABLE public.tp, public.tp_copy;
DROP FUNCTION public.tp_touch();
SET client_min_messages = notice;
SELECT vault_restore(:tp_point, 'public.tp');
SET client_min_messages = warning;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'public.tp'::regclass;
-- out of a schema point: the table's trigger, with its function from the schema
SELECT vault_restore(r.recovery_point, 'public.trig_alone', source_table => 't')
  FROM vault_recovery_points r WHERE r.item = 'k_trigger';
SELECT tgname, tgfoid::regprocedure FROM pg_trigger WHERE tgrelid = 'public.trig_alone'::regclass ORDER BY 1;

-- a table that needs an extension: named in the plan, and a restore where
-- it is missing is refused naming it
CREATE EXTENSION citext;
CREATE TABLE public.ext_t (name citext PRIMARY KEY);
INSERT INTO public.ext_t VALUES ('Alice');
SELECT vault_backup('fidelity', 'public.ext_t') AS ext_point \gset
DROP TABLE public.ext_t;
DROP EXTENSION citext;
SELECT kind, name, action FROM vault_restore_plan(:ext_point) WHERE kind = 'extension';
SELECT vault_restore(:ext_point, 'public.ext_t');
SELECT to_regclass('public.ext_t') IS NULL AS nothing_left;
CREATE EXTENSION citext;
SELECT vault_restore(:ext_point, 'public.ext_t');
SELECT count(*) FROM public.ext_t WHERE name = 'ALICE';

-- the restore plan: it creates nothing, and its order is a valid creation
-- order (replayed against the original's dependencies)
CREATE SCHEMA k_plan;
CREATE TYPE k_plan.kind AS ENUM ('a', 'b');
CREATE TABLE k_plan.base (id int PRIMARY KEY, k k_plan.kind);
CREATE FUNCTION k_plan.label(k_plan.base) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT $1.k::text; END;
CREATE VIEW k_plan.v1 AS SELECT id, k_plan.label(b) AS l FROM k_plan.base b;
CREATE VIEW k_plan.v2 AS SELECT count(*) AS n FROM k_plan.v1;
CREATE MATERIALIZED VIEW k_plan.mv AS SELECT * FROM k_plan.v2;
CREATE TABLE k_plan.child (id int REFERENCES k_plan.base, note text DEFAULT k_plan.label(ROW(0, 'a')::k_plan.base));
SELECT vault_backup_schema('fidelity', 'k_plan') AS plan_point \gset
CREATE TEMP TABLE plan (step int, kind text, name text, action text);
CREATE TEMP TABLE catalog_counts (rels bigint, types bigint, procs bigint, schemas bigint, cons bigint, triggers bigint);
INSERT INTO catalog_counts
SELECT (SELECT count(*) FROM pg_class) AS rels, (SELECT count(*) FROM pg_type) AS types,
       (SELECT count(*) FROM pg_proc) AS procs, (SELECT count(*) FROM pg_namespace) AS schemas,
       (SELECT count(*) FROM pg_constraint) AS cons, (SELECT count(*) FROM pg_trigger) AS triggers;
INSERT INTO plan SELECT * FROM vault_restore_plan(:plan_point, 'k_plan_copy');
SELECT (SELECT count(*) FROM pg_class) = rels AND (SELECT count(*) FROM pg_type) = types
   AND (SELECT count(*) FROM pg_proc) = procs AND (SELECT count(*) FROM pg_namespace) = schemas
   AND (SELECT count(*) FROM pg_constraint) = cons AND (SELECT count(*) FROM pg_trigger) = triggers
   AS nothing_created
  FROM catalog_counts;
SELECT to_regnamespace('k_plan_copy') IS NULL AS no_schema;
SELECT step, kind, name, action FROM plan WHERE action = 'create' ORDER BY step;
-- replay: each created object's dependencies on other objects of the schema come earlier
SET search_path = k_plan, public;
WITH created AS (
	SELECT step, kind, name,
		   CASE WHEN kind IN ('table', 'view', 'materialized view', 'sequence') THEN 'pg_class'::regclass::oid
				WHEN kind IN ('type', 'domain') THEN 'pg_type'::regclass::oid
				WHEN kind IN ('function', 'procedure', 'aggregate') THEN 'pg_proc'::regclass::oid
				WHEN kind = 'constraint' THEN 'pg_constraint'::regclass::oid END AS classid,
		   CASE WHEN kind IN ('table', 'view', 'materialized view', 'sequence')
					THEN to_regclass(replace(name, 'k_plan_copy.', 'k_plan.'))::oid
				WHEN kind IN ('type', 'domain') THEN to_regtype(replace(name, 'k_plan_copy.', 'k_plan.'))::oid
				WHEN kind IN ('function', 'procedure', 'aggregate')
					THEN to_regprocedure(replace(name, 'k_plan_copy.', 'k_plan.'))::oid
				WHEN kind = 'constraint'
					THEN (SELECT c.oid FROM pg_constraint c
						  WHERE c.conname = split_part(name, ' ON ', 1)
							AND c.conrelid = to_regclass(replace(split_part(name, ' ON ', 2), 'k_plan_copy.', 'k_plan.'))) END AS objid
	FROM plan WHERE action = 'create' AND kind <> 'schema'),
owner_of AS (	-- a dependency on a row type is one on its relation
	SELECT d.classid, d.objid, d.deptype,
		   CASE WHEN d.refclassid = 'pg_type'::regclass AND t.typrelid <> 0 THEN 'pg_class'::regclass::oid
				ELSE d.refclassid END AS refclassid,
		   CASE WHEN d.refclassid = 'pg_type'::regclass AND t.typrelid <> 0 THEN t.typrelid
				ELSE d.refobjid END AS refobjid
	FROM pg_depend d LEFT JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND t.oid = d.refobjid),
edges AS (	-- a default's or a view's rule's dependencies are its relation's
	SELECT coalesce(r.ev_class, ad.adrelid, o.objid) AS objid,
		   CASE WHEN r.ev_class IS NOT NULL OR ad.adrelid IS NOT NULL THEN 'pg_class'::regclass::oid ELSE o.classid END AS classid,
		   o.refclassid, o.refobjid
	FROM owner_of o
	LEFT JOIN pg_rewrite r ON o.classid = 'pg_rewrite'::regclass AND r.oid = o.objid
	LEFT JOIN pg_attrdef ad ON o.classid = 'pg_attrdef'::regclass AND ad.oid = o.objid
	WHERE o.deptype = 'n')
SELECT count(*) FILTER (WHERE c2.step > c1.step) AS out_of_order,
       count(*) AS dependencies_checked,
       (SELECT count(*) FROM created WHERE objid IS NULL) AS unmapped,
       (SELECT count(*) FROM created) AS created
FROM edges e
JOIN created c1 ON c1.classid = e.classid AND c1.objid = e.objid
JOIN created c2 ON c2.classid = e.refclassid AND c2.objid = e.refobjid AND c2.step <> c1.step;
-- every object of the schema is in the plan
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'k_plan'::regnamespace AND relkind IN ('r', 'v', 'm'))
     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'k_plan'::regnamespace AND typtype = 'e')
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'k_plan'::regnamespace)
     + (SELECT count(*) FROM pg_constraint WHERE connamespace = 'k_plan'::regnamespace)
     = (SELECT count(*) FROM plan WHERE action = 'create' AND kind <> 'schema') AS every_object_planned;
RESET search_path;
-- restoring by that plan works
SELECT vault_restore(:plan_point, 'k_plan_copy');
SELECT n FROM k_plan_copy.mv;
-- the plan of one table out of a schema point, and a refusal
SELECT step, kind, name, action FROM vault_restore_plan(:plan_point, source_table => 'base') ORDER BY step;
SELECT * FROM vault_restore_plan(NULL);
SELECT * FROM vault_restore_plan(:plan_point, source_table => 'nosuch');

-- a restore job says what it restored
SELECT operation, rows, logical_bytes > 0 AS has_bytes FROM vault_jobs
 WHERE operation = 'restore' AND recovery_point = :ext_point ORDER BY job_id DESC LIMIT 1;

-- what a point cannot hold is said at backup and in the plan
CREATE SCHEMA k_nothold;
CREATE TABLE k_nothold.t (id int);
CREATE FUNCTION k_nothold.eq(int, int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
CREATE OPERATOR k_nothold.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = k_nothold.eq);
SET client_min_messages = warning;
SELECT vault_backup_schema('fidelity', 'k_nothold') AS nh_point \gset
SELECT kind, name, action FROM vault_restore_plan(:nh_point) WHERE step IS NULL;
