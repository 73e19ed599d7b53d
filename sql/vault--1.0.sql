-- vault 1.0: the extension's SQL face.
--
-- Storage lives in the private schema vault_internal: no role but the
-- extension owner can read or write it.  Users reach the vault only through
-- the vault_* functions and views below, which are installed in the schema
-- chosen at CREATE EXTENSION (default public).

\echo Use "CREATE EXTENSION vault" to load this file. \quit

CREATE SCHEMA vault_internal;
REVOKE ALL ON SCHEMA vault_internal FROM PUBLIC;

-- one row per vault; its data and MAC keys only wrapped by the platform key
CREATE TABLE vault_internal.vaults (
	vault_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL UNIQUE
		CHECK (length(name) BETWEEN 1 AND 63),
	owner			oid NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	key_source		text NOT NULL DEFAULT 'platform',
	wrapped_keys	bytea NOT NULL
);

-- a protected thing: a table or a whole schema
CREATE TABLE vault_internal.items (
	item_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults,
	kind			text NOT NULL CHECK (kind IN ('table', 'schema')),
	name			text NOT NULL,		-- qualified table name, or schema name
	source_oid		oid,
	-- protected: under a policy; on-demand: backed up only on demand;
	-- stopped: protection stopped, its points kept (they still expire by the policy)
	state			text NOT NULL DEFAULT 'on-demand'
		CHECK (state IN ('protected', 'on-demand', 'stopped')),
	protected_at	timestamptz NOT NULL DEFAULT now(),
	policy_id		bigint,			-- REFERENCES policies, added below
	next_run_at		timestamptz,	-- protected items: the next scheduled backup
	UNIQUE (vault_id, kind, name)
);

-- one backup of one item at one instant
CREATE TABLE vault_internal.points (
	point_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults,
	item_id			bigint NOT NULL REFERENCES vault_internal.items,
	trigger			text NOT NULL DEFAULT 'on-demand'
		CHECK (trigger IN ('on-demand', 'scheduled')),
	created_at		timestamptz NOT NULL,
	retain_until	timestamptz,	-- on-demand: kept at least until then (NULL: until deleted)
	expires_at		timestamptz,	-- scheduled: when the item's retention rule lets it go
	scheduled_for	timestamptz,	-- scheduled: the slot it serves (retention dates by it)
	state			text NOT NULL DEFAULT 'available',
	created_by		oid NOT NULL,
	tables			integer NOT NULL DEFAULT 0,
	rows			bigint NOT NULL DEFAULT 0,
	logical_bytes	bigint NOT NULL DEFAULT 0,
	new_bytes		bigint NOT NULL DEFAULT 0,
	chunks			bigint NOT NULL DEFAULT 0,
	new_chunks		bigint NOT NULL DEFAULT 0,
	-- evidence for proving a table unchanged later (see src/unchanged.c):
	-- the WAL insert position read before the snapshot, and the transactions
	-- the snapshot saw as running; NULL when the backup cannot give a proof
	scan_lsn		pg_lsn,
	scan_xids		bigint[]
);
CREATE INDEX ON vault_internal.points (item_id, created_at);

-- the captured tables of a point (one for a table item, all for a schema item)
CREATE TABLE vault_internal.point_tables (
	point_id		bigint NOT NULL REFERENCES vault_internal.points ON DELETE CASCADE,
	ordinal			integer NOT NULL,
	schema_name		text NOT NULL,
	table_name		text NOT NULL,
	source_oid		oid NOT NULL,
	source_owner	oid NOT NULL,
	definition		jsonb NOT NULL,
	rows			bigint NOT NULL DEFAULT 0,
	logical_bytes	bigint NOT NULL DEFAULT 0,
	chunks			bigint NOT NULL DEFAULT 0,
	page_digest		bytea,			-- pages and column signature (src/unchanged.c)
	unchanged_since	bigint,			-- point whose stream this one reuses, unread
	PRIMARY KEY (point_id, ordinal)
);
CREATE INDEX ON vault_internal.point_tables (source_oid);

