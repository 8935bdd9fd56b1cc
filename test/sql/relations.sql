-- relations: what related rows invalidate.  Proves, case by case and with
-- the exact set of paths (dumper_transaction_paths() inside a transaction,
-- dumper_pending after commit):
--   * the seed's IceCream/Size many-to-many through a Django-style pure join
--     table, found by dumper_register on its own, one side registered first
--     and the second later; adding, removing and changing a size invalidates
--     both sides; a delete that cascades to join rows raises no error;
--   * a self-referencing join table created after registration;
--   * a through table with an extra column, with dumper_register_join;
--   * a composite-key join table (columns in another order than the key);
--   * TRUNCATE of a registered table, of a join table, TRUNCATE ... CASCADE,
--     and a rolled-back TRUNCATE, which queues nothing;
--   * a partitioned table: partitions present at registration, attached
--     later (with another column order), created later (one of them itself
--     partitioned), written through the parent and directly; registering a
--     partition is refused;
--   * dumper_registrations (join_tables, triggers) for all of these.
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

-- ===== The seed's shop =====================================================
-- IceCream and Size, and Django's auto-created through table.
CREATE TABLE icecream (id serial PRIMARY KEY, slug text NOT NULL, price int NOT NULL DEFAULT 3);
CREATE TABLE size (id serial PRIMARY KEY, slug text NOT NULL);
CREATE TABLE icecream_sizes (
    id serial PRIMARY KEY,
    icecream_id int REFERENCES icecream ON DELETE CASCADE,
    size_id int REFERENCES size ON DELETE CASCADE);
-- An ice cream's detail page and the list.
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
-- A size's page and the pages of its ice creams (which list their sizes).
CREATE FUNCTION dependent_paths(size) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY['/size/' || $1.slug || '/'] || ARRAY(
        SELECT '/icecream/' || i.slug || '/'
          FROM icecream_sizes j JOIN icecream i ON i.id = j.icecream_id
         WHERE j.size_id = $1.id
         ORDER BY i.slug) $$;
INSERT INTO icecream (slug) VALUES ('vanilla'), ('chocolate'), ('mint');
INSERT INTO size (slug) VALUES ('small'), ('medium'), ('large');
-- vanilla: small; chocolate: small, large; mint: none.
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1), (2, 1), (2, 3);

-- One side registered: the pure join table is found and gets its triggers.
SELECT dumper_register('icecream');
SELECT table_name, paths_function, join_tables, triggers FROM dumper_registrations;
SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'icecream_sizes'::regclass AND tgname LIKE 'dumper%' ORDER BY 1;

-- With only the ice cream side registered, adding a size invalidates the
-- ice cream's pages only.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (3, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- The second side registered later covers the join table found earlier.
SELECT dumper_register('size');
SELECT table_name, paths_function, join_tables, triggers
  FROM dumper_registrations ORDER BY table_name::text;

