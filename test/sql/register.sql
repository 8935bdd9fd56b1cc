-- Registration: default dependent_paths resolution, explicit functions in
-- SQL, PL/pgSQL and C, every return shape, re-registration, unregister,
-- schema-qualified and quoted names.
CREATE EXTENSION dumper;

-- Two tables, each with its own dependent_paths overload (like the seed's
-- model methods).
CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
CREATE TABLE size (id int PRIMARY KEY, name text);
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
CREATE FUNCTION dependent_paths(size) RETURNS text LANGUAGE sql
    AS $$ SELECT '/size/' || $1.name || '/' $$;
SELECT dumper_register('icecream');
SELECT dumper_register('size');
SELECT table_name, paths_function, templates, triggers
    FROM dumper_registrations ORDER BY table_name::text;

-- INSERT: paths of the new row; UPDATE: old and new; DELETE: the old row.
BEGIN;
INSERT INTO icecream VALUES (1, 'vanilla', 3);
INSERT INTO size VALUES (1, 'small');
SELECT * FROM dumper_transaction_paths();
COMMIT;
BEGIN;
UPDATE icecream SET slug = 'vanilla-bean' WHERE id = 1;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
BEGIN;
UPDATE icecream SET price = price + 1 WHERE id = 1;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
BEGIN;
DELETE FROM size WHERE id = 1;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
-- Nothing gathered outside a transaction block survives it.
SELECT count(*) FROM dumper_transaction_paths();

-- An explicit paths function in PL/pgSQL returning SETOF text, with NULLs.
CREATE FUNCTION icecream_setof(r icecream) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEXT '/plpgsql/' || r.slug;
    RETURN NEXT NULL;
    IF r.price > 10 THEN
        RETURN NEXT '/expensive/';
    END IF;
END $$;
SELECT dumper_register('icecream', 'icecream_setof');
SELECT paths_function FROM dumper_registrations WHERE table_name = 'icecream'::regclass;
BEGIN;
UPDATE icecream SET price = 20 WHERE id = 1;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- SQL returning SETOF text.
CREATE FUNCTION icecream_sql_setof(icecream) RETURNS SETOF text LANGUAGE sql
    AS $$ SELECT '/setof/' || $1.slug UNION ALL SELECT '/setof-list/' $$;
SELECT dumper_register('icecream', 'icecream_sql_setof');
BEGIN;
UPDATE icecream SET price = 4 WHERE id = 1;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- A function in C, built by the test suite as a user would build one.
CREATE FUNCTION c_paths(icecream) RETURNS text
    AS 'dumper_test_paths', 'c_paths' LANGUAGE C STRICT;
SELECT dumper_register('icecream', 'c_paths');
BEGIN;
INSERT INTO icecream VALUES (2, 'chocolate', 5);
INSERT INTO icecream VALUES (3, NULL, 5);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- NULL results: a NULL text, a NULL array, an array of NULLs and empty
-- strings, an empty array: no path at all.
CREATE FUNCTION null_text(icecream) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$;
CREATE FUNCTION null_array(icecream) RETURNS text[] LANGUAGE sql AS $$ SELECT NULL::text[] $$;
CREATE FUNCTION null_elems(icecream) RETURNS text[] LANGUAGE sql AS $$ SELECT ARRAY[NULL, '', NULL] $$;
CREATE FUNCTION empty_array(icecream) RETURNS text[] LANGUAGE sql AS $$ SELECT '{}'::text[] $$;
SELECT dumper_register('icecream', 'null_text');
BEGIN; UPDATE icecream SET price = 1; SELECT count(*) FROM dumper_transaction_paths(); ROLLBACK;
SELECT dumper_register('icecream', 'null_array');
BEGIN; UPDATE icecream SET price = 1; SELECT count(*) FROM dumper_transaction_paths(); ROLLBACK;
SELECT dumper_register('icecream', 'null_elems');
BEGIN; UPDATE icecream SET price = 1; SELECT count(*) FROM dumper_transaction_paths(); ROLLBACK;
SELECT dumper_register('icecream', 'empty_array');
BEGIN; UPDATE icecream SET price = 1; SELECT count(*) FROM dumper_transaction_paths(); ROLLBACK;

-- Re-registering replaces the function (and keeps one trigger); a function
-- replaced with CREATE OR REPLACE is picked up by this very session.
SELECT dumper_register('icecream');
SELECT triggers FROM dumper_registrations WHERE table_name = 'icecream'::regclass;
BEGIN; UPDATE icecream SET price = 1; SELECT * FROM dumper_transaction_paths(); ROLLBACK;
CREATE OR REPLACE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql
    AS $$ SELECT ARRAY['/v2/icecream/' || $1.slug || '/'] $$;
BEGIN; UPDATE icecream SET price = 1; SELECT * FROM dumper_transaction_paths(); ROLLBACK;

-- Unregister: the trigger and the registration go; writes gather nothing.
SELECT dumper_unregister('icecream');
SELECT table_name FROM dumper_registrations ORDER BY 1;
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'icecream'::regclass;
BEGIN; UPDATE icecream SET price = 1; SELECT count(*) FROM dumper_transaction_paths(); ROLLBACK;

-- Schema-qualified and quoted names, with an overload in that schema.
CREATE SCHEMA "Shop Schema";
CREATE TABLE "Shop Schema"."Ice Cream" (id int PRIMARY KEY, "Slug" text);
CREATE FUNCTION "Shop Schema".dependent_paths(r "Shop Schema"."Ice Cream") RETURNS text
    LANGUAGE sql AS $$ SELECT '/shop/' || r."Slug" $$;
SET search_path = "Shop Schema", public;
SELECT dumper_register('"Shop Schema"."Ice Cream"');
RESET search_path;
SELECT table_name, paths_function FROM dumper_registrations ORDER BY table_name::text;
BEGIN;
INSERT INTO "Shop Schema"."Ice Cream" VALUES (1, 'mint');
SELECT * FROM dumper_transaction_paths();
COMMIT;
-- Committed: queued for delivery.
SELECT path FROM dumper_pending ORDER BY path;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP SCHEMA "Shop Schema" CASCADE;
DROP TABLE icecream, size CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