-- manifest: the chunk numbers of each table's stream, in order, in segments
CREATE TABLE vault_internal.manifests (
	point_id		bigint NOT NULL,
	ordinal			integer NOT NULL,
	segment			integer NOT NULL,
	chunk_nos		bigint[] NOT NULL,
	PRIMARY KEY (point_id, ordinal, segment),
	FOREIGN KEY (point_id, ordinal) REFERENCES vault_internal.point_tables ON DELETE CASCADE
);

-- the vault's large-object table: sealed chunks, stored once per vault
CREATE TABLE vault_internal.chunks (
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults,
	chunk_no		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chunk_id		bytea NOT NULL,		-- HMAC-SHA256(vault MAC key, plaintext)
	plain_len		integer NOT NULL,
	stored_len		integer NOT NULL,
	data			bytea NOT NULL,		-- sealed: codec.h format
	UNIQUE (vault_id, chunk_id)
);
ALTER TABLE vault_internal.chunks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE vault_internal.chunks ALTER COLUMN chunk_id SET STORAGE PLAIN;

-- backup policies: when to back up, how long points live, in which time zone
CREATE TABLE vault_internal.policies (
	policy_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL UNIQUE
		CHECK (length(name) BETWEEN 1 AND 63),
	owner			oid NOT NULL,		-- scheduled backups run as this role
	schedule		text NOT NULL,		-- vault_schedule, canonical text
	retention		text NOT NULL,		-- vault_retention, canonical text
	timezone		text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	changed_at		timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE vault_internal.items
	ADD FOREIGN KEY (policy_id) REFERENCES vault_internal.policies;
CREATE INDEX ON vault_internal.items (policy_id);

-- jobs: the durable record of every backup, restore, retention run and expiry
CREATE TABLE vault_internal.jobs (
	job_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	vault_id		bigint,				-- no foreign keys: the history outlives
	vault_name		text,				-- the vaults and items it names
	item_id			bigint,
	item_name		text,
	operation		text NOT NULL
		CHECK (operation IN ('backup', 'restore', 'retention', 'expiry', 'delete')),
	trigger			text NOT NULL CHECK (trigger IN ('scheduled', 'on-demand')),
	state			text NOT NULL
		CHECK (state IN ('in-progress', 'completed', 'failed', 'cancelled')),
	run_as			oid,
	pid				integer,			-- backend running it, while in progress
	started_at		timestamptz NOT NULL,
	ended_at		timestamptz,
	recovery_point	bigint,
	rows			bigint,
	logical_bytes	bigint,
	new_bytes		bigint,
	freed_bytes		bigint,
	error			text
);
CREATE INDEX ON vault_internal.jobs (state) WHERE state = 'in-progress';
CREATE INDEX ON vault_internal.jobs (vault_id, started_at);

-- per-vault access: a level granted to a role (and so to its members)
CREATE TABLE vault_internal.grants (
	vault_id		bigint NOT NULL REFERENCES vault_internal.vaults ON DELETE CASCADE,
	role			oid NOT NULL,
	level			text NOT NULL CHECK (level IN ('reader', 'operator', 'contributor')),
	granted_by		oid NOT NULL,
	granted_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (vault_id, role)
);

REVOKE ALL ON ALL TABLES IN SCHEMA vault_internal FROM PUBLIC;

-- the built-in roles: each level holds the one below; they apply to every vault
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['vault_reader', 'vault_operator', 'vault_contributor'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
	IF NOT pg_catalog.pg_has_role('vault_operator', 'vault_reader', 'MEMBER') THEN
		GRANT vault_reader TO vault_operator;
	END IF;
	IF NOT pg_catalog.pg_has_role('vault_contributor', 'vault_operator', 'MEMBER') THEN
		GRANT vault_operator TO vault_contributor;
	END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- policy types: a schedule (when to back up) and a retention rule (how long
-- each point lives).  A value is stored as its canonical text, checked and
-- normalised on input (src/policy_types.c), so what one reads back is what runs.
-- ---------------------------------------------------------------------------

CREATE TYPE vault_schedule;
CREATE FUNCTION vault_schedule_in(cstring) RETURNS vault_schedule
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_schedule_out(vault_schedule) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_schedule_recv(internal) RETURNS vault_schedule
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_schedule_send(vault_schedule) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE vault_schedule (
	INPUT = vault_schedule_in, OUTPUT = vault_schedule_out,
	RECEIVE = vault_schedule_recv, SEND = vault_schedule_send,
	INTERNALLENGTH = VARIABLE, STORAGE = extended, CATEGORY = 'U');
CREATE CAST (vault_schedule AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS vault_schedule) WITH INOUT AS ASSIGNMENT;

CREATE TYPE vault_retention;
CREATE FUNCTION vault_retention_in(cstring) RETURNS vault_retention
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_retention_out(vault_retention) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_retention_recv(internal) RETURNS vault_retention
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vault_retention_send(vault_retention) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE vault_retention (
	INPUT = vault_retention_in, OUTPUT = vault_retention_out,
	RECEIVE = vault_retention_recv, SEND = vault_retention_send,
	INTERNALLENGTH = VARIABLE, STORAGE = extended, CATEGORY = 'U');
CREATE CAST (vault_retention AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS vault_retention) WITH INOUT AS ASSIGNMENT;

-- the first run strictly after 'after', wall-clock times read in 'timezone'
CREATE FUNCTION vault_next_run(schedule vault_schedule, after timestamptz,
							   timezone text DEFAULT 'UTC') RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'vault_next_run' LANGUAGE C STABLE PARALLEL SAFE;

-- for a set of point times and a 'now': which rules select each point, which
-- of them still keep it at 'now', and until when it is kept
CREATE FUNCTION vault_retention_keep(rule vault_retention, points timestamptz[],
									 now timestamptz, timezone text DEFAULT 'UTC',
									 OUT point_time timestamptz, OUT kept boolean,
									 OUT kept_by text[], OUT selected_by text[],
									 OUT keep_until timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_retention_keep' LANGUAGE C STABLE PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- functions (C); each checks the calling role on entry and does its storage
-- work as the extension owner
-- ---------------------------------------------------------------------------

CREATE FUNCTION vault_create(vault text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_create' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_drop(vault text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_drop' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_backup(vault text, source regclass,
							 retain_until timestamptz DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_backup' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_backup_schema(vault text, source name,
									retain_until timestamptz DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_backup_schema' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_restore(recovery_point bigint,
							  target text DEFAULT NULL,
							  replace boolean DEFAULT false,
							  source_table text DEFAULT NULL) RETURNS text
	AS 'MODULE_PATHNAME', 'vault_restore' LANGUAGE C VOLATILE;

CREATE FUNCTION vault_verify(recovery_point bigint,
							 OUT ok boolean, OUT chunks bigint,
							 OUT bad_chunks bigint, OUT detail text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_verify' LANGUAGE C VOLATILE ROWS 1;

CREATE FUNCTION vault_export(recovery_point bigint,
							 source_table text DEFAULT NULL) RETURNS SETOF bytea
	AS 'MODULE_PATHNAME', 'vault_export' LANGUAGE C VOLATILE;

-- views: a role sees a vault when it holds any level on it (src/roles.c):
-- superuser, member of its owner, of a built-in vault role, or of a role with a
-- grant on it.  C, run as the caller; it reads only the caller's own grants.
CREATE FUNCTION vault_internal.can_see(vault_id bigint, vault_owner oid) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vault_can_see' LANGUAGE C STABLE;

CREATE VIEW vault_vaults AS
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
	   v.key_source AS encryption
FROM vault_internal.vaults v
WHERE vault_internal.can_see(v.vault_id, v.owner);

CREATE VIEW vault_items AS
SELECT i.item_id, v.name AS vault, i.kind, i.name,
	   (SELECT po.name FROM vault_internal.policies po WHERE po.policy_id = i.policy_id) AS policy,
	   i.state, i.protected_at,
	   (SELECT max(p.created_at) FROM vault_internal.points p WHERE p.item_id = i.item_id) AS last_backup_at,
	   (SELECT count(*) FROM vault_internal.points p WHERE p.item_id = i.item_id) AS recovery_points,
	   i.next_run_at
FROM vault_internal.items i
JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner);

CREATE VIEW vault_recovery_points AS
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
		WHERE t.point_id = p.point_id AND t.unchanged_since IS NOT NULL) AS unchanged_tables
FROM vault_internal.points p
JOIN vault_internal.items i USING (item_id)
JOIN vault_internal.vaults v ON v.vault_id = p.vault_id
WHERE vault_internal.can_see(v.vault_id, v.owner);

CREATE VIEW vault_policies AS
SELECT po.name AS policy, pg_catalog.pg_get_userbyid(po.owner)::name AS owner,
	   po.schedule::vault_schedule AS schedule, po.retention::vault_retention AS retention,
	   po.timezone, po.created_at, po.changed_at,
	   (SELECT count(*) FROM vault_internal.items i
		WHERE i.policy_id = po.policy_id AND i.state = 'protected') AS protected_items
FROM vault_internal.policies po
WHERE pg_catalog.pg_has_role(current_user, po.owner, 'USAGE')
   OR pg_catalog.pg_has_role(current_user, 'vault_reader', 'USAGE')
   OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
   OR EXISTS (SELECT 1 FROM vault_internal.items i JOIN vault_internal.vaults v USING (vault_id)
			  WHERE i.policy_id = po.policy_id
				AND vault_internal.can_see(v.vault_id, v.owner));

-- who holds what: each vault's owner and grants, and the members of the built-in
-- roles (scope global, vault NULL: they apply to every vault)
CREATE VIEW vault_access AS
SELECT v.name AS vault, pg_catalog.pg_get_userbyid(v.owner)::name AS role, 'owner'::text AS level,
	   'vault'::text AS scope, NULL::name AS granted_by, v.created_at AS granted_at
FROM vault_internal.vaults v
WHERE vault_internal.can_see(v.vault_id, v.owner)
UNION ALL
SELECT v.name, pg_catalog.pg_get_userbyid(g.role)::name, g.level, 'vault',
	   pg_catalog.pg_get_userbyid(g.granted_by)::name, g.granted_at
FROM vault_internal.grants g JOIN vault_internal.vaults v USING (vault_id)
WHERE vault_internal.can_see(v.vault_id, v.owner)
UNION ALL
SELECT NULL, m.rolname, substr(b.rolname, 7), 'global', NULL, NULL
FROM pg_catalog.pg_auth_members am
JOIN pg_catalog.pg_roles b ON b.oid = am.roleid
JOIN pg_catalog.pg_roles m ON m.oid = am.member
WHERE b.rolname IN ('vault_reader', 'vault_operator', 'vault_contributor')
  AND m.rolname NOT IN ('vault_reader', 'vault_operator', 'vault_contributor')
  AND (pg_catalog.pg_has_role(current_user, 'vault_reader', 'USAGE')
	   OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user));

-- access (src/roles.c)
CREATE FUNCTION vault_grant(vault text, role regrole, level text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_grant' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_revoke(vault text, role regrole, level text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_revoke' LANGUAGE C VOLATILE;

CREATE VIEW vault_jobs AS
SELECT j.job_id, j.vault_name AS vault, j.item_name AS item, j.operation, j.trigger, j.state,
	   j.started_at, j.ended_at, j.recovery_point, j.rows, j.logical_bytes, j.new_bytes,
	   j.freed_bytes, j.error, pg_catalog.pg_get_userbyid(j.run_as)::name AS run_as
FROM vault_internal.jobs j
LEFT JOIN vault_internal.vaults v ON v.vault_id = j.vault_id
WHERE vault_internal.can_see(v.vault_id, v.owner);

-- policies (src/policy.c)
CREATE FUNCTION vault_policy_create(policy text, schedule vault_schedule, retention vault_retention,
									timezone text DEFAULT 'UTC') RETURNS void
	AS 'MODULE_PATHNAME', 'vault_policy_create' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_policy_alter(policy text, schedule vault_schedule DEFAULT NULL,
								   retention vault_retention DEFAULT NULL,
								   timezone text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_policy_alter' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_policy_drop(policy text) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_policy_drop' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_protect(vault text, source regclass, policy text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_protect' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_protect_schema(vault text, source name, policy text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vault_protect_schema' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_unprotect(vault text, item text, delete_data boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME', 'vault_unprotect' LANGUAGE C VOLATILE;

-- the periodic work with an explicit clock (src/periodic.c); the workers call the same
CREATE FUNCTION vault_run_due(now timestamptz,
							  OUT job_id bigint, OUT vault text, OUT item text, OUT state text,
							  OUT recovery_point bigint, OUT error text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_run_due' LANGUAGE C VOLATILE;
CREATE FUNCTION vault_apply_retention(now timestamptz,
									  OUT vault text, OUT points_examined bigint,
									  OUT points_expired bigint, OUT chunks_removed bigint,
									  OUT freed_bytes bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vault_apply_retention' LANGUAGE C VOLATILE;

-- every function checks the caller's level on entry (src/roles.c) and refuses
-- with 42501 naming the vault and the level it lacks, so all may call them
GRANT SELECT ON vault_vaults, vault_items, vault_recovery_points, vault_policies, vault_jobs,
	vault_access TO PUBLIC;

-- ---------------------------------------------------------------------------
-- table definitions: captured at backup as jsonb, turned back into DDL at
-- restore.  Run with search_path = pg_catalog so that every name that
-- format_type, pg_get_expr and friends print is schema-qualified.
-- ---------------------------------------------------------------------------

-- whether a type travels in binary (else as text): same rule as the stream writer
CREATE FUNCTION vault_internal.type_binary_io(oid) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vault_type_binary_io' LANGUAGE C STABLE STRICT;

-- the sequence that feeds column (relid, attnum): identity ('i') or owned serial ('a')
CREATE FUNCTION vault_internal.column_sequence(relid oid, attnum int2) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object(
			'schema', sn.nspname, 'name', sc.relname, 'dep', d.deptype,
			'literal', quote_literal(quote_ident(sn.nspname) || '.' || quote_ident(sc.relname)) || '::regclass',
			'type', format_type(s.seqtypid, NULL),
			'increment', s.seqincrement, 'start', s.seqstart, 'min', s.seqmin,
			'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle,
			'last_value', pg_sequence_last_value(s.seqrelid))
	FROM pg_depend d
	JOIN pg_sequence s ON s.seqrelid = d.objid
	JOIN pg_class sc ON sc.oid = s.seqrelid
	JOIN pg_namespace sn ON sn.oid = sc.relnamespace
	WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
	  AND d.refobjid = relid AND d.refobjsubid = attnum AND d.deptype IN ('a', 'i')
	LIMIT 1
$$;

CREATE FUNCTION vault_internal.capture_table(relid oid) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object(
		'schema', n.nspname,
		'name', c.relname,
		'relkind', c.relkind,
		'persistence', c.relpersistence,
		'reloptions', c.reloptions,
		'partkey', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
		'columns', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', a.attname,
				'type', format_type(a.atttypid, a.atttypmod),
				'notnull', a.attnotnull,
				'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
				'generated', CASE WHEN a.attgenerated = 's' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
				'identity', nullif(a.attidentity, ''),
				'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
								  THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
				'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END,
				'text_fallback', NOT vault_internal.type_binary_io(a.atttypid),
				'sequence', vault_internal.column_sequence(c.oid, a.attnum))
				ORDER BY a.attnum), '[]'::jsonb)
			FROM pg_attribute a
			JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			LEFT JOIN pg_collation co ON co.oid = a.attcollation
			LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
		'constraints', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', con.conname,
				'type', con.contype,
				'def', pg_get_constraintdef(con.oid),
				'ref_schema', rn.nspname,
				'ref_table', rc.relname,
				'ref_prefix', CASE WHEN con.contype = 'f' THEN
					'REFERENCES ' || quote_ident(rn.nspname) || '.' || quote_ident(rc.relname) || '(' END)
				ORDER BY CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2
										  WHEN 'c' THEN 3 ELSE 4 END, con.conname), '[]'::jsonb)
			FROM pg_constraint con
			LEFT JOIN pg_class rc ON rc.oid = con.confrelid
			LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
			WHERE con.conrelid = c.oid AND con.contype IN ('p', 'u', 'x', 'c', 'f')
			  AND (con.contype <> 'f' OR con.conparentid = 0)),
		'indexes', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', ic.relname,
				'unique', i.indisunique,
				'body', substr(pg_get_indexdef(i.indexrelid),
							   length(format('CREATE %sINDEX %s ON %s%s.%s ',
									  CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
									  quote_ident(ic.relname),
									  CASE WHEN c.relkind = 'p' THEN 'ONLY ' ELSE '' END,
									  quote_ident(n.nspname), quote_ident(c.relname))) + 1))
				ORDER BY ic.relname), '[]'::jsonb)
			FROM pg_index i
			JOIN pg_class ic ON ic.oid = i.indexrelid
			WHERE i.indrelid = c.oid
			  AND NOT EXISTS (SELECT 1 FROM pg_constraint pc
							  WHERE pc.conindid = i.indexrelid AND pc.conrelid = c.oid
								AND pc.contype IN ('p', 'u', 'x'))),
		'partitions', (
			SELECT coalesce(jsonb_agg(jsonb_build_object(
				'name', pc.relname,
				'parent', pp.relname,
				'level', pt.level,
				'bound', pg_get_expr(pc.relpartbound, pc.oid),
				'partkey', CASE WHEN pc.relkind = 'p' THEN pg_get_partkeydef(pc.oid) END)
				ORDER BY pt.level, pc.relname), '[]'::jsonb)
			FROM pg_partition_tree(c.oid) pt
			JOIN pg_class pc ON pc.oid = pt.relid
			JOIN pg_class pp ON pp.oid = pt.parentrelid
			WHERE pt.level > 0 AND c.relkind = 'p'))
	FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = relid
