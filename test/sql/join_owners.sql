-- Join triggers run the registered tables' paths functions in the writes to
-- the join table.  A join table runs only those of the registered tables
-- its owner owns: one role's registration never puts its code into the
-- writes to another role's table (which PostgreSQL allows no table owner
-- either), nor fails because of another role's table.  The join table's
-- owner can ask for the others with dumper_register_join.
CREATE EXTENSION dumper;
CREATE ROLE dumper_alice;
CREATE ROLE dumper_bob;
GRANT CREATE ON SCHEMA public TO dumper_alice, dumper_bob;

SET ROLE dumper_alice;
CREATE TABLE icecream (id int PRIMARY KEY, slug text);
CREATE FUNCTION dependent_paths(icecream) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE NOTICE 'alice''s paths function runs as %', current_user;
    RETURN '/icecream/' || $1.slug || '/';
END $$;
INSERT INTO icecream VALUES (1, 'vanilla');
GRANT REFERENCES, SELECT ON icecream TO dumper_bob;
-- alice's own join table, and bob's, created before the registration.
CREATE TABLE tag (id int PRIMARY KEY);
INSERT INTO tag VALUES (1);
CREATE TABLE icecream_tag (icecream_id int REFERENCES icecream, tag_id int REFERENCES tag,
                           PRIMARY KEY (icecream_id, tag_id));
SET ROLE dumper_bob;
CREATE TABLE bobtag (id int PRIMARY KEY);
INSERT INTO bobtag VALUES (1);
CREATE TABLE icecream_bobtag (icecream_id int REFERENCES icecream, tag_id int REFERENCES bobtag,
                              PRIMARY KEY (icecream_id, tag_id));
-- Registering covers alice's join table and says why bob's is not.
SET ROLE dumper_alice;
SELECT dumper_register('icecream');
SELECT table_name, join_tables FROM dumper_registrations;
-- bob creates another join table after the registration: not covered
-- either, and told so.
SET ROLE dumper_bob;
CREATE TABLE icecream_bobtag2 (icecream_id int REFERENCES icecream, tag_id int REFERENCES bobtag,
                               PRIMARY KEY (icecream_id, tag_id));
