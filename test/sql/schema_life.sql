-- schema_life: registrations follow the life of the schema.  Proves, in one
-- session that keeps its caches warm the whole time (as a pooled web
-- connection does):
--   * ALTER TABLE ... RENAME and ... SET SCHEMA keep invalidation working:
--     the table's own writes, its TRUNCATE, and writes to the join table
--     that references it; renaming the column a join table references, too;
--   * ADD COLUMN and DROP COLUMN keep working; a paths function whose body
--     uses a dropped column makes writes fail with an error naming the
--     table and the function, until the function is replaced; a column a
--     path template names cannot be dropped;
--   * DROP FUNCTION of a paths function is refused (2BP01); DROP FUNCTION
--     ... CASCADE removes the registration and every trigger (partitions
--     too), after which writes succeed and queue nothing;
--   * DROP TABLE of a registered table removes its registration, and DROP
--     TABLE of a join table its join_table row;
--   * DROP EXTENSION dumper (no CASCADE) leaves no dumper trigger behind,
--     writes go on, and CREATE EXTENSION and registering again work.
-- The worker serves the database 'postgres', so dumper_pending is stable here.
CREATE EXTENSION dumper;

-- Errors as "SQLSTATE: message", without file or line numbers.
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The seed's ice creams with a paths function, sizes with path templates,
-- Django's through table between them.
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price int);
CREATE TABLE size (id int PRIMARY KEY, slug text NOT NULL);
CREATE TABLE icecream_sizes (
    id serial PRIMARY KEY,
    icecream_id int REFERENCES icecream ON DELETE CASCADE,
    size_id int REFERENCES size ON DELETE CASCADE);
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
SELECT dumper_register('icecream');
SELECT dumper_register('size', templates => ARRAY['/size/{slug}/']);
-- Written after registering: every cache of this session is built.
INSERT INTO icecream VALUES (1, 'vanilla', 3), (2, 'mint', 3);
INSERT INTO size VALUES (1, 'small'), (2, 'large');
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1);
TRUNCATE icecream_sizes;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1);
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== RENAME ==============================================================
ALTER TABLE icecream RENAME TO gelato;
ALTER TABLE size RENAME TO cup;
-- The registrations follow the tables (they hold OIDs).
SELECT table_name, paths_function, templates, join_tables, triggers
  FROM dumper_registrations ORDER BY table_name::text;