$$;

-- restore, phase 1: owned sequences, the table, its partitions (no data yet).
-- Runs as the restoring role: what it creates belongs to that role.
CREATE FUNCTION vault_internal.restore_create(def jsonb, tschema text, tname text) RETURNS oid
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col jsonb;
	seq jsonb;
	part jsonb;
	cols text[] := '{}';
	coldef text;
	seqname text;
	newdef text;
	names jsonb := jsonb_build_object(def->>'name', tname);
	pname text;
	suffix text;
	owned text[] := '{}';
	same_schema boolean := (def->>'schema') = tschema;
	n int;
BEGIN
	FOR col IN SELECT value FROM jsonb_array_elements(def->'columns') LOOP
		seq := col->'sequence';
		newdef := col->>'default';
		IF seq IS NOT NULL AND seq->>'dep' = 'a' THEN
			-- a serial column: its sequence is recreated beside the table
			-- keep its name where it is free, else <table>_<column>_seq[_N]
			seqname := CASE WHEN same_schema THEN left(tname || '_' || (col->>'name'), 59) || '_seq'
							ELSE seq->>'name' END;
			n := 0;
			WHILE to_regclass(format('%I.%I', tschema, seqname)) IS NOT NULL LOOP
				n := n + 1;
				seqname := left(tname || '_' || (col->>'name'), 55) || '_seq_' || n;
			END LOOP;
			EXECUTE format('CREATE SEQUENCE %I.%I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',
						   tschema, seqname, seq->>'type', seq->>'increment', seq->>'min', seq->>'max',
						   seq->>'start', seq->>'cache',
						   CASE WHEN (seq->>'cycle')::boolean THEN 'CYCLE' ELSE 'NO CYCLE' END);
			newdef := replace(newdef, seq->>'literal',
							  quote_literal(quote_ident(tschema) || '.' || quote_ident(seqname)) || '::regclass');
			owned := owned || format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I',
									 tschema, seqname, tschema, tname, col->>'name');
		END IF;
		coldef := format('%I %s', col->>'name',
						 CASE WHEN (col->>'text_fallback')::boolean THEN 'text' ELSE col->>'type' END);
		IF col->>'collation' IS NOT NULL AND NOT (col->>'text_fallback')::boolean THEN
			coldef := coldef || ' COLLATE ' || (col->>'collation');
		END IF;
		IF col->>'generated' IS NOT NULL THEN
			coldef := coldef || format(' GENERATED ALWAYS AS (%s) STORED', col->>'generated');
		END IF;
		IF col->>'identity' IS NOT NULL THEN
			coldef := coldef || format(' GENERATED %s AS IDENTITY (INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s)',
									   CASE col->>'identity' WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,
									   seq->>'increment', seq->>'min', seq->>'max', seq->>'start', seq->>'cache',
									   CASE WHEN (seq->>'cycle')::boolean THEN 'CYCLE' ELSE 'NO CYCLE' END);
		END IF;
		IF newdef IS NOT NULL THEN
			coldef := coldef || ' DEFAULT ' || newdef;
		END IF;
		IF (col->>'notnull')::boolean THEN
			coldef := coldef || ' NOT NULL';
		END IF;
		cols := cols || coldef;
	END LOOP;

	EXECUTE format('CREATE %sTABLE %I.%I (%s)%s%s',
				   CASE WHEN def->>'persistence' = 'u' THEN 'UNLOGGED ' ELSE '' END,
				   tschema, tname, array_to_string(cols, ', '),
				   CASE WHEN def->>'partkey' IS NOT NULL THEN ' PARTITION BY ' || (def->>'partkey') ELSE '' END,
				   CASE WHEN jsonb_typeof(def->'reloptions') = 'array' THEN
						' WITH (' || (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(def->'reloptions')) || ')'
						ELSE '' END);
	FOREACH coldef IN ARRAY owned LOOP
		EXECUTE coldef;
	END LOOP;

	-- partitions, parents before children, with the same bounds
	FOR part IN SELECT value FROM jsonb_array_elements(def->'partitions') ORDER BY (value->>'level')::int LOOP
		-- keep its name where it is free, else <target>_<suffix>[_N]
		suffix := part->>'name';
		IF starts_with(suffix, (def->>'name') || '_') THEN
			suffix := substr(suffix, length(def->>'name') + 2);
		END IF;
		pname := CASE WHEN same_schema THEN left(tname || '_' || suffix, 63) ELSE part->>'name' END;
		n := 0;
		WHILE to_regclass(format('%I.%I', tschema, pname)) IS NOT NULL LOOP
			n := n + 1;
			pname := left(tname || '_' || suffix, 56) || '_' || n;
		END LOOP;
		EXECUTE format('CREATE %sTABLE %I.%I PARTITION OF %I.%I %s%s',
					   CASE WHEN def->>'persistence' = 'u' THEN 'UNLOGGED ' ELSE '' END,
					   tschema, pname, tschema, names->>(part->>'parent'), part->>'bound',
					   CASE WHEN part->>'partkey' IS NOT NULL THEN ' PARTITION BY ' || (part->>'partkey') ELSE '' END);
		names := names || jsonb_build_object(part->>'name', pname);
	END LOOP;

	RETURN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = tschema AND c.relname = tname);
