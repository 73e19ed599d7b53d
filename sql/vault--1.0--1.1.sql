-- vault 1.0 -> 1.1.
--
-- 1.1 opens with schema fidelity: a schema point holds every object of its
-- schema that pg_dump --schema would recreate (sequences, types, functions,
-- views, triggers, policies, rules, comments, statistics objects and the
-- privileges on all of them), captured relative to the schema, so that a
-- restore puts them, and every reference between them, into the target
-- schema.  Points made by 1.0 keep their definitions and restore as before.

\echo Use "ALTER EXTENSION vault UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- storage
-- ---------------------------------------------------------------------------

-- the non-table objects of a schema point, one row each, in capture order
CREATE TABLE vault_internal.point_objects (
	point_id		bigint NOT NULL REFERENCES vault_internal.points ON DELETE CASCADE,
	ordinal			integer NOT NULL,
	kind			text NOT NULL,		-- sequence, type, domain, function, view, ...
	name			text NOT NULL,		-- relative to the schema: mood, f(integer)
	key				text NOT NULL,		-- the object within the point (deps refer to it)
	deps			text[] NOT NULL DEFAULT '{}',	-- keys of objects created before it
	definition		jsonb NOT NULL,		-- DDL relative to the schema, comments, privileges
	PRIMARY KEY (point_id, ordinal)
);
REVOKE ALL ON vault_internal.point_objects FROM PUBLIC;

-- ordering of a schema point's tables among its other objects
ALTER TABLE vault_internal.point_tables ADD COLUMN deps text[];

-- how many non-table objects a point holds, and what its schema held that
-- a point cannot ([{kind, name}]), said at backup and in the restore plan
ALTER TABLE vault_internal.points ADD COLUMN objects integer NOT NULL DEFAULT 0;
ALTER TABLE vault_internal.points ADD COLUMN not_held jsonb;

-- ---------------------------------------------------------------------------
-- capture: definitions relative to one schema.  The queries run with
-- search_path = pg_catalog; only vault_internal.deparse prints under
-- "<schema>", pg_catalog, so the schema's own objects come out unqualified.
-- ---------------------------------------------------------------------------

CREATE FUNCTION vault_internal.deparse(nsp oid, what text, obj oid, sub integer DEFAULT -1,
									  expr pg_node_tree DEFAULT NULL, rel oid DEFAULT 0,
									  name text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'vault_deparse' LANGUAGE C STABLE;

-- a sequence's state, read as the extension owner
CREATE FUNCTION vault_internal.sequence_state(seq regclass, OUT last_value bigint, OUT is_called boolean)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO last_value, is_called;
END
$$;

-- privileges as the changes from the default ACL: grants and revokes, the
-- owner standing for whoever restores ("owner"), PUBLIC as "public", any
-- other role as "role:<name>".  NULL: the default.
CREATE FUNCTION vault_internal.capture_acl(acl aclitem[], owner oid, objtype "char") RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	WITH cur AS (SELECT grantee, privilege_type, is_grantable
				 FROM aclexplode(coalesce(acl, acldefault(objtype, owner)))),
		 def AS (SELECT grantee, privilege_type, is_grantable
				 FROM aclexplode(acldefault(objtype, owner))),
		 who AS (SELECT g.grantee,
						CASE WHEN g.grantee = 0 THEN 'public'
							 WHEN g.grantee = owner THEN 'owner'
							 ELSE 'role:' || pg_get_userbyid(g.grantee) END AS label
				 FROM (SELECT grantee FROM cur UNION SELECT grantee FROM def) g)
	SELECT CASE WHEN acl IS NOT NULL THEN jsonb_build_object(
		'grant', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'to', w.label, 'privilege', c.privilege_type, 'grantable', c.is_grantable)
						ORDER BY w.label, c.privilege_type), '[]'::jsonb)
				  FROM cur c JOIN who w USING (grantee)
				  WHERE NOT EXISTS (SELECT 1 FROM def d WHERE d.grantee = c.grantee
									AND d.privilege_type = c.privilege_type
									AND d.is_grantable >= c.is_grantable)),
		'revoke', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'to', w.label, 'privilege', d.privilege_type)
						ORDER BY w.label, d.privilege_type), '[]'::jsonb)
				   FROM def d JOIN who w USING (grantee)
				   WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.grantee = d.grantee
									 AND c.privilege_type = d.privilege_type)))
	END);
END
$$;

-- extensions that catalog objects (classid, objid) reference: a point that
-- holds them needs those extensions where it is restored
CREATE FUNCTION vault_internal.capture_extensions(objs oid[][]) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT coalesce(jsonb_agg(DISTINCT e.extname), '[]'::jsonb)
	FROM unnest(objs[:][1:1], objs[:][2:2]) AS o(classid, objid)
	JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid AND d.deptype IN ('n', 'a')
	CROSS JOIN LATERAL (
		SELECT d.refclassid AS classid, d.refobjid AS objid
		UNION ALL
		SELECT 'pg_type'::regclass, t.typelem FROM pg_type t
		WHERE d.refclassid = 'pg_type'::regclass AND t.oid = d.refobjid AND t.typelem <> 0
		  AND t.typlen = -1) r
	JOIN pg_depend x ON x.classid = r.classid AND x.objid = r.objid AND x.deptype = 'e'
	JOIN pg_extension e ON e.oid = x.refobjid);
END
$$;

-- the sequence that feeds column (relid, attnum): identity ('i') or owned
-- serial ('a'), with its state; 'literal' is how a default names it
CREATE FUNCTION vault_internal.capture_column_sequence(relid oid, attnum int2) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT jsonb_build_object(
			'schema', sn.nspname, 'name', sc.relname, 'dep', d.deptype,
			'literal', quote_literal(vault_internal.deparse(tc.relnamespace, 'class', sc.oid)) || '::regclass',
			'type', format_type(s.seqtypid, NULL),
			'increment', s.seqincrement, 'start', s.seqstart, 'min', s.seqmin,
			'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle,
			'last_value', st.last_value, 'is_called', st.is_called)
	FROM pg_depend d
	JOIN pg_sequence s ON s.seqrelid = d.objid
	JOIN pg_class sc ON sc.oid = s.seqrelid
	JOIN pg_namespace sn ON sn.oid = sc.relnamespace
	JOIN pg_class tc ON tc.oid = relid
	CROSS JOIN LATERAL vault_internal.sequence_state(sc.oid) st
	WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
	  AND d.refobjid = relid AND d.refobjsubid = attnum AND d.deptype IN ('a', 'i')
	LIMIT 1);
END
$$;

-- what hangs off a relation (table, partition, view, materialized view):
-- triggers, rules, policies and row-level security, comments, privileges,
-- statistics objects, replica identity; names relative to its schema
CREATE FUNCTION vault_internal.capture_relation_extras(relid oid) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT jsonb_build_object(
		'comment', obj_description(c.oid, 'pg_class'),
		'acl', CASE WHEN c.relacl IS NOT NULL THEN vault_internal.capture_acl(c.relacl, c.relowner, 'r') END,
		'rls', c.relrowsecurity,
		'force_rls', c.relforcerowsecurity,
		'replica_identity', c.relreplident,
		'replica_index', (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
						  WHERE i.indrelid = c.oid AND i.indisreplident),
		'cluster_on', (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
					   WHERE i.indrelid = c.oid AND i.indisclustered),
		'index_comments', (
			SELECT coalesce(jsonb_agg(jsonb_build_object('name', ic.relname, 'text', d.description)
									  ORDER BY ic.relname), '[]'::jsonb)
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
			JOIN pg_description d ON d.objoid = ic.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
			WHERE i.indrelid = c.oid),
		'triggers', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', t.tgname,
				'head', vault_internal.deparse(c.relnamespace, 'trigger_head', t.oid, rel => c.oid, name => t.tgname),
				'tail', vault_internal.deparse(c.relnamespace, 'trigger_tail', t.oid, rel => c.oid, name => t.tgname),
				'enabled', t.tgenabled,
				'function', vault_internal.deparse(c.relnamespace, 'proc', t.tgfoid)
					|| '(' || pg_get_function_identity_arguments(t.tgfoid) || ')',
				'function_schema', fn.nspname,
				'function_in_schema', f.pronamespace = c.relnamespace,
				'comment', obj_description(t.oid, 'pg_trigger'))
				ORDER BY t.tgname), '[]'::jsonb)
			FROM pg_trigger t
			JOIN pg_proc f ON f.oid = t.tgfoid
			JOIN pg_namespace fn ON fn.oid = f.pronamespace
			WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgparentid = 0),
		'rules', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', r.rulename,
				'head', vault_internal.deparse(c.relnamespace, 'rule_head', r.oid, rel => c.oid, name => r.rulename),
				'tail', vault_internal.deparse(c.relnamespace, 'rule_tail', r.oid, rel => c.oid, name => r.rulename),
				'enabled', r.ev_enabled,
				'comment', obj_description(r.oid, 'pg_rewrite'))
				ORDER BY r.rulename), '[]'::jsonb)
			FROM pg_rewrite r
			WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'),
		'policies', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', p.polname,
				'permissive', p.polpermissive,
				'command', p.polcmd,
				'roles', (SELECT jsonb_agg(CASE WHEN r.oid = 0 THEN 'public' ELSE 'role:' || pg_get_userbyid(r.oid) END
										   ORDER BY r.ord)
						  FROM unnest(p.polroles) WITH ORDINALITY AS r(oid, ord)),
				'using', vault_internal.deparse(c.relnamespace, 'expr', p.polrelid, expr => p.polqual),
				'check', vault_internal.deparse(c.relnamespace, 'expr', p.polrelid, expr => p.polwithcheck),
				'comment', obj_description(p.oid, 'pg_policy'))
				ORDER BY p.polname), '[]'::jsonb)
			FROM pg_policy p
			WHERE p.polrelid = c.oid),
		'statistics', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', s.stxname,
				'in_schema', s.stxnamespace = c.relnamespace,
				'kinds', (SELECT string_agg(CASE k WHEN 'd' THEN 'ndistinct' WHEN 'f' THEN 'dependencies'
												   WHEN 'm' THEN 'mcv' END, ', ' ORDER BY k)
						  FROM unnest(s.stxkind) k WHERE k IN ('d', 'f', 'm')),
				'columns', vault_internal.deparse(c.relnamespace, 'statistics_columns', s.oid),
				'target', nullif(s.stxstattarget, -1),
				'comment', obj_description(s.oid, 'pg_statistic_ext'))
				ORDER BY s.stxname), '[]'::jsonb)
			FROM pg_statistic_ext s
			WHERE s.stxrelid = c.oid))
	FROM pg_class c
	WHERE c.oid = relid);
