-- Each backend keeps how it turns a row into paths (regcache.c).  What it
-- keeps must follow everything a direct call of the paths function would:
-- the writing role's privileges on the functions it calls, the writer's
-- search_path, a new registration of a partitioned table, a build that
-- failed half way.
CREATE EXTENSION dumper;
CREATE ROLE dumper_cache_writer;
CREATE SCHEMA one;
CREATE SCHEMA two;
GRANT USAGE ON SCHEMA one, two TO dumper_cache_writer;

-- A paths function calling a function that not every role may run.
CREATE TABLE art (id int PRIMARY KEY, slug text);
CREATE FUNCTION secret_hash(text) RETURNS text LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN RETURN 'h-' || $1; END $$;
REVOKE ALL ON FUNCTION secret_hash(text) FROM PUBLIC;
CREATE FUNCTION art_paths(art) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/art/' || $1.slug || '/', '/hash/' || secret_hash($1.slug) || '/'] $$;
SELECT dumper_register('art', 'art_paths');
GRANT INSERT ON art TO dumper_cache_writer;

-- The role without EXECUTE on secret_hash is refused, whichever role
-- compiled the function first in this session.
BEGIN;
INSERT INTO art VALUES (1, 'a');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SET LOCAL ROLE dumper_cache_writer;
SAVEPOINT s;
INSERT INTO art VALUES (2, 'b');
ROLLBACK TO s;
RESET ROLE;
ROLLBACK;

-- Roles alternating keep the compiled function and get expression states
-- checked for their own privileges: after a role was refused, the next
-- role is served; once granted, both roles are served in turn.
BEGIN;
INSERT INTO art VALUES (5, 'e');
SET LOCAL ROLE dumper_cache_writer;
SAVEPOINT s;
INSERT INTO art VALUES (6, 'f');
ROLLBACK TO s;
RESET ROLE;
INSERT INTO art VALUES (7, 'g');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
GRANT EXECUTE ON FUNCTION secret_hash(text) TO dumper_cache_writer;
BEGIN;
INSERT INTO art VALUES (8, 'h');
SET LOCAL ROLE dumper_cache_writer;
INSERT INTO art VALUES (9, 'i');
RESET ROLE;
INSERT INTO art VALUES (10, 'j');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
REVOKE EXECUTE ON FUNCTION secret_hash(text) FROM dumper_cache_writer;

-- A build that failed half way (that refusal, the first build in a new
-- session) is built again at the next use, not used half built.
\c -
BEGIN;
SET LOCAL ROLE dumper_cache_writer;
SAVEPOINT s;
INSERT INTO art VALUES (3, 'c');
ROLLBACK TO s;
RESET ROLE;
INSERT INTO art VALUES (4, 'd');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Names in an inlined paths function resolve under each writer's
-- search_path, as in a direct call: here slug() is one.slug() or two.slug().
CREATE TABLE sp (id int PRIMARY KEY, slug text);
CREATE FUNCTION one.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'one-' || $1 $$;
CREATE FUNCTION two.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'two-' || $1 $$;
SET search_path = public, one;
CREATE FUNCTION sp_paths(sp) RETURNS text LANGUAGE sql STABLE AS $$ SELECT '/sp/' || slug($1.slug) $$;
SELECT dumper_register('sp', 'sp_paths');
BEGIN;
INSERT INTO sp VALUES (1, 'x');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT sp_paths(sp) AS direct_call FROM sp;
ROLLBACK;
SET search_path = public, two;
BEGIN;
INSERT INTO sp VALUES (1, 'x');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT sp_paths(sp) AS direct_call FROM sp;
ROLLBACK;
RESET search_path;