END
$$;

-- restore, phase 2 (after the load): column types that travelled as text,
-- constraints, indexes, and sequences moved past the restored values
CREATE FUNCTION vault_internal.restore_finish(def jsonb, tschema text, tname text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col jsonb;
	con jsonb;
	idx jsonb;
	seq jsonb;
	seqrel text;
	maxval numeric;
	target numeric;
	free boolean;
BEGIN
	FOR col IN SELECT value FROM jsonb_array_elements(def->'columns') LOOP
		IF (col->>'text_fallback')::boolean THEN
			EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I TYPE %s%s USING %I::%s',
						   tschema, tname, col->>'name', col->>'type',
						   coalesce(' COLLATE ' || (col->>'collation'), ''),
						   col->>'name', col->>'type');
		END IF;
	END LOOP;

	FOR con IN SELECT value FROM jsonb_array_elements(def->'constraints') WHERE value->>'type' <> 'f' LOOP
		-- PK/UNIQUE/EXCLUDE build an index, whose name must be free in the schema
		free := con->>'type' = 'c' OR NOT EXISTS (
			SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = tschema AND c.relname = con->>'name');
		EXECUTE format('ALTER TABLE %I.%I ADD %s%s', tschema, tname,
					   CASE WHEN free THEN format('CONSTRAINT %I ', con->>'name') ELSE '' END,
					   con->>'def');
	END LOOP;

	FOR idx IN SELECT value FROM jsonb_array_elements(def->'indexes') LOOP
		free := NOT EXISTS (
			SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = tschema AND c.relname = idx->>'name');
		EXECUTE format('CREATE %sINDEX %s ON %I.%I %s',
					   CASE WHEN (idx->>'unique')::boolean THEN 'UNIQUE ' ELSE '' END,
					   CASE WHEN free THEN quote_ident(idx->>'name') ELSE '' END,
					   tschema, tname, idx->>'body');
	END LOOP;

	-- identity and serial sequences continue past both the captured value and the restored max
	FOR col IN SELECT value FROM jsonb_array_elements(def->'columns') WHERE value->'sequence' IS NOT NULL LOOP
		seq := col->'sequence';
		CONTINUE WHEN (seq->>'increment')::numeric < 0;
		seqrel := pg_get_serial_sequence(format('%I.%I', tschema, tname), col->>'name');
		CONTINUE WHEN seqrel IS NULL;
		EXECUTE format('SELECT max(%I)::numeric FROM %I.%I', col->>'name', tschema, tname) INTO maxval;
		target := greatest(maxval, (seq->>'last_value')::numeric);
		IF target IS NOT NULL THEN
			PERFORM setval(seqrel::regclass, target::bigint, true);
		END IF;
	END LOOP;