END
$$;

-- a table's own constraints and indexes (not those a partition inherits),
-- relative to its schema
CREATE FUNCTION vault_internal.capture_constraints(relid oid) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT coalesce(jsonb_agg(jsonb_build_object(
		'name', con.conname,
		'type', con.contype,
		'def', vault_internal.deparse(c.relnamespace, 'constraint', con.oid),
		'ref_schema', rn.nspname,
		'ref_table', rc.relname,
		'ref_prefix', CASE WHEN con.contype = 'f' THEN
			'REFERENCES ' || vault_internal.deparse(c.relnamespace, 'class', rc.oid) || '(' END,
		'comment', obj_description(con.oid, 'pg_constraint'))
		ORDER BY CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2
								  WHEN 'c' THEN 3 ELSE 4 END, con.conname), '[]'::jsonb)
	FROM pg_class c
	JOIN pg_constraint con ON con.conrelid = c.oid
	LEFT JOIN pg_class rc ON rc.oid = con.confrelid
	LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
	WHERE c.oid = relid AND con.contype IN ('p', 'u', 'x', 'c', 'f')
	  AND con.conparentid = 0 AND con.conislocal);
END
$$;

CREATE FUNCTION vault_internal.capture_indexes(relid oid) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT coalesce(jsonb_agg(jsonb_build_object(
		'name', ic.relname,
		'unique', i.indisunique,
		'body', substr(d.def, length(format('CREATE %sINDEX %s ON %s%s ',
											CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
											quote_ident(ic.relname),
											CASE WHEN c.relkind = 'p' THEN 'ONLY ' ELSE '' END,
											vault_internal.deparse(c.relnamespace, 'class', c.oid))) + 1))
		ORDER BY ic.relname), '[]'::jsonb)
	FROM pg_class c
	JOIN pg_index i ON i.indrelid = c.oid
	JOIN pg_class ic ON ic.oid = i.indexrelid
	CROSS JOIN LATERAL (SELECT vault_internal.deparse(c.relnamespace, 'index', i.indexrelid) AS def) d
	WHERE c.oid = relid
	  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
	  AND NOT EXISTS (SELECT 1 FROM pg_constraint pc
					  WHERE pc.conindid = i.indexrelid AND pc.conrelid = c.oid
						AND pc.contype IN ('p', 'u', 'x')));
END
$$;

-- a table's definition, format 2: every name relative to the table's schema
-- ('relative_to'); 1.0 points hold format 1, absolute, without that key
CREATE OR REPLACE FUNCTION vault_internal.capture_table(relid oid) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_variable
BEGIN
	RETURN (
	SELECT jsonb_build_object(
		'format', 2,
		'relative_to', n.nspname,
		'schema', n.nspname,
		'name', c.relname,
		'owner', pg_get_userbyid(c.relowner),
		'relkind', c.relkind,
		'persistence', c.relpersistence,
		'reloptions', c.reloptions,
		'partkey', CASE WHEN c.relkind = 'p' THEN vault_internal.deparse(n.oid, 'partkey', c.oid) END,
		'columns', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', a.attname,
				'type', vault_internal.deparse(n.oid, 'type', a.atttypid, a.atttypmod),
				'notnull', a.attnotnull,
				'default', CASE WHEN a.attgenerated = '' THEN
							vault_internal.deparse(n.oid, 'expr', ad.adrelid, expr => ad.adbin) END,
				'generated', CASE WHEN a.attgenerated = 's' THEN
							vault_internal.deparse(n.oid, 'expr', ad.adrelid, expr => ad.adbin) END,
				'identity', nullif(a.attidentity, ''),
				'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
								  THEN vault_internal.deparse(n.oid, 'collation', a.attcollation) END,
				'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END,
				'text_fallback', NOT vault_internal.type_binary_io(a.atttypid),
				'sequence', CASE WHEN a.attidentity <> '' OR ad.oid IS NOT NULL
								 THEN vault_internal.capture_column_sequence(c.oid, a.attnum) END,
				'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
				-- the settable ones (ALTER COLUMN ... SET): n_distinct[_inherited]
				'options', (SELECT jsonb_agg(o) FROM unnest(a.attoptions) o WHERE o LIKE 'n\_distinct%'),
				'compression', nullif(a.attcompression, ''),
				'comment', col_description(c.oid, a.attnum),
				'acl', CASE WHEN a.attacl IS NOT NULL
							THEN vault_internal.capture_acl(a.attacl, c.relowner, 'c') END)
				ORDER BY a.attnum), '[]'::jsonb)
			FROM pg_attribute a
			JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
		'constraints', vault_internal.capture_constraints(c.oid),
		'indexes', vault_internal.capture_indexes(c.oid),
		'partitions', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', pc.relname,
				'parent', pp.relname,
				'level', pt.level,
				'bound', vault_internal.deparse(n.oid, 'expr', pc.oid, expr => pc.relpartbound),
				'partkey', CASE WHEN pc.relkind = 'p' THEN vault_internal.deparse(n.oid, 'partkey', pc.oid) END,
				'constraints', vault_internal.capture_constraints(pc.oid),
				'indexes', vault_internal.capture_indexes(pc.oid),
				'inherited_indexes', (
					SELECT coalesce(jsonb_agg(jsonb_build_object('parent', pi.relname, 'name', ci.relname)
											  ORDER BY ci.relname), '[]'::jsonb)
					FROM pg_index x
					JOIN pg_class ci ON ci.oid = x.indexrelid
					JOIN pg_inherits h ON h.inhrelid = x.indexrelid
					JOIN pg_class pi ON pi.oid = h.inhparent
					WHERE x.indrelid = pc.oid)) || vault_internal.capture_relation_extras(pc.oid)
				ORDER BY pt.level, pc.relname), '[]'::jsonb)
			FROM pg_partition_tree(c.oid) pt
			JOIN pg_class pc ON pc.oid = pt.relid
			JOIN pg_class pp ON pp.oid = pt.parentrelid
			WHERE pt.level > 0 AND c.relkind = 'p'),
		'extensions', vault_internal.capture_extensions(ARRAY(
			WITH rels AS (SELECT c.oid AS relid UNION SELECT p.relid FROM pg_partition_tree(c.oid) p)
			SELECT ARRAY[o.classid, o.objid] FROM (
				SELECT 'pg_class'::regclass::oid AS classid, r.relid AS objid FROM rels r
				UNION ALL SELECT 'pg_attrdef'::regclass, ad.oid FROM pg_attrdef ad JOIN rels r ON r.relid = ad.adrelid
				UNION ALL SELECT 'pg_constraint'::regclass, con.oid FROM pg_constraint con JOIN rels r ON r.relid = con.conrelid
				UNION ALL SELECT 'pg_class'::regclass, i.indexrelid FROM pg_index i JOIN rels r ON r.relid = i.indrelid
				UNION ALL SELECT 'pg_trigger'::regclass, tg.oid FROM pg_trigger tg JOIN rels r ON r.relid = tg.tgrelid
				WHERE NOT tg.tgisinternal
				UNION ALL SELECT 'pg_policy'::regclass, po.oid FROM pg_policy po JOIN rels r ON r.relid = po.polrelid
				UNION ALL SELECT 'pg_rewrite'::regclass, rw.oid FROM pg_rewrite rw JOIN rels r ON r.relid = rw.ev_class) o)::oid[][]))
		|| vault_internal.capture_relation_extras(c.oid)
	FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = relid);
END
$$;

DROP FUNCTION vault_internal.column_sequence(oid, int2);

-- ---------------------------------------------------------------------------
-- a schema's other objects: one row each, with the DDL that recreates it in
-- the first schema of the search path, and the keys that order them
-- ---------------------------------------------------------------------------

