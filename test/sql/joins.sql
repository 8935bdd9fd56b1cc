-- Many-to-many: the seed's IceCream and Size with Django's auto-created
-- through table; a through table with an extra column; a composite-key
-- join table; the second side registered later.
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE icecream_sizes (
    id serial PRIMARY KEY,
    icecream_id int NOT NULL REFERENCES icecream ON DELETE CASCADE,
    size_id int NOT NULL REFERENCES size ON DELETE CASCADE,
    UNIQUE (icecream_id, size_id));
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
-- The seed's Size: its own page and the pages of its ice creams.
CREATE FUNCTION dependent_paths(size) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT '/size/' || $1.name || '/'
    UNION ALL
    SELECT '/icecream/' || i.slug || '/'
      FROM icecream_sizes j JOIN icecream i ON i.id = j.icecream_id
     WHERE j.size_id = $1.id $$;
INSERT INTO icecream VALUES (1, 'vanilla'), (2, 'mint');
INSERT INTO size VALUES (1, 'small'), (2, 'large');

-- One side registered: the pure join table is found and covered.
SELECT dumper_register('icecream');
SELECT table_name, join_tables, triggers FROM dumper_registrations;

-- Adding a size to an ice cream invalidates the ice cream's pages.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;

-- The second side registered later covers the join table found earlier.
SELECT dumper_register('size');
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;

-- Adding, changing and removing a size: both sides' paths, exactly.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (2, 1);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE icecream_sizes SET size_id = 2 WHERE icecream_id = 1 AND size_id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DELETE FROM icecream_sizes WHERE icecream_id = 1 AND size_id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A write to a side: the size's function reads the join table.
BEGIN;
UPDATE size SET name = 'small-cup' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Deleting an ice cream cascades to its join rows: the join rows'
-- ice cream is already gone when their trigger runs, and is skipped; the
-- size side is still invalidated.
BEGIN;
DELETE FROM icecream WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT count(*) FROM icecream_sizes;
ROLLBACK;

