-- A DVD-rental schema in the shape of the pagila sample database, written
-- for the vault's tests (not pagila's own files): 15 tables with a
-- range-partitioned payment table, an enum, domains (one with a non-ASCII
-- name), free-standing sequences used by defaults and owned ones, seven
-- views and a materialized view, plpgsql and SQL functions, an aggregate,
-- last_update triggers on every table and a full-text trigger, comments,
-- privileges, statistics objects, and a few thousand rows, all generated
-- deterministically.  Loads into schema pagila (run with psql -v ON_ERROR_STOP=1).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pagila_clerk') THEN
        CREATE ROLE pagila_clerk NOLOGIN;
    END IF;
END
$$;
CREATE SCHEMA pagila;
COMMENT ON SCHEMA pagila IS 'DVD rental sample, pagila-shaped';
SET search_path = pagila;

-- types -------------------------------------------------------------------
CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE DOMAIN "größe" AS smallint CONSTRAINT "größe_positiv" CHECK (VALUE > 0);
COMMENT ON DOMAIN "größe" IS 'a length in minutes; the name is not ASCII';
CREATE TYPE rental_window AS (starts timestamptz, ends timestamptz);

-- functions the tables need -------------------------------------------------
CREATE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_update = CURRENT_TIMESTAMP;
    RETURN NEW;
END $$;

CREATE FUNCTION _group_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
  WHEN $2 IS NULL THEN $1
  WHEN $1 IS NULL THEN $2
  ELSE $1 || ', ' || $2
END
$$;
CREATE AGGREGATE group_concat(text) (SFUNC = _group_concat, STYPE = text);

-- free-standing sequences, used by defaults ---------------------------------
CREATE SEQUENCE actor_actor_id_seq;
CREATE SEQUENCE address_address_id_seq;
CREATE SEQUENCE category_category_id_seq;
CREATE SEQUENCE city_city_id_seq;
CREATE SEQUENCE country_country_id_seq;
CREATE SEQUENCE customer_customer_id_seq;
CREATE SEQUENCE film_film_id_seq;
CREATE SEQUENCE inventory_inventory_id_seq;
CREATE SEQUENCE language_language_id_seq;
CREATE SEQUENCE payment_payment_id_seq;
CREATE SEQUENCE rental_rental_id_seq START WITH 1000 INCREMENT BY 2;