-- Writers alternating between search_paths each find the function
-- compiled under theirs (four compiled forms are kept per table; a fifth
-- search_path replaces one in turn), and a changed function is compiled
-- again under each: every write resolves as a direct call would.
CREATE SCHEMA three;
CREATE SCHEMA four;
CREATE SCHEMA five;
CREATE FUNCTION three.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'three-' || $1 $$;
CREATE FUNCTION four.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'four-' || $1 $$;
CREATE FUNCTION five.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'five-' || $1 $$;
BEGIN;
SET LOCAL search_path = public, one;
INSERT INTO sp VALUES (1, 'a');
SET LOCAL search_path = public, two;
INSERT INTO sp VALUES (2, 'b');
SET LOCAL search_path = public, one;
INSERT INTO sp VALUES (3, 'c');
SET LOCAL search_path = public, three;
INSERT INTO sp VALUES (4, 'd');
SET LOCAL search_path = public, four;
INSERT INTO sp VALUES (5, 'e');
SET LOCAL search_path = public, five;
INSERT INTO sp VALUES (6, 'f');
SET LOCAL search_path = public, two;
INSERT INTO sp VALUES (7, 'g');
SET LOCAL search_path = public, one;
INSERT INTO sp VALUES (8, 'h');
CREATE OR REPLACE FUNCTION one.slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'uno-' || $1 $$;
INSERT INTO sp VALUES (9, 'i');
SET LOCAL search_path = public, two;
INSERT INTO sp VALUES (10, 'j');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
DROP SCHEMA three, four, five CASCADE;

-- A partitioned table registered again with other templates: its
-- partitions, which this session has already written to, use the new ones.
CREATE TABLE pt (id int, slug text) PARTITION BY RANGE (id);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (100);
SELECT dumper_register('pt', templates => ARRAY['/old/{slug}/']);
BEGIN;
INSERT INTO pt VALUES (1, 'a');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT dumper_register('pt', templates => ARRAY['/new/{slug}/']);
BEGIN;
INSERT INTO pt VALUES (2, 'b');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- And unregistered: nothing.
SELECT dumper_unregister('pt');
BEGIN;
INSERT INTO pt VALUES (3, 'c');
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;

-- A paths function that failed (the error caught by a savepoint) is
-- replaced later in the same transaction: the next write uses the new one.
CREATE TABLE fl (id int, slug text);
CREATE FUNCTION fl_paths(fl) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/old/' || (100 / (length($1.slug) - 3))::text $$;
SELECT dumper_register('fl', 'fl_paths');
BEGIN;
SAVEPOINT s;
INSERT INTO fl VALUES (1, 'bad');
ROLLBACK TO s;
CREATE OR REPLACE FUNCTION fl_paths(fl) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/new/' || $1.slug $$;
INSERT INTO fl VALUES (2, 'good');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT dumper_unregister('fl');
DROP FUNCTION fl_paths(fl);
DROP TABLE fl;

-- A domain's constraints are those of the moment of the write, also in a
-- compiled paths function.
CREATE DOMAIN short_path AS text;
CREATE TABLE dm (id int, slug text);
CREATE FUNCTION dm_paths(dm) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY[('/dm/' || $1.slug)::short_path::text, '/dms/'] $$;
SELECT dumper_register('dm', 'dm_paths');
BEGIN;
INSERT INTO dm VALUES (1, 'abcdef');
ROLLBACK;
ALTER DOMAIN short_path ADD CONSTRAINT short CHECK (length(VALUE) < 6);
BEGIN;
SAVEPOINT s;
INSERT INTO dm VALUES (1, 'abcdef');
ROLLBACK TO s;
INSERT INTO dm VALUES (2, 'a');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
ALTER DOMAIN short_path DROP CONSTRAINT short;
BEGIN;
INSERT INTO dm VALUES (1, 'abcdef');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT dumper_unregister('dm');
DROP FUNCTION dm_paths(dm);
DROP TABLE dm;
DROP DOMAIN short_path;

-- A session that writes to ever new tables (daily partitions, say) does
-- not keep the entries of the dropped ones: after writing to 200 tables,
-- each dropped in turn, a few dozen entries (contexts) at most remain.
SET client_min_messages = warning;
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE format('CREATE TABLE churn_%s (id int, slug text)', i);
        EXECUTE format('SELECT dumper_register(%L, templates => ARRAY[%L])',
                       'churn_' || i, '/churn/{slug}/');
        EXECUTE format('INSERT INTO churn_%s VALUES (1, %L)', i, 'a');
        EXECUTE format('DROP TABLE churn_%s', i);
    END LOOP;
END $$;
RESET client_min_messages;
SELECT count(*) BETWEEN 1 AND 64 AS few_entries
  FROM pg_backend_memory_contexts WHERE name = 'dumper registration';

-- Clean up.
SELECT dumper_unregister('art');
SELECT dumper_unregister('sp');
DROP FUNCTION art_paths(art), secret_hash(text), sp_paths(sp);
DROP TABLE art, sp, pt;
DROP SCHEMA one, two CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
DROP ROLE dumper_cache_writer;