-- After commit the queue holds what the transaction gathered, once.
TRUNCATE dumper.queue, dumper.spill_queue;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (2, 2);
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A through table with an extra column is not found automatically ...
CREATE TABLE scoop (
    icecream_id int REFERENCES icecream,
    size_id int REFERENCES size,
    grams int NOT NULL,
    PRIMARY KEY (icecream_id, size_id));
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
-- ... and is covered once registered as a join table.
SELECT dumper_register_join('scoop');
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
BEGIN;
INSERT INTO scoop VALUES (2, 1, 120);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- Changing only the extra column still invalidates both rows it links.
INSERT INTO scoop VALUES (2, 1, 120);
BEGIN;
UPDATE scoop SET grams = 150;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- An UPDATE that leaves a side's key columns alone looks that side's row
-- up once: the same row, and a paths function that is not volatile, give
-- the same paths.  A changed key, or a volatile function, looks up the rows
-- of both versions.  (A PL/pgSQL function is never inlined, so its calls
-- are counted: the backend's count so far, read before each UPDATE.)
CREATE TABLE cone (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE cone_scoops (cone_id int REFERENCES cone, grams int NOT NULL);
CREATE FUNCTION dependent_paths(cone) RETURNS text LANGUAGE plpgsql STABLE
    AS $$ BEGIN RETURN '/cone/' || $1.name || '/'; END $$;
CREATE FUNCTION cone_calls() RETURNS bigint LANGUAGE sql
    AS $$ SELECT coalesce(pg_stat_get_xact_function_calls('dependent_paths(cone)'::regprocedure), 0) $$;
SELECT dumper_register('cone');
SELECT dumper_register_join('cone_scoops');
INSERT INTO cone VALUES (1, 'waffle'), (2, 'sugar');
INSERT INTO cone_scoops VALUES (1, 100), (NULL, 50);
SET track_functions = 'pl';
BEGIN;
SELECT cone_calls() AS before \gset
UPDATE cone_scoops SET grams = grams + 1;
SELECT cone_calls() - :before AS calls;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
SELECT cone_calls() AS before \gset
UPDATE cone_scoops SET cone_id = 2 WHERE cone_id = 1;
SELECT cone_calls() - :before AS calls;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
SELECT cone_calls() AS before \gset
UPDATE cone_scoops SET cone_id = 1 WHERE cone_id IS NULL;
SELECT cone_calls() - :before AS calls;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
ALTER FUNCTION dependent_paths(cone) VOLATILE;
BEGIN;
SELECT cone_calls() AS before \gset
UPDATE cone_scoops SET grams = grams + 1;
SELECT cone_calls() - :before AS calls;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET track_functions;
SELECT dumper_unregister('cone');
DROP FUNCTION cone_calls(), dependent_paths(cone);
DROP TABLE cone_scoops, cone;

-- A composite key: shops are identified by (country, code).
CREATE TABLE shop (country text, code int, name text NOT NULL,
                   PRIMARY KEY (country, code));
CREATE TABLE shop_icecreams (
    country text, code int,
    icecream_id int REFERENCES icecream,
    FOREIGN KEY (country, code) REFERENCES shop,
    PRIMARY KEY (country, code, icecream_id));
SELECT dumper_register('shop', templates => ARRAY['/shop/{country}/{code}/']);
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
INSERT INTO shop VALUES ('it', 7, 'Roma'), ('it', 8, 'Milano'), ('fr', 7, 'Paris');
BEGIN;
INSERT INTO shop_icecreams VALUES ('it', 7, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A partitioned join table: TRUNCATE of the parent, of one partition, and
-- of a partition created later invalidates the rows they referenced (the
-- join TRUNCATE trigger is on every partition: statement triggers are not
-- cloned).
CREATE TABLE shop_sizes (shop_country text, shop_code int, size_id int REFERENCES size,
    FOREIGN KEY (shop_country, shop_code) REFERENCES shop,
    PRIMARY KEY (shop_country, shop_code, size_id)) PARTITION BY LIST (shop_country);
CREATE TABLE shop_sizes_it PARTITION OF shop_sizes FOR VALUES IN ('it');
INSERT INTO shop_sizes VALUES ('it', 7, 1);
CREATE TABLE shop_sizes_fr PARTITION OF shop_sizes FOR VALUES IN ('fr');
INSERT INTO shop_sizes VALUES ('fr', 7, 2);
SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
 WHERE tgrelid::regclass::text LIKE 'shop_sizes%' AND tgname LIKE 'dumper%' ORDER BY 1, 2;
BEGIN;
TRUNCATE shop_sizes;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
TRUNCATE shop_sizes_fr;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
DROP TABLE shop_sizes;

-- A nested write: a side's paths function that writes to the join table
-- whose trigger called it, after changing a function (which invalidates
-- every join table's kept lookups).  The nested trigger must not rebuild
-- the entry the outer one is still running.
CREATE TABLE flavour (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE flavour_sizes (flavour_id int REFERENCES flavour,
    size_id int REFERENCES size, PRIMARY KEY (flavour_id, size_id));
CREATE FUNCTION flavour_touch() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION dependent_paths(flavour) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    CREATE OR REPLACE FUNCTION flavour_touch() RETURNS int LANGUAGE sql AS 'SELECT 2';
    INSERT INTO flavour_sizes VALUES ($1.id, 2) ON CONFLICT DO NOTHING;
    RETURN '/flavour/' || $1.name || '/';
END $$;
INSERT INTO flavour VALUES (1, 'lemon');
SELECT dumper_register('flavour');
BEGIN;
INSERT INTO flavour_sizes VALUES (1, 1);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT * FROM flavour_sizes ORDER BY 1, 2;
ROLLBACK;
SELECT dumper_unregister('flavour');
DROP TABLE flavour_sizes, flavour CASCADE;
DROP FUNCTION flavour_touch();

-- Unregistering one side keeps the join table for the other; the last
-- side takes it away.
SELECT dumper_unregister('size');
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
SELECT dumper_unregister('icecream');
SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
 WHERE tgname LIKE 'dumper%' ORDER BY 1, 2;

DROP TABLE shop_icecreams, shop, scoop, icecream_sizes, size, icecream CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