-- tables --------------------------------------------------------------------
CREATE TABLE country (
    country_id integer DEFAULT nextval('country_country_id_seq') PRIMARY KEY,
    country text NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE city (
    city_id integer DEFAULT nextval('city_city_id_seq') PRIMARY KEY,
    city text NOT NULL,
    country_id integer NOT NULL REFERENCES country ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE INDEX idx_fk_country_id ON city (country_id);
CREATE TABLE address (
    address_id integer DEFAULT nextval('address_address_id_seq') PRIMARY KEY,
    address text NOT NULL,
    address2 text,
    district text NOT NULL,
    city_id integer NOT NULL REFERENCES city ON UPDATE CASCADE ON DELETE RESTRICT,
    postal_code text,
    phone text NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE INDEX idx_fk_city_id ON address (city_id);
CREATE TABLE language (
    language_id integer DEFAULT nextval('language_language_id_seq') PRIMARY KEY,
    name character(20) NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE category (
    category_id integer DEFAULT nextval('category_category_id_seq') PRIMARY KEY,
    name text NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE actor (
    actor_id integer DEFAULT nextval('actor_actor_id_seq') PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE INDEX idx_actor_last_name ON actor (last_name);
CREATE TABLE film (
    film_id integer DEFAULT nextval('film_film_id_seq') PRIMARY KEY,
    title text NOT NULL,
    description text,
    release_year year,
    language_id integer NOT NULL REFERENCES language ON UPDATE CASCADE ON DELETE RESTRICT,
    original_language_id integer REFERENCES language ON UPDATE CASCADE ON DELETE RESTRICT,
    rental_duration smallint DEFAULT 3 NOT NULL,
    rental_rate numeric(4,2) DEFAULT 4.99 NOT NULL,
    length "größe",
    replacement_cost numeric(5,2) DEFAULT 19.99 NOT NULL,
    rating mpaa_rating DEFAULT 'G',
    last_update timestamptz DEFAULT now() NOT NULL,
    special_features text[],
    fulltext tsvector NOT NULL
);
CREATE INDEX film_fulltext_idx ON film USING gist (fulltext);
CREATE INDEX idx_title ON film (title);
CREATE INDEX idx_fk_language_id ON film (language_id);
CREATE INDEX idx_long_films ON film (length) WHERE length > 150;
COMMENT ON TABLE film IS 'every film the stores have ever carried';
COMMENT ON COLUMN film.fulltext IS 'kept by film_fulltext_trigger';
CREATE STATISTICS film_rating_language (dependencies, ndistinct) ON rating, language_id FROM film;
CREATE TABLE film_actor (
    actor_id integer NOT NULL REFERENCES actor ON UPDATE CASCADE ON DELETE RESTRICT,
    film_id integer NOT NULL REFERENCES film ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (actor_id, film_id)
);
CREATE INDEX idx_fk_film_id ON film_actor (film_id);
CREATE TABLE film_category (
    film_id integer NOT NULL REFERENCES film ON UPDATE CASCADE ON DELETE RESTRICT,
    category_id integer NOT NULL REFERENCES category ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (film_id, category_id)
);
CREATE TABLE store (
    store_id serial PRIMARY KEY,
    manager_staff_id integer NOT NULL,
    address_id integer NOT NULL REFERENCES address ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE staff (
    staff_id serial PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    address_id integer NOT NULL REFERENCES address ON UPDATE CASCADE ON DELETE RESTRICT,
    email text,
    store_id integer NOT NULL REFERENCES store,
    active boolean DEFAULT true NOT NULL,
    username text NOT NULL,
    password text,
    last_update timestamptz DEFAULT now() NOT NULL,
    picture bytea
);
ALTER TABLE store ADD CONSTRAINT store_manager_staff_id_fkey FOREIGN KEY (manager_staff_id)
    REFERENCES staff ON UPDATE CASCADE ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED;
CREATE UNIQUE INDEX idx_unq_manager_staff_id ON store (manager_staff_id);
CREATE TABLE customer (
    customer_id integer DEFAULT nextval('customer_customer_id_seq') PRIMARY KEY,
    store_id integer NOT NULL REFERENCES store ON UPDATE CASCADE ON DELETE RESTRICT,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text,
    address_id integer NOT NULL REFERENCES address ON UPDATE CASCADE ON DELETE RESTRICT,
    activebool boolean DEFAULT true NOT NULL,
    create_date date DEFAULT CURRENT_DATE NOT NULL,
    last_update timestamptz DEFAULT now(),
    active integer
);
CREATE INDEX idx_last_name ON customer (last_name);
CREATE INDEX idx_fk_store_id ON customer (store_id);
CREATE TABLE inventory (
    inventory_id integer DEFAULT nextval('inventory_inventory_id_seq') PRIMARY KEY,
    film_id integer NOT NULL REFERENCES film ON UPDATE CASCADE ON DELETE RESTRICT,
    store_id integer NOT NULL REFERENCES store ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL
);
CREATE INDEX idx_store_id_film_id ON inventory (store_id, film_id);
CREATE TABLE rental (
    rental_id integer DEFAULT nextval('rental_rental_id_seq') PRIMARY KEY,
    rental_date timestamptz NOT NULL,
    inventory_id integer NOT NULL REFERENCES inventory ON UPDATE CASCADE ON DELETE RESTRICT,
    customer_id integer NOT NULL REFERENCES customer ON UPDATE CASCADE ON DELETE RESTRICT,
    return_date timestamptz,
    staff_id integer NOT NULL REFERENCES staff ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT rental_returned_after CHECK (return_date IS NULL OR return_date >= rental_date)
);
CREATE UNIQUE INDEX idx_unq_rental_rental_date_inventory_id_customer_id
    ON rental (rental_date, inventory_id, customer_id);
CREATE INDEX idx_fk_inventory_id ON rental (inventory_id);

-- payment: partitioned by month, each partition with its own indexes and
-- foreign keys (as pagila has them); the primary key is the parent's
CREATE TABLE payment (
    payment_id integer DEFAULT nextval('payment_payment_id_seq') NOT NULL,
    customer_id integer NOT NULL,
    staff_id integer NOT NULL,
    rental_id integer NOT NULL,
    amount numeric(5,2) NOT NULL,
    payment_date timestamptz NOT NULL,
    last_update timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (payment_date, payment_id)
) PARTITION BY RANGE (payment_date);
CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01 00:00:00+00') TO ('2022-02-01 00:00:00+00');
CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01 00:00:00+00') TO ('2022-03-01 00:00:00+00');
CREATE TABLE payment_p2022_03 PARTITION OF payment FOR VALUES FROM ('2022-03-01 00:00:00+00') TO ('2022-04-01 00:00:00+00');
CREATE TABLE payment_p2022_04 PARTITION OF payment FOR VALUES FROM ('2022-04-01 00:00:00+00') TO ('2022-05-01 00:00:00+00');
CREATE TABLE payment_p2022_05 PARTITION OF payment FOR VALUES FROM ('2022-05-01 00:00:00+00') TO ('2022-06-01 00:00:00+00');
CREATE TABLE payment_p2022_06 PARTITION OF payment FOR VALUES FROM ('2022-06-01 00:00:00+00') TO ('2022-07-01 00:00:00+00');
CREATE TABLE payment_p2022_07 PARTITION OF payment FOR VALUES FROM ('2022-07-01 00:00:00+00') TO ('2022-08-01 00:00:00+00');
DO $$
DECLARE
    m text;
BEGIN
    FOREACH m IN ARRAY ARRAY['01', '02', '03', '04', '05', '06', '07'] LOOP
        EXECUTE format('CREATE INDEX idx_fk_payment_p2022_%s_customer_id ON payment_p2022_%s (customer_id)', m, m);
        EXECUTE format('CREATE INDEX idx_fk_payment_p2022_%s_staff_id ON payment_p2022_%s (staff_id)', m, m);
        EXECUTE format('ALTER TABLE payment_p2022_%s ADD CONSTRAINT payment_p2022_%s_customer_id_fkey '
                       'FOREIGN KEY (customer_id) REFERENCES customer (customer_id)', m, m);
        EXECUTE format('ALTER TABLE payment_p2022_%s ADD CONSTRAINT payment_p2022_%s_rental_id_fkey '
                       'FOREIGN KEY (rental_id) REFERENCES rental (rental_id)', m, m);
        EXECUTE format('ALTER TABLE payment_p2022_%s ADD CONSTRAINT payment_p2022_%s_staff_id_fkey '
                       'FOREIGN KEY (staff_id) REFERENCES staff (staff_id)', m, m);
    END LOOP;
END
$$;
CREATE INDEX payment_rental_id_idx ON payment (rental_id);
COMMENT ON TABLE payment_p2022_01 IS 'January 2022';

-- triggers: last_update on every table, and the full-text column
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['actor', 'address', 'category', 'city', 'country', 'customer', 'film',
                             'film_actor', 'film_category', 'inventory', 'language', 'payment',
                             'rental', 'staff', 'store'] LOOP
        EXECUTE format('CREATE TRIGGER last_updated BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION last_updated()', t);
    END LOOP;
END
$$;
CREATE TRIGGER film_fulltext_trigger BEFORE INSERT OR UPDATE ON film
    FOR EACH ROW EXECUTE FUNCTION tsvector_update_trigger('fulltext', 'pg_catalog.english', 'title', 'description');
COMMENT ON TRIGGER film_fulltext_trigger ON film IS 'keeps film.fulltext';

-- functions -----------------------------------------------------------------
CREATE FUNCTION inventory_in_stock(p_inventory_id integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_rentals integer;
    v_out integer;
BEGIN
    SELECT count(*) INTO v_rentals FROM pagila.rental WHERE inventory_id = p_inventory_id;
    IF v_rentals = 0 THEN
        RETURN true;
    END IF;
    SELECT count(rental_id) INTO v_out FROM pagila.inventory LEFT JOIN pagila.rental USING (inventory_id)
    WHERE inventory.inventory_id = p_inventory_id AND rental.return_date IS NULL;
    RETURN v_out = 0;
END $$;

CREATE FUNCTION film_in_stock(p_film_id integer, p_store_id integer, OUT p_film_count integer)
    RETURNS SETOF integer LANGUAGE sql AS $$
    SELECT inventory_id FROM pagila.inventory
    WHERE film_id = $1 AND store_id = $2 AND pagila.inventory_in_stock(inventory_id);
$$;

CREATE FUNCTION film_not_in_stock(p_film_id integer, p_store_id integer, OUT p_film_count integer)
    RETURNS SETOF integer LANGUAGE sql AS $$
    SELECT inventory_id FROM pagila.inventory
    WHERE film_id = $1 AND store_id = $2 AND NOT pagila.inventory_in_stock(inventory_id);
$$;

CREATE FUNCTION get_customer_balance(p_customer_id integer, p_effective_date timestamptz)
    RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    v_rentfees numeric;
    v_overfees numeric;
    v_payments numeric;
BEGIN
    SELECT coalesce(sum(film.rental_rate), 0) INTO v_rentfees
    FROM pagila.film, pagila.inventory, pagila.rental
    WHERE film.film_id = inventory.film_id AND inventory.inventory_id = rental.inventory_id
      AND rental.rental_date <= p_effective_date AND rental.customer_id = p_customer_id;
    SELECT coalesce(sum(CASE WHEN rental.return_date - rental.rental_date > film.rental_duration * '1 day'::interval
                             THEN extract(day FROM rental.return_date - rental.rental_date) - film.rental_duration
                             ELSE 0 END), 0) INTO v_overfees
    FROM pagila.rental, pagila.inventory, pagila.film
    WHERE film.film_id = inventory.film_id AND inventory.inventory_id = rental.inventory_id
      AND rental.rental_date <= p_effective_date AND rental.customer_id = p_customer_id;
    SELECT coalesce(sum(payment.amount), 0) INTO v_payments
    FROM pagila.payment WHERE payment.payment_date <= p_effective_date AND payment.customer_id = p_customer_id;
    RETURN v_rentfees + v_overfees - v_payments;
END $$;

CREATE FUNCTION inventory_held_by_customer(p_inventory_id integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_customer_id integer;
BEGIN
    SELECT customer_id INTO v_customer_id FROM pagila.rental
    WHERE return_date IS NULL AND inventory_id = p_inventory_id;
    RETURN v_customer_id;
END $$;

-- a SQL-standard body: parsed at creation, its references stored by object
CREATE FUNCTION film_count_in(p_category text) RETURNS bigint LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT count(*) FROM film_category fc JOIN category c ON c.category_id = fc.category_id
    WHERE c.name = p_category;
END;

CREATE FUNCTION rewards_report(min_monthly_purchases integer, min_dollar_amount_purchased numeric)
    RETURNS SETOF customer LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    RETURN QUERY
    SELECT c.* FROM pagila.customer c
    WHERE c.customer_id IN (
        SELECT p.customer_id FROM pagila.payment p
        GROUP BY p.customer_id
        HAVING sum(p.amount) > min_dollar_amount_purchased AND count(*) > min_monthly_purchases)
    ORDER BY c.customer_id;
END $$;
COMMENT ON FUNCTION rewards_report(integer, numeric) IS 'customers who paid much, often';
REVOKE EXECUTE ON FUNCTION rewards_report(integer, numeric) FROM PUBLIC;

CREATE PROCEDURE close_overdue(p_before timestamptz) LANGUAGE sql AS $$
    UPDATE pagila.rental SET return_date = p_before WHERE return_date IS NULL AND rental_date < p_before - interval '30 days';
$$;

-- views -----------------------------------------------------------------------
CREATE VIEW actor_info AS
SELECT a.actor_id, a.first_name, a.last_name,
       group_concat(DISTINCT c.name || ': ' || (
           SELECT group_concat(f.title ORDER BY f.title) FROM film f
           JOIN film_category fc_1 ON f.film_id = fc_1.film_id
           JOIN film_actor fa_1 ON f.film_id = fa_1.film_id
           WHERE fc_1.category_id = c.category_id AND fa_1.actor_id = a.actor_id)) AS film_info
FROM actor a
LEFT JOIN film_actor fa ON a.actor_id = fa.actor_id
LEFT JOIN film_category fc ON fa.film_id = fc.film_id
LEFT JOIN category c ON fc.category_id = c.category_id
GROUP BY a.actor_id, a.first_name, a.last_name;

CREATE VIEW customer_list AS
SELECT cu.customer_id AS id, cu.first_name || ' ' || cu.last_name AS name, a.address,
       a.postal_code AS "zip code", a.phone, city.city, country.country,
       CASE WHEN cu.activebool THEN 'active' ELSE '' END AS notes, cu.store_id AS sid
FROM customer cu
JOIN address a ON cu.address_id = a.address_id
JOIN city ON a.city_id = city.city_id
JOIN country ON city.country_id = country.country_id;

CREATE VIEW film_list AS
SELECT film.film_id AS fid, film.title, film.description, category.name AS category,
       film.rental_rate AS price, film.length, film.rating,
       group_concat(actor.first_name || ' ' || actor.last_name ORDER BY actor.actor_id) AS actors
FROM category
LEFT JOIN film_category ON category.category_id = film_category.category_id
LEFT JOIN film ON film_category.film_id = film.film_id
JOIN film_actor ON film.film_id = film_actor.film_id
JOIN actor ON film_actor.actor_id = actor.actor_id
GROUP BY film.film_id, film.title, film.description, category.name, film.rental_rate, film.length, film.rating;

CREATE VIEW nicer_but_slower_film_list AS
SELECT film.film_id AS fid, film.title, film.description, category.name AS category,
       film.rental_rate AS price, film.length, film.rating,
       group_concat(upper(substr(actor.first_name, 1, 1)) || lower(substr(actor.first_name, 2))
                    || ' ' || upper(substr(actor.last_name, 1, 1)) || lower(substr(actor.last_name, 2))
                    ORDER BY actor.actor_id) AS actors
FROM category
LEFT JOIN film_category ON category.category_id = film_category.category_id
LEFT JOIN film ON film_category.film_id = film.film_id
JOIN film_actor ON film.film_id = film_actor.film_id
JOIN actor ON film_actor.actor_id = actor.actor_id
GROUP BY film.film_id, film.title, film.description, category.name, film.rental_rate, film.length, film.rating;

CREATE VIEW sales_by_film_category AS
SELECT c.name AS category, sum(p.amount) AS total_sales
FROM payment p
JOIN rental r ON p.rental_id = r.rental_id
JOIN inventory i ON r.inventory_id = i.inventory_id
JOIN film f ON i.film_id = f.film_id
JOIN film_category fc ON f.film_id = fc.film_id
JOIN category c ON fc.category_id = c.category_id
GROUP BY c.name;

CREATE VIEW sales_by_store AS
SELECT c.city || ',' || cy.country AS store, m.first_name || ' ' || m.last_name AS manager,
       sum(p.amount) AS total_sales
FROM payment p
JOIN rental r ON p.rental_id = r.rental_id
JOIN inventory i ON r.inventory_id = i.inventory_id
JOIN store s ON i.store_id = s.store_id
JOIN address a ON s.address_id = a.address_id
JOIN city c ON a.city_id = c.city_id
JOIN country cy ON c.country_id = cy.country_id
JOIN staff m ON s.manager_staff_id = m.staff_id
GROUP BY cy.country, c.city, s.store_id, m.first_name, m.last_name;

CREATE VIEW staff_list AS
SELECT s.staff_id AS id, s.first_name || ' ' || s.last_name AS name, a.address,
       a.postal_code AS "zip code", a.phone, city.city, country.country, s.store_id AS sid
FROM staff s
JOIN address a ON s.address_id = a.address_id
JOIN city ON a.city_id = city.city_id
JOIN country ON city.country_id = country.country_id;
COMMENT ON VIEW staff_list IS 'staff with their addresses';

CREATE MATERIALIZED VIEW rental_by_category AS
SELECT c.name AS category, sum(p.amount) AS total_sales
FROM payment p
JOIN rental r ON p.rental_id = r.rental_id
JOIN inventory i ON r.inventory_id = i.inventory_id
JOIN film f ON i.film_id = f.film_id
JOIN film_category fc ON f.film_id = fc.film_id
JOIN category c ON fc.category_id = c.category_id
GROUP BY c.name
ORDER BY sum(p.amount) DESC
WITH NO DATA;
CREATE UNIQUE INDEX rental_category ON rental_by_category (category);

-- privileges ------------------------------------------------------------------
GRANT USAGE ON SCHEMA pagila TO pagila_clerk;
GRANT SELECT ON film, film_list, customer_list TO pagila_clerk;
GRANT SELECT (customer_id, first_name, last_name), UPDATE (email) ON customer TO pagila_clerk;
GRANT USAGE ON SEQUENCE rental_rental_id_seq TO pagila_clerk;
GRANT EXECUTE ON FUNCTION rewards_report(integer, numeric) TO pagila_clerk;

-- rows --------------------------------------------------------------------------
INSERT INTO country (country)
SELECT 'Country ' || g FROM generate_series(1, 109) g;
INSERT INTO city (city, country_id)
SELECT 'City ' || g, 1 + (g * 7) % 109 FROM generate_series(1, 600) g;
INSERT INTO address (address, address2, district, city_id, postal_code, phone)
SELECT g || ' Main Street', CASE WHEN g % 5 = 0 THEN 'Suite ' || g END, 'District ' || (g % 40),
       1 + (g * 13) % 600, lpad((g * 37 % 100000)::text, 5, '0'), '555-' || lpad(g::text, 4, '0')
FROM generate_series(1, 603) g;
INSERT INTO language (name)
SELECT unnest(ARRAY['English', 'Italian', 'Japanese', 'Mandarin', 'French', 'German']);
INSERT INTO category (name)
SELECT unnest(ARRAY['Action', 'Animation', 'Children', 'Classics', 'Comedy', 'Documentary', 'Drama',
                    'Family', 'Foreign', 'Games', 'Horror', 'Music', 'New', 'Sci-Fi', 'Sports', 'Travel']);
INSERT INTO actor (first_name, last_name)
SELECT 'ACTOR' || g, 'SURNAME' || (g % 120) FROM generate_series(1, 200) g;
INSERT INTO film (title, description, release_year, language_id, original_language_id, rental_duration,
                  rental_rate, length, replacement_cost, rating, special_features)
SELECT 'FILM TITLE ' || g,
       'A ' || (ARRAY['Epic', 'Touching', 'Fateful', 'Boring', 'Astounding'])[1 + g % 5] || ' story of a '
            || (ARRAY['dog', 'robot', 'pilot', 'chef', 'monk', 'teacher'])[1 + g % 6] || ' in ' || 'City ' || (g % 600),
       2000 + g % 23, 1 + g % 6, CASE WHEN g % 9 = 0 THEN 1 + (g + 1) % 6 END, 3 + g % 5,
       (ARRAY[0.99, 2.99, 4.99])[1 + g % 3], 46 + g % 140, 9.99 + g % 21,
       (ARRAY['G', 'PG', 'PG-13', 'R', 'NC-17'])[1 + g % 5]::mpaa_rating,
       CASE WHEN g % 4 = 0 THEN ARRAY['Trailers', 'Deleted Scenes'] ELSE ARRAY['Commentaries'] END
FROM generate_series(1, 1000) g;
INSERT INTO film_actor (actor_id, film_id)
SELECT DISTINCT 1 + (f * 7 + k * 31) % 200, f FROM generate_series(1, 1000) f, generate_series(1, 5) k;
INSERT INTO film_category (film_id, category_id)
SELECT f, 1 + f % 16 FROM generate_series(1, 1000) f;
BEGIN;
SET CONSTRAINTS store_manager_staff_id_fkey DEFERRED;
INSERT INTO store (manager_staff_id, address_id) VALUES (1, 1), (2, 2);
INSERT INTO staff (first_name, last_name, address_id, email, store_id, username, password)
VALUES ('Mike', 'Hillyer', 3, 'mike@example.org', 1, 'Mike', 'x'),
       ('Jon', 'Stephens', 4, 'jon@example.org', 2, 'Jon', NULL);
COMMIT;
INSERT INTO customer (store_id, first_name, last_name, email, address_id, create_date, active)
SELECT 1 + g % 2, 'FIRST' || g, 'LAST' || (g % 300), 'c' || g || '@example.org', 5 + g % 598,
       date '2022-01-01' - (g % 365), 1 FROM generate_series(1, 599) g;
INSERT INTO inventory (film_id, store_id)
SELECT 1 + (g * 17) % 1000, 1 + g % 2 FROM generate_series(1, 4581) g;
INSERT INTO rental (rental_date, inventory_id, customer_id, return_date, staff_id)
SELECT timestamptz '2022-01-01 10:00+00' + g * interval '47 minutes', 1 + (g * 29) % 4581, 1 + (g * 11) % 599,
       CASE WHEN g % 50 = 0 THEN NULL
            ELSE timestamptz '2022-01-01 10:00+00' + g * interval '47 minutes' + (g % 9) * interval '1 day' END,
       1 + g % 2
FROM generate_series(1, 6000) g;
INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date)
SELECT r.customer_id, r.staff_id, r.rental_id, (ARRAY[0.99, 2.99, 4.99, 5.99])[1 + r.rental_id % 4],
       r.rental_date + interval '1 hour'
FROM rental r WHERE r.rental_date < '2022-07-31' AND r.rental_id % 3 <> 0;
REFRESH MATERIALIZED VIEW rental_by_category;
ANALYZE;
RESET search_path;