-- every catalog object of the schema mapped to the point object (node) it
-- belongs to: 'c' relations, 't' types, 'p' functions, 'l' collations
CREATE FUNCTION vault_internal.schema_nodes(nsp oid,
											OUT classid oid, OUT objid oid, OUT key text, OUT relkind "char")
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH rels AS (
		-- a partition whose root lives here belongs to that root; an identity
		-- sequence to its table
		SELECT c.oid, c.relkind,
			   'c' || coalesce(
					(SELECT r.oid FROM pg_class r WHERE c.relispartition
						AND r.oid = pg_partition_root(c.oid) AND r.relnamespace = nsp),
					(SELECT d.refobjid FROM pg_depend d
					 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
					   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' AND c.relkind = 'S'),
					c.oid) AS key
		FROM pg_class c
		WHERE c.relnamespace = nsp AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c', 'f')),
	types AS (
		SELECT t.oid,
			   CASE WHEN t.typrelid <> 0 THEN (SELECT r.key FROM rels r WHERE r.oid = t.typrelid)
					WHEN t.typtype = 'm' THEN (SELECT 't' || rg.rngtypid FROM pg_range rg WHERE rg.rngmultitypid = t.oid)
					ELSE 't' || t.oid END AS key,
			   t.typelem, t.typlen
		FROM pg_type t
		WHERE t.typnamespace = nsp)
	SELECT 'pg_class'::regclass::oid, r.oid, r.key, r.relkind FROM rels r
	UNION ALL
	SELECT 'pg_type'::regclass, t.oid,
		   CASE WHEN t.typelem <> 0 AND t.typlen = -1
				THEN coalesce((SELECT e.key FROM types e WHERE e.oid = t.typelem), t.key)
				ELSE t.key END, NULL
	FROM types t
	UNION ALL
	SELECT 'pg_proc'::regclass, p.oid, 'p' || p.oid, NULL FROM pg_proc p WHERE p.pronamespace = nsp
	UNION ALL
	SELECT 'pg_collation'::regclass, co.oid, 'l' || co.oid, NULL FROM pg_collation co WHERE co.collnamespace = nsp
	UNION ALL
	SELECT 'pg_attrdef'::regclass, ad.oid, r.key, NULL FROM pg_attrdef ad JOIN rels r ON r.oid = ad.adrelid
	UNION ALL
	SELECT 'pg_rewrite'::regclass, rw.oid, r.key, NULL FROM pg_rewrite rw JOIN rels r ON r.oid = rw.ev_class
	WHERE rw.rulename = '_RETURN'
	UNION ALL
	SELECT 'pg_constraint'::regclass, con.oid, 't' || con.contypid, NULL
	FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid WHERE t.typnamespace = nsp
$$;

-- for each point object of the schema, the point objects it must come after
CREATE FUNCTION vault_internal.capture_deps(nsp oid, OUT key text, OUT deps text[])
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH nodes AS MATERIALIZED (SELECT * FROM vault_internal.schema_nodes(nsp))
	SELECT a.key, array_agg(DISTINCT b.key ORDER BY b.key)
	FROM pg_depend d
	JOIN nodes a ON a.classid = d.classid AND a.objid = d.objid
	JOIN nodes b ON b.classid = d.refclassid AND b.objid = d.refobjid
	WHERE a.key <> b.key AND d.deptype IN ('n', 'a')
	  -- a sequence OWNED BY a table is created first, owned afterwards
	  AND NOT (d.deptype = 'a' AND a.relkind = 'S')
	GROUP BY a.key
$$;

-- comments on the columns of a relation that keeps its name (view, type)
CREATE FUNCTION vault_internal.capture_column_comments(relid oid) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
		'on', 'COLUMN ' || vault_internal.deparse(c.relnamespace, 'class', c.oid) || '.' || quote_ident(a.attname),
		'text', d.description) ORDER BY a.attnum), '[]'::jsonb)
	FROM pg_class c
	JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
	WHERE c.oid = relid
$$;

