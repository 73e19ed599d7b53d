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
-- cross_region_restore to redundancy, job_alerts to monitoring, compression
-- to the codec (below)
CREATE FUNCTION vault_configure(vault text,
								soft_delete text DEFAULT NULL,
								soft_delete_days integer DEFAULT NULL,
								immutability text DEFAULT NULL,
								encryption_key text DEFAULT NULL,
								redundancy text DEFAULT NULL,
								cross_region_restore boolean DEFAULT NULL,
								job_alerts boolean DEFAULT NULL,
								compression text DEFAULT NULL) RETURNS void
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
-- the compression of the chunks a vault stores from now on: lz4, zstd (level
-- 3) or zstd:<1..19>; each sealed chunk says its own codec, so a point
-- mixes them freely
ALTER TABLE vault_internal.vaults ADD COLUMN compression text NOT NULL DEFAULT 'lz4'
	CHECK (compression ~ '^(lz4|zstd|zstd:([1-9]|1[0-9]))$');

-- delta chunks: a new chunk may be stored as a zstd patch against the chunk
-- that held the same stretch of the table in its previous point (its base,
-- always a whole chunk: chains are one step long).  The foreign key makes
-- the database itself refuse to remove a base a kept delta needs.
-- cut_hash: the chunker's rolling hash (keyed per vault) where the chunk
-- ends; the next backup of the table cuts where this one did by it, so a
-- chunk with a changed row is a patch against exactly the chunk it replaces.
ALTER TABLE vault_internal.chunks
	ADD COLUMN base_no bigint REFERENCES vault_internal.chunks (chunk_no),
	ADD COLUMN cut_hash bigint,
	ADD CHECK (base_no <> chunk_no);
CREATE INDEX chunks_base ON vault_internal.chunks (base_no) WHERE base_no IS NOT NULL;
ALTER TABLE vault_internal.points ADD COLUMN delta_chunks bigint NOT NULL DEFAULT 0;
-- the parallel pipeline: how many workers read the point's tables (0: the
-- calling backend alone)
ALTER TABLE vault_internal.points ADD COLUMN parallel_workers integer NOT NULL DEFAULT 0;

-- scale: the figures vault_vaults shows (and vault_metrics with it) are kept
-- as they change, in a ledger of changes per vault, so that reading them
-- costs the same at millions of chunks as at a thousand: a backup adds a row
-- as it finishes its point (the chunks it stored and their bytes, its
-- manifests' bytes, the point and its logical bytes), a chunk collection one
-- for what it removed, the trigger below one for each statement that
-- deletes points; a vault's rows are folded into one while it is locked
-- exclusively (retention, collection).  vault_check(vault) recounts.  A
-- point's manifest bytes (24 + 8 a chunk reference per segment, as new_bytes
-- counts them) are kept on the point for the deletes.  A replicated vault
-- (a geo vault's secondary) takes its points from its primary, not from
-- backups: its figures are counted.
ALTER TABLE vault_internal.points ADD COLUMN manifest_bytes bigint NOT NULL DEFAULT 0;
UPDATE vault_internal.points p
   SET manifest_bytes = (SELECT coalesce(sum(24 + 8 * cardinality(m.chunk_nos)), 0)
						 FROM vault_internal.manifests m WHERE m.point_id = p.point_id);
CREATE TABLE vault_internal.vault_usage (
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults ON DELETE CASCADE,
	chunks			bigint NOT NULL DEFAULT 0,
	chunk_bytes		bigint NOT NULL DEFAULT 0,
	manifest_bytes	bigint NOT NULL DEFAULT 0,
	points			bigint NOT NULL DEFAULT 0,
	logical_bytes	bigint NOT NULL DEFAULT 0
);
CREATE INDEX vault_usage_vault ON vault_internal.vault_usage (vault_id);
INSERT INTO vault_internal.vault_usage (vault_id, chunks, chunk_bytes, manifest_bytes, points, logical_bytes)
SELECT v.vault_id,
	   (SELECT count(*) FROM vault_internal.chunks c WHERE c.vault_id = v.vault_id),
	   (SELECT coalesce(sum(c.stored_len), 0) FROM vault_internal.chunks c WHERE c.vault_id = v.vault_id),
	   (SELECT coalesce(sum(p.manifest_bytes), 0) FROM vault_internal.points p WHERE p.vault_id = v.vault_id),
	   (SELECT count(*) FROM vault_internal.points p WHERE p.vault_id = v.vault_id),
	   (SELECT coalesce(sum(p.logical_bytes), 0) FROM vault_internal.points p WHERE p.vault_id = v.vault_id)
FROM vault_internal.vaults v;

CREATE FUNCTION vault_internal.usage_points_gone() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO vault_internal.vault_usage (vault_id, manifest_bytes, points, logical_bytes)
	SELECT g.vault_id, -sum(g.manifest_bytes), -count(*), -sum(g.logical_bytes)
	FROM gone g GROUP BY g.vault_id;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION vault_internal.usage_points_gone() FROM PUBLIC;
CREATE TRIGGER usage_points_gone AFTER DELETE ON vault_internal.points
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION vault_internal.usage_points_gone();

-- each item's point count, kept the same way (vault_items, vault_metrics):
-- a row for each point added (a row trigger: a backup inserts its point with
-- RETURNING and takes one row, so its statement never reaches an AFTER
-- STATEMENT trigger) and for each statement that deletes points of the
-- item, folded with the vault's ledger.  An item's rows go with it.
CREATE TABLE vault_internal.item_usage (
	item_id			bigint NOT NULL REFERENCES vault_internal.items ON DELETE CASCADE,
	points			bigint NOT NULL
);
CREATE INDEX item_usage_item ON vault_internal.item_usage (item_id);
INSERT INTO vault_internal.item_usage (item_id, points)
SELECT item_id, count(*) FROM vault_internal.points GROUP BY item_id;

CREATE FUNCTION vault_internal.item_usage_points() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO vault_internal.item_usage (item_id, points) VALUES (NEW.item_id, 1);
	ELSE
		-- (an item deleted with its points takes its rows with it)
		INSERT INTO vault_internal.item_usage (item_id, points)
		SELECT g.item_id, -count(*) FROM gone g
		WHERE EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.item_id = g.item_id)
		GROUP BY g.item_id;
	END IF;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION vault_internal.item_usage_points() FROM PUBLIC;
CREATE TRIGGER item_usage_added AFTER INSERT ON vault_internal.points
	FOR EACH ROW EXECUTE FUNCTION vault_internal.item_usage_points();
CREATE TRIGGER item_usage_gone AFTER DELETE ON vault_internal.points
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION vault_internal.item_usage_points();


-- a replicated vault's figures, counted (it has no ledger); NULL for a vault
-- the caller holds no level on
CREATE FUNCTION vault_internal.counted_figures(vault_id bigint) RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'vault_counted_figures' LANGUAGE C STABLE STRICT COST 100;
GRANT EXECUTE ON FUNCTION vault_internal.counted_figures(bigint) TO PUBLIC;

CREATE OR REPLACE VIEW vault_vaults AS
SELECT v.name AS vault,
	   pg_catalog.pg_get_userbyid(v.owner)::name AS owner,
	   v.created_at,
	   (SELECT count(*) FROM vault_internal.items i WHERE i.vault_id = v.vault_id) AS items,
	   CASE WHEN v.replica THEN rc.f[1]
			ELSE (SELECT coalesce(sum(u.points), 0) FROM vault_internal.vault_usage u WHERE u.vault_id = v.vault_id)::bigint
	   END AS recovery_points,
	   CASE WHEN v.replica THEN rc.f[2]
			ELSE (SELECT coalesce(sum(u.logical_bytes), 0) FROM vault_internal.vault_usage u WHERE u.vault_id = v.vault_id)::bigint
	   END AS logical_bytes,
	   CASE WHEN v.replica THEN rc.f[3]
			ELSE (SELECT coalesce(sum(u.chunk_bytes + u.manifest_bytes), 0) FROM vault_internal.vault_usage u
				  WHERE u.vault_id = v.vault_id)::bigint
	   END AS stored_bytes,
	   CASE WHEN v.replica THEN rc.f[4]
			ELSE (SELECT coalesce(sum(u.chunks), 0) FROM vault_internal.vault_usage u WHERE u.vault_id = v.vault_id)::bigint
	   END AS chunks,
	   CASE WHEN v.key_id IS NULL THEN 'platform'
			ELSE 'customer:' || (SELECT k.name FROM vault_internal.keys k WHERE k.key_id = v.key_id) END
		 AS encryption,
	   v.soft_delete, v.soft_delete_days, v.immutability,
	   CASE WHEN v.guard IS NOT NULL THEN pg_catalog.pg_get_userbyid(v.guard)::name END AS guard,
	   v.redundancy, v.cross_region_restore, v.replica, v.compression
FROM vault_internal.vaults v
-- OFFSET 0 keeps the subquery from being flattened, which would call the
-- count for every vault; as it is, the count runs for replicated vaults only
LEFT JOIN LATERAL (SELECT vault_internal.counted_figures(v.vault_id) AS f WHERE v.replica OFFSET 0) rc ON true
WHERE vault_internal.can_see(v.vault_id, v.owner);

-- vault_items and vault_recovery_points show the new state (new columns at
-- the end): purge_at; for points also objects (the non-table objects a point
-- holds) and on_hold; and what arrived from a primary (replica)
CREATE OR REPLACE VIEW vault_items AS
SELECT i.item_id, v.name AS vault, i.kind, i.name,
	   (SELECT po.name FROM vault_internal.policies po WHERE po.policy_id = i.policy_id) AS policy,
	   i.state, i.protected_at,
	   (SELECT max(p.created_at) FROM vault_internal.points p WHERE p.item_id = i.item_id) AS last_backup_at,
	   -- kept (item_usage), or counted for a replicated vault's item: its
	   -- points come by replication, which fires no trigger
	   CASE WHEN v.replica
			THEN (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id)
			ELSE (SELECT coalesce(sum(u.points), 0) FROM vault_internal.item_usage u
				  WHERE u.item_id = i.item_id)::bigint END AS recovery_points,
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
	   v.replica,
	   p.delta_chunks,
	   p.parallel_workers
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

-- ---------------------------------------------------------------------------
-- monitoring: health of each item
-- ---------------------------------------------------------------------------

-- a failed job keeps the SQLSTATE of its error: health tells user errors
-- from vault-side ones by it
ALTER TABLE vault_internal.jobs ADD COLUMN sqlstate text;

-- kept at every backup's end (src/monitor/health.c), so that it outlives
-- the trimmed job history; an item's row goes with the item
CREATE TABLE vault_internal.item_health (
	item_id			bigint PRIMARY KEY REFERENCES vault_internal.items ON DELETE CASCADE,
	last_success	timestamptz,
	last_failure	timestamptz,
	last_error		text,
	last_sqlstate	text,
	failures_in_row	integer NOT NULL DEFAULT 0
);
REVOKE ALL ON vault_internal.item_health FROM PUBLIC;

-- the items' backups before the update, as they would have been recorded
INSERT INTO vault_internal.item_health (item_id, last_success, last_failure, last_error, failures_in_row)
SELECT i.item_id, s.last_success, f.ended_at, f.error,
	   (SELECT count(*) FROM vault_internal.jobs j
		WHERE j.item_id = i.item_id AND j.operation = 'backup' AND j.state = 'failed'
		  AND j.ended_at > coalesce(s.last_success, '-infinity'))
FROM vault_internal.items i
CROSS JOIN LATERAL (SELECT max(j.ended_at) AS last_success FROM vault_internal.jobs j
					WHERE j.item_id = i.item_id AND j.operation = 'backup' AND j.state = 'completed') s
LEFT JOIN LATERAL (SELECT j.ended_at, j.error FROM vault_internal.jobs j
				   WHERE j.item_id = i.item_id AND j.operation = 'backup' AND j.state = 'failed'
				   ORDER BY j.ended_at DESC LIMIT 1) f ON true
WHERE s.last_success IS NOT NULL OR f.ended_at IS NOT NULL;

-- a backup's end: a success clears the run of failures; a failure older
-- than the last success (one recorded late, from a rolled-back caller)
-- is history, not a new failure in a row
CREATE FUNCTION vault_internal.health_record(p_item_id bigint, p_at timestamptz, p_error text,
											 p_sqlstate text) RETURNS void
	LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
INSERT INTO vault_internal.item_health AS h (item_id, last_success, last_failure, last_error,
											 last_sqlstate, failures_in_row)
SELECT p_item_id, CASE WHEN p_error IS NULL THEN p_at END, CASE WHEN p_error IS NOT NULL THEN p_at END,
	   p_error, p_sqlstate, CASE WHEN p_error IS NULL THEN 0 ELSE 1 END
WHERE EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.item_id = p_item_id)
ON CONFLICT (item_id) DO UPDATE SET
	last_success = CASE WHEN p_error IS NULL THEN greatest(h.last_success, p_at) ELSE h.last_success END,
	last_failure = CASE WHEN p_error IS NOT NULL THEN greatest(h.last_failure, p_at) ELSE h.last_failure END,
	last_error = CASE WHEN p_error IS NOT NULL AND p_at >= coalesce(h.last_failure, '-infinity')
					  THEN p_error ELSE h.last_error END,
	last_sqlstate = CASE WHEN p_error IS NOT NULL AND p_at >= coalesce(h.last_failure, '-infinity')
						 THEN p_sqlstate ELSE h.last_sqlstate END,
	failures_in_row = CASE WHEN p_error IS NULL THEN 0
						   WHEN p_at > coalesce(h.last_success, '-infinity') THEN h.failures_in_row + 1
						   ELSE h.failures_in_row END
$$;

