-- Paths functions compiled to an expression (or, when not inlinable, called
-- with the row): columns after a dropped one, TOASTed and NULL columns,
-- columns added later, the row passed on whole, domain- and composite-typed
-- columns, partitions with another column order.  Each must give the paths
-- a direct call gives.
CREATE EXTENSION dumper;
-- Tables of their own schema, dropped at the end: the suites share a database.
CREATE SCHEMA paths_columns;
SET search_path = paths_columns, public;

-- Columns only, one of them after a dropped column, one NULL-able.
CREATE TABLE doc (id int PRIMARY KEY, gone text, slug text, body text);
ALTER TABLE doc DROP COLUMN gone;
CREATE FUNCTION dependent_paths(doc) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/doc/' || $1.slug || '/', '/doc/' || $1.id || '/',
                       '/md5/' || md5($1.body) || '/'] $$;
SELECT dumper_register('doc');
-- A body large and random enough to be stored out of line (TOAST).
BEGIN;
INSERT INTO doc SELECT 1, 'first', string_agg(md5(g::text), '') FROM generate_series(1, 5000) g;
SELECT CASE WHEN path LIKE '/md5/%'
            THEN path = '/md5/' || (SELECT md5(body) FROM doc WHERE id = 1) || '/' END AS md5_ok,
       CASE WHEN path LIKE '/md5/%' THEN '/md5/.../' ELSE path END AS path
    FROM dumper_transaction_paths() AS t(path) ORDER BY 2;
COMMIT;
SELECT pg_relation_size(reltoastrelid) > 0 AS body_out_of_line FROM pg_class WHERE oid = 'doc'::regclass;
-- UPDATE: old and new row's columns; NULL slug: that path is NULL, skipped.
BEGIN;
UPDATE doc SET slug = NULL, body = 'short' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DELETE FROM doc WHERE id = 1;
SELECT count(*) AS paths FROM dumper_transaction_paths();
ROLLBACK;

-- A column added later is seen (the compiled call is rebuilt).
ALTER TABLE doc ADD COLUMN lang text DEFAULT 'en';
CREATE OR REPLACE FUNCTION dependent_paths(doc) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/' || $1.lang || '/doc/' || $1.slug || '/'] $$;
BEGIN;
UPDATE doc SET lang = 'fr' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- The row itself: passed on whole, and mixed with a column.
CREATE FUNCTION doc_json(doc) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/json/' || (row_to_json($1) ->> 'slug') || '/' || $1.id || '/' $$;
SELECT dumper_register('doc', 'doc_json');
BEGIN;
UPDATE doc SET slug = 'second' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Not inlined (PL/pgSQL): the row goes to the function.
CREATE FUNCTION doc_plpgsql(d doc) RETURNS text LANGUAGE plpgsql STABLE
    AS $$ BEGIN RETURN '/plpgsql/' || d.slug || '/'; END $$;
SELECT dumper_register('doc', 'doc_plpgsql');
BEGIN;
UPDATE doc SET slug = 'third' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A domain-typed column and a composite-typed column.
CREATE DOMAIN slug_d AS text CHECK (VALUE <> '');
CREATE TYPE place AS (city text, zip text);
CREATE TABLE shop (id int PRIMARY KEY, slug slug_d, at place);
CREATE FUNCTION dependent_paths(shop) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/shop/' || $1.slug || '/' || ($1.at).city || '/' $$;
SELECT dumper_register('shop');
BEGIN;
INSERT INTO shop VALUES (1, 'corner', ROW('rome', '00100'));
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Partitions, one with its columns in another order: rows are converted to
-- the registered table's row type first.
CREATE TABLE sale (region text NOT NULL, slug text, id int) PARTITION BY LIST (region);
CREATE TABLE sale_eu PARTITION OF sale FOR VALUES IN ('eu');
CREATE TABLE sale_us (id int, slug text, region text NOT NULL);
ALTER TABLE sale ATTACH PARTITION sale_us FOR VALUES IN ('us');
CREATE FUNCTION dependent_paths(sale) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/' || $1.region || '/sale/' || $1.slug || '/' || $1.id || '/' $$;
SELECT dumper_register('sale');
BEGIN;
INSERT INTO sale VALUES ('eu', 'scarf', 1), ('us', 'hat', 2);
UPDATE sale SET slug = 'cap' WHERE id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A function that is a concatenation of constants and columns is evaluated
-- as path templates (the error context says so); the paths are the bytes
-- the function gives, whatever the column types: text, varchar, and others
-- through their output function (the DateStyle in force is used).  bpchar,
-- whose cast to text trims, and any other function keep the expression.
CREATE TABLE kinds (id int PRIMARY KEY, slug text, code char(4), name varchar(10),
                    at timestamptz, tags text[], price numeric);
INSERT INTO kinds VALUES (1, 'plain', 'ab', 'Vé', '2026-01-02 03:04:05+00', '{a,"b c"}', 1.50),
                         (2, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE FUNCTION dependent_paths(kinds) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/k/' || $1.slug || '/' || $1.name || '/', '/k/' || $1.id,
                       '/at/' || $1.at, '/tags/' || $1.tags::text || '/' || $1.price,
                       NULL, 'kinds', ''] $$;
CREATE FUNCTION kinds_trimmed(kinds) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/code/' || $1.code || '/' || $1.slug, '/k/' || $1.id] $$;
CREATE FUNCTION kinds_lower(kinds) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/k/' || lower($1.slug) || '/' $$;
-- Paths gathered for both rows, next to what a direct call gives ('' is
-- no path).
CREATE FUNCTION kinds_check(fn regprocedure) RETURNS TABLE (path text, gathered bool, direct bool)
LANGUAGE plpgsql AS $$
DECLARE
    direct text[];
BEGIN
    PERFORM dumper_register('kinds', fn::regproc);
    UPDATE kinds SET id = id;
    EXECUTE format('SELECT array_agg(p) FROM kinds k, unnest(ARRAY[]::text[] || %s(k)) p',
                   fn::oid::regproc)
        INTO direct;
    RETURN QUERY SELECT coalesce(t.path, d.p), t.path IS NOT NULL, d.p IS NOT NULL
        FROM dumper_transaction_paths() AS t(path)
        FULL JOIN (SELECT DISTINCT p FROM unnest(direct) p WHERE p <> '') d ON d.p = t.path
        ORDER BY 1;
END $$;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'UTC';
BEGIN;
SELECT * FROM kinds_check('dependent_paths(kinds)');
ROLLBACK;
BEGIN;
SELECT * FROM kinds_check('kinds_trimmed(kinds)');
ROLLBACK;
BEGIN;
SELECT * FROM kinds_check('kinds_lower(kinds)');
ROLLBACK;
RESET DateStyle;
RESET TimeZone;
-- Which way each one runs shows in the context of an over-long path.
SELECT dumper_register('kinds');
UPDATE kinds SET slug = repeat('x', 5000) WHERE id = 1;
SELECT dumper_register('kinds', 'kinds_trimmed');
UPDATE kinds SET slug = repeat('x', 5000) WHERE id = 1;
SELECT dumper_register('kinds', 'kinds_lower');
UPDATE kinds SET slug = repeat('x', 5000) WHERE id = 1;
-- Replacing the function with a concatenation switches it to templates.
CREATE OR REPLACE FUNCTION kinds_lower(kinds) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/k/' || $1.slug || '/' $$;
UPDATE kinds SET slug = repeat('x', 5000) WHERE id = 1;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA paths_columns CASCADE;
RESET client_min_messages;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
