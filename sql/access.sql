-- Access levels on PostgreSQL roles: the role matrix of the README, per-vault
-- grants (no leaks to other vaults, group roles, revoking), search_path
-- attacks, and the private storage.
SET client_min_messages = warning;

-- the built-in roles exist, NOLOGIN, each holding the one below
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('vault_reader', 'vault_operator', 'vault_contributor')
ORDER BY rolname;
SELECT pg_has_role('vault_contributor', 'vault_operator', 'MEMBER') AS contributor_holds_operator,
	   pg_has_role('vault_operator', 'vault_reader', 'MEMBER') AS operator_holds_reader;

-- the cast: four levels, an unrelated role, and the production table's owner
CREATE ROLE mx_reader;
CREATE ROLE mx_operator;
CREATE ROLE mx_contributor;
CREATE ROLE mx_owner;
CREATE ROLE mx_unrelated;
CREATE ROLE mx_tabowner;
CREATE ROLE mx_dummy;			-- the subject of the grant and revoke attempts
GRANT vault_reader TO mx_reader;
GRANT vault_operator TO mx_operator;
GRANT vault_contributor TO mx_contributor;
CREATE SCHEMA mx AUTHORIZATION mx_tabowner;
GRANT USAGE ON SCHEMA mx TO mx_reader, mx_operator, mx_contributor, mx_owner, mx_unrelated;
CREATE SCHEMA mx_out;			-- where restores go
GRANT USAGE, CREATE ON SCHEMA mx_out TO mx_reader, mx_operator, mx_contributor, mx_owner, mx_unrelated,
	mx_tabowner;
SET ROLE mx_tabowner;
CREATE TABLE mx.prod (id int PRIMARY KEY, v text);
INSERT INTO mx.prod SELECT g, 'row ' || g FROM generate_series(1, 50) g;
GRANT SELECT ON mx.prod TO mx_reader, mx_operator, mx_contributor, mx_owner, mx_unrelated;
RESET ROLE;

-- mx_owner creates the vault (as a contributor), then keeps only ownership
GRANT vault_contributor TO mx_owner;
SET ROLE mx_owner;
SELECT vault_create('mxv');
-- the fixtures' deletions take effect at once (soft delete is protection.sql's)
SELECT vault_configure('mxv', soft_delete => 'off');
SELECT vault_create('mxv_empty');
RESET ROLE;
REVOKE vault_contributor FROM mx_owner;

-- fixtures each role's attempt works on (superuser made)
SELECT vault_policy_create('mx_pol', 'daily at 02:00', 'daily 7');
SELECT vault_backup('mxv', 'mx.prod') AS point \gset
CREATE TABLE mx_results (fn text, who text, result text);