-- user errors (the protected object or the rights on it: a table dropped,
-- a privilege revoked, a role gone) degrade an item; anything else (storage,
-- keys, standby, internal) makes it unhealthy
CREATE FUNCTION vault_internal.error_class(p_sqlstate text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN left(p_sqlstate, 2) IN ('42', '3F', '3D', '0L', '0P', '28', '0A', '2B', '44')
			THEN 'degraded' ELSE 'unhealthy' END
$$;

-- the item's recovery point objective: its last success (or its
-- protection) plus the policy's interval and a half, the interval being
-- the gap between the two scheduled runs that follow
CREATE FUNCTION vault_internal.rpo_deadline(p_schedule text, p_timezone text, p_since timestamptz)
	RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
SELECT p_since + (n2 - n1) * 1.5
FROM (SELECT @extschema@.vault_next_run(p_schedule::@extschema@.vault_schedule, p_since, p_timezone) AS n1) a
CROSS JOIN LATERAL (SELECT @extschema@.vault_next_run(p_schedule::@extschema@.vault_schedule, a.n1,
													  p_timezone) AS n2) b
$$;

REVOKE ALL ON FUNCTION vault_internal.health_record(bigint, timestamptz, text, text) FROM PUBLIC;

CREATE VIEW vault_health AS
SELECT v.name AS vault, i.name AS item,
	   CASE WHEN coalesce(h.failures_in_row, 0) = 0 THEN 'healthy'
			ELSE CASE WHEN h.failures_in_row >= 3 THEN 'persistent ' ELSE 'transient ' END
				 || vault_internal.error_class(h.last_sqlstate) END AS health,
	   h.last_success, h.last_failure, h.last_error,
	   CASE WHEN i.state = 'protected' AND NOT v.replica
			THEN pg_catalog.now() > vault_internal.rpo_deadline(po.schedule, po.timezone,
																greatest(h.last_success, i.protected_at))
	   END AS rpo_breached
FROM vault_internal.items i
JOIN vault_internal.vaults v USING (vault_id)
LEFT JOIN vault_internal.item_health h USING (item_id)
LEFT JOIN vault_internal.policies po ON po.policy_id = i.policy_id
WHERE i.state <> 'soft-deleted' AND vault_internal.can_see(v.vault_id, v.owner);
GRANT SELECT ON vault_health TO PUBLIC;

-- a failed on-demand backup or restore, whose caller's transaction rolled
-- back: kept in shared memory and recorded here by the scheduler (src/
-- monitor/failures.c) as a failed job, the item's health and an alert
CREATE FUNCTION vault_internal.failure_record(p_vault_id bigint, p_item text, p_operation text,
											  p_run_as oid, p_started_at timestamptz, p_at timestamptz,
											  p_error text, p_sqlstate text) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_vault text;
	v_item_id bigint;
BEGIN
	SELECT name INTO v_vault FROM vault_internal.vaults WHERE vault_id = p_vault_id;
	IF NOT FOUND THEN
		RETURN;					-- the vault rolled back with the failure
	END IF;
	SELECT item_id INTO v_item_id FROM vault_internal.items
	WHERE vault_id = p_vault_id AND name = p_item AND state <> 'soft-deleted';
	INSERT INTO vault_internal.jobs (vault_id, vault_name, item_id, item_name, operation, trigger, state,
									 run_as, started_at, ended_at, error, sqlstate)
	VALUES (p_vault_id, v_vault, v_item_id, p_item, p_operation, 'on-demand', 'failed',
			p_run_as, p_started_at, p_at, p_error, p_sqlstate);
	IF p_operation = 'backup' AND v_item_id IS NOT NULL THEN
		PERFORM vault_internal.health_record(v_item_id, p_at, p_error, p_sqlstate);
	END IF;
	PERFORM vault_internal.alert_raise(p_vault_id, p_item, p_operation || ' failure', p_error, p_at);
END
$$;
REVOKE ALL ON FUNCTION vault_internal.failure_record(bigint, text, text, oid, timestamptz, timestamptz,
													 text, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- monitoring: each item's share of the stored chunks, kept
-- ---------------------------------------------------------------------------

-- An item's stored bytes in the daily reports are the chunks its points use,
-- a chunk several items use split evenly between them (the odd bytes to the
-- lowest item ids).  Kept, not recounted from every manifest at each refresh:
-- share_refs holds, for each chunk an item uses, how many of the item's
-- points use it (in their manifests, or as the base of a delta they use),
-- item_shares each item's bytes.  share_sync() brings both up to date: the
-- points added since its last run (share_points lists the points counted),
-- and the points deleted (the chunks of their manifests, recorded in the
-- deleting transaction by a trigger in share_gone); then it moves the bytes
-- of every chunk that gained or lost an item between that chunk's items.
-- Its cost follows what changed, not what the vaults hold; it runs after
-- each chunk collection (which the same deletions fed; passed over while
-- another run holds the lock, so that a deletion never waits for a report
-- refresh), at each report refresh and before vault_check recounts.  A
-- replicated vault's
-- points arrive without triggers: its items are counted at each refresh.
CREATE TABLE vault_internal.share_points (
	point_id		bigint PRIMARY KEY,
	item_id			bigint NOT NULL
);
CREATE TABLE vault_internal.share_refs (
	chunk_no		bigint NOT NULL,
	item_id			bigint NOT NULL,
	points			integer NOT NULL,
	stored_len		integer NOT NULL,	-- the chunk's, kept past its collection
	PRIMARY KEY (chunk_no, item_id)
);
CREATE TABLE vault_internal.share_gone (
	point_id		bigint NOT NULL,
	chunk_no		bigint NOT NULL
);
CREATE TABLE vault_internal.item_shares (
	item_id			bigint PRIMARY KEY,
	bytes			bigint NOT NULL
);
REVOKE ALL ON vault_internal.share_points, vault_internal.share_refs, vault_internal.share_gone,
	vault_internal.item_shares FROM PUBLIC;

-- the chunks of a point's manifests as they go, every point's (one that
-- share_sync has not counted yet is passed over there: recording only the
-- counted ones here would miss a point counted by a run this transaction
-- cannot see yet); a point's tables go one statement each, so share_sync
-- counts each chunk once a point
CREATE FUNCTION vault_internal.share_manifests_gone() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO vault_internal.share_gone (point_id, chunk_no)
	WITH direct AS (
		SELECT DISTINCT g.point_id, x.chunk_no
		FROM gone g CROSS JOIN LATERAL unnest(g.chunk_nos) AS x(chunk_no))
	SELECT point_id, chunk_no FROM direct
	UNION
	SELECT d.point_id, c.base_no FROM direct d JOIN vault_internal.chunks c USING (chunk_no)
	WHERE c.base_no IS NOT NULL;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION vault_internal.share_manifests_gone() FROM PUBLIC;
CREATE TRIGGER share_manifests_gone AFTER DELETE ON vault_internal.manifests
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION vault_internal.share_manifests_gone();

-- p_wait false (a chunk collection, holding its vault): no run when
-- another one holds the lock, which then consumes what is there
CREATE FUNCTION vault_internal.share_sync(p_wait boolean DEFAULT true) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
AS $$
DECLARE
	v_counted bigint;
	v_new bigint;
BEGIN
	-- one run at a time: each consumes what it counts (deleting transactions
	-- only read share_points, which this mode lets them)
	IF p_wait THEN
		LOCK TABLE vault_internal.share_points IN EXCLUSIVE MODE;
	ELSE
		BEGIN
			LOCK TABLE vault_internal.share_points IN EXCLUSIVE MODE NOWAIT;
		EXCEPTION WHEN lock_not_available THEN
			RETURN;
		END;
	END IF;
	SELECT count(*) INTO v_counted FROM vault_internal.share_points;
	SELECT count(*) INTO v_new FROM vault_internal.points p
	WHERE NOT EXISTS (SELECT 1 FROM vault_internal.share_points sp WHERE sp.point_id = p.point_id)
	  AND NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = p.vault_id AND v.replica);
	IF v_new > 0 AND v_new >= v_counted THEN
		-- more points to count than counted (the first run after the update
		-- to 1.1, a vault grown many-fold): every point counted afresh,
		-- set-wise, which costs less than counting so many in one by one
		-- (16 s against 58-70 s for a whole vault of 2 million chunks)
		DELETE FROM vault_internal.share_points;
		DELETE FROM vault_internal.share_refs;
		DELETE FROM vault_internal.item_shares;
		WITH gone AS (
			DELETE FROM vault_internal.share_gone		-- points never counted
		), counted AS (
			INSERT INTO vault_internal.share_points (point_id, item_id)
			SELECT p.point_id, p.item_id FROM vault_internal.points p
			WHERE NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = p.vault_id AND v.replica)
		), direct AS (
			SELECT DISTINCT p.point_id, p.item_id, x.chunk_no
			FROM vault_internal.points p JOIN vault_internal.manifests m USING (point_id)
			CROSS JOIN LATERAL unnest(m.chunk_nos) AS x(chunk_no)
			WHERE NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = p.vault_id AND v.replica)
		), added AS (
			SELECT point_id, item_id, chunk_no FROM direct
			UNION
			SELECT d.point_id, d.item_id, c.base_no FROM direct d JOIN vault_internal.chunks c USING (chunk_no)
			WHERE c.base_no IS NOT NULL
		), refs AS (
			INSERT INTO vault_internal.share_refs (chunk_no, item_id, points, stored_len)
			SELECT a.chunk_no, a.item_id, count(*), c.stored_len
			FROM added a JOIN vault_internal.chunks c USING (chunk_no)
			GROUP BY a.chunk_no, a.item_id, c.stored_len
			RETURNING chunk_no, item_id, stored_len
		)
		INSERT INTO vault_internal.item_shares (item_id, bytes)
		SELECT s.item_id, sum(s.stored_len / s.n + CASE WHEN s.k <= s.stored_len % s.n THEN 1 ELSE 0 END)
		FROM (SELECT item_id, stored_len, count(*) OVER (PARTITION BY chunk_no) AS n,
					 row_number() OVER (PARTITION BY chunk_no ORDER BY item_id) AS k
			  FROM refs) s
		GROUP BY s.item_id;
		RETURN;
	END IF;
	-- one statement, so one snapshot: the points added and the chunks of
	-- the points deleted are counted once, whatever commits meanwhile
	WITH gone AS (
		DELETE FROM vault_internal.share_gone RETURNING point_id, chunk_no
	), gone_points AS (
		DELETE FROM vault_internal.share_points sp
		WHERE NOT EXISTS (SELECT 1 FROM vault_internal.points p WHERE p.point_id = sp.point_id)
		RETURNING sp.point_id
	), new_points AS (
		INSERT INTO vault_internal.share_points (point_id, item_id)
		SELECT p.point_id, p.item_id FROM vault_internal.points p
		WHERE NOT EXISTS (SELECT 1 FROM vault_internal.share_points sp WHERE sp.point_id = p.point_id)
		  AND NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = p.vault_id AND v.replica)
		RETURNING point_id, item_id
	), direct AS (
		SELECT DISTINCT np.point_id, np.item_id, x.chunk_no
		FROM new_points np JOIN vault_internal.manifests m USING (point_id)
		CROSS JOIN LATERAL unnest(m.chunk_nos) AS x(chunk_no)
	), added AS (
		SELECT point_id, item_id, chunk_no FROM direct
		UNION
		SELECT d.point_id, d.item_id, c.base_no FROM direct d JOIN vault_internal.chunks c USING (chunk_no)
		WHERE c.base_no IS NOT NULL
	), removed AS (
		-- (share_points as it was: the deleted points' rows are still seen)
		SELECT DISTINCT g.point_id, sp.item_id, g.chunk_no
		FROM gone g JOIN vault_internal.share_points sp USING (point_id)
	), delta AS (
		SELECT x.chunk_no, x.item_id, sum(x.d)::integer AS d
		FROM (SELECT chunk_no, item_id, 1 AS d FROM added
			  UNION ALL
			  SELECT chunk_no, item_id, -1 FROM removed) x
		GROUP BY 1, 2 HAVING sum(x.d) <> 0
	), touched AS (
		SELECT d.chunk_no, d.item_id, d.d, r.points AS before,
			   d.d > 0 AND r.points IS NULL AS joins, r.points + d.d <= 0 AS leaves
		FROM delta d LEFT JOIN vault_internal.share_refs r USING (chunk_no, item_id)
	), changed AS (
		-- the chunks that gained or lost an item, and their lengths
		SELECT t.chunk_no,
			   coalesce((SELECT r.stored_len FROM vault_internal.share_refs r
						 WHERE r.chunk_no = t.chunk_no LIMIT 1),
						(SELECT c.stored_len FROM vault_internal.chunks c WHERE c.chunk_no = t.chunk_no),
						0) AS len
		FROM (SELECT DISTINCT chunk_no FROM touched WHERE joins OR leaves) t
	), sharers AS (
		-- their items before (-1) and after (+1)
		SELECT r.chunk_no, r.item_id, -1 AS side FROM vault_internal.share_refs r JOIN changed USING (chunk_no)
		UNION ALL
		SELECT r.chunk_no, r.item_id, 1 FROM vault_internal.share_refs r JOIN changed USING (chunk_no)
		WHERE NOT EXISTS (SELECT 1 FROM touched t
						  WHERE t.chunk_no = r.chunk_no AND t.item_id = r.item_id AND t.leaves)
		UNION ALL
		SELECT t.chunk_no, t.item_id, 1 FROM touched t WHERE t.joins
	), moved AS (
		SELECT s.item_id,
			   sum(s.side * (c.len / s.n + CASE WHEN s.k <= c.len % s.n THEN 1 ELSE 0 END)) AS bytes
		FROM (SELECT chunk_no, item_id, side,
					 count(*) OVER (PARTITION BY chunk_no, side) AS n,
					 row_number() OVER (PARTITION BY chunk_no, side ORDER BY item_id) AS k
			  FROM sharers) s
		JOIN changed c USING (chunk_no)
		GROUP BY s.item_id HAVING sum(s.side * (c.len / s.n + CASE WHEN s.k <= c.len % s.n THEN 1 ELSE 0 END)) <> 0
	), refs_added AS (
		INSERT INTO vault_internal.share_refs (chunk_no, item_id, points, stored_len)
		SELECT t.chunk_no, t.item_id, t.d, c.len FROM touched t JOIN changed c USING (chunk_no) WHERE t.joins
	), refs_counted AS (
		UPDATE vault_internal.share_refs r SET points = r.points + t.d
		FROM touched t
		WHERE r.chunk_no = t.chunk_no AND r.item_id = t.item_id AND NOT t.leaves
	), refs_gone AS (
		DELETE FROM vault_internal.share_refs r USING touched t
		WHERE r.chunk_no = t.chunk_no AND r.item_id = t.item_id AND t.leaves
	)
	INSERT INTO vault_internal.item_shares AS s (item_id, bytes)
	SELECT item_id, bytes FROM moved
	ON CONFLICT (item_id) DO UPDATE SET bytes = s.bytes + excluded.bytes;
	-- the items gone since (their chunks left them above)
	DELETE FROM vault_internal.item_shares s
	WHERE NOT EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.item_id = s.item_id);
