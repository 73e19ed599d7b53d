-- customer-managed keys: the SQL surface that needs no key of the customer's
-- (names, bad input, unknown keys, refusals, rights, the setting's
-- visibility).  Keys made with gpg at test time, and everything done with
-- them, are in test/t/040_customer_keys.pl.
SET client_min_messages = warning;
CREATE ROLE keys_contrib;		-- global contributor
CREATE ROLE keys_vault_contrib;	-- contributor on one vault only
CREATE ROLE keys_reader;
GRANT vault_contributor TO keys_contrib;

SELECT vault_create('kv');
SELECT vault_grant('kv', 'keys_vault_contrib', 'contributor');
SELECT vault_grant('kv', 'keys_reader', 'reader');
SELECT vault, encryption FROM vault_vaults WHERE vault = 'kv';
SELECT count(*) AS keys FROM vault_keys;

-- names: 1-63 of letters, digits, _ - . ; 'platform' is reserved
SELECT vault_key_add('', 'x');
SELECT vault_key_add('two words', 'x');
SELECT vault_key_add('semi;colon', 'x');
SELECT vault_key_add(repeat('k', 64), 'x');
SELECT vault_key_add('platform', 'x');
SELECT vault_key_add(NULL, 'x');
SELECT vault_key_add('k1', NULL);

-- what is not an armored OpenPGP public key
SELECT vault_key_add('k1', 'not a key at all');
SELECT vault_key_add('k1', E'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n');
SELECT vault_key_add('k1', E'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n');
SELECT vault_key_add('k1', E'-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----\n');

-- unknown keys
SELECT vault_key_disable('nosuch');
SELECT vault_key_enable('nosuch');
SELECT vault_key_disable('bad name');
SELECT vault_configure('kv', encryption_key => 'nosuch');
SELECT vault_configure('kv', encryption_key => 'bad name');

-- the platform key: choosing it again changes nothing; it is not rotated per vault
SELECT vault_configure('kv', encryption_key => 'platform');
SELECT vault, encryption FROM vault_vaults WHERE vault = 'kv';
SELECT count(*) AS configure_rows FROM vault_audit WHERE vault = 'kv' AND operation = 'configure';
SELECT vault_key_rotate('kv', 'nosuch');
SELECT vault_key_rotate('nosuch', 'k1');
SELECT vault_key_rotate('kv', 'platform');

-- rights: keys need the global contributor level; a vault's key needs
-- contributor on the vault; the platform key's rotation a superuser
SET ROLE keys_vault_contrib;
SELECT vault_key_add('k1', 'x');
SELECT vault_key_disable('nosuch');
SELECT vault_key_enable('nosuch');
SELECT vault_configure('kv', encryption_key => 'nosuch');
SELECT vault_platform_key_rotate();
SET ROLE keys_reader;
SELECT vault_configure('kv', encryption_key => 'platform');
SELECT vault_key_rotate('kv', 'nosuch');
SELECT count(*) AS keys_seen FROM vault_keys;
SET ROLE keys_contrib;
SELECT vault_key_add('k1', 'not a key at all');
SELECT vault_key_disable('nosuch');
SELECT vault_platform_key_rotate();
RESET ROLE;

-- vault.key_command: a superuser's setting, hidden from others, not per session
SET vault.key_command = 'cat /dev/null';
SET ROLE keys_reader;
SHOW vault.key_command;
SELECT current_setting('vault.key_command');
RESET ROLE;
SELECT current_setting('vault.key_command') = '' AS key_command_unset;

-- a refused call left nothing
SELECT count(*) AS keys FROM vault_keys;
SELECT vault, encryption FROM vault_vaults WHERE vault = 'kv';
SELECT vault_drop('kv');
RESET client_min_messages;
DROP ROLE keys_contrib, keys_vault_contrib, keys_reader;
