-- core: vaults, table backup and restore, the views, verify and export
\set VERBOSITY default
SET client_min_messages = notice;

-- vaults
SELECT vault_create('prod');
SELECT vault_create('Prod');          -- names are case sensitive: a second vault
SELECT vault_create('prod');          -- duplicate
SELECT vault_create('');              -- too short
SELECT vault_create(repeat('x', 64)); -- too long
SELECT vault_create(NULL);
SELECT vault, owner = current_user AS mine, items, recovery_points, logical_bytes, stored_bytes
  FROM vault_vaults ORDER BY vault;
SELECT vault_drop('Prod');
SELECT vault_drop('Prod');            -- gone
SELECT vault_drop(NULL);

-- a table with the usual features
CREATE TABLE public.orders (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer  text NOT NULL DEFAULT 'anonymous',
    amount    numeric(12,2) CHECK (amount >= 0),
    qty       int NOT NULL DEFAULT 1,
    total     numeric GENERATED ALWAYS AS (amount * qty) STORED,
    note      text,
    created   timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
    UNIQUE (customer, created)
);
CREATE INDEX orders_note_idx ON public.orders (lower(note)) WHERE note IS NOT NULL;
INSERT INTO public.orders (customer, amount, qty, note, created)
SELECT 'c' || i, (i % 1000) / 10.0, 1 + i % 5, CASE WHEN i % 3 = 0 THEN 'note ' || i END,
       '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute'
FROM generate_series(1, 5000) i;

SELECT vault_backup('prod', 'public.orders') AS p1 \gset
SELECT :p1 > 0 AS point_made;
SELECT vault, item, kind, trigger, state, tables, rows, logical_bytes > 0 AS has_bytes,
       new_bytes > 0 AS stored_new, expires_at IS NULL AS no_expiry
  FROM vault_recovery_points WHERE recovery_point = :p1;
SELECT vault, kind, name, policy, state, recovery_points FROM vault_items ORDER BY item_id;

-- change it, back up again; the unchanged part is deduplicated
DELETE FROM public.orders WHERE id % 10 = 0;
UPDATE public.orders SET note = 'changed' WHERE id BETWEEN 1 AND 5;
SELECT vault_backup('prod', 'public.orders', now() + interval '30 days') AS p2 \gset
SELECT rows, expires_at > now() AS expires_later FROM vault_recovery_points WHERE recovery_point = :p2;
SELECT (SELECT new_bytes FROM vault_recovery_points WHERE recovery_point = :p2)
     < (SELECT new_bytes FROM vault_recovery_points WHERE recovery_point = :p1) AS second_point_smaller;

-- restore the first point next to the original
SELECT vault_restore(:p1);
SELECT count(*) FROM public.orders_restored;
-- same rows as at p1: everything the table has now, plus the deleted rows, minus the update
SELECT count(*) AS differing FROM (
    (SELECT id, customer, amount, qty, total, created FROM public.orders_restored
     EXCEPT SELECT id, customer, amount, qty, total, created FROM public.orders)
) d;
SELECT count(*) FROM public.orders_restored WHERE id % 10 = 0;
SELECT note FROM public.orders_restored WHERE id = 3;
-- definitions survive: defaults, NOT NULL, identity, generated, constraints, indexes
SELECT attname, format_type(atttypid, atttypmod), attnotnull, attidentity, attgenerated,
       pg_get_expr(adbin, adrelid) AS expr
  FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
 WHERE attrelid = 'public.orders_restored'::regclass AND attnum > 0 ORDER BY attnum;
SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'public.orders_restored'::regclass ORDER BY contype, 2;
SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \S+ ON', 'INDEX ON') FROM pg_index
 WHERE indrelid = 'public.orders_restored'::regclass ORDER BY 1;
-- identity continues past the restored max
INSERT INTO public.orders_restored (customer, amount) VALUES ('new', 1) RETURNING id > 5000 AS continues;
-- generated column recomputed, CHECK enforced
INSERT INTO public.orders_restored (customer, amount) VALUES ('neg', -1);

-- restore onto an existing name
SELECT vault_restore(:p1);                        -- exists, no replace
SELECT vault_restore(:p2, 'orders_restored', true);
SELECT count(*) FROM public.orders_restored;
SELECT vault_restore(:p1, 'other_schema_missing.t');
SELECT vault_restore(:p1, 'vault_internal.orders');
SELECT vault_restore(:p1, 'public.orders_copy');
SELECT count(*) FROM public.orders_copy;

-- verify and export
SELECT ok, chunks > 0 AS has_chunks, bad_chunks, detail LIKE 'recovery point % authenticated' AS detail_ok
  FROM vault_verify(:p1);