END
$$;
REVOKE ALL ON FUNCTION vault_internal.share_sync(boolean) FROM PUBLIC;
SELECT vault_internal.share_sync();

-- ---------------------------------------------------------------------------
-- monitoring: daily reports, and the history they let go
-- ---------------------------------------------------------------------------

-- one row per day per item of a vault, and one per day per vault with no
-- item (jobs that name no item, or an item since purged; storage no point
-- uses, awaiting collection).  Stored bytes per item: the manifests of its
-- points, the chunks only its points use, and its share of those it shares
-- with other items (split evenly, the odd bytes to the lowest item ids: the
-- shares kept above), so the rows of a vault's day add up to the vault's
-- stored bytes.  No foreign keys: the reports outlive what they name.
CREATE TABLE vault_internal.report_daily (
	day				date NOT NULL,
	vault_id		bigint NOT NULL,
	vault_name		text NOT NULL,
	item_id			bigint,
	item_name		text,
	jobs_succeeded	bigint NOT NULL,
	jobs_failed		bigint NOT NULL,
	jobs_cancelled	bigint NOT NULL,
	logical_bytes	bigint NOT NULL,
	recovery_points	bigint NOT NULL,
	stored_bytes	bigint NOT NULL,
	adherent		boolean,
	final			boolean NOT NULL	-- written after the day ended
);
CREATE UNIQUE INDEX report_daily_row ON vault_internal.report_daily (day, vault_id, (coalesce(item_id, 0)));
-- an item's latest row (vault_metrics), found without reading the day's others
CREATE INDEX report_daily_item ON vault_internal.report_daily (item_id, day);
REVOKE ALL ON vault_internal.report_daily FROM PUBLIC;

-- one day's rows, as of the day's end (or p_now, for the day still running).
-- The replicated vaults' parts are estimated at the size of the manifests
-- even when there is none, which would compile the statement with JIT at
-- every day filled (200 ms each): off.  Planned once a session (plpgsql, a
-- generic plan), not at every day of a refresh that fills many
CREATE FUNCTION vault_internal.report_fill_day(p_day date, p_now timestamptz) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
DELETE FROM vault_internal.report_daily WHERE day = p_day;
WITH bounds AS (
	SELECT p_day::timestamptz AS t0, least((p_day + 1)::timestamptz, p_now) AS t1,
		   (p_day + 1)::timestamptz <= p_now AS final
), its AS (
	SELECT i.item_id, i.vault_id, i.name, i.state, i.policy_id
	FROM vault_internal.items i, bounds b
	WHERE i.protected_at < b.t1
	   OR EXISTS (SELECT 1 FROM vault_internal.points p WHERE p.item_id = i.item_id AND p.created_at < b.t1)
), late AS (
	-- the counted points made after the day's end (a day reported late):
	-- the kept shares less what they brought
	SELECT sp.point_id, sp.item_id
	FROM vault_internal.share_points sp JOIN vault_internal.points p USING (point_id), bounds b
	WHERE p.created_at >= b.t1
), late_direct AS (
	SELECT DISTINCT l.point_id, l.item_id, x.chunk_no
	FROM late l JOIN vault_internal.manifests m USING (point_id)
	CROSS JOIN LATERAL unnest(m.chunk_nos) AS x(chunk_no)
), late_refs AS (
	SELECT y.chunk_no, y.item_id, count(*) AS n
	FROM (SELECT point_id, item_id, chunk_no FROM late_direct
		  UNION
		  SELECT d.point_id, d.item_id, c.base_no FROM late_direct d JOIN vault_internal.chunks c USING (chunk_no)
		  WHERE c.base_no IS NOT NULL) y
	GROUP BY 1, 2
), late_sharers AS (
	-- the items of the chunks those points use: now (-1), at the day's end (+1)
	SELECT r.chunk_no, r.item_id, r.stored_len, s.side
	FROM vault_internal.share_refs r
	LEFT JOIN late_refs lr USING (chunk_no, item_id)
	CROSS JOIN (VALUES (-1), (1)) AS s(side)
	WHERE r.chunk_no IN (SELECT chunk_no FROM late_refs)
	  AND (s.side = -1 OR r.points > coalesce(lr.n, 0))
), late_moved AS (
	SELECT s.item_id,
		   sum(s.side * (s.stored_len / s.n + CASE WHEN s.k <= s.stored_len % s.n THEN 1 ELSE 0 END)) AS bytes
	FROM (SELECT chunk_no, item_id, stored_len, side,
				 count(*) OVER (PARTITION BY chunk_no, side) AS n,
				 row_number() OVER (PARTITION BY chunk_no, side ORDER BY item_id) AS k
		  FROM late_sharers) s
	GROUP BY s.item_id
), replica_points AS (
	SELECT p.point_id, p.item_id, p.created_at
	FROM vault_internal.vaults v JOIN vault_internal.points p USING (vault_id)
	WHERE v.replica
), direct_refs AS (
	-- a replicated vault's items: counted from their points' manifests
	SELECT DISTINCT p.item_id, u.chunk_no
	FROM replica_points p
	JOIN vault_internal.manifests m USING (point_id)
	CROSS JOIN LATERAL unnest(m.chunk_nos) AS u(chunk_no), bounds b
	WHERE p.created_at < b.t1
), refs AS (
	-- an item's deltas make their bases its chunks too
	SELECT item_id, chunk_no FROM direct_refs
	UNION
	SELECT r.item_id, c.base_no FROM direct_refs r JOIN vault_internal.chunks c USING (chunk_no)
	WHERE c.base_no IS NOT NULL
), shares AS (
	SELECT s.item_id, s.bytes + coalesce(lm.bytes, 0) AS bytes
	FROM vault_internal.item_shares s LEFT JOIN late_moved lm USING (item_id)
	UNION ALL
	SELECT r.item_id,
		   sum(c.stored_len / r.n + CASE WHEN r.k <= c.stored_len % r.n THEN 1 ELSE 0 END) AS bytes
	FROM (SELECT item_id, chunk_no, count(*) OVER (PARTITION BY chunk_no) AS n,
				 row_number() OVER (PARTITION BY chunk_no ORDER BY item_id) AS k
		  FROM refs) r
	JOIN vault_internal.chunks c USING (chunk_no)
	GROUP BY r.item_id
), manifest_bytes AS (
	-- kept on the points; counted for a replicated vault's
	SELECT p.item_id, sum(p.manifest_bytes) AS bytes
	FROM vault_internal.points p, bounds b
	WHERE p.created_at < b.t1
	  AND NOT EXISTS (SELECT 1 FROM replica_points rp WHERE rp.point_id = p.point_id)
	GROUP BY p.item_id
	UNION ALL
	SELECT p.item_id, sum(24 + 8 * cardinality(m.chunk_nos))
	FROM replica_points p JOIN vault_internal.manifests m USING (point_id), bounds b
	WHERE p.created_at < b.t1
	GROUP BY p.item_id
), direct_used AS (
	SELECT DISTINCT u.chunk_no
	FROM replica_points p JOIN vault_internal.manifests m USING (point_id)
	CROSS JOIN LATERAL unnest(m.chunk_nos) AS u(chunk_no)
), used AS (
	SELECT chunk_no FROM direct_used
	UNION
	SELECT c.base_no FROM direct_used JOIN vault_internal.chunks c USING (chunk_no) WHERE c.base_no IS NOT NULL
), unused AS (
	-- the chunks no point uses: a vault's chunk bytes less its items'
	-- shares (the bytes of every chunk a point uses are split between its
	-- items to the byte), counted for a replicated vault
	SELECT u.vault_id, u.bytes - coalesce(sh.bytes, 0) AS bytes
	FROM (SELECT vault_id, sum(chunk_bytes) AS bytes FROM vault_internal.vault_usage GROUP BY vault_id) u
	LEFT JOIN (SELECT i.vault_id, sum(s.bytes) AS bytes
			   FROM vault_internal.item_shares s JOIN vault_internal.items i USING (item_id)
			   GROUP BY i.vault_id) sh USING (vault_id)
	WHERE NOT EXISTS (SELECT 1 FROM vault_internal.vaults v WHERE v.vault_id = u.vault_id AND v.replica)
	UNION ALL
	SELECT c.vault_id, sum(c.stored_len)
	FROM vault_internal.vaults v JOIN vault_internal.chunks c USING (vault_id)
	LEFT JOIN used USING (chunk_no)
	WHERE v.replica AND used.chunk_no IS NULL
	GROUP BY c.vault_id
), day_jobs AS (
	SELECT j.vault_id, CASE WHEN j.item_id IN (SELECT item_id FROM its) THEN j.item_id END AS item_id,
		   count(*) FILTER (WHERE j.state = 'completed') AS succeeded,
		   count(*) FILTER (WHERE j.state = 'failed') AS failed,
		   count(*) FILTER (WHERE j.state = 'cancelled') AS cancelled
	FROM vault_internal.jobs j, bounds b
	WHERE j.ended_at >= b.t0 AND j.ended_at < b.t1 AND j.vault_id IS NOT NULL
	GROUP BY 1, 2
)
INSERT INTO vault_internal.report_daily (day, vault_id, vault_name, item_id, item_name, jobs_succeeded,
										 jobs_failed, jobs_cancelled, logical_bytes, recovery_points,
										 stored_bytes, adherent, final)
SELECT p_day, i.vault_id, v.name, i.item_id, i.name,
	   coalesce(j.succeeded, 0), coalesce(j.failed, 0), coalesce(j.cancelled, 0),
	   coalesce((SELECT p.logical_bytes FROM vault_internal.points p
				 WHERE p.item_id = i.item_id AND p.created_at < b.t1
				 ORDER BY p.created_at DESC LIMIT 1), 0),
	   (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id AND p.created_at < b.t1),
	   coalesce(s.bytes, 0) + coalesce(mb.bytes, 0),
	   CASE WHEN i.state <> 'protected' OR po.policy_id IS NULL THEN NULL
			WHEN EXISTS (SELECT 1 FROM vault_internal.points p
						 WHERE p.item_id = i.item_id AND p.trigger = 'scheduled'
						   AND p.created_at >= b.t0 AND p.created_at < b.t1)
			  OR EXISTS (SELECT 1 FROM vault_internal.jobs jj
						 WHERE jj.item_id = i.item_id AND jj.trigger = 'scheduled' AND jj.operation = 'backup'
						   AND jj.state = 'completed' AND jj.ended_at >= b.t0 AND jj.ended_at < b.t1)
			THEN true
			WHEN NOT b.final THEN NULL			-- the day runs on: not yet known
			-- no scheduled run fell on the day: nothing was due
			ELSE @extschema@.vault_next_run(po.schedule::@extschema@.vault_schedule,
											b.t0 - interval '1 microsecond', po.timezone) >= b.t1 END,
	   b.final
FROM its i
JOIN vault_internal.vaults v ON v.vault_id = i.vault_id
CROSS JOIN bounds b
LEFT JOIN vault_internal.policies po ON po.policy_id = i.policy_id
LEFT JOIN day_jobs j ON j.item_id = i.item_id
LEFT JOIN shares s ON s.item_id = i.item_id
LEFT JOIN manifest_bytes mb ON mb.item_id = i.item_id
UNION ALL
SELECT p_day, v.vault_id, v.name, NULL, NULL,
	   coalesce(j.succeeded, 0), coalesce(j.failed, 0), coalesce(j.cancelled, 0), 0, 0,
	   coalesce(u.bytes, 0), NULL, b.final
FROM vault_internal.vaults v
CROSS JOIN bounds b
LEFT JOIN day_jobs j ON j.vault_id = v.vault_id AND j.item_id IS NULL
LEFT JOIN unused u ON u.vault_id = v.vault_id
WHERE v.created_at < b.t1;
END
$$;

-- every day from the last one reported (the first: the oldest job or point
-- kept) up to p_now's day, that one provisional; then what is older than
-- the history settings goes: finished jobs and resolved alerts after
-- vault.job_history, report rows after vault.report_history
CREATE FUNCTION vault_internal.report_fill(p_now timestamptz, p_job_history interval,
										   p_report_history interval) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_today date := p_now::date;
	v_from date;
	v_day date;
BEGIN
	SELECT max(day) + 1 INTO v_from FROM vault_internal.report_daily WHERE final;
	IF v_from IS NULL THEN
		SELECT least(min(j.ended_at)::date, (SELECT min(p.created_at)::date FROM vault_internal.points p))
		INTO v_from FROM vault_internal.jobs j;
	END IF;
	v_from := greatest(coalesce(v_from, v_today), (p_now - p_report_history)::date);
	PERFORM vault_internal.share_sync();
	FOR v_day IN SELECT d::date FROM generate_series(v_from, v_today, interval '1 day') AS d LOOP
		PERFORM vault_internal.report_fill_day(v_day, p_now);
	END LOOP;
	DELETE FROM vault_internal.jobs WHERE state <> 'in-progress' AND ended_at < p_now - p_job_history;
	DELETE FROM vault_internal.alerts WHERE state = 'resolved' AND resolved_at < p_now - p_job_history;
	DELETE FROM vault_internal.report_daily WHERE day < (p_now - p_report_history)::date;