END
$$;

-- restore, phase 3: foreign keys between the tables of the point, pointed
-- at their restored copies; a reference to anything else is reported, not made
CREATE FUNCTION vault_internal.restore_foreign_keys(def jsonb, tschema text, tname text,
													point_schema text, siblings jsonb) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	con jsonb;
	newref text;
BEGIN
	FOR con IN SELECT value FROM jsonb_array_elements(def->'constraints') WHERE value->>'type' = 'f' LOOP
		newref := CASE WHEN con->>'ref_schema' = point_schema THEN siblings->>(con->>'ref_table') END;
		IF newref IS NULL THEN
			RAISE NOTICE 'foreign key "%" of %.% is not restored: it references %.%, which is not part of the recovery point',
				con->>'name', quote_ident(tschema), quote_ident(tname),
				quote_ident(con->>'ref_schema'), quote_ident(con->>'ref_table');
			CONTINUE;
		END IF;
		EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', tschema, tname, con->>'name',
					   replace(con->>'def', con->>'ref_prefix', 'REFERENCES ' || newref || '('));
	END LOOP;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA vault_internal FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault_internal.can_see(bigint, oid) TO PUBLIC;

-- the background workers: ask the launcher to start this database's scheduler
-- now (a no-op when the library is not in shared_preload_libraries)
CREATE FUNCTION vault_internal.scheduler_wake() RETURNS boolean
	AS 'MODULE_PATHNAME', 'vault_scheduler_wake' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION vault_internal.scheduler_wake() FROM PUBLIC;
SELECT vault_internal.scheduler_wake();
