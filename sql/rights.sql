-- rights: a backup must not become a way to read what the caller cannot read
SET client_min_messages = notice;
CREATE ROLE vault_alice LOGIN;
CREATE ROLE vault_bob LOGIN;
-- alice may create vaults (and owns those she creates); bob holds no vault role
GRANT vault_contributor TO vault_alice;
GRANT CREATE ON SCHEMA public TO vault_alice, vault_bob;

CREATE TABLE public.secret (id int PRIMARY KEY, owner_name text, payload text);
INSERT INTO public.secret SELECT i, CASE WHEN i % 2 = 0 THEN 'vault_alice' ELSE 'other' END, 'row ' || i
  FROM generate_series(1, 100) i;

-- without a vault role nobody gets in
CREATE ROLE vault_nobody;
SET ROLE vault_nobody;
SELECT vault_create('nope');
RESET ROLE;

SET ROLE vault_alice;
SELECT vault_create('alice_vault');
-- no SELECT on the table
SELECT vault_backup('alice_vault', 'public.secret');
RESET ROLE;

-- SELECT on some columns only
GRANT SELECT (id, owner_name) ON public.secret TO vault_alice;
SET ROLE vault_alice;
SELECT vault_backup('alice_vault', 'public.secret');
RESET ROLE;

-- SELECT on every column (column by column) is enough
GRANT SELECT (payload) ON public.secret TO vault_alice;
SET ROLE vault_alice;
SELECT vault_backup('alice_vault', 'public.secret') > 0 AS column_grants_suffice;
RESET ROLE;

-- row-level security that would hide rows is refused
ALTER TABLE public.secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON public.secret FOR SELECT USING (owner_name = current_user);
SET ROLE vault_alice;
SELECT vault_backup('alice_vault', 'public.secret');
RESET ROLE;
ALTER TABLE public.secret DISABLE ROW LEVEL SECURITY;

-- another role cannot use alice's vault at all
SET ROLE vault_bob;
SELECT vault_backup('alice_vault', 'public.secret');
SELECT vault_drop('alice_vault');
SELECT count(*) AS bob_sees_vaults FROM vault_vaults WHERE vault = 'alice_vault';
RESET ROLE;

-- alice may restore what she could read; the restored table is hers
SET ROLE vault_alice;
SELECT vault_restore(recovery_point, 'public.secret_alice')
  FROM vault_recovery_points WHERE vault = 'alice_vault';
SELECT count(*) FROM public.secret_alice;
SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.secret_alice'::regclass;
RESET ROLE;

-- once she lost SELECT on the source, she may not read it through the vault
REVOKE SELECT (id, owner_name, payload) ON public.secret FROM vault_alice;
SET ROLE vault_alice;
SELECT vault_restore(recovery_point, 'public.secret_again')
  FROM vault_recovery_points WHERE vault = 'alice_vault';
SELECT count(*) FROM vault_export((SELECT recovery_point FROM vault_recovery_points WHERE vault = 'alice_vault'));
-- and replace needs ownership of what is replaced
RESET ROLE;
GRANT SELECT ON public.secret TO vault_alice;
SET ROLE vault_alice;
SELECT vault_restore(recovery_point, 'public.secret', true)
  FROM vault_recovery_points WHERE vault = 'alice_vault';
RESET ROLE;

-- restoring into a schema needs CREATE on it
CREATE SCHEMA locked;
SET ROLE vault_alice;
SELECT vault_restore(recovery_point, 'locked.secret')
  FROM vault_recovery_points WHERE vault = 'alice_vault';
RESET ROLE;

-- the storage is private
SET ROLE vault_alice;
SELECT count(*) FROM vault_internal.chunks;
SELECT count(*) FROM vault_internal.vaults;
RESET ROLE;

DROP TABLE public.secret_alice;
DROP SCHEMA locked;
DROP TABLE public.secret;
DROP OWNED BY vault_alice, vault_bob, vault_nobody;
REVOKE vault_contributor FROM vault_alice;
DROP ROLE vault_alice, vault_bob, vault_nobody;
