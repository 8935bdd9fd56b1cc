-- dumper_paths_of(row): the paths a write of a row would invalidate, for
-- function and template registrations, partitions, SETOF functions, without
-- queuing anything; its privilege rules (SELECT on the table, EXECUTE on the
-- function, the function run as the caller); and a comment on every view
-- and column of dumper's.
CREATE EXTENSION dumper;

CREATE TABLE size (id int PRIMARY KEY, slug text);
CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
CREATE TABLE icecream_sizes (icecream_id int REFERENCES icecream, size_id int REFERENCES size);
INSERT INTO size VALUES (1, 'small'), (2, 'large');
INSERT INTO icecream VALUES (1, 'vanilla', 3), (2, 'mint', 4);
INSERT INTO icecream_sizes VALUES (1, 1), (1, 2);

-- A paths function that reads another table; a template registration.
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/']
        || ARRAY(SELECT '/size/' || s.slug || '/'
                 FROM icecream_sizes j JOIN size s ON s.id = j.size_id
                 WHERE j.icecream_id = $1.id ORDER BY s.id)
$$;
SELECT dumper_register('icecream');
SELECT dumper_register('size', templates => ARRAY['/size/{slug}/', '/sizes/', '/{{x}}/{id}']);

SELECT i.id, dumper_paths_of(i) FROM icecream AS i ORDER BY i.id;
SELECT dumper_paths_of(s) FROM size AS s WHERE s.id = 2;
-- A row that is not in the table (yet): what inserting it would invalidate.
SELECT dumper_paths_of(ROW(9, 'pistachio', 5)::icecream);
-- NULL columns skip the templates that use them; the function's NULL path is left out.
SELECT dumper_paths_of(ROW(3, NULL)::size);
SELECT dumper_paths_of(ROW(3, NULL, 1)::icecream);
-- It writes nothing: the transaction's set stays empty.
BEGIN;
SELECT count(*) FROM icecream AS i, dumper_paths_of(i);
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;
-- The same paths as the trigger gathers.
BEGIN;
UPDATE size SET slug = slug WHERE id = 1;
SELECT (SELECT array_agg(p ORDER BY p) FROM dumper_transaction_paths() AS p)
     = (SELECT array_agg(p ORDER BY p) FROM size AS s, dumper_paths_of(s) AS p WHERE s.id = 1)
       AS same_as_trigger;
ROLLBACK;

-- A SETOF paths function, and a partition's row converted by column name.
CREATE TABLE event (id int, day date, slug text) PARTITION BY RANGE (day);
CREATE TABLE event_2024 (slug text, id int, day date);
ALTER TABLE event ATTACH PARTITION event_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FUNCTION event_paths(event) RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT '/event/' || $1.slug || '/' UNION ALL SELECT '/day/' || $1.day || '/'
$$;
SELECT dumper_register('event', 'event_paths');
INSERT INTO event VALUES (1, '2024-05-01', 'launch');
SELECT dumper_paths_of(e) FROM event_2024 AS e;
SELECT dumper_paths_of(e) FROM event AS e;

-- Errors: not a table's row, a table not registered, a join table.
SELECT dumper_paths_of(1);
SELECT dumper_paths_of(ROW(1, 2));
SELECT dumper_paths_of(j) FROM icecream_sizes AS j LIMIT 1;
CREATE TABLE plain (id int);
SELECT dumper_paths_of(ROW(1)::plain);
-- A path over 4096 bytes fails as the write would.
SELECT dumper_paths_of(ROW(4, repeat('x', 5000))::size);
-- The paths function's error, with the table in the context.
CREATE TABLE broken (id int);
CREATE FUNCTION dependent_paths(broken) RETURNS text LANGUAGE sql STABLE AS $$ SELECT (1 / 0)::text $$;
SELECT dumper_register('broken');
SELECT dumper_paths_of(ROW(1)::broken);

-- Privileges: SELECT on the table; EXECUTE on the paths function; the
-- function runs as the caller, never as the extension's owner.
CREATE ROLE dumper_preview_reader;
SET ROLE dumper_preview_reader;
SELECT dumper_paths_of(ROW(1, 'small')::size);
RESET ROLE;
GRANT SELECT ON size, icecream TO dumper_preview_reader;
SET ROLE dumper_preview_reader;
SELECT dumper_paths_of(ROW(1, 'small')::size);
-- The function reads icecream_sizes and size, which the reader may not read.
SELECT dumper_paths_of(i) FROM icecream AS i WHERE i.id = 1;
RESET ROLE;
GRANT SELECT ON icecream_sizes TO dumper_preview_reader;
SET ROLE dumper_preview_reader;
SELECT dumper_paths_of(i) FROM icecream AS i WHERE i.id = 1;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION dependent_paths(icecream) FROM PUBLIC;
SET ROLE dumper_preview_reader;
SELECT dumper_paths_of(i) FROM icecream AS i WHERE i.id = 1;
RESET ROLE;
GRANT EXECUTE ON FUNCTION dependent_paths(icecream) TO PUBLIC;
CREATE FUNCTION whoami_paths(size) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/who/' || current_user || '/' $$;
SELECT dumper_register('size', 'whoami_paths');
SET ROLE dumper_preview_reader;
SELECT dumper_paths_of(ROW(1, 'small')::size);
RESET ROLE;

-- Every view of dumper's and every column of them has a comment.
SELECT c.relname, a.attname
FROM pg_depend AS d
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'dumper'
JOIN pg_class AS c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass AND c.relkind = 'v'
LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0
WHERE d.deptype = 'e'
  AND (obj_description(c.oid, 'pg_class') IS NULL
       OR (a.attnum IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
ORDER BY 1, 2;
SELECT c.relname, count(*) AS commented_columns
FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0
WHERE c.relname IN ('dumper_pending', 'dumper_registrations', 'dumper_stats')
  AND col_description(c.oid, a.attnum) IS NOT NULL
GROUP BY 1 ORDER BY 1;
-- And every function the extension's users call.
SELECT p.oid::regprocedure
FROM pg_depend AS d
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'dumper'
JOIN pg_proc AS p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
WHERE d.deptype = 'e' AND p.proname LIKE 'dumper\_%' AND p.pronamespace <> 'dumper'::regnamespace
  AND obj_description(p.oid, 'pg_proc') IS NULL;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE icecream_sizes, icecream, size, event, plain, broken CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
DROP ROLE dumper_preview_reader;
