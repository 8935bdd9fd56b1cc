-- Path templates: {column} placeholders filled in C, NULL columns, escaped
-- braces, errors, and the same paths through TRUNCATE and partitions.
CREATE EXTENSION dumper;

CREATE TABLE icecream (id int PRIMARY KEY, slug text, price numeric, seasonal boolean,
                       "Flavour Name" text);
SELECT dumper_register('icecream',
    templates => ARRAY['/icecream/{slug}/', '/icecreams/', '/price/{price}/{seasonal}',
                       '/{{literal}}/{id}', '/named/{Flavour Name}']);
SELECT table_name, paths_function, templates, triggers FROM dumper_registrations;

-- Placeholders of any type, rendered by the type's output function.
BEGIN;
INSERT INTO icecream VALUES (1, 'vanilla', 2.50, true, 'Vanilla Bean');
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- A NULL column skips only the paths that use it.
BEGIN;
INSERT INTO icecream VALUES (2, NULL, 3, NULL, NULL);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- UPDATE: old and new paths.
INSERT INTO icecream VALUES (1, 'vanilla', 2.50, true, 'Vanilla Bean');
BEGIN;
UPDATE icecream SET slug = 'vanilla-bean' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A template table and a function table in one transaction.
CREATE TABLE size (id int PRIMARY KEY, name text);
CREATE FUNCTION dependent_paths(size) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/size/' || $1.name || '/' $$;
SELECT dumper_register('size');
BEGIN;
INSERT INTO size VALUES (1, 'small');
UPDATE icecream SET price = 3 WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;

-- TRUNCATE renders the templates in SQL: the same bytes as the C path.
BEGIN;
TRUNCATE icecream;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A partitioned table registered with templates: partitions with another
-- column order convert to the parent's row.
CREATE TABLE parted (id int, slug text) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
SELECT dumper_register('parted', templates => ARRAY['/parted/{slug}/{id}']);
CREATE TABLE parted_2 (slug text, id int);
ALTER TABLE parted ATTACH PARTITION parted_2 FOR VALUES FROM (10) TO (20);
BEGIN;
INSERT INTO parted VALUES (1, 'one'), (11, 'eleven');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
BEGIN;
TRUNCATE parted_2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Switching a table from templates to a function and back.
CREATE FUNCTION dependent_paths(parted) RETURNS text LANGUAGE sql AS $$ SELECT '/fn/' || $1.slug $$;
SELECT dumper_register('parted');
BEGIN; UPDATE parted SET slug = slug; SELECT * FROM dumper_transaction_paths() ORDER BY 1; ROLLBACK;
SELECT dumper_register('parted', templates => ARRAY['/back/{slug}']);
BEGIN; UPDATE parted SET slug = slug; SELECT * FROM dumper_transaction_paths() ORDER BY 1; ROLLBACK;
-- With templates, the function is no longer in use and may be dropped.
DROP FUNCTION dependent_paths(parted);

-- Errors, each with its SQLSTATE.
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text; m text; d text; h text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
                            d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN s || ': ' || m
        || CASE WHEN d <> '' THEN E'\nDETAIL: ' || d ELSE '' END
        || CASE WHEN h <> '' THEN E'\nHINT: ' || h ELSE '' END;
END $$;
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/x/{flavour}/'])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/x/{slug'])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/x/slug}'])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/x/{}'])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/x/{a{b}'])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY[]::text[])$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', templates => ARRAY['/a', NULL])$$);
-- The registration is unchanged by the failed attempts.
SELECT templates FROM dumper_registrations WHERE table_name = 'icecream'::regclass;

-- A TOASTed value too long for a path is measured, not fetched: the error
-- is the one of any over-long path (its length counts every segment, the
-- int after the value too), and a later NULL column still skips the path
-- without an error.  The TOAST table's reads, counted for the current
-- transaction, show what was fetched: fetched whole, the 20,000-byte value
-- would read each of its 3 pages (3); measured, only the page of its first
-- chunk is read, for the error's detail (1), and nothing when a NULL skips
-- the path (0).  The second UPDATE leaves slug and tail as they were, so
-- only its old row version is rendered (see below).
CREATE TABLE longslug (id int PRIMARY KEY, slug text, tail int);
ALTER TABLE longslug ALTER COLUMN slug SET STORAGE EXTERNAL;
INSERT INTO longslug VALUES (1, repeat('x', 20000), 7), (2, repeat('y', 20000), NULL);
SELECT dumper_register('longslug', templates => ARRAY['/long/{slug}/{tail}']);
-- Counts kept for the current transaction start from zero once flushed.
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT pg_temp.err($$UPDATE longslug SET tail = 8 WHERE id = 1$$);
SELECT pg_stat_get_xact_blocks_fetched(reltoastrelid) AS toast_blocks_fetched
  FROM pg_class WHERE oid = 'longslug'::regclass;