-- bob's writes run none of alice's code.
BEGIN;
INSERT INTO icecream_bobtag VALUES (1, 1);
INSERT INTO icecream_bobtag2 VALUES (1, 1);
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;
-- alice's join table: her function runs, as the writer (here, herself).
SET ROLE dumper_alice;
BEGIN;
INSERT INTO icecream_tag VALUES (1, 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
-- bob asks for it on his table: now his writes run alice's function.
SET ROLE dumper_bob;
SELECT dumper_register_join('icecream_bobtag');
BEGIN;
INSERT INTO icecream_bobtag VALUES (1, 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
-- Only the owner of a table may ask.
SET ROLE dumper_alice;
DO $$ BEGIN PERFORM dumper_register_join('icecream_bobtag2');
EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'refused: %', SQLERRM; END $$;
RESET ROLE;

-- Clean up.
SET client_min_messages = warning;
DROP FUNCTION dependent_paths(icecream) CASCADE;
DROP TABLE icecream_bobtag, icecream_bobtag2, bobtag, icecream_tag, tag, icecream CASCADE;
RESET client_min_messages;
REVOKE CREATE ON SCHEMA public FROM dumper_alice, dumper_bob;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
DROP ROLE dumper_alice;
DROP ROLE dumper_bob;

-- Two roles, two schemas: b_owner owns registered b.item and the pure join
-- table b.item_tags, which also references a_owner's registered a.tag.
-- Writes to b.item_tags, by anyone, never run a_owner's paths function:
-- not through the row trigger, not through TRUNCATE's reader, whichever
-- table was registered first.  The rule is dumper_join_side_covered's.
CREATE EXTENSION dumper;
CREATE ROLE dumper_a_owner;
CREATE ROLE dumper_b_owner;
CREATE ROLE dumper_writer;
CREATE SCHEMA a AUTHORIZATION dumper_a_owner;
CREATE SCHEMA b AUTHORIZATION dumper_b_owner;
GRANT USAGE ON SCHEMA a TO dumper_b_owner, dumper_writer;
GRANT USAGE ON SCHEMA b TO dumper_writer;
SET ROLE dumper_a_owner;
CREATE TABLE a.tag (id int PRIMARY KEY, name text);
INSERT INTO a.tag VALUES (1, 'red'), (2, 'blue');
CREATE FUNCTION a.tag_paths(a.tag) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE NOTICE 'a_owner''s paths function runs as %', current_user;
    RETURN '/tag/' || $1.name || '/';
END $$;
GRANT REFERENCES, SELECT ON a.tag TO dumper_b_owner, dumper_writer;
SET ROLE dumper_b_owner;
CREATE TABLE b.item (id int PRIMARY KEY, slug text);
INSERT INTO b.item VALUES (1, 'chair');
CREATE FUNCTION b.item_paths(b.item) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE NOTICE 'b_owner''s paths function runs as %', current_user;
    RETURN '/item/' || $1.slug || '/';
END $$;
CREATE TABLE b.item_tags (item_id int REFERENCES b.item, tag_id int REFERENCES a.tag,
                          PRIMARY KEY (item_id, tag_id));
GRANT SELECT ON b.item TO dumper_writer;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON b.item_tags TO dumper_writer;

-- Order 1: b.item first (covers item_tags), then a.tag (told it is not).
SELECT dumper_register('b.item', 'b.item_paths');
SET ROLE dumper_a_owner;
SELECT dumper_register('a.tag', 'a.tag_paths');
RESET ROLE;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;

-- INSERT, UPDATE, DELETE and TRUNCATE by b_owner, by another role and by a
-- superuser: only b.item's paths, only b_owner's function.
SET ROLE dumper_b_owner;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
SET ROLE dumper_writer;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
RESET ROLE;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- Owner changes take effect at once, in this session's kept lookups too:
-- a.tag given to b_owner is covered; item_tags given to a_owner covers
-- a.tag and no longer b.item.
ALTER TABLE a.tag OWNER TO dumper_b_owner;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
ALTER TABLE a.tag OWNER TO dumper_a_owner;
GRANT REFERENCES, SELECT ON a.tag TO dumper_b_owner, dumper_writer;
ALTER TABLE b.item_tags OWNER TO dumper_a_owner;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
ALTER TABLE b.item_tags OWNER TO dumper_b_owner;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- b_owner asks for a.tag's function in its writes: both sides run.
SET ROLE dumper_b_owner;
SELECT dumper_register_join('b.item_tags');
SET ROLE dumper_writer;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET ROLE;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;

-- Order 2: a.tag first (item_tags is told, and gets nothing), then b.item.
SET ROLE dumper_b_owner;
SELECT dumper_unregister('b.item');
DROP TABLE b.item_tags;
SET ROLE dumper_a_owner;
SELECT dumper_unregister('a.tag');
SET ROLE dumper_b_owner;
CREATE TABLE b.item_tags (item_id int REFERENCES b.item, tag_id int REFERENCES a.tag,
                          PRIMARY KEY (item_id, tag_id));
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON b.item_tags TO dumper_writer;
SET ROLE dumper_a_owner;
SELECT dumper_register('a.tag', 'a.tag_paths');
SET ROLE dumper_b_owner;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'b.item_tags'::regclass AND tgname LIKE 'dumper%';
-- a.tag given to b_owner: item_tags now covers it and gets its triggers.
RESET ROLE;
ALTER TABLE a.tag OWNER TO dumper_b_owner;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'b.item_tags'::regclass AND tgname LIKE 'dumper%'
ORDER BY 1;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
ALTER TABLE a.tag OWNER TO dumper_a_owner;
GRANT REFERENCES, SELECT ON a.tag TO dumper_b_owner, dumper_writer;
SET ROLE dumper_b_owner;
SELECT dumper_register('b.item', 'b.item_paths');
RESET ROLE;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;
SET ROLE dumper_b_owner;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
SET ROLE dumper_writer;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
RESET ROLE;
BEGIN;
INSERT INTO b.item_tags VALUES (1, 1);
UPDATE b.item_tags SET tag_id = 2;
DELETE FROM b.item_tags;
INSERT INTO b.item_tags VALUES (1, 1);
TRUNCATE b.item_tags;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;

-- Created after both registrations (the DDL event trigger's path): the
-- same NOTICE, and the same writes.
SET ROLE dumper_b_owner;
CREATE TABLE b.item_tags2 (item_id int REFERENCES b.item, tag_id int REFERENCES a.tag,
                           PRIMARY KEY (item_id, tag_id));
RESET ROLE;
BEGIN;
INSERT INTO b.item_tags2 VALUES (1, 1);
TRUNCATE b.item_tags2;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
SELECT table_name, join_tables FROM dumper_registrations ORDER BY 1;

-- A partitioned join table: a partition is judged as its root (its owner,
-- dumper_register_join), whoever owns the partition, for the row trigger,
-- TRUNCATE and ATTACH PARTITION alike.
SET ROLE dumper_b_owner;
CREATE TABLE b.pit (item_id int REFERENCES b.item, tag_id int REFERENCES a.tag,
                    PRIMARY KEY (item_id, tag_id)) PARTITION BY LIST (tag_id);
GRANT SELECT, INSERT, TRUNCATE ON b.pit TO dumper_writer;
RESET ROLE;
CREATE TABLE b.pit1 PARTITION OF b.pit FOR VALUES IN (1);
CREATE TABLE b.pit2 (item_id int NOT NULL, tag_id int NOT NULL);
INSERT INTO b.pit2 VALUES (1, 2);
BEGIN;
INSERT INTO b.pit VALUES (1, 1);
ALTER TABLE b.pit ATTACH PARTITION b.pit2 FOR VALUES IN (2);
TRUNCATE b.pit;
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
SET ROLE dumper_b_owner;
SELECT dumper_register_join('b.pit');
RESET ROLE;
BEGIN;
SET LOCAL ROLE dumper_writer;
INSERT INTO b.pit VALUES (1, 1);
RESET ROLE;
TRUNCATE b.pit;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- Unregistering b.item leaves item_tags covering nothing: its triggers go.
SET ROLE dumper_b_owner;
SELECT dumper_unregister('b.item');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'b.item_tags'::regclass AND tgname LIKE 'dumper%';
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA a, b CASCADE;
RESET client_min_messages;
DROP EXTENSION dumper;
DROP ROLE dumper_a_owner;
DROP ROLE dumper_b_owner;
DROP ROLE dumper_writer;