-- Adding a size (medium) to mint: mint's pages and medium's page.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (3, 2);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Removing a size (large) from chocolate: chocolate's pages and large's.
BEGIN;
DELETE FROM icecream_sizes WHERE icecream_id = 2 AND size_id = 3;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Changing vanilla's size from small to medium: vanilla's pages, both
-- sizes' pages, and through the sizes' function the pages of their other
-- ice creams (chocolate is small, mint is medium).
BEGIN;
UPDATE icecream_sizes SET size_id = 2 WHERE icecream_id = 1 AND size_id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Moving a join row to another ice cream (mint's medium goes to chocolate):
-- both ice creams' pages and medium's (whose ice creams are vanilla and
-- mint before, vanilla and chocolate after).
BEGIN;
UPDATE icecream_sizes SET icecream_id = 2 WHERE icecream_id = 3 AND size_id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A join row referencing nothing (NULL keys) invalidates nothing; giving
-- it an ice cream then invalidates that ice cream's pages.
BEGIN;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (NULL, NULL);
SELECT count(*) FROM dumper_transaction_paths();
UPDATE icecream_sizes SET icecream_id = 3 WHERE icecream_id IS NULL;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A write to a side: renaming small invalidates its old and new page and
-- its ice creams' pages (only chocolate is small now).
BEGIN;
UPDATE size SET slug = 'small-cup' WHERE slug = 'small';
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Deleting an ice cream cascades to its join rows.  The cascaded join
-- rows' ice cream is gone by then: skipped without error.  The size it
-- had (small) is invalidated.
BEGIN;
DELETE FROM icecream WHERE slug = 'chocolate';
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT i.slug AS icecream, s.slug AS size
  FROM icecream_sizes j JOIN icecream i ON i.id = j.icecream_id JOIN size s ON s.id = j.size_id
 ORDER BY 1, 2;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Deleting a size cascades too: its page and the pages of the ice creams
-- that had it (vanilla and mint had medium).
DELETE FROM size WHERE slug = 'medium';
SELECT path FROM dumper_pending ORDER BY path;
SELECT count(*) AS join_rows_left FROM icecream_sizes;
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== A join table created after registration =============================
-- Related ice creams (a symmetrical many-to-many on one table): both foreign
-- keys reference the registered ice cream table; it is found at CREATE.
CREATE TABLE icecream_related (
    from_icecream_id int NOT NULL REFERENCES icecream ON DELETE CASCADE,
    to_icecream_id int NOT NULL REFERENCES icecream ON DELETE CASCADE,
    PRIMARY KEY (from_icecream_id, to_icecream_id));
SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'icecream_related'::regclass AND tgname LIKE 'dumper%' ORDER BY 1;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY table_name::text;
BEGIN;
INSERT INTO icecream_related VALUES (1, 3);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- ===== A through table with an extra column ================================
INSERT INTO size (slug) VALUES ('cone'), ('cup');  -- ids 4 and 5
CREATE TABLE scoop (
    id serial PRIMARY KEY,
    icecream_id int NOT NULL REFERENCES icecream,
    size_id int NOT NULL REFERENCES size,
    grams int NOT NULL);
INSERT INTO scoop (icecream_id, size_id, grams) VALUES (1, 4, 100);
-- Not a pure join table: not covered by itself ...
SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'scoop'::regclass AND tgname LIKE 'dumper%' ORDER BY 1;
BEGIN;
UPDATE scoop SET grams = 110;
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;
-- ... until registered as a join table.  A table without a foreign key
-- cannot be one.
SELECT dumper_register_join('scoop');
CREATE TABLE plain (id int PRIMARY KEY);
SELECT pg_temp.sqlstate_of($$SELECT dumper_register_join('plain')$$);
DROP TABLE plain;
SELECT tgname FROM pg_trigger
 WHERE tgrelid = 'scoop'::regclass AND tgname LIKE 'dumper%' ORDER BY 1;
SELECT table_name, join_tables, triggers FROM dumper_registrations ORDER BY table_name::text;
-- Changing only the extra column invalidates both rows the scoop links.
BEGIN;
UPDATE scoop SET grams = 120;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A new scoop, and a scoop moved to another size.
BEGIN;
INSERT INTO scoop (icecream_id, size_id, grams) VALUES (3, 5, 80);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE scoop SET size_id = 5 WHERE size_id = 4;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- ===== A composite-key join table ==========================================
DELETE FROM dumper.queue;  -- the sizes inserted above
-- Shops are identified by (country, code); the join table declares its
-- columns in another order than the key, and both codes 7 and both 'it'
-- shops exist, so a lookup that used one key column only would show.
CREATE TABLE shop (country text, code int, name text NOT NULL,
                   PRIMARY KEY (country, code));
CREATE FUNCTION dependent_paths(shop) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/shop/' || $1.country || '/' || $1.code || '/' $$;
INSERT INTO shop VALUES ('it', 7, 'Roma'), ('it', 8, 'Milano'), ('fr', 7, 'Paris');
CREATE TABLE shop_icecreams (
    icecream_id int NOT NULL REFERENCES icecream ON DELETE CASCADE,
    code int NOT NULL,
    country text NOT NULL,
    FOREIGN KEY (country, code) REFERENCES shop ON UPDATE CASCADE ON DELETE CASCADE,
    PRIMARY KEY (country, code, icecream_id));
SELECT dumper_register('shop');
SELECT table_name, join_tables FROM dumper_registrations ORDER BY table_name::text;
-- Vanilla sold in Roma: Roma's page and vanilla's, nothing of Milano or Paris.
BEGIN;
INSERT INTO shop_icecreams (icecream_id, code, country) VALUES (1, 7, 'it');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- Moving it to Milano: both shops.
BEGIN;
UPDATE shop_icecreams SET code = 8 WHERE country = 'it' AND code = 7;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A shop's key changed: ON UPDATE CASCADE rewrites the join row; the old
-- key's shop no longer exists when the join row's trigger runs.
BEGIN;
UPDATE shop SET code = 9 WHERE country = 'it' AND code = 7;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- ===== TRUNCATE ============================================================
-- The ice creams' sizes so far (medium was deleted above): none.
SELECT i.slug AS icecream, s.slug AS size
  FROM icecream_sizes j JOIN icecream i ON i.id = j.icecream_id JOIN size s ON s.id = j.size_id
 ORDER BY 1, 2;
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 1), (3, 5);
TRUNCATE dumper.queue, dumper.spill_queue;