ROLLBACK;
SELECT pg_stat_force_next_flush();
BEGIN;
UPDATE longslug SET tail = NULL WHERE id = 2;
SELECT count(*) AS paths FROM dumper_transaction_paths();
SELECT pg_stat_get_xact_blocks_fetched(reltoastrelid) AS toast_blocks_fetched
  FROM pg_class WHERE oid = 'longslug'::regclass;
ROLLBACK;
-- A short value in the same column is fetched and used as ever.
BEGIN;
INSERT INTO longslug VALUES (3, 'short', 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
-- An UPDATE that leaves the templates' columns alone renders its paths
-- once, from the old row version: its 3,000-byte TOASTed value is fetched
-- once (its page read once); one that changes a template's column renders
-- both versions (the page read twice).
INSERT INTO longslug VALUES (4, repeat('z', 3000), 1);
SELECT pg_stat_force_next_flush();
BEGIN;
UPDATE longslug SET id = 5 WHERE id = 4;
SELECT length(p) FROM dumper_transaction_paths() p;
SELECT pg_stat_get_xact_blocks_fetched(reltoastrelid) AS toast_blocks_fetched
  FROM pg_class WHERE oid = 'longslug'::regclass;
ROLLBACK;
SELECT pg_stat_force_next_flush();
BEGIN;
UPDATE longslug SET tail = 22 WHERE id = 4;
SELECT length(p), right(p, 3) FROM dumper_transaction_paths() p ORDER BY 2;
SELECT pg_stat_get_xact_blocks_fetched(reltoastrelid) AS toast_blocks_fetched
  FROM pg_class WHERE oid = 'longslug'::regclass;
ROLLBACK;
-- The same for a paths function that is not a plain concatenation (it calls
-- lower()) but reads the row through its columns only: evaluated once when
-- they are unchanged (1 page read), twice when one changed (2).  One that
-- passes the row on as a whole, or calls a volatile function, may depend on
-- anything: evaluated for both versions (2 each).
CREATE FUNCTION pg_temp.toast_blocks() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_blocks_fetched(reltoastrelid) FROM pg_class
   WHERE oid = 'longslug'::regclass $$;
CREATE FUNCTION lower_paths(longslug) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/lower/' || lower($1.slug) || '/' || $1.tail $$;
CREATE FUNCTION whole_paths(longslug) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/whole/' || lower($1.slug) || '/' || num_nonnulls($1) $$;
CREATE FUNCTION volatile_paths(longslug) RETURNS text LANGUAGE sql
    AS $$ SELECT '/volatile/' || lower($1.slug) || '/' || (random() < 2) $$;
CREATE FUNCTION pg_temp.update_reads(fn regprocedure, upd text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    before bigint;
    paths text;
BEGIN
    PERFORM dumper_register('longslug', fn);
    PERFORM pg_stat_force_next_flush();
    before := pg_temp.toast_blocks();
    EXECUTE upd;
    SELECT string_agg(left(p, 12) || '..' || right(p, 3), ' ' ORDER BY p) INTO paths
      FROM dumper_transaction_paths() p;
    RETURN paths || ': ' || (pg_temp.toast_blocks() - before) || ' read';
END $$;
-- Each in a transaction of its own, rolled back: the registration too.
BEGIN; SELECT pg_temp.update_reads('lower_paths(longslug)', 'UPDATE longslug SET id = 5 WHERE id = 4'); ROLLBACK;
BEGIN; SELECT pg_temp.update_reads('lower_paths(longslug)', 'UPDATE longslug SET tail = 22 WHERE id = 4'); ROLLBACK;
BEGIN; SELECT pg_temp.update_reads('whole_paths(longslug)', 'UPDATE longslug SET id = 5 WHERE id = 4'); ROLLBACK;
BEGIN; SELECT pg_temp.update_reads('volatile_paths(longslug)', 'UPDATE longslug SET id = 5 WHERE id = 4'); ROLLBACK;
DROP FUNCTION lower_paths(longslug), whole_paths(longslug), volatile_paths(longslug);
DROP TABLE longslug;

-- The new row version is compared column by column: a change to any
-- template's column, to or from NULL, or in a partition whose columns are
-- in another order, gives the old and the new paths.
BEGIN;
UPDATE icecream SET "Flavour Name" = 'Vanilla Cream' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE icecream SET seasonal = NULL WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
UPDATE icecream SET seasonal = false WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE parted SET slug = 'twelve' WHERE id = 11;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A value whose output depends on the session's settings is rendered under
-- the writer's own (docs/invalidation.md, session settings).
CREATE TABLE event (id int PRIMARY KEY, day date);
SELECT dumper_register('event', templates => ARRAY['/events/{day}/']);
BEGIN;
SET LOCAL DateStyle = 'ISO, YMD';
INSERT INTO event VALUES (1, '2026-12-03');
SET LOCAL DateStyle = 'German, DMY';
UPDATE event SET day = '2026-12-04' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE icecream, size, parted, event CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
