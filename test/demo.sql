-- make demo: the main job of the vault, on a throwaway cluster
\pset footer off
\echo
\echo '== vault demo: create a vault, back up a table twice, restore the first point'
CREATE EXTENSION vault CASCADE;

\echo '-- a sample table: 200 000 orders'
CREATE TABLE public.orders (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer text NOT NULL,
    amount   numeric(12,2) NOT NULL CHECK (amount >= 0),
    status   text NOT NULL DEFAULT 'new',
    placed   timestamptz NOT NULL
);
INSERT INTO public.orders (customer, amount, status, placed)
SELECT 'customer ' || (i % 5000), (i % 100000) / 100.0,
       (ARRAY['new', 'paid', 'shipped'])[1 + i % 3],
       '2025-01-01'::timestamptz + i * interval '37 seconds'
FROM generate_series(1, 200000) i;

\echo '-- vault_create, then the first backup'
SELECT vault_create('prod');
SELECT vault_backup('prod', 'public.orders') AS first_point \gset

\echo '-- change the table: 1% of rows updated (one range), 1% appended, 100 deleted'
UPDATE public.orders SET status = 'refunded' WHERE id BETWEEN 150001 AND 152000;
INSERT INTO public.orders (customer, amount, placed)
SELECT 'late customer ' || i, i, now() FROM generate_series(1, 2000) i;
DELETE FROM public.orders WHERE id BETWEEN 1000 AND 1099;

\echo '-- the second backup: only changed chunks are stored'
SELECT vault_backup('prod', 'public.orders') AS second_point \gset

\echo '-- the recovery points, with their sizes and dedup'
SELECT recovery_point, item, rows,
       pg_size_pretty(logical_bytes) AS logical,
       pg_size_pretty(new_bytes) AS newly_stored,
       chunks, new_chunks,
       round(100.0 * (chunks - new_chunks) / greatest(chunks, 1), 1) AS "dedup %"
FROM vault_recovery_points ORDER BY recovery_point;
SELECT vault, items, recovery_points, pg_size_pretty(logical_bytes) AS logical,
       pg_size_pretty(stored_bytes) AS stored,
       round(logical_bytes::numeric / greatest(stored_bytes, 1), 2) AS "logical/stored"
FROM vault_vaults;

\echo '-- every chunk of the first point authenticates'
SELECT * FROM vault_verify(:first_point);

\echo '-- restore the first point next to the table, and show the difference'
SELECT vault_restore(:first_point) AS restored;
SELECT 'only in the first point' AS side, count(*) FROM (
    SELECT * FROM public.orders_restored EXCEPT SELECT * FROM public.orders) a
UNION ALL
SELECT 'only in the table now', count(*) FROM (
    SELECT * FROM public.orders EXCEPT SELECT * FROM public.orders_restored) b;
SELECT id, status AS then_status,
       coalesce((SELECT status FROM public.orders o WHERE o.id = r.id), '(deleted)') AS now_status
FROM public.orders_restored r WHERE id IN (100, 1050, 150500) ORDER BY id;