-- A rolled-back TRUNCATE queues nothing (though it gathered paths).
BEGIN;
TRUNCATE icecream_sizes;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT count(*) FROM dumper_pending;

-- TRUNCATE of a join table: the pages of every row it referenced, on both
-- sides (vanilla-small and mint-cup).
TRUNCATE icecream_sizes;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE of a registered table that nothing references: every row's
-- paths.  (A table registered with path templates.)
CREATE TABLE topping (id int PRIMARY KEY, name text);
SELECT dumper_register('topping', templates => ARRAY['/topping/{name}/', '/toppings/']);
INSERT INTO topping VALUES (1, 'nuts'), (2, 'sprinkles'), (3, NULL);
TRUNCATE dumper.queue, dumper.spill_queue;
TRUNCATE topping;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE ... CASCADE of a side, rolled back: every shop, and through
-- shop_icecreams the ice cream it referenced (vanilla, sold in Roma).
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (3, 1);
TRUNCATE dumper.queue, dumper.spill_queue;
BEGIN;
TRUNCATE shop CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT count(*) FROM dumper_pending;
-- Committed: TRUNCATE size CASCADE empties icecream_sizes (mint-small) and
-- scoop (vanilla-cone) too: every size's pages (small's lists mint) and
-- the pages of the ice creams the join tables referenced.
TRUNCATE size CASCADE;
SELECT path FROM dumper_pending ORDER BY path;
SELECT (SELECT count(*) FROM scoop) AS scoops, (SELECT count(*) FROM icecream_sizes) AS icecream_sizes;
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE ... CASCADE through an unregistered table: the join table's
-- trigger still invalidates its registered side.
INSERT INTO size (id, slug) VALUES (10, 'tiny');
INSERT INTO icecream_sizes (icecream_id, size_id) VALUES (1, 10);
SELECT dumper_unregister('size');
SELECT table_name, join_tables FROM dumper_registrations ORDER BY table_name::text;
TRUNCATE dumper.queue, dumper.spill_queue;
TRUNCATE size CASCADE;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== Partitioned tables ==================================================
CREATE TABLE event (id int NOT NULL, day date NOT NULL, slug text NOT NULL,
                    PRIMARY KEY (id, day))
    PARTITION BY RANGE (day);
CREATE TABLE event_2025 PARTITION OF event
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE event_2026 PARTITION OF event
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE FUNCTION dependent_paths(event) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/event/' || $1.slug || '/',
                       '/events/' || extract(year FROM $1.day) || '/'] $$;
-- A partition cannot be registered: the partitioned table is.
SELECT dumper_register('event_2025');
SELECT pg_temp.sqlstate_of($$SELECT dumper_register('event_2025')$$);
SELECT dumper_register('event');
SELECT count(*) FROM dumper.registration WHERE tbl = 'event_2025'::regclass;

