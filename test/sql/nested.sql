-- Nested writes: a paths function that writes to a registered table fires
-- dumper's trigger again while its own evaluation is under way.  Each kind
-- of paths function (inlined SQL compiled to an expression, PL/pgSQL,
-- SETOF through a kept plan, path templates, a join table's side, the
-- TRUNCATE reader) must come out with exactly the paths of every row, the
-- outer ones and the nested ones.  Counter rows (id 100) stop the
-- recursion: their own paths function writes nothing.
CREATE EXTENSION dumper;

-- 1. An inlined SQL function, compiled to one expression per element,
-- whose first element writes a row of the same table.  body is TOASTed
-- (stored out of line, uncompressed) and read after the nested write.
CREATE TABLE art (id int PRIMARY KEY, slug text NOT NULL, hits int NOT NULL DEFAULT 0,
                  body text NOT NULL);
ALTER TABLE art ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE FUNCTION touch_counter(int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF $1 = 100 THEN
        RETURN NULL;
    END IF;
    UPDATE art SET hits = hits + 1 WHERE id = 100;
    RETURN '/touched/' || $1 || '/';
END $$;
CREATE FUNCTION art_paths(art) RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY[touch_counter($1.id), '/art/' || $1.slug || '/',
                 '/art/' || $1.slug || '/' || substr($1.body, 19995) || '/'] $$;
INSERT INTO art VALUES (1, 'one', 0, repeat('x', 19994) || 'one-end'),
                       (2, 'two', 0, repeat('y', 19994) || 'two-end'),
                       (100, 'counter', 0, repeat('z', 19994) || 'counter-end');
SELECT pg_relation_size(reltoastrelid) > 40000 AS toasted FROM pg_class WHERE relname = 'art';
SELECT dumper_register('art', 'art_paths');
BEGIN;
UPDATE art SET hits = hits + 10 WHERE id IN (1, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- The same from an INSERT and a DELETE.
BEGIN;
INSERT INTO art VALUES (3, 'three', 0, repeat('w', 19994) || 'three-end');
DELETE FROM art WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- 2. A PL/pgSQL paths function that writes to its own table, then reads
-- its row.
CREATE TABLE pl (id int PRIMARY KEY, slug text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE FUNCTION pl_paths(pl) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN
    IF $1.id <> 100 THEN
        UPDATE pl SET n = n + 1 WHERE id = 100;
    END IF;
    RETURN ARRAY['/pl/' || $1.slug || '/'];
END $$;
INSERT INTO pl VALUES (1, 'one'), (2, 'two'), (100, 'counter');
SELECT dumper_register('pl', 'pl_paths');
BEGIN;
UPDATE pl SET n = n + 10 WHERE id IN (1, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- 3. A SETOF function (a kept plan) that writes to its own table before
-- returning its rows, and a second table's SETOF function that writes to
-- it: the same plan runs nested in itself, and under another one.
CREATE TABLE s (id int PRIMARY KEY, slug text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE FUNCTION s_paths(s) RETURNS SETOF text LANGUAGE sql AS $$
    UPDATE s SET n = n + 1 WHERE id = 100 AND $1.id <> 100;
    SELECT '/s/' || $1.slug || '/' UNION ALL SELECT '/s/' || $1.id || '/' $$;
INSERT INTO s VALUES (1, 'one'), (2, 'two'), (100, 'counter');
SELECT dumper_register('s', 's_paths');
BEGIN;
UPDATE s SET n = n + 10 WHERE id IN (1, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- 4. Path templates nested under a compiled expression and under a kept
-- plan: a function compiled to templates calls nothing, so templates are
-- never the outer level; tpl's function is compiled to templates.
CREATE TABLE tpl (id int PRIMARY KEY, slug text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE FUNCTION tpl_paths(tpl) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['/tpl/' || $1.slug || '/', '/tpl/' || $1.id || '/'] $$;
INSERT INTO tpl VALUES (1, 'one'), (2, 'two');
SELECT dumper_register('tpl', 'tpl_paths');
CREATE TABLE outer_t (id int PRIMARY KEY, slug text NOT NULL);
CREATE FUNCTION bump_tpl(int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tpl SET slug = slug || '-' || $1 WHERE id = $1;
    RETURN '/bumped/' || $1 || '/';
END $$;
CREATE FUNCTION outer_t_paths(outer_t) RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY[bump_tpl($1.id), '/outer/' || $1.slug || '/'] $$;
INSERT INTO outer_t VALUES (1, 'one'), (2, 'two');
SELECT dumper_register('outer_t', 'outer_t_paths');
BEGIN;
DELETE FROM outer_t WHERE id IN (1, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- 5. A join table whose side's paths function writes to the join table
-- itself (its counter row) and to a registered table: the join table's
-- lookup runs nested in itself.
CREATE TABLE tag (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE post (id int PRIMARY KEY, slug text NOT NULL);
CREATE TABLE post_tag (post_id int REFERENCES post, tag_id int REFERENCES tag,
                       n int NOT NULL DEFAULT 0, PRIMARY KEY (post_id, tag_id));
CREATE FUNCTION tag_paths(tag) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    IF $1.id <> 100 THEN
        UPDATE post_tag SET n = n + 1 WHERE post_id = 100 AND tag_id = 100;
        UPDATE art SET hits = hits + 1 WHERE id = 2;
    END IF;
    RETURN NEXT '/tag/' || $1.name || '/';
END $$;
CREATE FUNCTION post_paths(post) RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY[touch_counter($1.id), '/post/' || $1.slug || '/'] $$;
INSERT INTO tag VALUES (1, 'red'), (2, 'blue'), (100, 'tag-counter');
INSERT INTO post VALUES (1, 'hello'), (100, 'post-counter');
INSERT INTO post_tag VALUES (100, 100);
SELECT dumper_register('tag', 'tag_paths');
SELECT dumper_register('post', 'post_paths');
SELECT dumper_register_join('post_tag');
BEGIN;
INSERT INTO post_tag VALUES (1, 1), (1, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- 6. TRUNCATE: the reader runs art's and tag's paths functions over every
-- row, which write to registered tables while the cursor is open.
CREATE TABLE art_copy (LIKE art);
CREATE FUNCTION art_copy_paths(art_copy) RETURNS text[] LANGUAGE sql AS $$
    SELECT ARRAY[touch_counter($1.id), '/copy/' || $1.slug || '/'] $$;
INSERT INTO art_copy SELECT * FROM art WHERE id IN (1, 2);
SELECT dumper_register('art_copy', 'art_copy_paths');
BEGIN;
TRUNCATE art_copy;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A join table's TRUNCATE reads its sides' rows through the same functions.
INSERT INTO post_tag VALUES (1, 1);
BEGIN;
TRUNCATE post_tag;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE art, pl, s, tpl, outer_t, post_tag, tag, post, art_copy CASCADE;
DROP FUNCTION touch_counter(int), bump_tpl(int);
DROP EXTENSION dumper CASCADE;