SELECT substr(string_agg(x, ''::bytea ORDER BY 1), 1, 11) = '\x5047434f50590aff0d0a00'::bytea AS copy_signature
  FROM (SELECT x FROM vault_export(:p1) x) e;
SELECT sum(length(x)) = (SELECT logical_bytes FROM vault_recovery_points WHERE recovery_point = :p1) AS whole_stream
  FROM vault_export(:p1) x;

-- bad recovery point ids and NULLs
SELECT vault_restore(-1);
SELECT vault_restore(0);
SELECT vault_restore(999999);
SELECT vault_restore(NULL);
SELECT vault_restore(:p1, NULL, NULL);
SELECT * FROM vault_verify(NULL);
SELECT * FROM vault_verify(999999);
SELECT * FROM vault_export(-5);
SELECT vault_restore(:p1, source_table => 'nosuch');

-- refusals at backup
SELECT vault_backup('nosuch', 'public.orders');
SELECT vault_backup(NULL, 'public.orders');
SELECT vault_backup('prod', NULL);
\set VERBOSITY terse
SELECT vault_backup('prod', 'public.orders', now() - interval '1 day');
\set VERBOSITY default
CREATE VIEW public.orders_v AS SELECT * FROM public.orders;
SELECT vault_backup('prod', 'public.orders_v');
CREATE MATERIALIZED VIEW public.orders_mv AS SELECT id FROM public.orders;
SELECT vault_backup('prod', 'public.orders_mv');
CREATE SEQUENCE public.some_seq;
SELECT vault_backup('prod', 'public.some_seq');
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_srv FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE public.orders_ft (id int) SERVER dummy_srv;
SELECT vault_backup('prod', 'public.orders_ft');
CREATE TEMP TABLE scratch (id int);
SELECT vault_backup('prod', 'scratch');
SELECT vault_backup('prod', 'pg_catalog.pg_class');
SELECT vault_backup('prod', 'public.orders_pkey');
SELECT vault_backup('prod', 'public.nosuch');
SELECT vault_backup('prod', 'vault_internal.chunks');
SELECT vault_backup_schema('prod', 'vault_internal');

-- a vault that holds points cannot be dropped
SELECT vault_drop('prod');

-- rolled-back backups leave nothing
SELECT count(*) AS points_before FROM vault_recovery_points \gset
BEGIN;
SELECT vault_backup('prod', 'public.orders') > 0 AS made;
ROLLBACK;
SELECT count(*) = :points_before AS nothing_left FROM vault_recovery_points;


-- every refusal, with its SQLSTATE
CREATE FUNCTION pg_temp.refusal(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE cmd;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT cmd, pg_temp.refusal(cmd) AS outcome FROM (VALUES
    ($$SELECT vault_create('prod')$$),
    ($$SELECT vault_create('')$$),
    ($$SELECT vault_create(NULL)$$),
    ($$SELECT vault_drop('nosuch')$$),
    ($$SELECT vault_drop('prod')$$),
    ($$SELECT vault_backup('nosuch', 'public.orders')$$),
    ($$SELECT vault_backup('prod', NULL)$$),
    ($$SELECT vault_backup('prod', 'public.orders', now() - interval '1 hour')$$),
    ($$SELECT vault_backup('prod', 'public.orders_v')$$),
    ($$SELECT vault_backup('prod', 'public.orders_mv')$$),
    ($$SELECT vault_backup('prod', 'public.orders_ft')$$),
    ($$SELECT vault_backup('prod', 'public.some_seq')$$),
    ($$SELECT vault_backup('prod', 'scratch')$$),
    ($$SELECT vault_backup('prod', 'pg_catalog.pg_class')$$),
    ($$SELECT vault_backup_schema('prod', 'nosuch')$$),
    ($$SELECT vault_backup_schema('prod', 'pg_catalog')$$),
    ($$SELECT vault_restore(-1)$$),
    ($$SELECT vault_restore(123456)$$),
    ($$SELECT vault_restore(NULL)$$),
    ($$SELECT vault_restore(1, 'public.orders_restored')$$),
    ($$SELECT vault_restore(1, 'nosuch_schema.t')$$),
    ($$SELECT vault_restore(1, source_table => 'nosuch')$$),
    ($$SELECT vault_verify(-7)$$),
    ($$SELECT vault_export(123456)$$)
) AS c(cmd);
DROP VIEW public.orders_v;
DROP MATERIALIZED VIEW public.orders_mv;
DROP FOREIGN TABLE public.orders_ft;
DROP SERVER dummy_srv;
DROP FOREIGN DATA WRAPPER dummy_fdw;
DROP SEQUENCE public.some_seq;