-- the schema's objects other than its tables, in a stable order; each row's
-- definition: create (DDL), steps ([{phase, action, sql}] run later),
-- comment_on / comment, comments ([{on, text}]), grant_on / acl, owner,
-- extensions.  Objects that belong to an extension are not captured.
CREATE FUNCTION vault_internal.capture_schema(nsp oid,
											  OUT kind text, OUT name text, OUT key text, OUT definition jsonb)
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH member AS (
		SELECT d.classid, d.objid FROM pg_depend d WHERE d.deptype = 'e'),
	objs AS (
	-- the schema itself: its comment and privileges
	SELECT 0 AS prio, 'schema' AS kind, quote_ident(n.nspname) AS name, 'n' || n.oid AS key,
		   jsonb_build_object(
			'comment', obj_description(n.oid, 'pg_namespace'),
			'acl', vault_internal.capture_acl(n.nspacl, n.nspowner, 'n'),
			'owner', pg_get_userbyid(n.nspowner)) AS def,
		   ARRAY[]::oid[][] AS refs
	FROM pg_namespace n WHERE n.oid = nsp
	UNION ALL
	-- collations
	SELECT 1, 'collation', quote_ident(co.collname), 'l' || co.oid,
		   jsonb_build_object(
			'create', format('CREATE COLLATION %I (%s%s)', co.collname,
							 CASE co.collprovider
								 WHEN 'i' THEN format('provider = icu, locale = %L', co.colliculocale)
								 ELSE format('provider = libc, lc_collate = %L, lc_ctype = %L',
											 co.collcollate, co.collctype) END,
							 CASE WHEN NOT co.collisdeterministic THEN ', deterministic = false' ELSE '' END),
			'comment_on', 'COLLATION ' || quote_ident(co.collname),
			'comment', obj_description(co.oid, 'pg_collation'),
			'owner', pg_get_userbyid(co.collowner)),
		   ARRAY[ARRAY['pg_collation'::regclass::oid, co.oid]]
	FROM pg_collation co
	WHERE co.collnamespace = nsp
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_collation'::regclass AND m.objid = co.oid)
	UNION ALL
	-- enums, ranges, domains
	SELECT 2, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, quote_ident(t.typname), 't' || t.oid,
		   jsonb_build_object(
			'create', CASE t.typtype
				WHEN 'e' THEN format('CREATE TYPE %I AS ENUM (%s)', t.typname,
					(SELECT coalesce(string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder), '')
					 FROM pg_enum e WHERE e.enumtypid = t.oid))
				WHEN 'r' THEN format('CREATE TYPE %I AS RANGE (SUBTYPE = %s%s%s%s%s, MULTIRANGE_TYPE_NAME = %I)',
					t.typname, vault_internal.deparse(nsp, 'type', rg.rngsubtype),
					CASE WHEN NOT oc.opcdefault
						 THEN ', SUBTYPE_OPCLASS = ' || vault_internal.deparse(nsp, 'opclass', rg.rngsubopc) ELSE '' END,
					CASE WHEN rg.rngcollation <> 0 AND rg.rngcollation <> st.typcollation
						 THEN ', COLLATION = ' || vault_internal.deparse(nsp, 'collation', rg.rngcollation) ELSE '' END,
					CASE WHEN rg.rngcanonical <> 0
						 THEN ', CANONICAL = ' || vault_internal.deparse(nsp, 'proc', rg.rngcanonical) ELSE '' END,
					CASE WHEN rg.rngsubdiff <> 0
						 THEN ', SUBTYPE_DIFF = ' || vault_internal.deparse(nsp, 'proc', rg.rngsubdiff) ELSE '' END,
					(SELECT mt.typname FROM pg_type mt WHERE mt.oid = rg.rngmultitypid))
				WHEN 'd' THEN format('CREATE DOMAIN %I AS %s%s%s%s', t.typname,
					vault_internal.deparse(nsp, 'type', t.typbasetype, t.typtypmod),
					CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
						 THEN ' COLLATE ' || vault_internal.deparse(nsp, 'collation', t.typcollation) ELSE '' END,
					CASE WHEN t.typdefaultbin IS NOT NULL
						 THEN ' DEFAULT ' || vault_internal.deparse(nsp, 'expr', 0, expr => t.typdefaultbin) ELSE '' END,
					CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END)
				END,
			'steps', CASE WHEN t.typtype = 'd' THEN (
				-- a NOT VALID one after the rows: they were never checked against it
				SELECT coalesce(jsonb_agg(jsonb_build_object(
					'phase', CASE WHEN con.convalidated THEN 'pre' ELSE 'post' END,
					'action', 'add constraint ' || quote_ident(con.conname),
					'sql', format('ALTER DOMAIN %I ADD CONSTRAINT %I %s', t.typname, con.conname,
								  vault_internal.deparse(nsp, 'constraint', con.oid))) ORDER BY con.conname), '[]'::jsonb)
				FROM pg_constraint con WHERE con.contypid = t.oid) END,
			'comment_on', CASE t.typtype WHEN 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END || quote_ident(t.typname),
			'comment', obj_description(t.oid, 'pg_type'),
			'comments', (SELECT coalesce(jsonb_agg(jsonb_build_object(
							'on', format('CONSTRAINT %I ON DOMAIN %I', con.conname, t.typname),
							'text', obj_description(con.oid, 'pg_constraint')) ORDER BY con.conname), '[]'::jsonb)
						 FROM pg_constraint con WHERE con.contypid = t.oid
						   AND obj_description(con.oid, 'pg_constraint') IS NOT NULL),
			'grant_on', CASE t.typtype WHEN 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END || quote_ident(t.typname),
			'acl', vault_internal.capture_acl(t.typacl, t.typowner, 'T'),
			'owner', pg_get_userbyid(t.typowner)),
		   ARRAY[ARRAY['pg_type'::regclass::oid, t.oid]]
	FROM pg_type t
	LEFT JOIN pg_range rg ON rg.rngtypid = t.oid
	LEFT JOIN pg_opclass oc ON oc.oid = rg.rngsubopc
	LEFT JOIN pg_type st ON st.oid = rg.rngsubtype
	LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
	WHERE t.typnamespace = nsp AND t.typtype IN ('e', 'r', 'd')
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid)
	UNION ALL
	-- composite types
	SELECT 2, 'type', quote_ident(c.relname), 'c' || c.oid,
		   jsonb_build_object(
			'create', format('CREATE TYPE %I AS (%s)', c.relname,
				(SELECT coalesce(string_agg(format('%I %s%s', a.attname,
						vault_internal.deparse(nsp, 'type', a.atttypid, a.atttypmod),
						CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation
							 THEN ' COLLATE ' || vault_internal.deparse(nsp, 'collation', a.attcollation) ELSE '' END),
						', ' ORDER BY a.attnum), '')
				 FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
				 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)),
			'comment_on', 'TYPE ' || quote_ident(c.relname),
			'comment', obj_description(c.reltype, 'pg_type'),
			'comments', vault_internal.capture_column_comments(c.oid),
			'grant_on', 'TYPE ' || quote_ident(c.relname),
			'acl', vault_internal.capture_acl(t.typacl, t.typowner, 'T'),
			'owner', pg_get_userbyid(t.typowner)),
		   ARRAY[ARRAY['pg_class'::regclass::oid, c.oid]]
	FROM pg_class c
	JOIN pg_type t ON t.oid = c.reltype
	WHERE c.relnamespace = nsp AND c.relkind = 'c'
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid)
	UNION ALL
	-- functions and procedures (not those a type owns, such as range constructors)
	SELECT 3, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
		   vault_internal.deparse(nsp, 'regprocedure', p.oid),
		   'p' || p.oid,
		   jsonb_build_object(
			'create', vault_internal.deparse(nsp, 'function', p.oid),
			'comment_on', CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END
				|| quote_ident(p.proname) || '(' || vault_internal.deparse(nsp, 'function_args', p.oid) || ')',
			'comment', obj_description(p.oid, 'pg_proc'),
			'grant_on', CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END
				|| quote_ident(p.proname) || '(' || vault_internal.deparse(nsp, 'function_args', p.oid) || ')',
			'acl', vault_internal.capture_acl(p.proacl, p.proowner, 'f'),
			'security_definer', p.prosecdef,
			'owner', pg_get_userbyid(p.proowner)),
		   ARRAY[ARRAY['pg_proc'::regclass::oid, p.oid]]
	FROM pg_proc p
	WHERE p.pronamespace = nsp AND p.prokind IN ('f', 'p', 'w')
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)
	  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
					  AND d.objid = p.oid AND d.deptype = 'i')
	UNION ALL
	-- aggregates
	SELECT 4, 'aggregate', vault_internal.deparse(nsp, 'regprocedure', p.oid),
		   'p' || p.oid,
		   jsonb_build_object(
			'create', format('CREATE AGGREGATE %I(%s) (%s)', p.proname,
				coalesce(nullif(vault_internal.deparse(nsp, 'function_args', p.oid), ''), '*'),
				concat_ws(', ',
					'SFUNC = ' || vault_internal.deparse(nsp, 'proc', ag.aggtransfn),
					'STYPE = ' || vault_internal.deparse(nsp, 'type', ag.aggtranstype),
					'SSPACE = ' || nullif(ag.aggtransspace, 0),
					'FINALFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggfinalfn, 0)),
					CASE WHEN ag.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
					CASE WHEN ag.aggfinalfn <> 0 AND ag.aggfinalmodify <> CASE WHEN ag.aggkind = 'n' THEN 'r' ELSE 'w' END
						 THEN 'FINALFUNC_MODIFY = ' || CASE ag.aggfinalmodify WHEN 'r' THEN 'READ_ONLY'
															WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,
					'COMBINEFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggcombinefn, 0)),
					'SERIALFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggserialfn, 0)),
					'DESERIALFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggdeserialfn, 0)),
					'INITCOND = ' || quote_literal(ag.agginitval),
					'MSFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggmtransfn, 0)),
					'MINVFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggminvtransfn, 0)),
					CASE WHEN ag.aggmtransfn <> 0 THEN 'MSTYPE = ' || vault_internal.deparse(nsp, 'type', ag.aggmtranstype) END,
					'MSSPACE = ' || nullif(ag.aggmtransspace, 0),
					'MFINALFUNC = ' || vault_internal.deparse(nsp, 'proc', nullif(ag.aggmfinalfn, 0)),
					CASE WHEN ag.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
					'MINITCOND = ' || quote_literal(ag.aggminitval),
					'SORTOP = ' || vault_internal.deparse(nsp, 'operator', nullif(ag.aggsortop, 0)),
					CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END,
					CASE WHEN ag.aggkind = 'h' THEN 'HYPOTHETICAL' END)),
			'comment_on', 'AGGREGATE ' || quote_ident(p.proname) || '('
				|| coalesce(nullif(vault_internal.deparse(nsp, 'function_args', p.oid), ''), '*') || ')',
			'comment', obj_description(p.oid, 'pg_proc'),
			'grant_on', 'FUNCTION ' || quote_ident(p.proname) || '('
				|| (SELECT coalesce(string_agg(vault_internal.deparse(nsp, 'type', a.t), ', ' ORDER BY a.i), '')
					FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i)) || ')',
			'acl', vault_internal.capture_acl(p.proacl, p.proowner, 'f'),
			'owner', pg_get_userbyid(p.proowner)),
		   ARRAY[ARRAY['pg_proc'::regclass::oid, p.oid]]
	FROM pg_proc p
	JOIN pg_aggregate ag ON ag.aggfnoid = p.oid
	WHERE p.pronamespace = nsp AND p.prokind = 'a'
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)
	UNION ALL
	-- sequences, except identity sequences (their table makes them)
	SELECT 5, 'sequence', quote_ident(c.relname), 'c' || c.oid,
		   jsonb_build_object(
			'create', format('CREATE %sSEQUENCE %I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',
							 CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END,
							 c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax,
							 s.seqstart, s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END),
			'steps', jsonb_build_array(jsonb_build_object(
						'phase', 'data', 'action', 'set value',
						'sql', format('SELECT pg_catalog.setval(%L, %s, %s)', quote_ident(c.relname),
									  st.last_value, st.is_called::text)))
					 || coalesce((
						SELECT jsonb_build_array(jsonb_build_object(
							'phase', 'attach', 'action', 'own by ' || quote_ident(oc.relname) || '.' || quote_ident(oa.attname),
							'sql', format('ALTER SEQUENCE %I OWNED BY %I.%I', c.relname, oc.relname, oa.attname)))
						FROM pg_depend d
						JOIN pg_class oc ON oc.oid = d.refobjid
						JOIN pg_attribute oa ON oa.attrelid = oc.oid AND oa.attnum = d.refobjsubid
						WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
						  AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
						  AND oc.relnamespace = nsp), '[]'::jsonb),
			'comment_on', 'SEQUENCE ' || quote_ident(c.relname),
			'comment', obj_description(c.oid, 'pg_class'),
			'grant_on', 'SEQUENCE ' || quote_ident(c.relname),
			'acl', vault_internal.capture_acl(c.relacl, c.relowner, 's'),
			'owner', pg_get_userbyid(c.relowner)),
		   ARRAY[ARRAY['pg_class'::regclass::oid, c.oid]]
	FROM pg_class c
	JOIN pg_sequence s ON s.seqrelid = c.oid
	CROSS JOIN LATERAL vault_internal.sequence_state(c.oid) st
	WHERE c.relnamespace = nsp AND c.relkind = 'S'
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid)
	  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
					  AND d.objid = c.oid AND d.deptype = 'i')
	UNION ALL
	-- views and materialized views
	SELECT CASE c.relkind WHEN 'v' THEN 6 ELSE 7 END,
		   CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END,
		   quote_ident(c.relname), 'c' || c.oid,
		   jsonb_build_object(
			'create', format('CREATE %s %I%s AS %s%s',
				CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED VIEW' END, c.relname,
				(SELECT ' WITH (' || string_agg(o, ', ') || ')' FROM unnest(c.reloptions) o
				 WHERE o NOT LIKE 'check_option=%'),
				rtrim(vault_internal.deparse(nsp, 'view', c.oid), ';'),
				CASE WHEN c.relkind = 'm' THEN ' WITH NO DATA'
					 ELSE (SELECT ' WITH ' || upper(substr(o, 14)) || ' CHECK OPTION' FROM unnest(c.reloptions) o
						   WHERE o LIKE 'check_option=%') END),
			'steps', (
				SELECT coalesce(jsonb_agg(s.step ORDER BY s.ord, s.name), '[]'::jsonb) FROM (
					-- view column defaults
					SELECT 1 AS ord, a.attname::text AS name, jsonb_build_object(
						'phase', 'pre', 'action', 'default of ' || quote_ident(a.attname),
						'sql', format('ALTER VIEW %I ALTER COLUMN %I SET DEFAULT %s', c.relname, a.attname,
									  vault_internal.deparse(nsp, 'expr', c.oid, expr => ad.adbin))) AS step
					FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
					WHERE ad.adrelid = c.oid
					UNION ALL
					-- indexes of a materialized view
					SELECT 2, ic.relname, jsonb_build_object(
						'phase', 'attach', 'action', 'create index ' || quote_ident(ic.relname),
						'sql', vault_internal.deparse(nsp, 'index', i.indexrelid))
					FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid
					UNION ALL
					SELECT 3, ic.relname, jsonb_build_object(
						'phase', 'attach', 'action', 'cluster on ' || quote_ident(ic.relname),
						'sql', format('ALTER MATERIALIZED VIEW %I CLUSTER ON %I', c.relname, ic.relname))
					FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
					WHERE i.indrelid = c.oid AND i.indisclustered
					UNION ALL
					-- triggers and rules of a view
					SELECT 4, t.tgname, jsonb_build_object(
						'phase', 'attach', 'action', 'create trigger ' || quote_ident(t.tgname),
						'sql', vault_internal.deparse(nsp, 'trigger_head', t.oid, rel => c.oid, name => t.tgname)
							   || ' ON ' || quote_ident(c.relname) || ' '
							   || vault_internal.deparse(nsp, 'trigger_tail', t.oid, rel => c.oid, name => t.tgname))
					FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
					UNION ALL
					SELECT 5, r.rulename, jsonb_build_object(
						'phase', 'attach', 'action', 'create rule ' || quote_ident(r.rulename),
						'sql', vault_internal.deparse(nsp, 'rule_head', r.oid, rel => c.oid, name => r.rulename)
							   || ' TO ' || quote_ident(c.relname) || ' '
							   || vault_internal.deparse(nsp, 'rule_tail', r.oid, rel => c.oid, name => r.rulename))
					FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'
					UNION ALL
					-- a populated materialized view is filled once everything is in
					SELECT 6, '', jsonb_build_object(
						'phase', 'refresh', 'action', 'refresh',
						'sql', format('REFRESH MATERIALIZED VIEW %I', c.relname))
					WHERE c.relkind = 'm' AND c.relispopulated) s),
			'comment_on', CASE c.relkind WHEN 'v' THEN 'VIEW ' ELSE 'MATERIALIZED VIEW ' END || quote_ident(c.relname),
			'comment', obj_description(c.oid, 'pg_class'),
			'comments', vault_internal.capture_column_comments(c.oid)
				|| (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'on', format('TRIGGER %I ON %I', t.tgname, c.relname),
						'text', obj_description(t.oid, 'pg_trigger'))), '[]'::jsonb)
					FROM pg_trigger t WHERE t.tgrelid = c.oid AND obj_description(t.oid, 'pg_trigger') IS NOT NULL)
				|| (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'on', format('RULE %I ON %I', r.rulename, c.relname),
						'text', obj_description(r.oid, 'pg_rewrite'))), '[]'::jsonb)
					FROM pg_rewrite r WHERE r.ev_class = c.oid AND obj_description(r.oid, 'pg_rewrite') IS NOT NULL)
				|| (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'on', format('INDEX %I', ic.relname),
						'text', obj_description(ic.oid, 'pg_class'))), '[]'::jsonb)
					FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
					WHERE i.indrelid = c.oid AND obj_description(ic.oid, 'pg_class') IS NOT NULL),
			'grant_on', 'TABLE ' || quote_ident(c.relname),
			'acl', vault_internal.capture_acl(c.relacl, c.relowner, 'r'),
			'column_acls', (SELECT coalesce(jsonb_agg(jsonb_build_object(
								'column', a.attname, 'acl', vault_internal.capture_acl(a.attacl, c.relowner, 'c'))
								ORDER BY a.attnum), '[]'::jsonb)
							FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL),
			'owner', pg_get_userbyid(c.relowner)),
		   ARRAY[ARRAY['pg_class'::regclass::oid, c.oid]]
			|| ARRAY(SELECT ARRAY['pg_rewrite'::regclass::oid, r.oid] FROM pg_rewrite r WHERE r.ev_class = c.oid)
			|| ARRAY(SELECT ARRAY['pg_trigger'::regclass::oid, t.oid] FROM pg_trigger t
					 WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
	FROM pg_class c
	WHERE c.relnamespace = nsp AND c.relkind IN ('v', 'm')
	  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid))
	SELECT o.kind, o.name, o.key,
		   o.def || jsonb_build_object('extensions', vault_internal.capture_extensions(o.refs))
	FROM objs o
	ORDER BY o.prio, o.name