-- Attached after registration: a table with its columns in another order
-- and a dropped column, so its rows must be converted by column name.
CREATE TABLE event_2027 (gone int, slug text NOT NULL, id int NOT NULL, day date NOT NULL);
ALTER TABLE event_2027 DROP COLUMN gone;
ALTER TABLE event ATTACH PARTITION event_2027
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- Created later, one of them itself partitioned, with a sub-partition
-- created after it.
CREATE TABLE event_2028 PARTITION OF event
    FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
CREATE TABLE event_2029 PARTITION OF event
    FOR VALUES FROM ('2029-01-01') TO ('2030-01-01') PARTITION BY RANGE (id);
CREATE TABLE event_2029_rest PARTITION OF event_2029 DEFAULT;
-- Every table under event has the row trigger (cloned) and the TRUNCATE
-- trigger; nothing else is registered.
SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
 WHERE tgname LIKE 'dumper%' AND tgrelid::regclass::text LIKE 'event%' ORDER BY 1, 2;
SELECT table_name, paths_function, join_tables, triggers
  FROM dumper_registrations WHERE table_name = 'event'::regclass;

-- Writes through the parent reach each partition and invalidate.
TRUNCATE dumper.queue, dumper.spill_queue;
INSERT INTO event VALUES (1, '2025-05-01', 'spring'), (2, '2026-05-01', 'fair'),
                         (3, '2027-05-01', 'fest'), (4, '2028-05-01', 'gala'),
                         (5, '2029-05-01', 'ball');
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- Writes straight to a partition too, one by one.
BEGIN;
UPDATE event_2025 SET slug = 'spring-2' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE event_2026 SET slug = 'fair-2' WHERE id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
INSERT INTO event_2027 (slug, id, day) VALUES ('fest-2', 6, '2027-06-01');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DELETE FROM event_2028 WHERE id = 4;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE event_2029_rest SET slug = 'ball-2' WHERE id = 5;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A row moved from one partition to another (2027 to 2025): old and new.
UPDATE event SET day = '2025-12-31' WHERE id = 3;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE of one partition (spring and the moved fest), then of the
-- attached one, whose rows are converted by name.
TRUNCATE event_2025;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
INSERT INTO event VALUES (7, '2027-02-02', 'late');
TRUNCATE dumper.queue, dumper.spill_queue;
TRUNCATE event_2027;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A join table referencing the partitioned table (a composite foreign key
-- to it, whose partitions' key constraints PostgreSQL adds as extra foreign
-- keys of the join table): one side, the registered parent.
CREATE TABLE event_icecreams (
    icecream_id int REFERENCES icecream,
    event_id int, event_day date,
    FOREIGN KEY (event_id, event_day) REFERENCES event ON DELETE CASCADE,
    PRIMARY KEY (icecream_id, event_id, event_day));
SELECT table_name, join_tables FROM dumper_registrations
 WHERE table_name IN ('event'::regclass, 'icecream'::regclass) ORDER BY table_name::text;
-- Mint at the fair: mint's pages and the fair's.
BEGIN;
INSERT INTO event_icecreams VALUES (3, 2, '2026-05-01');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
TRUNCATE dumper.queue, dumper.spill_queue;
-- Deleting the event cascades to the join row: no error.
BEGIN;
DELETE FROM event WHERE id = 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT count(*) FROM event_icecreams;
ROLLBACK;

-- TRUNCATE of the parent with the join table referencing it: the other
-- events (in three partitions), and mint through the join row.
TRUNCATE event CASCADE;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- ===== Registrations at the end ============================================
SELECT table_name, paths_function, templates, join_tables, triggers
  FROM dumper_registrations ORDER BY table_name::text;
SELECT tbl, explicit FROM dumper.join_table ORDER BY tbl::text;

-- Clean up.  The order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE event_icecreams, event, topping, shop_icecreams, shop, scoop, icecream_related,
           icecream_sizes, size, icecream CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