END
$$;
REVOKE ALL ON FUNCTION vault_internal.report_fill_day(date, timestamptz),
	vault_internal.report_fill(timestamptz, interval, interval) FROM PUBLIC;

CREATE FUNCTION vault_report_refresh(now timestamptz) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_report_refresh' LANGUAGE C VOLATILE;

CREATE VIEW vault_report_daily AS
SELECT r.day, r.vault_name AS vault, r.item_name AS item, r.jobs_succeeded, r.jobs_failed,
	   r.jobs_cancelled, r.logical_bytes, r.recovery_points, r.stored_bytes, r.adherent
FROM vault_internal.report_daily r
LEFT JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);
GRANT SELECT ON vault_report_daily TO PUBLIC;

-- ---------------------------------------------------------------------------
-- monitoring: the cluster at a glance
-- ---------------------------------------------------------------------------

-- this database's counts, whoever asks: numbers only, never a name
CREATE FUNCTION vault_internal.cluster_counts(OUT vaults bigint, OUT items bigint, OUT healthy bigint,
											  OUT degraded bigint, OUT unhealthy bigint,
											  OUT active_alerts bigint, OUT running_jobs bigint,
											  OUT last_job_end timestamptz)
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
SELECT (SELECT count(*) FROM vault_internal.vaults),
	   count(*),
	   count(*) FILTER (WHERE coalesce(h.failures_in_row, 0) = 0),
	   count(*) FILTER (WHERE h.failures_in_row > 0 AND vault_internal.error_class(h.last_sqlstate) = 'degraded'),
	   count(*) FILTER (WHERE h.failures_in_row > 0 AND vault_internal.error_class(h.last_sqlstate) = 'unhealthy'),
	   (SELECT count(*) FROM vault_internal.alerts WHERE state = 'active'),
	   (SELECT count(*) FROM vault_internal.jobs WHERE state = 'in-progress'),
	   (SELECT max(ended_at) FROM vault_internal.jobs)
FROM vault_internal.items i
LEFT JOIN vault_internal.item_health h USING (item_id)
WHERE i.state <> 'soft-deleted'
$$;
REVOKE ALL ON FUNCTION vault_internal.cluster_counts() FROM PUBLIC;