$$;

-- what a point cannot hold, said at backup and in the restore plan
CREATE FUNCTION vault_internal.capture_not_held(nsp oid) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH member AS (SELECT d.classid, d.objid FROM pg_depend d WHERE d.deptype = 'e'),
	x AS (
		SELECT 'operator' AS kind, o.oid::regoperator::text AS name FROM pg_operator o
		WHERE o.oprnamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_operator'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'operator class', quote_ident(o.opcname) FROM pg_opclass o
		WHERE o.opcnamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_opclass'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'operator family', quote_ident(o.opfname) FROM pg_opfamily o
		WHERE o.opfnamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_opfamily'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'base type', quote_ident(t.typname) FROM pg_type t
		WHERE t.typnamespace = nsp AND t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typlen = -1)
		  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid)
		UNION ALL
		SELECT 'foreign table', quote_ident(c.relname) FROM pg_class c
		WHERE c.relnamespace = nsp AND c.relkind = 'f'
		  AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid)
		UNION ALL
		SELECT 'text search configuration', quote_ident(o.cfgname) FROM pg_ts_config o
		WHERE o.cfgnamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_ts_config'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'text search dictionary', quote_ident(o.dictname) FROM pg_ts_dict o
		WHERE o.dictnamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_ts_dict'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'conversion', quote_ident(o.conname) FROM pg_conversion o
		WHERE o.connamespace = nsp AND NOT EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_conversion'::regclass AND m.objid = o.oid)
		UNION ALL
		SELECT 'statistics object', quote_ident(s.stxname) FROM pg_statistic_ext s JOIN pg_class c ON c.oid = s.stxrelid
		WHERE s.stxnamespace = nsp AND c.relnamespace <> nsp
		UNION ALL
		SELECT 'table inheritance', format('%I inherits from %s', c.relname, h.inhparent::regclass)
		FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
		WHERE c.relnamespace = nsp AND NOT c.relispartition AND c.relkind IN ('r', 'p')
		UNION ALL
		SELECT 'default privileges', format('for role %s', pg_get_userbyid(d.defaclrole))
		FROM pg_default_acl d WHERE d.defaclnamespace = nsp
		UNION ALL
		SELECT 'extension', quote_ident(e.extname) || ' (its objects live in the schema)'
		FROM pg_extension e WHERE e.extnamespace = nsp)
	SELECT coalesce(jsonb_agg(jsonb_build_object('kind', x.kind, 'name', x.name) ORDER BY x.kind, x.name), '[]'::jsonb)
	FROM x
$$;

-- what a table's definition holds beyond the table: triggers, rules,
-- policies and statistics objects, its partitions' included
CREATE FUNCTION vault_internal.attached_count(def jsonb) RETURNS integer
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT (SELECT coalesce(sum(coalesce(jsonb_array_length(r->'triggers'), 0)
							  + coalesce(jsonb_array_length(r->'rules'), 0)
							  + coalesce(jsonb_array_length(r->'policies'), 0)
							  + coalesce(jsonb_array_length(r->'statistics'), 0)), 0)::integer
			FROM (SELECT def AS r
				  UNION ALL
				  SELECT p FROM jsonb_array_elements(coalesce(def->'partitions', '[]'::jsonb)) p) x)
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA vault_internal FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_internal.can_see(bigint, oid) TO PUBLIC;

-- restore is C now (src/api/restore_plan.c builds every statement)
DROP FUNCTION vault_internal.restore_create(jsonb, text, text);
DROP FUNCTION vault_internal.restore_finish(jsonb, text, text);
DROP FUNCTION vault_internal.restore_foreign_keys(jsonb, text, text, text, jsonb);

-- ---------------------------------------------------------------------------
-- SQL surface
-- ---------------------------------------------------------------------------