-- one attempt per function and role: 'yes', or the SQLSTATE of the refusal
CREATE FUNCTION mx_try(who text, fn text, stmt text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	res text := 'yes';
BEGIN
	BEGIN
		EXECUTE format('SET LOCAL ROLE %I', who);
		EXECUTE stmt;
		RESET ROLE;
	EXCEPTION WHEN division_by_zero THEN
		res := 'no';			-- a view showed nothing (1/count(*))
	WHEN OTHERS THEN
		res := SQLSTATE;
	END;
	RESET ROLE;
	INSERT INTO mx_results VALUES (fn, who, res);
END
$$;

DO $$
DECLARE
	who text;
	p bigint := (SELECT max(recovery_point) FROM vault_recovery_points WHERE vault = 'mxv');
BEGIN
	FOREACH who IN ARRAY ARRAY['mx_reader', 'mx_operator', 'mx_contributor', 'mx_owner',
							   'mx_unrelated', 'mx_tabowner'] LOOP
		-- per-role fixtures: an item to unprotect, one to delete, a policy to drop,
		-- a grant to revoke
		EXECUTE format('CREATE TABLE mx.%I (i int)', 'u_' || who);
		EXECUTE format('GRANT SELECT ON mx.%I TO %I', 'u_' || who, who);
		PERFORM vault_protect('mxv', format('mx.%I', 'u_' || who)::regclass, 'mx_pol');
		EXECUTE format('CREATE TABLE mx.%I (i int)', 'd_' || who);
		EXECUTE format('GRANT SELECT ON mx.%I TO %I', 'd_' || who, who);
		PERFORM vault_backup('mxv', format('mx.%I', 'd_' || who)::regclass);
		PERFORM vault_policy_create('drop_' || who, 'hourly', 'daily 7');
		PERFORM vault_grant('mxv', 'mx_dummy', 'reader');
		IF NOT EXISTS (SELECT 1 FROM vault_vaults WHERE vault = 'mxv_empty') THEN
			GRANT vault_contributor TO mx_owner;
			SET LOCAL ROLE mx_owner;
			PERFORM vault_create('mxv_empty');
			RESET ROLE;
			REVOKE vault_contributor FROM mx_owner;
		END IF;

		PERFORM mx_try(who, 'vault_create', format('SELECT vault_create(%L)', 'new_' || who));
		PERFORM mx_try(who, 'vault_drop', 'SELECT vault_drop(''mxv_empty'')');
		PERFORM mx_try(who, 'vault_backup', 'SELECT vault_backup(''mxv'', ''mx.prod'')');
		PERFORM mx_try(who, 'vault_backup_schema', 'SELECT vault_backup_schema(''mxv'', ''mx'')');
		PERFORM mx_try(who, 'vault_restore', format('SELECT vault_restore(%s, %L)', p, 'mx_out.r_' || who));
		PERFORM mx_try(who, 'vault_verify', format('SELECT * FROM vault_verify(%s)', p));
		PERFORM mx_try(who, 'vault_export', format('SELECT count(*) FROM vault_export(%s)', p));
		PERFORM mx_try(who, 'vault_policy_create', format('SELECT vault_policy_create(%L, ''hourly'', ''daily 7'')', 'new_' || who));
		PERFORM mx_try(who, 'vault_policy_alter', 'SELECT vault_policy_alter(''mx_pol'', timezone => ''UTC'')');
		PERFORM mx_try(who, 'vault_policy_drop', format('SELECT vault_policy_drop(%L)', 'drop_' || who));
		PERFORM mx_try(who, 'vault_protect', 'SELECT vault_protect(''mxv'', ''mx.prod'', ''mx_pol'')');
		PERFORM mx_try(who, 'vault_protect_schema', 'SELECT vault_protect_schema(''mxv'', ''mx'', ''mx_pol'')');
		PERFORM mx_try(who, 'vault_unprotect', format('SELECT vault_unprotect(''mxv'', %L)', 'mx.u_' || who));
		PERFORM mx_try(who, 'vault_unprotect delete_data', format('SELECT vault_unprotect(''mxv'', %L, true)', 'mx.d_' || who));
		PERFORM mx_try(who, 'vault_run_due', 'SELECT * FROM vault_run_due(''1999-01-01'')');
		PERFORM mx_try(who, 'vault_apply_retention', 'SELECT * FROM vault_apply_retention(''1999-01-01'')');
		PERFORM mx_try(who, 'vault_grant', 'SELECT vault_grant(''mxv'', ''mx_dummy'', ''operator'')');
		PERFORM mx_try(who, 'vault_revoke', 'SELECT vault_revoke(''mxv'', ''mx_dummy'')');
		PERFORM mx_try(who, 'sees the vault', 'SELECT 1/count(*) FROM vault_vaults WHERE vault = ''mxv''');
		PERFORM mx_try(who, 'sees its points', 'SELECT 1/count(*) FROM vault_recovery_points WHERE vault = ''mxv''');
		PERFORM mx_try(who, 'sees its jobs', 'SELECT 1/count(*) FROM vault_jobs WHERE vault = ''mxv''');

		-- undo what succeeded, for the next role
		PERFORM vault_unprotect('mxv', format('mx.%I', 'u_' || who), true);
		BEGIN
			PERFORM vault_unprotect('mxv', format('mx.%I', 'd_' || who), true);
		EXCEPTION WHEN undefined_object THEN NULL;
		END;
		EXECUTE format('DROP TABLE mx.%I, mx.%I', 'u_' || who, 'd_' || who);
		BEGIN
			PERFORM vault_policy_drop('drop_' || who);
		EXCEPTION WHEN undefined_object THEN NULL;
		END;
	END LOOP;
END
$$;

-- the matrix (yes = allowed, 42501 = refused for lack of rights); the README's
-- table says the same
SELECT fn AS "function",
	   max(result) FILTER (WHERE who = 'mx_reader') AS reader,
	   max(result) FILTER (WHERE who = 'mx_operator') AS operator,
	   max(result) FILTER (WHERE who = 'mx_contributor') AS contributor,
	   max(result) FILTER (WHERE who = 'mx_owner') AS owner,
	   max(result) FILTER (WHERE who = 'mx_unrelated') AS unrelated,
	   max(result) FILTER (WHERE who = 'mx_tabowner') AS table_owner
FROM mx_results GROUP BY fn ORDER BY min(ctid);

-- a refusal names the vault and the missing level
SET ROLE mx_reader;
SELECT vault_restore(:point, 'mx_out.nope');
SET ROLE mx_operator;
SELECT vault_unprotect('mxv', 'mx.prod', true);
SET ROLE mx_contributor;
SELECT vault_drop('mxv');
SET ROLE mx_tabowner;
SELECT vault_create('mine');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- per-vault grants: scoped to their vault, through group roles, revocable
-- ---------------------------------------------------------------------------
CREATE ROLE mx_team;
CREATE ROLE mx_member;
GRANT mx_team TO mx_member;
GRANT USAGE ON SCHEMA mx TO mx_member;
GRANT SELECT ON mx.prod TO mx_member;
SELECT vault_grant('mxv', 'mx_team', 'operator');
SELECT vault, role, level, scope FROM vault_access WHERE vault IN ('mxv', 'mxv_empty') ORDER BY vault, role;
SET ROLE mx_member;
SELECT vault_backup('mxv', 'mx.prod') > 0 AS member_of_group_backs_up;
SELECT vault FROM vault_vaults WHERE vault LIKE 'mxv%' ORDER BY vault;
SELECT vault_backup('mxv_empty', 'mx.prod');
RESET ROLE;
-- a reader grant does not let one back up; contributor on one vault is not global
SELECT vault_grant('mxv', 'mx_team', 'reader');
SET ROLE mx_member;
SELECT vault_backup('mxv', 'mx.prod');
RESET ROLE;
SELECT vault_grant('mxv', 'mx_team', 'contributor');
SET ROLE mx_member;
SELECT vault_create('team_vault');
SELECT vault_policy_create('team_pol', 'hourly', 'daily 7');
RESET ROLE;
SELECT vault_revoke('mxv', 'mx_team', 'operator');
SELECT vault_revoke('mxv', 'mx_team');
SET ROLE mx_member;
SELECT vault_backup('mxv', 'mx.prod');
SELECT count(*) AS sees_after_revoke FROM vault_vaults WHERE vault = 'mxv';
RESET ROLE;
SELECT vault_revoke('mxv', 'mx_team');
SELECT vault_grant('mxv', 'mx_team', 'owner');
SELECT vault_grant('mxv', 'mx_team', NULL);
SELECT vault_grant('mxv', NULL, 'reader');
SELECT vault_grant('nope', 'mx_team', 'reader');

-- ---------------------------------------------------------------------------
-- no exfiltration: an operator without SELECT on a table can neither back it
-- up nor restore or export a point of it
-- ---------------------------------------------------------------------------
REVOKE SELECT ON mx.prod FROM mx_operator;
CREATE FUNCTION mx_err(who text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', who);
	EXECUTE stmt;
	RESET ROLE;
	RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'recovery point \d+', 'recovery point N');
END
$$;
SELECT mx_err('mx_operator', 'SELECT vault_backup(''mxv'', ''mx.prod'')') AS backup;
SELECT mx_err('mx_operator', format('SELECT vault_restore(%s, ''mx_out.stolen'')', :point)) AS restore;
SELECT mx_err('mx_operator', format('SELECT count(*) FROM vault_export(%s)', :point)) AS export;
-- the same operator may still restore a point of a table it can read
CREATE TABLE mx.readable AS SELECT 1 AS i;
GRANT SELECT ON mx.readable TO mx_operator;
SELECT vault_backup('mxv', 'mx.readable') AS readable_point \gset
SELECT mx_err('mx_operator', format('SELECT vault_restore(%s, ''mx_out.allowed'')', :readable_point))
	AS readable;

-- ---------------------------------------------------------------------------
-- search_path attacks: a caller plants functions and operators in a schema it
-- puts first; none of them runs inside the vault, least of all as its owner
-- ---------------------------------------------------------------------------
CREATE TABLE mx_trap_log (who name, what text);
GRANT INSERT ON mx_trap_log TO PUBLIC;
CREATE SCHEMA mx_evil AUTHORIZATION mx_operator;
SET ROLE mx_operator;
CREATE FUNCTION mx_evil.trap_text(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mx_trap_log VALUES (current_user, 'text ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR mx_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mx_evil.trap_text);
CREATE FUNCTION mx_evil.trap_bigint(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mx_trap_log VALUES (current_user, 'bigint ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR mx_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mx_evil.trap_bigint);
CREATE FUNCTION mx_evil.pg_get_userbyid(oid) RETURNS name LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mx_trap_log VALUES (current_user, 'pg_get_userbyid'); RETURN 'x'; END $$;
CREATE FUNCTION mx_evil.format_type(oid, integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mx_trap_log VALUES (current_user, 'format_type'); RETURN 'text'; END $$;
CREATE FUNCTION mx_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.mx_trap_log VALUES (current_user, 'now'); RETURN pg_catalog.now(); END $$;
SET search_path = mx_evil, pg_catalog, public;
RESET ROLE;
GRANT SELECT ON mx.prod TO mx_operator;
SET ROLE mx_operator;
SELECT vault_backup('mxv', 'mx.prod') > 0 AS backed_up;
SELECT vault_restore(:point, 'mx_out.trapped') AS restored;
SELECT ok FROM vault_verify(:point);
SELECT count(*) > 0 AS exported FROM vault_export(:point);
SELECT vault_protect('mxv', 'mx.prod', 'mx_pol') > 0 AS protected;
SELECT count(*) > 0 AS sees FROM vault_recovery_points;
RESET ROLE;
RESET search_path;
-- nothing ran inside the vault
SELECT count(*) AS trap_calls FROM mx_trap_log;

-- ---------------------------------------------------------------------------
-- the storage is private: no direct access for any role but the owner
-- ---------------------------------------------------------------------------
CREATE FUNCTION mx_direct(who text) RETURNS TABLE (tbl text, sel text, ins text, upd text, del text, trunc text)
LANGUAGE plpgsql AS $$
DECLARE
	t text;
	ops text[];
	op text;
	res text[];
BEGIN
	FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = 'vault_internal' AND c.relkind = 'r' ORDER BY c.relname LOOP
		res := '{}';
		FOREACH op IN ARRAY ARRAY[
			format('SELECT * FROM vault_internal.%I LIMIT 1', t),
			format('INSERT INTO vault_internal.%I DEFAULT VALUES', t),
			format('UPDATE vault_internal.%I SET %I = %I', t,
				   (SELECT attname FROM pg_attribute WHERE attrelid = ('vault_internal.' || t)::regclass AND attnum = 1),
				   (SELECT attname FROM pg_attribute WHERE attrelid = ('vault_internal.' || t)::regclass AND attnum = 1)),
			format('DELETE FROM vault_internal.%I', t),
			format('TRUNCATE vault_internal.%I CASCADE', t)] LOOP
			BEGIN
				EXECUTE format('SET LOCAL ROLE %I', who);
				EXECUTE op;
				res := res || 'allowed'::text;
			EXCEPTION WHEN OTHERS THEN
				res := res || SQLSTATE::text;
			END;
			RESET ROLE;
		END LOOP;
		tbl := t; sel := res[1]; ins := res[2]; upd := res[3]; del := res[4]; trunc := res[5];
		RETURN NEXT;
	END LOOP;
END
$$;
SELECT * FROM mx_direct('mx_contributor');
SELECT count(*) AS not_refused FROM (
	SELECT * FROM mx_direct('mx_reader') UNION ALL SELECT * FROM mx_direct('mx_operator')
	UNION ALL SELECT * FROM mx_direct('mx_owner') UNION ALL SELECT * FROM mx_direct('mx_unrelated')
	UNION ALL SELECT * FROM mx_direct('mx_tabowner')) d
WHERE NOT (sel = '42501' AND ins = '42501' AND upd = '42501' AND del = '42501' AND trunc = '42501');

-- clean up
SELECT vault_unprotect('mxv', 'mx.prod', true);
DO $$
DECLARE
	i text;
BEGIN
	FOR i IN SELECT name FROM vault_items WHERE vault = 'mxv' LOOP
		PERFORM vault_unprotect('mxv', i, true);
	END LOOP;
END
$$;
SELECT vault_drop('mxv');
SELECT vault_drop('mxv_empty');
SELECT vault_drop(vault) FROM vault_vaults WHERE vault IN ('new_mx_contributor');
SELECT vault_policy_drop(policy) FROM vault_policies WHERE policy IN ('mx_pol', 'new_mx_contributor');
DROP FUNCTION mx_try(text, text, text), mx_direct(text), mx_err(text, text);
DROP TABLE mx_results, mx_trap_log;
DROP SCHEMA mx, mx_out, mx_evil CASCADE;
DROP OWNED BY mx_reader, mx_operator, mx_contributor, mx_owner, mx_unrelated, mx_tabowner, mx_team,
	mx_member, mx_dummy;
DROP ROLE mx_reader, mx_operator, mx_contributor, mx_owner, mx_unrelated, mx_tabowner, mx_team,
	mx_member, mx_dummy;