-- this database live, the others as their schedulers last counted them
-- (every round); a database whose scheduler has not run yet is missing
CREATE FUNCTION vault_internal.cluster_status(OUT database text, OUT vaults bigint, OUT items bigint,
											  OUT healthy bigint, OUT degraded bigint, OUT unhealthy bigint,
											  OUT active_alerts bigint, OUT running_jobs bigint,
											  OUT last_job_end timestamptz, OUT counted_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_cluster_status_rows' LANGUAGE C VOLATILE;
GRANT EXECUTE ON FUNCTION vault_internal.cluster_status() TO PUBLIC;

CREATE VIEW vault_cluster_status AS
SELECT database, vaults, items, healthy, degraded, unhealthy, active_alerts, running_jobs, last_job_end
FROM vault_internal.cluster_status()
ORDER BY database;
GRANT SELECT ON vault_cluster_status TO PUBLIC;

-- ---------------------------------------------------------------------------
-- monitoring: Prometheus metrics
-- ---------------------------------------------------------------------------

-- the jobs' counters, kept as each job ends so that they only grow while
-- the job history is trimmed (a row per vault, operation and final state)
CREATE TABLE vault_internal.job_totals (
	vault_id		bigint NOT NULL,
	operation		text NOT NULL,
	state			text NOT NULL,
	jobs			bigint NOT NULL DEFAULT 0,
	seconds			double precision NOT NULL DEFAULT 0,
	freed_bytes		bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (vault_id, operation, state)
);
REVOKE ALL ON vault_internal.job_totals FROM PUBLIC;
INSERT INTO vault_internal.job_totals (vault_id, operation, state, jobs, seconds, freed_bytes)
SELECT vault_id, operation, state, count(*),
	   coalesce(sum(EXTRACT(epoch FROM ended_at - started_at)), 0), coalesce(sum(freed_bytes), 0)
FROM vault_internal.jobs
WHERE vault_id IS NOT NULL AND state <> 'in-progress'
GROUP BY 1, 2, 3;

CREATE FUNCTION vault_internal.job_count() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO vault_internal.job_totals AS t (vault_id, operation, state, jobs, seconds, freed_bytes)
	VALUES (NEW.vault_id, NEW.operation, NEW.state, 1,
			greatest(coalesce(EXTRACT(epoch FROM NEW.ended_at - NEW.started_at), 0), 0),
			coalesce(NEW.freed_bytes, 0))
	ON CONFLICT (vault_id, operation, state) DO UPDATE
	SET jobs = t.jobs + 1, seconds = t.seconds + EXCLUDED.seconds,
		freed_bytes = t.freed_bytes + EXCLUDED.freed_bytes;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION vault_internal.job_count() FROM PUBLIC;
CREATE TRIGGER job_count_insert AFTER INSERT ON vault_internal.jobs
	FOR EACH ROW WHEN (NEW.state <> 'in-progress' AND NEW.vault_id IS NOT NULL)
	EXECUTE FUNCTION vault_internal.job_count();
CREATE TRIGGER job_count_end AFTER UPDATE OF state ON vault_internal.jobs
	FOR EACH ROW WHEN (OLD.state = 'in-progress' AND NEW.state <> 'in-progress' AND NEW.vault_id IS NOT NULL)
	EXECUTE FUNCTION vault_internal.job_count();

-- a label value, or HELP text, in the exposition format's escapes
CREATE FUNCTION vault_internal.prom_escape(p_text text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
SELECT replace(replace(replace(p_text, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n')
$$;

-- the exposition text for the vaults named (those the caller may see:
-- vault_metrics passes them); base units, _total counters
CREATE FUNCTION vault_internal.metrics(p_vaults text[]) RETURNS text
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
	-- planned once a session (a scraper's connection), not at every scrape:
	-- the plan does not depend on which vaults are asked for
	SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
RETURN (
WITH families (ord, name, type, help) AS (VALUES
	(1, 'vault_stored_bytes', 'gauge', 'Bytes the vault stores: sealed chunks and manifests.'),
	(2, 'vault_logical_bytes', 'gauge', 'Bytes of table data the vault''s recovery points hold, before dedup and compression.'),
	(3, 'vault_chunks', 'gauge', 'Sealed chunks the vault stores.'),
	(4, 'vault_recovery_points', 'gauge', 'Recovery points of the item.'),
	(5, 'vault_item_stored_bytes', 'gauge', 'Bytes the item''s points use, shared chunks split between items (latest daily report).'),
	(6, 'vault_item_last_success_timestamp_seconds', 'gauge', 'Unix time of the item''s last successful backup.'),
	(7, 'vault_item_health', 'gauge', 'The item''s health: 1 for its current state, 0 for the others.'),
	(8, 'vault_item_rpo_breached', 'gauge', '1 when the item has had no successful backup for its policy''s interval and a half.'),
	(9, 'vault_jobs_total', 'counter', 'Jobs ended, by operation and final state.'),
	(10, 'vault_job_duration_seconds', 'summary', 'Time jobs took, by operation.'),
	(11, 'vault_alerts_active', 'gauge', 'Alerts in state active, by severity.'),
	(12, 'vault_purged_bytes_total', 'counter', 'Bytes freed by purges of soft-deleted data.')
), v AS (
	SELECT vault_id, name, replica, format('vault="%s"', vault_internal.prom_escape(name)) AS l
	FROM vault_internal.vaults WHERE name = ANY (p_vaults)
), items AS (
	SELECT v.vault_id, v.replica, i.item_id, i.name,
		   v.l || format(',item="%s"', vault_internal.prom_escape(i.name)) AS l
	FROM vault_internal.items i JOIN v USING (vault_id)
	WHERE i.state <> 'soft-deleted'
), health AS (
	SELECT h.*, v.l || format(',item="%s"', vault_internal.prom_escape(h.item)) AS l
	FROM @extschema@.vault_health h JOIN v ON v.name = h.vault
), vv AS MATERIALIZED (		-- the view read once for its three families
	SELECT v.l, vv.stored_bytes, vv.logical_bytes, vv.chunks
	FROM v JOIN @extschema@.vault_vaults vv ON vv.vault = v.name
), samples (ord, suffix, labels, value) AS (
	SELECT 1, '', vv.l, vv.stored_bytes::text FROM vv
	UNION ALL
	SELECT 2, '', vv.l, vv.logical_bytes::text FROM vv
	UNION ALL
	SELECT 3, '', vv.l, vv.chunks::text FROM vv
	UNION ALL
	SELECT 4, '', i.l,
		   CASE WHEN i.replica	-- as vault_items: kept, or counted for a replica
				THEN (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id)
				ELSE (SELECT coalesce(sum(u.points), 0) FROM vault_internal.item_usage u
					  WHERE u.item_id = i.item_id)::bigint END::text
	FROM items i
	UNION ALL
	SELECT 5, '', i.l, r.stored_bytes::text
	FROM items i
	JOIN LATERAL (SELECT r.stored_bytes FROM vault_internal.report_daily r
				  WHERE r.item_id = i.item_id ORDER BY r.day DESC LIMIT 1) r ON true
	UNION ALL
	SELECT 6, '', h.l, EXTRACT(epoch FROM h.last_success)::text FROM health h WHERE h.last_success IS NOT NULL
	UNION ALL
	SELECT 7, '', h.l || format(',health="%s"', s.state), (h.health = s.state)::int::text
	FROM health h
	CROSS JOIN unnest(ARRAY['healthy', 'transient degraded', 'persistent degraded', 'transient unhealthy',
							'persistent unhealthy']) AS s(state)
	UNION ALL
	SELECT 8, '', h.l, h.rpo_breached::int::text FROM health h WHERE h.rpo_breached IS NOT NULL
	UNION ALL
	SELECT 9, '', v.l || format(',operation="%s",state="%s"', t.operation, t.state), t.jobs::text
	FROM vault_internal.job_totals t JOIN v USING (vault_id)
	UNION ALL
	SELECT 10, x.suffix, v.l || format(',operation="%s"', t.operation), x.value
	FROM (SELECT vault_id, operation, sum(jobs) AS jobs, sum(seconds) AS seconds
		  FROM vault_internal.job_totals GROUP BY 1, 2) t
	JOIN v USING (vault_id)
	CROSS JOIN LATERAL (VALUES ('_sum', t.seconds::text), ('_count', t.jobs::text)) AS x(suffix, value)
	UNION ALL
	SELECT 11, '', v.l || format(',severity="%s"', s.severity),
		   (SELECT count(*) FROM vault_internal.alerts a
			WHERE a.vault_id = v.vault_id AND a.severity = s.severity AND a.state = 'active')::text
	FROM v CROSS JOIN unnest(ARRAY['critical', 'error']) AS s(severity)
	UNION ALL
	SELECT 12, '', v.l,
		   coalesce((SELECT sum(t.freed_bytes) FROM vault_internal.job_totals t
					 WHERE t.vault_id = v.vault_id AND t.operation = 'purge'), 0)::text
	FROM v
)
-- one sorted pass: each family's HELP and TYPE lines, then its samples
SELECT string_agg(x.line, '' ORDER BY x.ord, x.sample, x.labels, x.suffix)
FROM (SELECT f.ord, false AS sample, '' AS labels, '' AS suffix,
			 format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, vault_internal.prom_escape(f.help),
					f.name, f.type) AS line
	  FROM families f
	  UNION ALL
	  SELECT s.ord, true, s.labels, s.suffix, format(E'%s%s{%s} %s\n', f.name, s.suffix, s.labels, s.value)
	  FROM samples s JOIN families f USING (ord)) x
);
END
$$;
REVOKE ALL ON FUNCTION vault_internal.metrics(text[]) FROM PUBLIC;

CREATE FUNCTION vault_metrics() RETURNS text
	AS 'MODULE_PATHNAME', 'vault_metrics' LANGUAGE C STABLE;
-- ---------------------------------------------------------------------------
-- monitoring: the HTML report
-- ---------------------------------------------------------------------------

-- vault_report_html(days): one self-contained HTML5 page (inline CSS and
-- SVG; no script, no link, nothing fetched) about the vaults the caller may
-- see: storage per vault over the last `days` days, jobs per day, every item
-- with its health, the active alerts, storage per item, the coming purges.
--
-- It runs as the caller and reads only the public views, which already show
-- each role only what it may see. It is one function on purpose: helpers in
-- vault_internal could not be called by the caller (PUBLIC has no USAGE on
-- that schema, and must not), so escaping, byte units and both charts are
-- inline. Every string the views return is HTML-escaped in exactly one
-- place (step 2), before any of it reaches the page.
CREATE FUNCTION vault_report_html(days integer DEFAULT 30) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_since		date;			-- the period: v_since .. today
	d			jsonb;			-- what the caller may see (escaped from step 2 on)
	h			text;			-- the page
	v			record;
	-- chart geometry (SVG user units; the SVG scales to the page's width)
	c_w			constant numeric := 1120;
	c_h			constant numeric := 250;
	c_l			constant numeric := 76;		-- left margin: the y labels
	c_r			constant numeric := 16;
	c_t			constant numeric := 30;		-- top margin: the legend
	c_b			constant numeric := 34;		-- bottom margin: the x labels
	pw			constant numeric := c_w - c_l - c_r;
	ph			constant numeric := c_h - c_t - c_b;
	v_n			integer;		-- days (or bars) in a chart
	v_d0		date;
	v_d1		date;
	v_span		integer;
	v_max		numeric;
	v_unit		integer;		-- 1024^v_unit bytes per label unit
	v_uname		text;
	v_m			numeric;
	v_step		numeric;
	v_top		numeric;
	v_bucket	integer;		-- days per bar
	v_svg		text;
BEGIN
	IF days IS NULL OR days NOT BETWEEN 1 AND 3660 THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'days must be between 1 and 3660',
			HINT = 'days is the length of the period the report covers, counted back from today: vault_report_html(30) covers the last 30 days.';
	END IF;
	v_since := current_date - days + 1;

	-- 1. what the caller may see, from the public views only
	d := jsonb_build_object(
		'database', current_database(),
		'vaults', (SELECT coalesce(jsonb_agg(jsonb_build_object(
							'vault', vv.vault, 'items', vv.items, 'recovery_points', vv.recovery_points,
							'logical_bytes', vv.logical_bytes, 'stored_bytes', vv.stored_bytes,
							-- per day of the period: the sum over the vault's rows
							'per_day', (SELECT coalesce(jsonb_agg(jsonb_build_object(
												'day', s.day, 'stored', s.stored, 'logical', s.logical)
											ORDER BY s.day), '[]')
									 FROM (SELECT r.day, coalesce(sum(r.stored_bytes), 0) AS stored,
												  coalesce(sum(r.logical_bytes), 0) AS logical
										   FROM @extschema@.vault_report_daily r
										   WHERE r.vault = vv.vault AND r.day >= v_since
										   GROUP BY r.day) s))
						ORDER BY vv.vault), '[]')
				   FROM @extschema@.vault_vaults vv),
		'jobs', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'day', s.day, 'succeeded', s.succeeded, 'failed', s.failed, 'cancelled', s.cancelled)
					ORDER BY s.day), '[]')
				 FROM (SELECT r.day, coalesce(sum(r.jobs_succeeded), 0) AS succeeded,
							  coalesce(sum(r.jobs_failed), 0) AS failed,
							  coalesce(sum(r.jobs_cancelled), 0) AS cancelled
					   FROM @extschema@.vault_report_daily r
					   WHERE r.day >= v_since
					   GROUP BY r.day) s),
		-- one row per item: its health (soft-deleted items have none) and its
		-- stored bytes on its latest report day
		'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'vault', i.vault, 'name', i.name, 'kind', i.kind, 'policy', i.policy, 'state', i.state,
						'health', hh.health, 'last_success', hh.last_success, 'last_error', hh.last_error,
						'rpo_breached', hh.rpo_breached, 'stored', l.stored_bytes, 'stored_day', l.day)
					ORDER BY i.vault, i.name, i.item_id), '[]')
				  FROM @extschema@.vault_items i
				  LEFT JOIN (SELECT DISTINCT ON (vh.vault, vh.item) vh.*
							 FROM @extschema@.vault_health vh ORDER BY vh.vault, vh.item) hh
					ON hh.vault = i.vault AND hh.item = i.name AND i.state <> 'soft-deleted'
				  LEFT JOIN (SELECT DISTINCT ON (r.vault, r.item) r.vault, r.item, r.day, r.stored_bytes
							 FROM @extschema@.vault_report_daily r WHERE r.item IS NOT NULL
							 ORDER BY r.vault, r.item, r.day DESC) l
					ON l.vault = i.vault AND l.item = i.name),
		'alerts', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'raised_at', a.raised_at, 'severity', a.severity, 'category', a.category,
						'vault', a.vault, 'item', a.item, 'kind', a.kind, 'message', a.message,
						'occurrences', a.occurrences)
					ORDER BY a.raised_at DESC, a.alert DESC), '[]')
				   FROM (SELECT * FROM @extschema@.vault_alerts a WHERE a.state = 'active'
						 ORDER BY a.raised_at DESC, a.alert DESC LIMIT 200) a),
		'alerts_active', (SELECT count(*) FROM @extschema@.vault_alerts a WHERE a.state = 'active'),
		'alerts_acknowledged', (SELECT count(*) FROM @extschema@.vault_alerts a WHERE a.state = 'acknowledged'),
		-- each vault's rows on its latest report day (item NULL: storage no point uses)
		'per_item', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'vault', s.vault, 'item', s.item, 'day', s.day, 'stored', s.stored_bytes,
						'vault_stored', s.vault_stored)
					ORDER BY s.vault, s.stored_bytes DESC NULLS LAST, s.item NULLS LAST), '[]')
					 FROM (SELECT r.*, sum(r.stored_bytes) OVER (PARTITION BY r.vault) AS vault_stored
						   FROM (SELECT r.*, max(r.day) OVER (PARTITION BY r.vault) AS last_day
								 FROM @extschema@.vault_report_daily r) r
						   WHERE r.day = r.last_day) s),
		-- soft-deleted items and points, soonest purge first
		'purges', (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.purge_at, p.vault, p.item, p.recovery_point NULLS FIRST),
								   '[]')
				   FROM (SELECT 'item' AS what, i.vault, i.name AS item, NULL::bigint AS recovery_point,
								i.purge_at, i.recovery_points AS points, NULL::bigint AS logical_bytes,
								NULL::boolean AS on_hold
						 FROM @extschema@.vault_items i WHERE i.purge_at IS NOT NULL
						 UNION ALL
						 SELECT 'recovery point', p.vault, p.item, p.recovery_point, p.purge_at, NULL,
								p.logical_bytes, p.on_hold
						 FROM @extschema@.vault_recovery_points p
						 WHERE p.state = 'soft-deleted' AND p.purge_at IS NOT NULL
						 ORDER BY 5, 2, 3, 4 NULLS FIRST LIMIT 200) p),
		'purges_total', (SELECT (SELECT count(*) FROM @extschema@.vault_items i WHERE i.purge_at IS NOT NULL)
							  + (SELECT count(*) FROM @extschema@.vault_recovery_points p
								 WHERE p.state = 'soft-deleted' AND p.purge_at IS NOT NULL)));

	-- 2. HTML-escape every string in d, in one place. In jsonb's text form,
	-- & < > ' occur only inside strings, and a " inside a string is always
	-- written \" once every escaped backslash (\\) is spelled \u005c, so the
	-- replacements below touch string contents only; & goes first.
	d := replace(replace(replace(replace(replace(replace(d::text,
			'&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '''', '&#39;'),
			chr(92) || chr(92), chr(92) || 'u005c'), chr(92) || '"', '&quot;')::jsonb;

	-- 3. the page
	h := '<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vault report</title>
<style>
:root { color-scheme: light; }
body { margin: 0; background: #f3f4f6; color: #111827;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
.meta { color: #4b5563; margin: 0 0 16px; }
.meta b { color: #111827; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 8px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; min-width: 130px; }
.card .n { font-size: 22px; font-weight: 600; }
.card .l { color: #4b5563; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .n { color: #b91c1c; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 14px 18px; margin-top: 18px; }
h2 { margin: 0 0 10px; font-size: 18px; }
h3 { margin: 14px 0 4px; font-size: 15px; overflow-wrap: anywhere; }
h3 .sub { font-weight: normal; color: #4b5563; font-size: 13px; }
.note { color: #4b5563; font-style: italic; margin: 6px 0; }
.lead { color: #4b5563; margin: 0 0 6px; }
svg { display: block; width: 100%; height: auto; font-size: 12px; }
svg text { fill: #374151; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .axis { stroke: #6b7280; stroke-width: 1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; overflow-wrap: break-word; }
th { background: #f9fafb; color: #374151; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.when, td.nw { white-space: nowrap; }
td.name { overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.h-healthy { background: #dcfce7; color: #166534; }
.h-transient-degraded { background: #fef9c3; color: #854d0e; }
.h-persistent-degraded { background: #fed7aa; color: #9a3412; }
.h-transient-unhealthy { background: #fee2e2; color: #991b1b; }
.h-persistent-unhealthy { background: #991b1b; color: #fff; }
.h-none { background: #e5e7eb; color: #374151; }
.sev-critical { background: #991b1b; color: #fff; }
.sev-error { background: #fee2e2; color: #991b1b; }
.breached { color: #b91c1c; font-weight: 600; white-space: nowrap; }
.ok { color: #166534; }
.muted { color: #6b7280; }
.err { color: #6b7280; font-size: 12px; max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { background: #e5e7eb; border-radius: 3px; height: 10px; width: 220px; }
.bar span { display: block; background: #2563eb; border-radius: 3px; height: 10px; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 12px; }
</style>
</head>
<body><main>
';

	-- 3.1 header: database, time, period, totals
	h := h || format('<header id="header"><h1>vault report</h1>
<p class="meta">database <b>%s</b> &middot; generated at <b>%s</b> &middot; period: last %s day%s (<b>%s</b> to <b>%s</b>)</p>
<div class="cards">
<div class="card"><div class="n">%s</div><div class="l">vaults</div></div>
<div class="card"><div class="n">%s</div><div class="l">items</div></div>
<div class="card"><div class="n">%s</div><div class="l">recovery points</div></div>
<div class="card"><div class="n">%s</div><div class="l">stored</div></div>
<div class="card"><div class="n">%s</div><div class="l">logical, all points</div></div>
<div class="card%s"><div class="n">%s</div><div class="l">active alerts</div></div>
</div></header>
',
		d->>'database', to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS TZ'),
		days, CASE WHEN days = 1 THEN '' ELSE 's' END, to_char(v_since, 'YYYY-MM-DD'), to_char(current_date, 'YYYY-MM-DD'),
		jsonb_array_length(d->'vaults'), jsonb_array_length(d->'items'),
		(SELECT coalesce(sum(x.recovery_points), 0) FROM jsonb_to_recordset(d->'vaults') AS x(recovery_points numeric)),
		(SELECT pg_size_pretty(coalesce(sum(x.stored_bytes), 0)) FROM jsonb_to_recordset(d->'vaults') AS x(stored_bytes numeric)),
		(SELECT pg_size_pretty(coalesce(sum(x.logical_bytes), 0)) FROM jsonb_to_recordset(d->'vaults') AS x(logical_bytes numeric)),
		CASE WHEN (d->>'alerts_active')::bigint > 0 THEN ' bad' ELSE '' END, d->>'alerts_active');

	-- 3.2 storage: per vault, a line chart of stored and logical bytes per day
	h := h || '<section id="storage"><h2>Storage per vault</h2>
<p class="lead">Stored: what the vault occupies (after dedup, compression and encryption). Logical: the size of each item''s latest recovery point, summed.</p>
';
	IF jsonb_array_length(d->'vaults') = 0 THEN
		h := h || '<p class="note">No vaults visible to you.</p>';
	END IF;
	FOR v IN SELECT * FROM jsonb_to_recordset(d->'vaults')
				 AS x(vault text, stored_bytes bigint, recovery_points bigint, items bigint, per_day jsonb)
			 ORDER BY x.vault
	LOOP
		h := h || format('<h3>%s <span class="sub">&middot; %s stored now &middot; %s recovery point%s &middot; %s item%s</span></h3>
',
			v.vault, pg_size_pretty(coalesce(v.stored_bytes, 0)),
			coalesce(v.recovery_points, 0), CASE WHEN v.recovery_points = 1 THEN '' ELSE 's' END,
			coalesce(v.items, 0), CASE WHEN v.items = 1 THEN '' ELSE 's' END);
		SELECT count(*), min(x.day), max(x.day), max(greatest(x.stored, x.logical))
		INTO v_n, v_d0, v_d1, v_max
		FROM jsonb_to_recordset(v.per_day) AS x(day date, stored numeric, logical numeric);
		IF v_n = 0 THEN
			h := h || '<p class="note">no report rows yet</p>
';
			CONTINUE;
		END IF;
		v_span := v_d1 - v_d0;				-- 0 for one day: a dot in the middle
		-- y axis: ticks at 1, 2 or 5 times a power of ten of the largest
		-- unit (kB, MB, GB, ...) the maximum reaches
		v_max := greatest(v_max, 1);
		v_unit := least(floor(log(1024, v_max)), 5)::integer;
		v_uname := (ARRAY['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'])[v_unit + 1];
		v_m := v_max / 1024::numeric ^ v_unit;
		v_step := 10::numeric ^ floor(log(v_m / 4));
		v_step := v_step * CASE WHEN v_m / 4 / v_step <= 1 THEN 1 WHEN v_m / 4 / v_step <= 2 THEN 2
								WHEN v_m / 4 / v_step <= 5 THEN 5 ELSE 10 END;
		IF v_unit = 0 THEN
			v_step := greatest(v_step, 1);
		END IF;
		v_top := ceil(v_m / v_step) * v_step;
		v_svg := format('<svg viewBox="0 0 %s %s" role="img" aria-label="stored and logical bytes per day of vault %s">',
						c_w, c_h, v.vault)
			-- grid and y labels
			|| (SELECT string_agg(format('<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/><text x="%s" y="%s" text-anchor="end">%s</text>',
										 c_l, y, c_l + pw, y, c_l - 6, y + 4,
										 CASE WHEN t = 0 THEN '0' ELSE trim_scale(t) || ' ' || v_uname END), '')
				FROM generate_series(0::numeric, v_top, v_step) t
				CROSS JOIN LATERAL (SELECT round(c_t + ph - t / v_top * ph, 1) AS y) g)
			|| format('<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/><line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>',
					  c_l, c_t, c_l, c_t + ph, c_l, c_t + ph, c_l + pw, c_t + ph)
			-- x labels: at most 7 days, first and last included
			|| (SELECT string_agg(format('<text x="%s" y="%s" text-anchor="%s">%s</text>',
										 round(c_l + CASE WHEN v_span = 0 THEN pw / 2 ELSE k * pw / v_span END, 1),
										 c_t + ph + 18, CASE WHEN k = v_span AND k > 0 THEN 'end' ELSE 'middle' END,
										 to_char(v_d0 + k, CASE WHEN v_span > 300 THEN 'Mon YYYY' ELSE 'Mon DD' END)), '')
				FROM (SELECT DISTINCT round(j * v_span / 6.0)::integer AS k
					  FROM generate_series(0, CASE WHEN v_span = 0 THEN 0 ELSE 6 END) j) ks)
			-- the two lines, then a dot per day (with its values as a tooltip)
			-- when there are few enough days to tell them apart
			|| (SELECT format('<polyline fill="none" stroke="#ea580c" stroke-width="2" stroke-dasharray="6 3" points="%s"/>'
							  '<polyline fill="none" stroke="#2563eb" stroke-width="2.5" points="%s"/>',
							  string_agg(px || ',' || ly, ' ' ORDER BY x.day), string_agg(px || ',' || sy, ' ' ORDER BY x.day))
					|| CASE WHEN v_n <= 62 THEN
						string_agg(format('<circle cx="%s" cy="%s" r="%s" fill="#ea580c"><title>%s: logical %s</title></circle>'
										  '<circle cx="%s" cy="%s" r="%s" fill="#2563eb"><title>%s: stored %s</title></circle>',
										  px, ly, CASE WHEN v_n = 1 THEN 5 ELSE 3 END, to_char(x.day, 'YYYY-MM-DD'), pg_size_pretty(x.logical),
										  px, sy, CASE WHEN v_n = 1 THEN 5.5 ELSE 3.5 END, to_char(x.day, 'YYYY-MM-DD'), pg_size_pretty(x.stored)),
								   '' ORDER BY x.day)
					   ELSE '' END
				FROM jsonb_to_recordset(v.per_day) AS x(day date, stored numeric, logical numeric)
				CROSS JOIN LATERAL (SELECT round(c_l + CASE WHEN v_span = 0 THEN pw / 2
															ELSE (x.day - v_d0) * pw / v_span END, 1) AS px,
										   round(c_t + ph - x.stored / 1024::numeric ^ v_unit / v_top * ph, 1) AS sy,
										   round(c_t + ph - x.logical / 1024::numeric ^ v_unit / v_top * ph, 1) AS ly) g)
			-- legend
			|| format('<line x1="%s" y1="12" x2="%s" y2="12" stroke="#2563eb" stroke-width="2.5"/><text x="%s" y="16">stored</text>'
					  '<line x1="%s" y1="12" x2="%s" y2="12" stroke="#ea580c" stroke-width="2" stroke-dasharray="6 3"/><text x="%s" y="16">logical</text>',
					  c_w - 200, c_w - 176, c_w - 170, c_w - 110, c_w - 86, c_w - 80)
			|| '</svg>';
		h := h || v_svg || E'\n';
	END LOOP;
	h := h || E'</section>\n';

	-- 3.3 jobs: a stacked bar per day (per few days over a long period) by outcome
	SELECT count(*), min(x.day), max(x.day) INTO v_n, v_d0, v_d1
	FROM jsonb_to_recordset(d->'jobs') AS x(day date);
	IF v_n = 0 THEN
		h := h || '<section id="jobs"><h2>Jobs per day</h2>
<p class="note">no report rows yet</p>
';
	ELSE
		v_bucket := ceil((v_d1 - v_d0 + 1) / 120.0)::integer;		-- at most 120 bars
		v_n := (v_d1 - v_d0) / v_bucket + 1;
		h := h || format('<section id="jobs"><h2>Jobs per %s, all vaults</h2>
', CASE WHEN v_bucket = 1 THEN 'day' ELSE v_bucket || ' days' END);
		SELECT greatest(max(b.total), 1) INTO v_max
		FROM (SELECT sum(x.succeeded + x.failed + x.cancelled) AS total
			  FROM jsonb_to_recordset(d->'jobs') AS x(day date, succeeded numeric, failed numeric, cancelled numeric)
			  GROUP BY (x.day - v_d0) / v_bucket) b;
		v_step := 10::numeric ^ floor(log(v_max / 4));
		v_step := greatest(1, v_step * CASE WHEN v_max / 4 / v_step <= 1 THEN 1 WHEN v_max / 4 / v_step <= 2 THEN 2
											WHEN v_max / 4 / v_step <= 5 THEN 5 ELSE 10 END);
		v_top := ceil(v_max / v_step) * v_step;
		v_svg := format('<svg viewBox="0 0 %s %s" role="img" aria-label="jobs per %s by outcome">',
						c_w, c_h, CASE WHEN v_bucket = 1 THEN 'day' ELSE v_bucket || ' days' END)
			|| (SELECT string_agg(format('<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/><text x="%s" y="%s" text-anchor="end">%s</text>',
										 c_l, y, c_l + pw, y, c_l - 6, y + 4, trim_scale(t)), '')
				FROM generate_series(0::numeric, v_top, v_step) t
				CROSS JOIN LATERAL (SELECT round(c_t + ph - t / v_top * ph, 1) AS y) g)
			|| format('<text x="14" y="%s" transform="rotate(-90 14 %s)" text-anchor="middle">jobs</text>',
					  c_t + ph / 2, c_t + ph / 2)
			-- bars: succeeded at the bottom, then failed, then cancelled
			|| (SELECT string_agg(format('<g><title>%s%s: %s succeeded, %s failed, %s cancelled</title>'
										 '<rect x="%s" y="%s" width="%s" height="%s" fill="#16a34a"/>'
										 '<rect x="%s" y="%s" width="%s" height="%s" fill="#dc2626"/>'
										 '<rect x="%s" y="%s" width="%s" height="%s" fill="#6b7280"/></g>',
										 to_char(v_d0 + b.k * v_bucket, 'YYYY-MM-DD'),
										 CASE WHEN v_bucket = 1 THEN ''
											  ELSE ' to ' || to_char(least(v_d0 + b.k * v_bucket + v_bucket - 1, v_d1), 'YYYY-MM-DD') END,
										 b.s, b.f, b.c,
										 g.bx, round(g.y0 - g.hs, 1), g.bw, round(g.hs, 1),
										 g.bx, round(g.y0 - g.hs - g.hf, 1), g.bw, round(g.hf, 1),
										 g.bx, round(g.y0 - g.hs - g.hf - g.hc, 1), g.bw, round(g.hc, 1)), '' ORDER BY b.k)
				FROM (SELECT (x.day - v_d0) / v_bucket AS k, sum(x.succeeded) AS s, sum(x.failed) AS f,
							 sum(x.cancelled) AS c
					  FROM jsonb_to_recordset(d->'jobs') AS x(day date, succeeded numeric, failed numeric, cancelled numeric)
					  GROUP BY 1) b
				-- a bar takes three quarters of its slot (at most 48 units), centred
				CROSS JOIN LATERAL (SELECT least(greatest(round(pw / v_n * 0.75, 1), 1), 48) AS bw) w
				CROSS JOIN LATERAL (SELECT round(c_l + b.k * pw / v_n + (pw / v_n - w.bw) / 2, 1) AS bx,
										   w.bw, c_t + ph AS y0,
										   b.s / v_top * ph AS hs, b.f / v_top * ph AS hf, b.c / v_top * ph AS hc) g)
			|| format('<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/><line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>',
					  c_l, c_t, c_l, c_t + ph, c_l, c_t + ph, c_l + pw, c_t + ph)
			-- x labels: at most 7 bars', first and last included
			|| (SELECT string_agg(format('<text x="%s" y="%s" text-anchor="middle">%s</text>',
										 round(c_l + k * pw / v_n + pw / v_n / 2, 1), c_t + ph + 18,
										 to_char(v_d0 + k * v_bucket,
												 CASE WHEN v_d1 - v_d0 > 300 THEN 'Mon YYYY' ELSE 'Mon DD' END)), '')
				FROM (SELECT DISTINCT round(j * (v_n - 1) / 6.0)::integer AS k
					  FROM generate_series(0, CASE WHEN v_n = 1 THEN 0 ELSE 6 END) j) ks)
			-- legend
			|| format('<rect x="%s" y="4" width="12" height="12" fill="#16a34a"/><text x="%s" y="15">succeeded</text>'
					  '<rect x="%s" y="4" width="12" height="12" fill="#dc2626"/><text x="%s" y="15">failed</text>'
					  '<rect x="%s" y="4" width="12" height="12" fill="#6b7280"/><text x="%s" y="15">cancelled</text>',
					  c_w - 300, c_w - 284, c_w - 200, c_w - 184, c_w - 120, c_w - 104)
			|| '</svg>';
		h := h || v_svg || E'\n';
	END IF;
	h := h || E'</section>\n';

	-- 3.4 items: exactly one row per row of vault_items
	h := h || format('<section id="items"><h2>Items (%s)</h2>
<table><thead><tr><th>vault</th><th>item</th><th>kind</th><th>policy</th><th>state</th><th>health</th>'
		'<th>last success</th><th class="num">stored</th><th>RPO</th></tr></thead>
<tbody>
', jsonb_array_length(d->'items'))
		|| coalesce((SELECT string_agg(format('<tr><td class="name">%s</td><td class="name">%s</td><td class="nw">%s</td><td>%s</td><td class="nw">%s</td>'
											  '<td><span class="badge %s"%s>%s</span>%s</td><td class="when">%s</td>'
											  '<td class="num"%s>%s</td><td>%s</td></tr>',
											  x.vault, x.name, x.kind, coalesce(x.policy, '<span class="muted">&mdash;</span>'),
											  x.state,
											  CASE x.health WHEN 'healthy' THEN 'h-healthy'
															WHEN 'transient degraded' THEN 'h-transient-degraded'
															WHEN 'persistent degraded' THEN 'h-persistent-degraded'
															WHEN 'transient unhealthy' THEN 'h-transient-unhealthy'
															WHEN 'persistent unhealthy' THEN 'h-persistent-unhealthy'
															ELSE 'h-none' END,
											  CASE WHEN x.last_error IS NOT NULL THEN ' title="' || x.last_error || '"' ELSE '' END,
											  coalesce(x.health, 'no health'),
											  CASE WHEN x.last_error IS NOT NULL AND x.health <> 'healthy'
												   THEN '<div class="err">' || x.last_error || '</div>' ELSE '' END,
											  coalesce(to_char(x.last_success, 'YYYY-MM-DD HH24:MI'), '<span class="muted">never</span>'),
											  CASE WHEN x.stored_day IS NOT NULL THEN ' title="on ' || to_char(x.stored_day, 'YYYY-MM-DD') || '"' ELSE '' END,
											  coalesce(pg_size_pretty(x.stored), '<span class="muted">&mdash;</span>'),
											  CASE WHEN x.rpo_breached THEN '<span class="breached">&#9888; breached</span>'
												   WHEN NOT x.rpo_breached THEN '<span class="ok">met</span>'
												   ELSE '<span class="muted">&mdash;</span>' END),
									   E'\n' ORDER BY x.vault, x.name)
					 FROM jsonb_to_recordset(d->'items')
						  AS x(vault text, name text, kind text, policy text, state text, health text,
							   last_success timestamptz, last_error text, rpo_breached boolean, stored numeric,
							   stored_day date)), '')
		|| E'\n</tbody></table>\n'
		|| CASE WHEN jsonb_array_length(d->'items') = 0 THEN '<p class="note">No items visible to you.</p>' ELSE '' END
		|| E'</section>\n';

	-- 3.5 alerts: the active ones, newest first
	h := h || format('<section id="alerts"><h2>Active alerts (%s)</h2>
<p class="meta">%s acknowledged alert%s not shown; resolved ones are in vault_alerts.</p>
', d->>'alerts_active', d->>'alerts_acknowledged', CASE WHEN d->>'alerts_acknowledged' = '1' THEN '' ELSE 's' END);
	IF jsonb_array_length(d->'alerts') = 0 THEN
		h := h || '<p class="note">No active alerts.</p>';
	ELSE
		h := h || '<table><thead><tr><th>raised at</th><th>severity</th><th>kind</th><th>vault</th><th>item</th>'
			'<th>message</th><th class="num">times</th></tr></thead>
<tbody>
'
			|| (SELECT string_agg(format('<tr><td class="when">%s</td><td><span class="badge %s">%s</span></td><td>%s</td>'
										 '<td class="name">%s</td><td class="name">%s</td><td class="name">%s</td><td class="num">%s</td></tr>',
										 to_char(x.raised_at, 'YYYY-MM-DD HH24:MI'),
										 CASE x.severity WHEN 'critical' THEN 'sev-critical' ELSE 'sev-error' END,
										 x.severity, x.kind, coalesce(x.vault, '&mdash;'), coalesce(x.item, '&mdash;'),
										 x.message, x.occurrences), E'\n' ORDER BY x.raised_at DESC)
				FROM jsonb_to_recordset(d->'alerts')
					 AS x(raised_at timestamptz, severity text, kind text, vault text, item text, message text,
						  occurrences integer))
			|| E'\n</tbody></table>\n'
			|| CASE WHEN (d->>'alerts_active')::bigint > jsonb_array_length(d->'alerts')
					THEN format('<p class="note">the newest %s shown</p>', jsonb_array_length(d->'alerts')) ELSE '' END;
	END IF;
	h := h || E'</section>\n';

	-- 3.6 storage per item on each vault's latest report day
	h := h || '<section id="storage-per-item"><h2>Storage per item</h2>
';
	IF jsonb_array_length(d->'per_item') = 0 THEN
		h := h || '<p class="note">no report rows yet</p>';
	ELSE
		h := h || '<table><thead><tr><th>vault</th><th>item</th><th>day</th><th class="num">stored</th>'
			'<th class="num">of the vault</th><th></th></tr></thead>
<tbody>
'
			|| (SELECT string_agg(format('<tr><td class="name">%s</td><td class="name">%s</td><td class="when">%s</td><td class="num">%s</td>'
										 '<td class="num">%s</td><td><div class="bar"><span style="width:%s%%"></span></div></td></tr>',
										 x.vault, coalesce(x.item, '<span class="muted" title="storage no recovery point uses">(no item)</span>'),
										 to_char(x.day, 'YYYY-MM-DD'), coalesce(pg_size_pretty(x.stored), '&mdash;'),
										 coalesce(to_char(pct, 'FM990.0') || ' %', '&mdash;'),
										 coalesce(round(pct, 1), 0)), E'\n' ORDER BY x.vault, x.stored DESC NULLS LAST, x.item NULLS LAST)
				FROM jsonb_to_recordset(d->'per_item')
					 AS x(vault text, item text, day date, stored numeric, vault_stored numeric)
				CROSS JOIN LATERAL (SELECT least(100, greatest(0, 100 * x.stored / nullif(x.vault_stored, 0))) AS pct) g)
			|| E'\n</tbody></table>\n';
	END IF;
	h := h || E'</section>\n';

	-- 3.7 coming purges: soft-deleted items and points
	h := h || format('<section id="purges"><h2>Upcoming purges (%s)</h2>
', d->>'purges_total');
	IF jsonb_array_length(d->'purges') = 0 THEN
		h := h || '<p class="note">Nothing soft-deleted is waiting to be purged.</p>';
	ELSE
		h := h || '<table><thead><tr><th>purge at</th><th>in</th><th>vault</th><th>item</th><th>what</th>'
			'<th class="num">size</th><th></th></tr></thead>
<tbody>
'
			|| (SELECT string_agg(format('<tr><td class="when">%s</td><td class="when">%s</td><td class="name">%s</td><td class="name">%s</td>'
										 '<td class="nw">%s</td><td class="num">%s</td><td>%s</td></tr>',
										 to_char(x.purge_at, 'YYYY-MM-DD HH24:MI'),
										 CASE WHEN x.purge_at <= now() THEN '<span class="breached">due</span>'
											  WHEN x.purge_at - now() < interval '1 day'
											  THEN '<span class="breached">' || ceil(EXTRACT(epoch FROM x.purge_at - now()) / 3600) || ' h</span>'
											  WHEN x.purge_at - now() < interval '3 days'
											  THEN floor(EXTRACT(epoch FROM x.purge_at - now()) / 86400) || ' d '
												   || floor(EXTRACT(epoch FROM x.purge_at - now()) / 3600)::bigint % 24 || ' h'
											  ELSE floor(EXTRACT(epoch FROM x.purge_at - now()) / 86400) || ' d' END,
										 x.vault, coalesce(x.item, '&mdash;'),
										 CASE WHEN x.what = 'item' THEN 'item (' || coalesce(x.points, 0) || ' point'
																	  || CASE WHEN x.points = 1 THEN '' ELSE 's' END || ')'
											  ELSE 'recovery point ' || x.recovery_point END,
										 coalesce(pg_size_pretty(x.logical_bytes), ''),
										 CASE WHEN x.on_hold THEN '<span class="badge sev-error">on legal hold</span>' ELSE '' END),
								  E'\n' ORDER BY x.purge_at, x.vault, x.item, x.recovery_point NULLS FIRST)
				FROM jsonb_to_recordset(d->'purges')
					 AS x(what text, vault text, item text, recovery_point bigint, purge_at timestamptz,
						  points bigint, logical_bytes numeric, on_hold boolean))
			|| E'\n</tbody></table>\n'
			|| CASE WHEN (d->>'purges_total')::bigint > jsonb_array_length(d->'purges')
					THEN format('<p class="note">the first %s shown</p>', jsonb_array_length(d->'purges')) ELSE '' END;
	END IF;
	h := h || E'</section>\n';

	RETURN h || E'</main></body></html>\n';
END
$$;

-- ---------------------------------------------------------------------------
-- the advisor: what is not backed up, and what is set up unsafely
-- ---------------------------------------------------------------------------

-- one row per recommendation ever made, kept when its cause goes (present
-- false) so that one that comes back keeps its id, first_seen and, while
-- it lasts, its snooze or dismissal
CREATE TABLE vault_internal.advisor (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule			text NOT NULL,
	category		text NOT NULL CHECK (category IN ('reliability', 'security', 'performance', 'cost',
													 'operational excellence')),
	impact			text NOT NULL CHECK (impact IN ('high', 'medium', 'low')),
	object_kind		text NOT NULL CHECK (object_kind IN ('table', 'schema', 'vault', 'policy', 'item')),
	object_name		text NOT NULL,
	relid			oid,				-- a table's, or a schema's namespace oid: who may see it
	vault_id		bigint,				-- a vault's or an item's vault: who may see it
	recommendation	text NOT NULL,
	why				text NOT NULL,
	apply_sql		text,
	state			text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'snoozed', 'dismissed')),
	snoozed_until	timestamptz,
	first_seen		timestamptz NOT NULL,
	last_seen		timestamptz NOT NULL,
	present			boolean NOT NULL DEFAULT true
);
-- one finding per rule and object (items of the same name in two vaults apart)
CREATE UNIQUE INDEX advisor_finding ON vault_internal.advisor (rule, object_kind, object_name, (coalesce(vault_id, 0)));
REVOKE ALL ON vault_internal.advisor FROM PUBLIC;

-- every rule, as of p_now: what it finds now (src/api/advisor.c refreshes
-- the table from it)
CREATE FUNCTION vault_internal.advisor_findings(p_now timestamptz,
		OUT rule text, OUT category text, OUT impact text, OUT object_kind text, OUT object_name text,
		OUT relid oid, OUT vault_id bigint, OUT recommendation text, OUT why text, OUT apply_sql text)
	RETURNS SETOF record
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
WITH protected AS (
	SELECT i.* FROM vault_internal.items i JOIN vault_internal.vaults v USING (vault_id)
	WHERE i.state = 'protected' AND NOT v.replica
), tabs AS (
	SELECT c.oid AS relid, n.oid AS nspid, n.nspname, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
		   pg_total_relation_size(c.oid) AS bytes,
		   coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0) AS writes,
		   coalesce(s.n_live_tup, 0) AS live_rows
	FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'vault_internal', 'pg_toast')
	  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
	  -- the extensions' own tables are theirs to back up
	  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
					  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
), unprotected AS (
	SELECT t.* FROM tabs t
	WHERE NOT EXISTS (SELECT 1 FROM protected i
					  WHERE (i.kind = 'table' AND (i.source_oid = t.relid OR i.name = t.name))
						 OR (i.kind = 'schema' AND i.name = t.nspname))
), vaults AS (
	SELECT v.*, (SELECT count(*) FROM vault_internal.items i WHERE i.vault_id = v.vault_id
				 AND i.state <> 'soft-deleted') AS items
	FROM vault_internal.vaults v WHERE NOT v.replica
), last_points AS (
	-- each item's recent points, newest first (chunks stored whole: a delta
	-- is the vault coping with scattered changes already)
	SELECT p.item_id, p.created_at, p.new_chunks - p.delta_chunks AS new_chunks, p.chunks, p.new_bytes, p.logical_bytes,
		   row_number() OVER (PARTITION BY p.item_id ORDER BY p.created_at DESC) AS n
	FROM vault_internal.points p WHERE p.state = 'available'
)
-- reliability: a table no item of any vault protects, by size and writes
SELECT 'unprotected table', 'reliability',
	   CASE WHEN u.bytes >= 100 * 1024 * 1024 OR u.writes >= 100000 THEN 'high'
			WHEN u.live_rows = 0 OR (u.bytes < 1024 * 1024 AND u.writes < 1000) THEN 'low'
			ELSE 'medium' END,
	   'table', u.name, u.relid, NULL::bigint,
	   format('Protect table %s: no vault backs it up.', u.name),
	   format('%s, about %s rows, %s rows written since statistics were reset.',
			  pg_size_pretty(u.bytes), u.live_rows, u.writes),
	   format('SELECT vault_advisor_apply(<id>, vault => %L, policy => %L);', '<vault>', '<policy>')
FROM unprotected u
UNION ALL
-- reliability: a schema of several unprotected tables: protect it once
SELECT 'unprotected schema', 'reliability', CASE WHEN sum(u.bytes) >= 100 * 1024 * 1024 THEN 'high' ELSE 'medium' END,
	   'schema', u.nspname, u.nspid, NULL,
	   format('Protect schema %s as one item: %s of its tables are not backed up.', quote_ident(u.nspname), count(*)),
	   format('%s unprotected tables, %s in all; a schema item also protects the tables created later.',
			  count(*), pg_size_pretty(sum(u.bytes))),
	   format('SELECT vault_advisor_apply(<id>, vault => %L, policy => %L);', '<vault>', '<policy>')
FROM unprotected u
GROUP BY u.nspname, u.nspid
HAVING count(*) >= 3
UNION ALL
-- reliability: a protected item without a successful point for 7 days
SELECT 'inactive item', 'reliability', 'high', 'item', i.name, NULL, i.vault_id,
	   format('Find out why item %s of vault %s has had no successful backup for 7 days.', i.name, v.name),
	   format('Last successful backup: %s.', coalesce(h.last_success::text, 'never')),
	   NULL
FROM protected i
JOIN vault_internal.vaults v USING (vault_id)
LEFT JOIN vault_internal.item_health h USING (item_id)
WHERE coalesce(h.last_success, i.protected_at) < p_now - interval '7 days'
UNION ALL
-- reliability: one copy only
SELECT 'local redundancy', 'reliability', 'medium', 'vault', v.name, NULL, v.vault_id,
	   format('Keep a second copy of vault %s: its redundancy is local.', v.name),
	   'A local vault lives in this cluster only: losing the server loses the backups with the data. '
	   'A zone vault waits for a synchronous standby, a geo vault replicates to another region.',
	   format('SELECT vault_create(%L); SELECT vault_configure(%L, redundancy => %L);', v.name || '_geo',
			  v.name || '_geo', 'geo')
FROM vaults v WHERE v.redundancy = 'local' AND v.items > 0
UNION ALL
SELECT 'no cross-region restore', 'reliability', 'low', 'vault', v.name, NULL, v.vault_id,
	   format('Allow cross-region restore on geo vault %s, so its secondary can restore when this region is lost.', v.name),
	   'Without it the secondary keeps the points but refuses to restore them.',
	   format('SELECT vault_configure(%L, cross_region_restore => true);', v.name)
FROM vaults v WHERE v.redundancy = 'geo' AND NOT v.cross_region_restore
UNION ALL
-- security
SELECT 'soft delete off', 'security', 'high', 'vault', v.name, NULL, v.vault_id,
	   format('Turn soft delete on for vault %s.', v.name),
	   'With soft delete off, deleted backup data is gone at once: a mistake or an attacker cannot be undone.',
	   format('SELECT vault_configure(%L, soft_delete => %L);', v.name, 'on')
FROM vaults v WHERE v.soft_delete = 'off'
UNION ALL
SELECT 'soft delete not always-on', 'security', 'medium', 'vault', v.name, NULL, v.vault_id,
	   format('Make soft delete always-on for vault %s, which protects %s items.', v.name, v.items),
	   'Soft delete that can be turned off protects only until someone with the contributor level turns it off.',
	   format('SELECT vault_configure(%L, soft_delete => %L);', v.name, 'always-on')
FROM vaults v WHERE v.soft_delete = 'on' AND v.items >= 5
UNION ALL
SELECT 'no immutability or guard', 'security', 'medium', 'vault', v.name, NULL, v.vault_id,
	   format('Make vault %s immutable, or give it a guard role.', v.name),
	   'Neither immutability nor a guard: one contributor alone can shorten retention and delete points.',
	   format('SELECT vault_configure(%L, immutability => %L);', v.name, 'on')
FROM vaults v WHERE v.immutability = 'off' AND v.guard IS NULL
UNION ALL
SELECT 'platform key backup', 'security', 'medium', 'vault', v.name, NULL, v.vault_id,
	   format('Make sure the platform key file is backed up apart from the database: vault %s cannot be read without it.', v.name),
	   'The vault is encrypted under the platform key (vault.platform_key_file). The vault cannot know whether '
	   'the file is kept elsewhere; dismiss this once it is.',
	   NULL
FROM vaults v WHERE v.key_id IS NULL AND v.items > 0
UNION ALL
-- cost: points that add almost nothing, kept in numbers
SELECT 'retention beyond change rate', 'cost', 'low', 'item', i.name, NULL, i.vault_id,
	   format('Keep fewer points of item %s, or back it up less often: most of its points add almost nothing.', i.name),
	   format('%s of its last %s points added less than 0.1%% of its size (%s).', sum((lp.new_bytes * 1000 < lp.logical_bytes)::int),
			  count(*), pg_size_pretty(max(lp.logical_bytes))),
	   format('SELECT vault_policy_alter(%L, retention => %L);', po.name, '<fewer points>')
FROM protected i
JOIN vault_internal.policies po ON po.policy_id = i.policy_id
JOIN last_points lp ON lp.item_id = i.item_id AND lp.n <= 30 AND lp.n > 1
GROUP BY i.item_id, i.name, i.vault_id, po.name
HAVING count(*) >= 10 AND sum((lp.new_bytes * 1000 < lp.logical_bytes)::int) >= 0.9 * count(*)
UNION ALL
SELECT 'uncollected chunks', 'cost', CASE WHEN g.bytes >= 100 * 1024 * 1024 THEN 'medium' ELSE 'low' END,
	   'vault', v.name, NULL, v.vault_id,
	   format('Collect the %s of chunks of vault %s that no point uses any more.', pg_size_pretty(g.bytes), v.name),
	   format('%s chunks, %s; retention or a purge collects them.', g.chunks, pg_size_pretty(g.bytes)),
	   'SELECT * FROM vault_apply_retention(now());'
FROM vaults v
CROSS JOIN LATERAL (
	SELECT count(*) AS chunks, coalesce(sum(c.stored_len), 0) AS bytes
	FROM vault_internal.chunks c
	WHERE c.vault_id = v.vault_id
	  AND c.chunk_no NOT IN (SELECT unnest(m.chunk_nos) FROM vault_internal.manifests m
							 JOIN vault_internal.points p USING (point_id) WHERE p.vault_id = v.vault_id)
	  AND NOT EXISTS (SELECT 1 FROM vault_internal.chunks d WHERE d.base_no = c.chunk_no)) g
WHERE g.chunks > 0
UNION ALL
SELECT 'long soft delete', 'cost', 'low', 'vault', v.name, NULL, v.vault_id,
	   format('Soft-deleted data of vault %s is kept %s days: shorten soft_delete_days if that is more than you need.',
			  v.name, v.soft_delete_days),
	   format('%s soft-deleted points, the last purged on %s.', count(*), max(p.purge_at)::date),
	   format('SELECT vault_configure(%L, soft_delete_days => 14);', v.name)
FROM vaults v JOIN vault_internal.points p USING (vault_id)
WHERE p.state = 'soft-deleted' AND v.soft_delete_days > 30
GROUP BY v.vault_id, v.name, v.soft_delete_days
UNION ALL
-- performance: a round of the policy's backups (they run one at a time)
-- takes longer than the gap between its runs
SELECT 'backup longer than interval', 'performance', 'high', 'policy', po.name, NULL, NULL,
	   format('Back up less often under policy %s, or spread its items over more policies: '
			  'one round of its backups takes longer than its interval.', po.name),
	   format('Its %s items'' scheduled backups of the last 7 days took %s per round (the sum of their '
			  'average times); the schedule runs every %s.', count(*),
			  date_trunc('second', sum(d.avg_time)), x.gap),
	   format('SELECT vault_policy_alter(%L, schedule => %L);', po.name, '<a longer interval>')
FROM vault_internal.policies po
CROSS JOIN LATERAL (
	SELECT @extschema@.vault_next_run(po.schedule::@extschema@.vault_schedule,
									  @extschema@.vault_next_run(po.schedule::@extschema@.vault_schedule, p_now, po.timezone),
									  po.timezone)
		   - @extschema@.vault_next_run(po.schedule::@extschema@.vault_schedule, p_now, po.timezone) AS gap) x
JOIN protected i ON i.policy_id = po.policy_id
CROSS JOIN LATERAL (
	SELECT avg(j.ended_at - j.started_at) AS avg_time FROM vault_internal.jobs j
	WHERE j.item_id = i.item_id AND j.operation = 'backup' AND j.trigger = 'scheduled'
	  AND j.state = 'completed' AND j.ended_at > p_now - interval '7 days') d
WHERE d.avg_time IS NOT NULL
GROUP BY po.name, x.gap
HAVING sum(d.avg_time) > x.gap
UNION ALL
SELECT 'scattered changes', 'performance', 'medium', 'item', i.name, NULL, i.vault_id,
	   format('Item %s stores nearly all of its chunks again at every backup: its changes are scattered over the table.', i.name),
	   format('Its last %s points stored %s%% of their chunks anew (%s per backup).', count(*),
			  round(100.0 * sum(lp.new_chunks) / nullif(sum(lp.chunks), 0)), pg_size_pretty(avg(lp.new_bytes))),
	   NULL
FROM protected i
JOIN last_points lp ON lp.item_id = i.item_id AND lp.n <= 3
WHERE lp.n < (SELECT count(*) FROM last_points a WHERE a.item_id = i.item_id)	-- not its first point
GROUP BY i.item_id, i.name, i.vault_id
HAVING count(*) = 3 AND sum(lp.new_chunks) >= 0.9 * sum(lp.chunks) AND sum(lp.chunks) > 0
UNION ALL
-- operational excellence
SELECT 'failing for a day', 'operational excellence', 'high', 'item', a.item, NULL, a.vault_id,
	   format('Fix the backups of item %s of vault %s: they have been failing for more than a day.', a.item, a.vault_name),
	   format('Alert %s (%s) active since %s, %s failures: %s', a.alert_id, a.kind, date_trunc('second', a.raised_at),
			  a.occurrences, a.message),
	   NULL
FROM vault_internal.alerts a
WHERE a.kind = 'backup failure' AND a.state = 'active' AND a.raised_at < p_now - interval '1 day'
  AND a.item IS NOT NULL AND a.vault_id IN (SELECT vault_id FROM vaults)
UNION ALL
SELECT 'unused policy', 'operational excellence', 'low', 'policy', po.name, NULL, NULL,
	   format('Drop policy %s, or use it: no item is protected by it.', po.name),
	   format('Created %s.', po.created_at::date),
	   format('SELECT vault_policy_drop(%L);', po.name)
FROM vault_internal.policies po
WHERE NOT EXISTS (SELECT 1 FROM vault_internal.items i WHERE i.policy_id = po.policy_id)
$$;

-- the refresh: what is found now is present (new rows active, a snooze that
-- ran out active again), what is not is gone; one that comes back keeps
-- its id, first_seen, and its dismissal or snooze
CREATE FUNCTION vault_internal.advisor_refresh(p_now timestamptz) RETURNS void
	LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
UPDATE vault_internal.advisor SET present = false WHERE present;
INSERT INTO vault_internal.advisor AS a (rule, category, impact, object_kind, object_name, relid, vault_id,
										 recommendation, why, apply_sql, first_seen, last_seen)
SELECT f.rule, f.category, f.impact, f.object_kind, f.object_name, f.relid, f.vault_id,
	   f.recommendation, f.why, f.apply_sql, p_now, p_now
FROM vault_internal.advisor_findings(p_now) f
ON CONFLICT (rule, object_kind, object_name, (coalesce(vault_id, 0))) DO UPDATE
SET category = EXCLUDED.category, impact = EXCLUDED.impact, relid = EXCLUDED.relid,
	vault_id = EXCLUDED.vault_id, recommendation = EXCLUDED.recommendation, why = EXCLUDED.why,
	apply_sql = EXCLUDED.apply_sql, last_seen = p_now, present = true;
UPDATE vault_internal.advisor SET state = 'active', snoozed_until = NULL
WHERE state = 'snoozed' AND snoozed_until <= p_now;
$$;
REVOKE ALL ON FUNCTION vault_internal.advisor_findings(timestamptz),
	vault_internal.advisor_refresh(timestamptz) FROM PUBLIC;

CREATE FUNCTION vault_advisor_refresh() RETURNS void
	AS 'MODULE_PATHNAME', 'vault_advisor_refresh' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_advisor_refresh(now timestamptz) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_advisor_refresh_at' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_advisor_snooze(id bigint, until timestamptz) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_advisor_snooze' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_advisor_dismiss(id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_advisor_dismiss' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_advisor_reactivate(id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_advisor_reactivate' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_advisor_apply(id bigint, vault text DEFAULT NULL, policy text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_advisor_apply' LANGUAGE C VOLATILE;

-- what the caller may see: a table it may SELECT, a schema it may use with
-- a table in it it may SELECT, a vault (or an item's vault) it holds a
-- level on, a policy vault_policies shows it
CREATE VIEW vault_advisor AS
SELECT a.id, a.category, a.impact, a.object_kind, a.object_name, a.recommendation, a.why,
	   replace(a.apply_sql, '<id>', a.id::text) AS apply_sql,
	   a.state, a.snoozed_until, a.first_seen, a.last_seen
FROM vault_internal.advisor a
LEFT JOIN vault_internal.vaults v ON v.vault_id = a.vault_id
WHERE a.present
  AND CASE a.object_kind
		WHEN 'table' THEN coalesce(pg_catalog.has_table_privilege(a.relid, 'SELECT'), false)
		WHEN 'schema' THEN coalesce(pg_catalog.has_schema_privilege(a.relid, 'USAGE'), false)
			AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = a.relid
						AND c.relkind IN ('r', 'p') AND pg_catalog.has_table_privilege(c.oid, 'SELECT'))
		WHEN 'policy' THEN EXISTS (SELECT 1 FROM vault_policies p WHERE p.policy = a.object_name)
		ELSE v.vault_id IS NOT NULL AND vault_internal.can_see(v.vault_id, v.owner)
	  END
ORDER BY array_position(ARRAY['reliability', 'security', 'performance', 'cost', 'operational excellence'],
						a.category),
		 array_position(ARRAY['high', 'medium', 'low'], a.impact), a.object_kind, a.object_name, a.id;
GRANT SELECT ON vault_advisor TO PUBLIC;

-- ---------------------------------------------------------------------------
-- speed: the parallel pipeline.  A backup's tables are read, cut and sealed
-- by up to `parallel` background workers (NULL: vault.max_parallel_workers;
-- 0: none), stored by the calling backend in the caller's transaction; a
-- restore's chunks are opened ahead of its COPY by as many.  The new
-- argument replaces the 1.0 signatures (a second overload would make every
-- existing call ambiguous).
-- ---------------------------------------------------------------------------
DROP FUNCTION vault_backup(text, regclass, timestamptz);
CREATE FUNCTION vault_backup(vault text, source regclass,
	retain_until timestamptz DEFAULT NULL, parallel integer DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_backup' LANGUAGE C VOLATILE;
DROP FUNCTION vault_backup_schema(text, name, timestamptz);
CREATE FUNCTION vault_backup_schema(vault text, source name,
	retain_until timestamptz DEFAULT NULL, parallel integer DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_backup_schema' LANGUAGE C VOLATILE;
DROP FUNCTION vault_restore(bigint, text, boolean, text);
CREATE FUNCTION vault_restore(recovery_point bigint,
	target text DEFAULT NULL, replace boolean DEFAULT false, source_table text DEFAULT NULL,
	parallel integer DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'vault_restore' LANGUAGE C VOLATILE;

-- ---------------------------------------------------------------------------
-- scale: chunk collection in proportion to what was removed.  A statement
-- that deletes manifests (points deleted by expiry, purge or a delete, their
-- tables and manifests going by cascade) queues the chunks they referenced;
-- collection (under the vault's exclusive lock) looks only at the queued
-- chunks: one that no manifest references (the GIN index on chunk_nos says)
-- and that no delta needs as its base goes, and the base of a delta that
-- went is queued in turn.  The queue is transactional, like the deletes that
-- fill it: a rollback or a crash leaves both as they were.
-- ---------------------------------------------------------------------------
CREATE TABLE vault_internal.collect_queue (
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults ON DELETE CASCADE,
	chunk_no		bigint NOT NULL
);
CREATE INDEX collect_queue_vault ON vault_internal.collect_queue (vault_id);
CREATE INDEX manifests_chunk_nos ON vault_internal.manifests USING gin (chunk_nos)
	WITH (fastupdate = off);

CREATE FUNCTION vault_internal.queue_collect() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO vault_internal.collect_queue (vault_id, chunk_no)
	SELECT c.vault_id, c.chunk_no
	FROM (SELECT DISTINCT x.chunk_no FROM gone g CROSS JOIN LATERAL unnest(g.chunk_nos) AS x(chunk_no)) r
	JOIN vault_internal.chunks c ON c.chunk_no = r.chunk_no;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION vault_internal.queue_collect() FROM PUBLIC;
CREATE TRIGGER queue_collect AFTER DELETE ON vault_internal.manifests
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION vault_internal.queue_collect();

-- a table's points, newest first: a backup looks for the table's previous
-- stream and for an earlier proof of it among the newest, and stops at the
-- first that serves, whatever the table's history (1.0's index on
-- source_oid alone made each backup read every point the table ever had:
-- seven years of daily points are 2,555 rows)
CREATE INDEX point_tables_source_newest ON vault_internal.point_tables (source_oid, point_id);
DROP INDEX vault_internal.point_tables_source_oid_idx;

-- a stream the parallel workers wrote: where each of its ranges (blocks of
-- vault.parallel_range_size, range_blocks when written) began in its
-- manifest; the next backup's workers each take the stretch their range
-- held there as the bases of its deltas (NULL: written serially)
ALTER TABLE vault_internal.point_tables ADD COLUMN range_starts bigint[];
ALTER TABLE vault_internal.point_tables ADD COLUMN range_blocks integer;

-- every figure the vault maintains, recounted and compared (the ledger of
-- vault_usage, the manifest bytes kept on the points, and the collection
-- queue's promise that every chunk no point needs is queued); contributor
-- on the vault
CREATE FUNCTION vault_check(vault text)
	RETURNS TABLE(figure text, maintained bigint, recounted bigint, ok boolean)
	AS 'MODULE_PATHNAME', 'vault_check' LANGUAGE C VOLATILE;

-- ---------------------------------------------------------------------------
-- expiry: recomputed when something that decides it changes
-- ---------------------------------------------------------------------------

-- The items whose scheduled points' expiries must be recomputed: a
-- scheduled point came, went or changed state since the last computation
-- (a backup, an expiry, a delete, a soft delete or undelete, a purge).  The
-- expiries follow from the points' times and the policy's rule alone (the
-- clock only decides which have come), so a retention run recomputes these
-- items only; a policy change or a move recomputes its items at once.
CREATE TABLE vault_internal.expiry_stale (
	item_id			bigint PRIMARY KEY REFERENCES vault_internal.items ON DELETE CASCADE
);
REVOKE ALL ON vault_internal.expiry_stale FROM PUBLIC;
INSERT INTO vault_internal.expiry_stale (item_id)
SELECT item_id FROM vault_internal.items WHERE policy_id IS NOT NULL;

CREATE FUNCTION vault_internal.expiry_mark_stale() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- (an item deleted with its points is gone by now: nothing to mark)
	INSERT INTO vault_internal.expiry_stale (item_id)
	SELECT i.item_id FROM vault_internal.items i
	WHERE i.item_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.item_id ELSE NEW.item_id END
	ON CONFLICT (item_id) DO NOTHING;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION vault_internal.expiry_mark_stale() FROM PUBLIC;
CREATE TRIGGER expiry_point_added AFTER INSERT ON vault_internal.points
	FOR EACH ROW WHEN (NEW.trigger = 'scheduled')
	EXECUTE FUNCTION vault_internal.expiry_mark_stale();
CREATE TRIGGER expiry_point_gone AFTER DELETE ON vault_internal.points
	FOR EACH ROW WHEN (OLD.trigger = 'scheduled' AND OLD.state = 'available')
	EXECUTE FUNCTION vault_internal.expiry_mark_stale();
CREATE TRIGGER expiry_point_state AFTER UPDATE OF state ON vault_internal.points
	FOR EACH ROW WHEN (NEW.trigger = 'scheduled' AND OLD.state IS DISTINCT FROM NEW.state)
	EXECUTE FUNCTION vault_internal.expiry_mark_stale();