-- the objects a restore would create, in creation order, creating nothing
CREATE FUNCTION vault_restore_plan(recovery_point bigint,
								   target text DEFAULT NULL,
								   source_table text DEFAULT NULL,
								   OUT step integer, OUT kind text, OUT name text, OUT action text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_restore_plan' LANGUAGE C VOLATILE;

-- ---------------------------------------------------------------------------
-- protecting the backups: soft delete, immutability, multi-user
-- authorization (a guard role), legal holds, the audit trail
-- ---------------------------------------------------------------------------

-- per-vault settings; vaults made by 1.0 get what new vaults get
ALTER TABLE vault_internal.vaults
	ADD COLUMN soft_delete text NOT NULL DEFAULT 'on'
		CHECK (soft_delete IN ('on', 'off', 'always-on')),
	ADD COLUMN soft_delete_days integer NOT NULL DEFAULT 14
		CHECK (soft_delete_days BETWEEN 14 AND 180),
	ADD COLUMN immutability text NOT NULL DEFAULT 'off'
		CHECK (immutability IN ('off', 'on', 'locked')),
	ADD COLUMN guard oid;			-- the role whose members approve critical operations

-- soft-deleted items and points wait for purge_at
ALTER TABLE vault_internal.items DROP CONSTRAINT items_state_check;
ALTER TABLE vault_internal.items ADD CONSTRAINT items_state_check
	CHECK (state IN ('protected', 'on-demand', 'stopped', 'soft-deleted'));
ALTER TABLE vault_internal.items ADD COLUMN purge_at timestamptz;
ALTER TABLE vault_internal.points
	ADD CONSTRAINT points_state_check CHECK (state IN ('available', 'soft-deleted')),
	ADD COLUMN purge_at timestamptz,
	-- the latest expiry a retention change took back: a point whose expiry a
	-- change moved earlier is soft-deleted, not deleted, when it comes
	ADD COLUMN promised_until timestamptz,
	-- undeleted after its expiry passed: kept until its item is protected again
	ADD COLUMN kept_until_protected boolean NOT NULL DEFAULT false;
CREATE INDEX ON vault_internal.points (purge_at) WHERE state = 'soft-deleted';

ALTER TABLE vault_internal.jobs DROP CONSTRAINT jobs_operation_check;
ALTER TABLE vault_internal.jobs ADD CONSTRAINT jobs_operation_check
	CHECK (operation IN ('backup', 'restore', 'retention', 'expiry', 'delete', 'purge'));

-- requests for a critical operation, and their approval by a guard member
CREATE TABLE vault_internal.requests (
	request_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults ON DELETE CASCADE,
	operation		text NOT NULL CHECK (operation IN ('soft_delete_off', 'soft_delete_days',
						'immutability_off', 'guard_change', 'delete_data', 'reduce_retention',
						'legal_hold_release', 'encryption_key')),
	reason			text NOT NULL,
	requested_by	oid NOT NULL,
	requested_at	timestamptz NOT NULL DEFAULT now(),
	approved_by		oid,
	approved_at		timestamptz,
	valid_until		timestamptz,
	used_at			timestamptz,
	CHECK (approved_by IS NULL OR approved_by <> requested_by)
);
CREATE INDEX ON vault_internal.requests (vault_id, operation, requested_by);

-- legal holds and the points each one covers (those that existed when it was placed)
CREATE TABLE vault_internal.holds (
	hold_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults ON DELETE CASCADE,
	item_name		text,				-- NULL: every item of the vault
	points_from		timestamptz,
	points_to		timestamptz,
	reason			text NOT NULL,
	created_by		oid NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	released_by		oid,
	released_at		timestamptz
);
CREATE TABLE vault_internal.hold_points (
	hold_id			bigint NOT NULL REFERENCES vault_internal.holds ON DELETE CASCADE,
	-- an active hold keeps its points; a released one lets them go
	point_id		bigint NOT NULL REFERENCES vault_internal.points ON DELETE CASCADE,
	PRIMARY KEY (hold_id, point_id)
);
CREATE INDEX ON vault_internal.hold_points (point_id);

-- the audit trail: every state-changing call, written in its transaction; no
-- foreign keys (it outlives what it names) and nothing in the extension
-- deletes from it
CREATE TABLE vault_internal.audit (
	audit_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	role			name NOT NULL,	-- as it was called then: a dropped role stays named
	vault_id		bigint,
	vault_name		text,
	item			text,
	operation		text NOT NULL,
	detail			text
);
CREATE INDEX ON vault_internal.audit (vault_id, at);

REVOKE ALL ON vault_internal.requests, vault_internal.holds, vault_internal.hold_points,
	vault_internal.audit FROM PUBLIC;

-- a request's state, from its times
CREATE FUNCTION vault_internal.request_state(approved_at timestamptz, valid_until timestamptz,
											  used_at timestamptz, requested_at timestamptz) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN used_at IS NOT NULL THEN 'used'
				WHEN approved_at IS NOT NULL AND valid_until > now() THEN 'approved'
				WHEN approved_at IS NOT NULL THEN 'expired'
				WHEN requested_at > now() - interval '24 hours' THEN 'pending'
				ELSE 'expired' END
$$;

-- a guard member sees the requests of the vaults they guard
CREATE FUNCTION vault_internal.guards(guard oid) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT guard IS NOT NULL AND pg_has_role(current_user, guard, 'MEMBER')
$$;

-- ---------------------------------------------------------------------------
-- SQL surface
-- ---------------------------------------------------------------------------

-- settings: named parameters, each NULL = unchanged (call with named notation);
-- encryption_key belongs to customer-managed keys, redundancy and
-- cross_region_restore to redundancy, job_alerts to monitoring (below)
CREATE FUNCTION vault_configure(vault text,
								soft_delete text DEFAULT NULL,
								soft_delete_days integer DEFAULT NULL,
								immutability text DEFAULT NULL,
								encryption_key text DEFAULT NULL,
								redundancy text DEFAULT NULL,
								cross_region_restore boolean DEFAULT NULL,
								job_alerts boolean DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_configure' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_delete_recovery_point(recovery_point bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_delete_recovery_point' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_undelete(vault text, item text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_undelete' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_undelete_point(recovery_point bigint, retain_until timestamptz DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_undelete_point' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_purge(now timestamptz,
							OUT vault text, OUT item text, OUT points_purged bigint,
							OUT chunks_removed bigint, OUT freed_bytes bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_purge' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_guard_set(vault text, guard regrole) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_guard_set' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_request(vault text, operation text, reason text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_request' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_approve(request bigint, valid_for interval DEFAULT '1 hour') RETURNS void
	AS 'MODULE_PATHNAME', 'vault_approve' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_legal_hold(vault text, reason text, item text DEFAULT NULL,
								 points_from timestamptz DEFAULT NULL,
								 points_to timestamptz DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_legal_hold' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_legal_hold_release(hold bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_legal_hold_release' LANGUAGE C VOLATILE;

CREATE VIEW vault_requests AS
SELECT r.request_id AS request, v.name AS vault, r.operation, r.reason,
	   pg_catalog.pg_get_userbyid(r.requested_by)::name AS requested_by, r.requested_at,
	   CASE WHEN r.approved_by IS NOT NULL THEN pg_catalog.pg_get_userbyid(r.approved_by)::name END AS approved_by,
	   r.approved_at, r.valid_until, r.used_at,
	   vault_internal.request_state(r.approved_at, r.valid_until, r.used_at, r.requested_at) AS state
FROM vault_internal.requests r
JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner) OR vault_internal.guards(v.guard);

CREATE VIEW vault_legal_holds AS
SELECT h.hold_id AS hold, v.name AS vault, h.item_name AS item, h.points_from, h.points_to, h.reason,
	   (SELECT count(*) FROM vault_internal.hold_points hp WHERE hp.hold_id = h.hold_id) AS points,
	   pg_catalog.pg_get_userbyid(h.created_by)::name AS created_by, h.created_at,
	   CASE WHEN h.released_by IS NOT NULL THEN pg_catalog.pg_get_userbyid(h.released_by)::name END AS released_by,
	   h.released_at,
	   CASE WHEN h.released_at IS NULL THEN 'active' ELSE 'released' END AS state
FROM vault_internal.holds h
JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);

-- the audit trail of the vaults one can see (rows of no vault, a policy's or a
-- dropped vault's: global levels)
CREATE VIEW vault_audit AS
SELECT a.at, a.role, a.vault_name AS vault, a.item,
	   a.operation, a.detail
FROM vault_internal.audit a
LEFT JOIN vault_internal.vaults v ON v.vault_id = a.vault_id
WHERE vault_internal.can_see(v.vault_id, v.owner);

REVOKE ALL ON FUNCTION vault_internal.request_state(timestamptz, timestamptz, timestamptz, timestamptz),
	vault_internal.guards(oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_internal.request_state(timestamptz, timestamptz, timestamptz, timestamptz),
	vault_internal.guards(oid) TO PUBLIC;
GRANT SELECT ON vault_requests, vault_legal_holds, vault_audit TO PUBLIC;

-- ---------------------------------------------------------------------------
-- customer-managed keys: a vault's data and MAC keys wrapped by the
-- customer's OpenPGP RSA key, whose secret part stays outside the database
-- (vault.key_command fetches it for one operation at a time)
-- ---------------------------------------------------------------------------

-- the registered keys: public part only
CREATE TABLE vault_internal.keys (
	key_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL			-- unique among the local keys (redundancy, below)
		CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$' AND name <> 'platform'),
	public_key		bytea NOT NULL,		-- the dearmored transferable public key
	fingerprint		text NOT NULL CHECK (fingerprint ~ '^[0-9A-F]{40}$'),
	bits			integer NOT NULL CHECK (bits IN (2048, 3072, 4096)),
	enabled			boolean NOT NULL DEFAULT true,
	added_by		name NOT NULL,
	added_at		timestamptz NOT NULL DEFAULT now(),
	-- the last use and failure as the scheduler last persisted them (the live
	-- ones are in shared memory: vault_internal.key_status())
	last_used_at	timestamptz,
	last_error		text,
	last_error_at	timestamptz
);
REVOKE ALL ON vault_internal.keys FROM PUBLIC;

-- which key wraps a vault's keys: none (platform) or a customer key
ALTER TABLE vault_internal.vaults
	ADD COLUMN key_id bigint REFERENCES vault_internal.keys,
	ADD CONSTRAINT vaults_key_source_check CHECK (key_source IN ('platform', 'customer')),
	ADD CONSTRAINT vaults_key_id_check CHECK ((key_source = 'customer') = (key_id IS NOT NULL));

-- live last use and failure of each key in this database (shared memory)
CREATE FUNCTION vault_internal.key_status(OUT name text, OUT used_at timestamptz,
										  OUT error text, OUT error_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_key_status' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION vault_internal.key_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_internal.key_status() TO PUBLIC;

CREATE FUNCTION vault_key_add(name text, public_key text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_key_add' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_key_disable(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_key_disable' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_key_enable(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_key_enable' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_key_rotate(vault text, new_key text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_key_rotate' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_platform_key_rotate() RETURNS void
	AS 'MODULE_PATHNAME', 'vault_platform_key_rotate' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION vault_platform_key_rotate() FROM PUBLIC;

-- the keys: to global levels, and to whoever sees a vault that uses one
CREATE VIEW vault_keys AS
SELECT k.name, k.fingerprint, k.bits, k.enabled,
	   (SELECT count(*) FROM vault_internal.vaults v WHERE v.key_id = k.key_id) AS vaults,
	   k.added_by, k.added_at,
	   greatest(k.last_used_at, s.used_at) AS last_used_at,
	   CASE WHEN coalesce(greatest(k.last_error_at, s.error_at), '-infinity')
				 >= coalesce(greatest(k.last_used_at, s.used_at), '-infinity')
			THEN CASE WHEN s.error_at IS NOT NULL AND s.error_at >= coalesce(k.last_error_at, '-infinity')
					  THEN s.error ELSE k.last_error END
	   END AS last_error
FROM vault_internal.keys k
LEFT JOIN vault_internal.key_status() s ON s.name = k.name
WHERE vault_internal.can_see(NULL, NULL)
   OR EXISTS (SELECT 1 FROM vault_internal.vaults v
			  WHERE v.key_id = k.key_id AND vault_internal.can_see(v.vault_id, v.owner));
GRANT SELECT ON vault_keys TO PUBLIC;

-- ---------------------------------------------------------------------------
-- redundancy: zone vaults (each point applied by a synchronous standby
-- before it commits) and geo vaults (a copy on a secondary cluster)
-- ---------------------------------------------------------------------------

ALTER TABLE vault_internal.vaults
	ADD COLUMN redundancy text NOT NULL DEFAULT 'local' CHECK (redundancy IN ('local', 'zone', 'geo')),
	ADD COLUMN cross_region_restore boolean NOT NULL DEFAULT false;

-- geo vaults.  On the primary, the rows of a geo vault are marked geo when
-- they are written (the vault itself by its redundancy), and two
-- publications carry them: vault_geo (inserts and updates of the catalog
-- rows) and vault_geo_data (inserts of manifests and chunks only), both
-- filtered to geo rows, neither carrying deletes or truncates; they are
-- made by the first vault_configure(redundancy => 'geo').  A row filter
-- on a published update must use replica identity columns only, so the
-- catalog tables' identity is a unique index of their key and the flag.
ALTER TABLE vault_internal.items ADD COLUMN geo boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.points ADD COLUMN geo boolean NOT NULL DEFAULT false,
	-- the WAL position at which the backup finished writing the point (the
	-- primary's status counts the points its secondaries have not confirmed)
	ADD COLUMN end_lsn pg_lsn;
ALTER TABLE vault_internal.point_tables ADD COLUMN geo boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.point_objects ADD COLUMN geo boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.manifests ADD COLUMN geo boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.chunks ADD COLUMN geo boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.keys ADD COLUMN geo boolean NOT NULL DEFAULT false;

CREATE UNIQUE INDEX vaults_geo_identity ON vault_internal.vaults (vault_id, redundancy);
CREATE UNIQUE INDEX items_geo_identity ON vault_internal.items (item_id, geo);
CREATE UNIQUE INDEX points_geo_identity ON vault_internal.points (point_id, geo);
CREATE UNIQUE INDEX point_tables_geo_identity ON vault_internal.point_tables (point_id, ordinal, geo);
CREATE UNIQUE INDEX point_objects_geo_identity ON vault_internal.point_objects (point_id, ordinal, geo);
CREATE UNIQUE INDEX keys_geo_identity ON vault_internal.keys (key_id, geo);
ALTER TABLE vault_internal.vaults REPLICA IDENTITY USING INDEX vaults_geo_identity;
ALTER TABLE vault_internal.items REPLICA IDENTITY USING INDEX items_geo_identity;
ALTER TABLE vault_internal.points REPLICA IDENTITY USING INDEX points_geo_identity;
ALTER TABLE vault_internal.point_tables REPLICA IDENTITY USING INDEX point_tables_geo_identity;
ALTER TABLE vault_internal.point_objects REPLICA IDENTITY USING INDEX point_objects_geo_identity;
ALTER TABLE vault_internal.keys REPLICA IDENTITY USING INDEX keys_geo_identity;

-- On a secondary, what arrived from the primary is marked replica (vaults
-- and keys; a replicated vault's items and points are known by their
-- vault).  Key names and fingerprints are unique among the local keys: the
-- primary's may be the same (the same customer key registered on both).
ALTER TABLE vault_internal.vaults ADD COLUMN replica boolean NOT NULL DEFAULT false;
ALTER TABLE vault_internal.keys ADD COLUMN replica boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX keys_local_name ON vault_internal.keys (name) WHERE NOT replica;
CREATE UNIQUE INDEX keys_local_fingerprint ON vault_internal.keys (fingerprint) WHERE NOT replica;

-- The apply worker of the secondary's subscription runs in replica mode,
-- where only these triggers fire: an arriving row is marked and given the
-- secondary's owner; an update is taken only by the transaction that
-- brought the row (the backup finishing its point) or as a safe merge
-- (a longer expiry, cross-region restore turned on); a delete never.
CREATE FUNCTION vault_internal.replica_apply() RETURNS trigger
	AS 'MODULE_PATHNAME', 'vault_replica_apply' LANGUAGE C;
REVOKE ALL ON FUNCTION vault_internal.replica_apply() FROM PUBLIC;
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['vaults', 'items', 'points', 'point_tables', 'point_objects', 'keys',
							 'manifests', 'chunks']
	LOOP
		EXECUTE format('CREATE TRIGGER replica_apply BEFORE INSERT OR UPDATE OR DELETE ON vault_internal.%I '
					   'FOR EACH ROW EXECUTE FUNCTION vault_internal.replica_apply()', t);
		EXECUTE format('ALTER TABLE vault_internal.%I ENABLE REPLICA TRIGGER replica_apply', t);
	END LOOP;
END
$$;

CREATE FUNCTION vault_secondary_attach(conninfo text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_secondary_attach' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_secondary_detach() RETURNS void
	AS 'MODULE_PATHNAME', 'vault_secondary_detach' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION vault_secondary_attach(text), vault_secondary_detach() FROM PUBLIC;

-- each side's view of its geo vaults' replication, read as the extension
-- owner (the slots, pg_stat_replication's lags and the subscription are
-- not all readable by everyone).  The primary's secondaries are its
-- slots named vault_geo_*; with several, the slowest one counts.
CREATE FUNCTION vault_internal.replication_status(OUT vault_id bigint, OUT role text, OUT state text,
												  OUT last_point bigint, OUT last_point_at timestamptz,
												  OUT lag_bytes numeric, OUT lag_seconds numeric,
												  OUT points_pending bigint)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
WITH slots AS (
	SELECT s.active, s.confirmed_flush_lsn, r.replay_lag
	FROM pg_replication_slots s
	LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
	WHERE s.database = current_database() AND s.slot_name LIKE 'vault\_geo\_%'),
pub AS (
	SELECT count(*) AS slots, bool_or(active) AS active, min(confirmed_flush_lsn) AS confirmed,
		   max(EXTRACT(epoch FROM replay_lag)) AS replay_lag,
		   CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn() END AS now_lsn
	FROM slots),
sub AS (
	SELECT su.subenabled, st.pid, st.last_msg_send_time, st.last_msg_receipt_time
	FROM pg_subscription su
	JOIN pg_database d ON d.oid = su.subdbid AND d.datname = current_database()
	LEFT JOIN pg_stat_subscription st ON st.subid = su.oid AND st.relid IS NULL
	WHERE su.subname = 'vault_geo')
SELECT v.vault_id,
	   CASE WHEN v.replica THEN 'secondary' ELSE 'primary' END,
	   CASE WHEN v.replica THEN
			CASE WHEN NOT EXISTS (SELECT 1 FROM sub) THEN 'detached'
				 WHEN NOT (SELECT subenabled FROM sub) THEN 'disabled'
				 WHEN (SELECT pid FROM sub) IS NULL THEN 'disconnected'
				 ELSE 'streaming' END
			WHEN pub.slots = 0 THEN 'no secondary'
			WHEN pub.active THEN 'streaming'
			ELSE 'disconnected' END,
	   lp.point_id, lp.created_at,
	   CASE WHEN NOT v.replica THEN pg_wal_lsn_diff(pub.now_lsn, pub.confirmed) END,
	   CASE WHEN v.replica THEN
			(SELECT round(EXTRACT(epoch FROM CASE WHEN pid IS NULL THEN now() - last_msg_receipt_time
												  ELSE last_msg_receipt_time - last_msg_send_time END)::numeric, 3)
			 FROM sub)
			WHEN pub.slots > 0 THEN
			round(greatest(coalesce(pub.replay_lag, 0),
						   coalesce(EXTRACT(epoch FROM now() - pend.oldest), 0))::numeric, 3) END,
	   CASE WHEN NOT v.replica AND pub.slots > 0 THEN pend.n END
FROM vault_internal.vaults v
CROSS JOIN pub
LEFT JOIN LATERAL (SELECT p.point_id, p.created_at FROM vault_internal.points p
				   WHERE p.vault_id = v.vault_id ORDER BY p.point_id DESC LIMIT 1) lp ON true
LEFT JOIN LATERAL (SELECT count(*) AS n, min(p.created_at) AS oldest FROM vault_internal.points p
				   WHERE p.vault_id = v.vault_id AND p.end_lsn >= pub.confirmed) pend ON true
WHERE v.redundancy = 'geo'
$$;
REVOKE ALL ON FUNCTION vault_internal.replication_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_internal.replication_status() TO PUBLIC;
CREATE VIEW vault_replication_status AS
SELECT v.name AS vault, s.role, s.state, s.last_point, s.last_point_at, s.lag_bytes, s.lag_seconds,
	   s.points_pending
FROM vault_internal.replication_status() s
JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);
GRANT SELECT ON vault_replication_status TO PUBLIC;

-- vault_vaults gains the protection settings (soft_delete, soft_delete_days,
-- immutability, guard), encryption says platform or customer:<key name>,
-- and the redundancy settings
CREATE OR REPLACE VIEW vault_vaults AS
SELECT v.name AS vault,
	   pg_catalog.pg_get_userbyid(v.owner)::name AS owner,
	   v.created_at,
	   (SELECT count(*) FROM vault_internal.items i WHERE i.vault_id = v.vault_id) AS items,
	   (SELECT count(*) FROM vault_internal.points p WHERE p.vault_id = v.vault_id) AS recovery_points,
	   (SELECT coalesce(sum(p.logical_bytes), 0) FROM vault_internal.points p WHERE p.vault_id = v.vault_id)::bigint AS logical_bytes,
	   ((SELECT coalesce(sum(c.stored_len), 0) FROM vault_internal.chunks c WHERE c.vault_id = v.vault_id)
		+ (SELECT coalesce(sum(pg_catalog.pg_column_size(m.chunk_nos)), 0)
		   FROM vault_internal.manifests m JOIN vault_internal.points p USING (point_id)
		   WHERE p.vault_id = v.vault_id))::bigint AS stored_bytes,
	   (SELECT count(*) FROM vault_internal.chunks c WHERE c.vault_id = v.vault_id) AS chunks,
	   CASE WHEN v.key_id IS NULL THEN 'platform'
			ELSE 'customer:' || (SELECT k.name FROM vault_internal.keys k WHERE k.key_id = v.key_id) END
		 AS encryption,
	   v.soft_delete, v.soft_delete_days, v.immutability,
	   CASE WHEN v.guard IS NOT NULL THEN pg_catalog.pg_get_userbyid(v.guard)::name END AS guard,
	   v.redundancy, v.cross_region_restore, v.replica
FROM vault_internal.vaults v
WHERE vault_internal.can_see(v.vault_id, v.owner);

-- vault_items and vault_recovery_points show the new state (new columns at
-- the end): purge_at; for points also objects (the non-table objects a point
-- holds) and on_hold; and what arrived from a primary (replica)
CREATE OR REPLACE VIEW vault_items AS
SELECT i.item_id, v.name AS vault, i.kind, i.name,
	   (SELECT po.name FROM vault_internal.policies po WHERE po.policy_id = i.policy_id) AS policy,
	   i.state, i.protected_at,
	   (SELECT max(p.created_at) FROM vault_internal.points p WHERE p.item_id = i.item_id) AS last_backup_at,
	   (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id) AS recovery_points,
	   i.next_run_at,
	   i.purge_at,
	   v.replica
FROM vault_internal.items i
JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);

CREATE OR REPLACE VIEW vault_recovery_points AS
SELECT p.point_id AS recovery_point, v.name AS vault, i.name AS item, i.kind,
	   p.trigger, p.created_at,
	   CASE WHEN p.trigger = 'scheduled' AND p.retain_until IS NOT NULL
			THEN greatest(p.expires_at, p.retain_until)
			WHEN p.trigger = 'scheduled' THEN p.expires_at
			ELSE p.retain_until END AS expires_at,
	   p.state, p.scheduled_for,
	   p.tables, p.rows, p.logical_bytes, p.new_bytes, p.chunks, p.new_chunks,
	   pg_catalog.pg_get_userbyid(p.created_by)::name AS created_by,
	   (SELECT count(*) FROM vault_internal.point_tables t
		WHERE t.point_id = p.point_id AND t.unchanged_since IS NOT NULL) AS unchanged_tables,
	   p.objects,
	   p.purge_at,
	   EXISTS (SELECT 1 FROM vault_internal.hold_points hp JOIN vault_internal.holds h USING (hold_id)
			   WHERE hp.point_id = p.point_id AND h.released_at IS NULL) AS on_hold,
	   v.replica
FROM vault_internal.points p
JOIN vault_internal.items i USING (item_id)
JOIN vault_internal.vaults v ON v.vault_id = p.vault_id
WHERE vault_internal.can_see(v.vault_id, v.owner);

-- ---------------------------------------------------------------------------
-- monitoring: live progress of the running operations, cluster-wide
-- ---------------------------------------------------------------------------

-- the board in shared memory: the operations the caller may see (its
-- vaults in this database; other databases' to pg_read_all_stats)
CREATE FUNCTION vault_internal.progress(OUT pid integer, OUT database text, OUT vault_id bigint,
										OUT vault text, OUT item text, OUT operation text, OUT phase text,
										OUT tables_done integer, OUT tables_total integer,
										OUT bytes_done bigint, OUT bytes_total bigint,
										OUT chunks_new bigint, OUT chunks_reused bigint,
										OUT started_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_progress_rows' LANGUAGE C VOLATILE;
GRANT EXECUTE ON FUNCTION vault_internal.progress() TO PUBLIC;

-- rate in bytes per second since the operation began; eta from the bytes
-- still to go (a backup's total is an estimate: its item's last point, or
-- the tables' heap size)
CREATE VIEW vault_progress AS
SELECT p.pid, p.database, p.vault, p.item, p.operation, p.phase,
	   p.tables_done, p.tables_total, p.bytes_done, p.bytes_total,
	   p.chunks_new, p.chunks_reused,
	   CASE WHEN el.seconds > 0 THEN round(p.bytes_done / el.seconds) END AS rate,
	   CASE WHEN el.seconds > 0 AND p.bytes_done > 0 AND p.bytes_total IS NOT NULL
			THEN pg_catalog.make_interval(secs => round(greatest(p.bytes_total - p.bytes_done, 0)
															 / (p.bytes_done / el.seconds), 1)::double precision)
	   END AS eta
FROM vault_internal.progress() p
CROSS JOIN LATERAL (SELECT EXTRACT(epoch FROM pg_catalog.clock_timestamp() - p.started_at) AS seconds) el;
GRANT SELECT ON vault_progress TO PUBLIC;

-- ---------------------------------------------------------------------------
-- monitoring: alerts
-- ---------------------------------------------------------------------------

-- per vault: job alerts (backup and restore failures) on or off; security
-- alerts are always on
ALTER TABLE vault_internal.vaults ADD COLUMN job_alerts boolean NOT NULL DEFAULT true;

CREATE TABLE vault_internal.alerts (
	alert_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	raised_at		timestamptz NOT NULL,
	severity		text NOT NULL CHECK (severity IN ('critical', 'error')),
	category		text NOT NULL CHECK (category IN ('security', 'job')),
	vault_id		bigint,				-- no foreign keys: alerts outlive what they name
	vault_name		text,
	item			text,
	kind			text NOT NULL CHECK (kind IN ('backup failure', 'restore failure',
						'backup data deleted', 'upcoming purge', 'purge complete',
						'soft delete disabled', 'retention shortened', 'guard removed',
						'key inaccessible')),
	message			text NOT NULL,
	occurrences		integer NOT NULL DEFAULT 1,
	last_raised_at	timestamptz NOT NULL,
	state			text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'acknowledged', 'resolved')),
	acknowledged_by	name,
	acknowledged_at	timestamptz,
	resolved_at		timestamptz,
	-- vault.alert_command: handed over once (started, then done or failed)
	send_started_at	timestamptz,
	sent_at			timestamptz,
	send_attempts	integer NOT NULL DEFAULT 0,
	send_next_at	timestamptz,
	send_error		text
);
-- a failure, or a coming purge, has one open alert per item that counts repeats
CREATE UNIQUE INDEX alerts_one_open ON vault_internal.alerts (vault_id, (coalesce(item, '')), kind)
	WHERE state <> 'resolved' AND kind IN ('backup failure', 'restore failure', 'upcoming purge');
CREATE INDEX alerts_unsent ON vault_internal.alerts (raised_at) WHERE sent_at IS NULL;
REVOKE ALL ON vault_internal.alerts FROM PUBLIC;

-- raise an alert (or count one more occurrence of an open failure), and
-- tell the listeners of channel vault_alerts; NULL when the vault has job
-- alerts off
CREATE FUNCTION vault_internal.alert_raise(p_vault_id bigint, p_item text, p_kind text,
										   p_message text, p_at timestamptz) RETURNS bigint
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_name text;
	v_job_alerts boolean;
	v_category text := CASE WHEN p_kind IN ('backup failure', 'restore failure') THEN 'job' ELSE 'security' END;
	v_severity text;
	v_id bigint;
	v_fresh boolean;
BEGIN
	v_severity := CASE v_category WHEN 'job' THEN 'error' ELSE 'critical' END;
	SELECT name, job_alerts INTO v_name, v_job_alerts FROM vault_internal.vaults WHERE vault_id = p_vault_id;
	IF v_category = 'job' AND NOT coalesce(v_job_alerts, true) THEN
		RETURN NULL;
	END IF;
	IF p_kind IN ('backup failure', 'restore failure') THEN
		INSERT INTO vault_internal.alerts AS a (raised_at, severity, category, vault_id, vault_name, item, kind,
												message, last_raised_at)
		VALUES (p_at, v_severity, v_category, p_vault_id, v_name, p_item, p_kind, p_message, p_at)
		ON CONFLICT (vault_id, (coalesce(item, '')), kind)
			WHERE state <> 'resolved' AND kind IN ('backup failure', 'restore failure', 'upcoming purge')
		DO UPDATE SET occurrences = a.occurrences + 1, last_raised_at = EXCLUDED.last_raised_at,
					  message = EXCLUDED.message
		RETURNING alert_id, xmax = 0 INTO v_id, v_fresh;
	ELSIF p_kind = 'upcoming purge' THEN
		INSERT INTO vault_internal.alerts (raised_at, severity, category, vault_id, vault_name, item, kind,
										   message, last_raised_at)
		VALUES (p_at, v_severity, v_category, p_vault_id, v_name, p_item, p_kind, p_message, p_at)
		ON CONFLICT (vault_id, (coalesce(item, '')), kind)
			WHERE state <> 'resolved' AND kind IN ('backup failure', 'restore failure', 'upcoming purge')
		DO NOTHING
		RETURNING alert_id, true INTO v_id, v_fresh;
	ELSE
		INSERT INTO vault_internal.alerts (raised_at, severity, category, vault_id, vault_name, item, kind,
										   message, last_raised_at)
		VALUES (p_at, v_severity, v_category, p_vault_id, v_name, p_item, p_kind, p_message, p_at)
		RETURNING alert_id, true INTO v_id, v_fresh;
	END IF;
	IF coalesce(v_fresh, false) THEN
		PERFORM pg_notify('vault_alerts', vault_internal.alert_json(v_id));
	END IF;
	RETURN v_id;
END
$$;

-- an alert as NOTIFY and vault.alert_command carry it
CREATE FUNCTION vault_internal.alert_json(p_alert bigint) RETURNS text
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT json_build_object('alert', a.alert_id, 'raised_at', a.raised_at, 'severity', a.severity,
						 'category', a.category, 'vault', a.vault_name, 'item', a.item,
						 'kind', a.kind, 'message', a.message)::text
FROM vault_internal.alerts a WHERE a.alert_id = p_alert
$$;

-- what ended a failure (a success), or a coming purge (the purge)
CREATE FUNCTION vault_internal.alert_resolve(p_vault_id bigint, p_item text, p_kind text,
											 p_at timestamptz) RETURNS void
	LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
UPDATE vault_internal.alerts SET state = 'resolved', resolved_at = p_at
WHERE vault_id = p_vault_id AND coalesce(item, '') = coalesce(p_item, '') AND kind = p_kind
  AND state <> 'resolved'
$$;
REVOKE ALL ON FUNCTION vault_internal.alert_raise(bigint, text, text, text, timestamptz),
	vault_internal.alert_json(bigint), vault_internal.alert_resolve(bigint, text, text, timestamptz)
	FROM PUBLIC;

CREATE FUNCTION vault_alert_ack(alert bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_alert_ack' LANGUAGE C VOLATILE;

CREATE VIEW vault_alerts AS
SELECT a.alert_id AS alert, a.raised_at, a.severity, a.category, a.vault_name AS vault, a.item, a.kind,
	   a.message, a.occurrences, a.state, a.resolved_at
FROM vault_internal.alerts a
LEFT JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);
GRANT SELECT ON vault_alerts TO PUBLIC;