-- The renamed tables' own writes.
BEGIN;
UPDATE gelato SET price = 4 WHERE id = 1;
UPDATE cup SET slug = 'small-cup' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- The join table referencing them, which this session used before the
-- rename: both sides still invalidated.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (2, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- TRUNCATE of the join table, and of a renamed table.
BEGIN;
TRUNCATE icecream_sizes;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
TRUNCATE gelato CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- Committed: queued.
BEGIN;
UPDATE gelato SET slug = 'vanilla-bean' WHERE id = 1;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (2, 2);
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== SET SCHEMA ==========================================================
CREATE SCHEMA shop;
ALTER TABLE gelato SET SCHEMA shop;
ALTER TABLE cup SET SCHEMA shop;
SELECT table_name, paths_function, templates, join_tables, triggers
  FROM dumper_registrations ORDER BY table_name::text;
BEGIN;
UPDATE shop.gelato SET price = 5 WHERE id = 1;
UPDATE shop.cup SET slug = 'large-cup' WHERE id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- The join table, used by this session just before the move.
BEGIN;
UPDATE icecream_sizes SET size_id = 1 WHERE icecream_id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
TRUNCATE shop.cup CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
DELETE FROM icecream_sizes WHERE icecream_id = 2;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- The columns the join table references, renamed (its foreign keys follow
-- them; this session used the join table just before): writes to the join
-- table still invalidate both sides.
ALTER TABLE shop.gelato RENAME COLUMN id TO gelato_id;
ALTER TABLE shop.cup RENAME COLUMN id TO cup_id;
BEGIN;
UPDATE icecream_sizes SET size_id = 2 WHERE icecream_id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- ===== Columns added and dropped ===========================================
-- The paths function takes the current row type: a new column, and a
-- dropped one the function does not use, change nothing.
ALTER TABLE shop.gelato ADD COLUMN origin text DEFAULT 'it';
BEGIN;
UPDATE shop.gelato SET origin = 'fr' WHERE gelato_id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
ALTER TABLE shop.gelato DROP COLUMN price;
BEGIN;
UPDATE shop.gelato SET origin = 'fr' WHERE gelato_id = 2;
INSERT INTO shop.gelato VALUES (3, 'lemon', 'es');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Same for a table registered with path templates; but the column a
-- template names cannot be dropped: the ALTER TABLE is refused, naming the
-- template.
ALTER TABLE shop.cup ADD COLUMN ml int;
ALTER TABLE shop.cup DROP COLUMN ml;
BEGIN;
UPDATE shop.cup SET slug = 'tall' WHERE cup_id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
ALTER TABLE shop.cup DROP COLUMN slug;
SELECT pg_temp.sqlstate_of($$ALTER TABLE shop.cup DROP COLUMN slug$$);

-- A paths function (PL/pgSQL, SETOF) whose body uses a column that is then
-- dropped: DROP COLUMN succeeds (PostgreSQL does not track what a function
-- body uses), then writes fail, the context naming the table and the
-- function; nothing is silently dropped.
CREATE TABLE cone (id int PRIMARY KEY, name text, crisp boolean);
CREATE FUNCTION cone_paths(c cone) RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NEXT '/cone/' || c.name || '/';
END $$;
SELECT dumper_register('cone', 'cone_paths');
INSERT INTO cone VALUES (1, 'waffle', true);
TRUNCATE dumper.queue, dumper.spill_queue;
ALTER TABLE cone DROP COLUMN name;
INSERT INTO cone VALUES (2, false);
SELECT pg_temp.sqlstate_of($$INSERT INTO cone VALUES (2, false)$$);
SELECT count(*) FROM cone;
-- Replaced to use what remains: writes work again, in this session too.
CREATE OR REPLACE FUNCTION cone_paths(c cone) RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN NEXT '/cone/' || c.id || '/';
END $$;
INSERT INTO cone VALUES (2, false);
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- The same with a SQL function, inlined into an expression this session
-- keeps.
CREATE TABLE wafer (id int PRIMARY KEY, name text, thin boolean);
CREATE FUNCTION dependent_paths(wafer) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/wafer/' || $1.name || '/' $$;
SELECT dumper_register('wafer');
INSERT INTO wafer VALUES (1, 'plain', true);
TRUNCATE dumper.queue, dumper.spill_queue;
ALTER TABLE wafer DROP COLUMN name;
UPDATE wafer SET thin = false;
SELECT pg_temp.sqlstate_of($$UPDATE wafer SET thin = false$$);
CREATE OR REPLACE FUNCTION dependent_paths(wafer) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/wafer/' || $1.id || '/' $$;
UPDATE wafer SET thin = false;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== DROP FUNCTION =======================================================
-- Refused while registered: the triggers depend on the function.
DROP FUNCTION cone_paths(cone);
SELECT pg_temp.sqlstate_of($$DROP FUNCTION cone_paths(cone)$$);
SELECT table_name, paths_function FROM dumper_registrations ORDER BY table_name::text;
-- ... CASCADE drops the triggers, and the registration goes with them.
SET client_min_messages = warning;  -- the order of cascade notices is no contract
DROP FUNCTION cone_paths(cone) CASCADE;
RESET client_min_messages;
SELECT table_name, paths_function FROM dumper_registrations ORDER BY table_name::text;
SELECT count(*) FROM dumper.registration WHERE tbl = 'cone'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'cone'::regclass AND tgname LIKE 'dumper%';
-- Writes and TRUNCATE succeed, and queue nothing.
INSERT INTO cone VALUES (3, true);
UPDATE cone SET crisp = NOT crisp;
TRUNCATE cone;
SELECT count(*) FROM dumper_pending;

-- A partitioned table: CASCADE drops the row trigger of the parent (and
-- its clones) and the TRUNCATE trigger of every partition.
CREATE TABLE event (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE event_2025 PARTITION OF event FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE FUNCTION event_paths(event) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/event/' || $1.id || '/' $$;
SELECT dumper_register('event', 'event_paths');
CREATE TABLE event_2026 PARTITION OF event FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO event VALUES (1, '2025-03-03'), (2, '2026-03-03');
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
SELECT count(*) AS dumper_triggers FROM pg_trigger
 WHERE tgname LIKE 'dumper%' AND tgrelid::regclass::text LIKE 'event%';
SELECT pg_temp.sqlstate_of($$DROP FUNCTION event_paths(event)$$);
SET client_min_messages = warning;
DROP FUNCTION event_paths(event) CASCADE;
RESET client_min_messages;
SELECT count(*) AS dumper_triggers FROM pg_trigger
 WHERE tgname LIKE 'dumper%' AND tgrelid::regclass::text LIKE 'event%';
SELECT count(*) FROM dumper.registration WHERE tbl = 'event'::regclass;
INSERT INTO event VALUES (3, '2025-04-04'), (4, '2026-04-04');
TRUNCATE event_2025;
TRUNCATE event;
SELECT count(*) FROM dumper_pending;

-- ===== DROP TABLE ==========================================================
-- A registered table: its registration goes.  A registered table that a
-- join table references (CASCADE drops the foreign key): its registration
-- goes, the join table keeps serving the other side.
SELECT dumper_register('cone', templates => ARRAY['/cone/{id}/']);
SELECT table_name FROM dumper_registrations ORDER BY table_name::text;
DROP TABLE cone;
SET client_min_messages = warning;
DROP TABLE shop.cup CASCADE;
RESET client_min_messages;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY table_name::text;
SELECT tbl FROM dumper.registration ORDER BY tbl::text;
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 99);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A join table: its join_table row goes.
SELECT tbl FROM dumper.join_table ORDER BY tbl::text;
DROP TABLE icecream_sizes;
SELECT tbl FROM dumper.join_table ORDER BY tbl::text;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY table_name::text;

-- ===== DROP EXTENSION ======================================================
-- Triggers of every kind: a row and TRUNCATE trigger on a table and on a
-- partitioned table's partitions, join triggers on a join table.
CREATE TABLE topping (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE gelato_toppings (gelato_id int REFERENCES shop.gelato,
                              topping_id int REFERENCES topping,
                              PRIMARY KEY (gelato_id, topping_id));
SELECT dumper_register('topping', templates => ARRAY['/topping/{name}/']);
SELECT dumper_register('event', templates => ARRAY['/event/{id}/']);
SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
 WHERE tgname LIKE 'dumper%' ORDER BY tgrelid::regclass::text, tgname;
-- No CASCADE needed; nothing named dumper% is left: no trigger, no event
-- trigger, no schema.
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'dumper%';
SELECT count(*) FROM pg_namespace WHERE nspname = 'dumper';
-- Every table is writable and truncatable as before.
INSERT INTO topping VALUES (1, 'nuts');
INSERT INTO gelato_toppings VALUES (1, 1);
UPDATE shop.gelato SET slug = 'vanilla-2' WHERE gelato_id = 1;
INSERT INTO event VALUES (5, '2026-05-05');
TRUNCATE gelato_toppings, topping, event;

-- CREATE EXTENSION again, in this same session: nothing registered; a new
-- registration works at once (no stale per-session state).
CREATE EXTENSION dumper;
SELECT count(*) FROM dumper_registrations;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
SELECT dumper_register('topping', templates => ARRAY['/topping/{name}/']);
SELECT dumper_register('shop.gelato');
SELECT table_name, join_tables, triggers FROM dumper_registrations ORDER BY table_name::text;
BEGIN;
INSERT INTO topping VALUES (1, 'nuts');
INSERT INTO gelato_toppings VALUES (1, 1);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;

-- Renaming the paths function, moving it and renaming its schema keep the
-- registration (held by OID), and its recorded schema and name follow
-- (what a dump and pg_upgrade carry).
CREATE SCHEMA paths_a;
CREATE FUNCTION paths_a.topping_paths(topping) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/t/' || $1.name || '/' $$;
SELECT dumper_register('topping', 'paths_a.topping_paths');
ALTER FUNCTION paths_a.topping_paths(topping) RENAME TO "Topping Paths";
CREATE SCHEMA paths_b;
ALTER FUNCTION paths_a."Topping Paths"(topping) SET SCHEMA paths_b;
ALTER SCHEMA paths_b RENAME TO "Paths C";
SELECT paths_function FROM dumper_registrations WHERE table_name = 'topping'::regclass;
SELECT paths_schema, paths_name,
       paths_oid = '"Paths C"."Topping Paths"(topping)'::regprocedure AS same_oid
  FROM dumper.registration WHERE tbl = 'topping'::regclass;
BEGIN;
UPDATE topping SET name = 'almonds';
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A registration whose OID is stale (as after a restore or pg_upgrade) is
-- found by schema and name; the next DDL records the OID again.
UPDATE dumper.registration SET paths_oid = 1 WHERE tbl = 'topping'::regclass;
\c
SELECT paths_function FROM dumper_registrations WHERE table_name = 'topping'::regclass;
BEGIN;
UPDATE topping SET name = 'hazelnuts';
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
CREATE TABLE unrelated_ddl (id int);
SELECT paths_oid = '"Paths C"."Topping Paths"(topping)'::regprocedure AS same_oid
  FROM dumper.registration WHERE tbl = 'topping'::regclass;
DROP TABLE unrelated_ddl;
-- One that neither its name nor its OID finds is shown without a function.
UPDATE dumper.registration SET paths_oid = 1, paths_name = 'gone' WHERE tbl = 'topping'::regclass;
SELECT table_name, paths_function FROM dumper_registrations WHERE table_name = 'topping'::regclass;
SELECT dumper_register('topping', templates => ARRAY['/topping/{name}/']);
DROP SCHEMA paths_a, "Paths C" CASCADE;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
DROP TABLE gelato_toppings, topping, event, wafer CASCADE;
DROP SCHEMA shop CASCADE;
