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

\echo '-- a scattered change: one row in a hundred, all over the table; every chunk holds one'
UPDATE public.orders SET amount = amount + 1 WHERE id % 100 = 42;
SELECT vault_backup('prod', 'public.orders') AS third_point \gset
\echo '-- each changed chunk is stored as a delta against the chunk it replaces'
SELECT recovery_point, chunks, new_chunks, delta_chunks, pg_size_pretty(new_bytes) AS newly_stored
FROM vault_recovery_points WHERE recovery_point = :third_point;
\echo '-- and the point restores to the table as it is'
SELECT vault_restore(:third_point, 'public.orders_now') AS restored;
SELECT count(*) AS rows_that_differ FROM (
    (SELECT * FROM public.orders EXCEPT ALL SELECT * FROM public.orders_now)
    UNION ALL (SELECT * FROM public.orders_now EXCEPT ALL SELECT * FROM public.orders)) d;
DROP TABLE public.orders_now;

\echo '-- a whole schema: tables, a view, a function, a trigger, an enum, a sequence'
CREATE SCHEMA shop;
CREATE TYPE shop.status AS ENUM ('open', 'closed');
CREATE SEQUENCE shop.ticket_no START WITH 1000;
CREATE TABLE shop.tickets (id int PRIMARY KEY DEFAULT nextval('shop.ticket_no'),
                           state shop.status NOT NULL DEFAULT 'open', touched timestamptz);
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.touched := now(); RETURN NEW; END$$;
CREATE TRIGGER touch BEFORE UPDATE ON shop.tickets FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE VIEW shop.open_tickets AS SELECT id FROM shop.tickets WHERE state = 'open';
INSERT INTO shop.tickets (state) SELECT CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END::shop.status
FROM generate_series(1, 300) g;
SELECT vault_backup_schema('prod', 'shop') AS schema_point \gset
SELECT recovery_point, item, tables, rows, objects FROM vault_recovery_points
 WHERE recovery_point = :schema_point;

\echo '-- the disaster, and what a restore will do before doing it'
DROP SCHEMA shop CASCADE;
SELECT step, kind, name, action FROM vault_restore_plan(:schema_point, 'shop') ORDER BY step NULLS FIRST;
SELECT vault_restore(:schema_point, 'shop') AS restored;
SELECT count(*) AS open_tickets FROM shop.open_tickets;
INSERT INTO shop.tickets DEFAULT VALUES RETURNING id AS next_ticket, state;
UPDATE shop.tickets SET state = 'closed' WHERE id = 1000 RETURNING id, touched IS NOT NULL AS trigger_fired;

\echo '-- someone deletes the first point: it is only soft-deleted, and cannot be restored'
SELECT vault_delete_recovery_point(:first_point);
SELECT recovery_point, state, purge_at::date AS purge_on FROM vault_recovery_points
 WHERE recovery_point = :first_point;
\echo '-- and an alert says so (LISTEN vault_alerts, or vault.alert_command, hears it too)'
SELECT severity, kind, message FROM vault_alerts ORDER BY alert;
\set ON_ERROR_STOP off
SELECT vault_restore(:first_point, 'public.orders_again');
\set ON_ERROR_STOP on
\echo '-- undelete brings it back; the audit trail says who did what'
SELECT vault_undelete_point(:first_point);
SELECT role, item, operation, detail FROM vault_audit ORDER BY at;

\echo '-- the morning view: each item''s health, the day''s report, the whole cluster'
SELECT vault, item, health, rpo_breached FROM vault_health ORDER BY vault, item;
SELECT vault_report_refresh(now());
SELECT vault, coalesce(item, '(vault)') AS item, jobs_succeeded, jobs_failed, recovery_points,
       pg_size_pretty(stored_bytes) AS stored
  FROM vault_report_daily WHERE day = current_date ORDER BY vault, item NULLS LAST;
SELECT database, vaults, items, healthy, degraded, unhealthy, active_alerts FROM vault_cluster_status;
\echo '-- Prometheus scrapes vault_metrics(); an HTML page comes from vault_report_html(30)'
SELECT line FROM regexp_split_to_table(vault_metrics(), E'\n') AS line
 WHERE line LIKE 'vault_stored_bytes%' OR line LIKE 'vault_jobs_total%';
SELECT length(vault_report_html(30)) > 0 AS html_report_ready;
