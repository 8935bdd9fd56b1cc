-- Join triggers run the registered tables' paths functions in the writes to
-- the join table.  dumper puts them only on join tables of the same owner:
-- one role's registration never puts its code into the writes to another
-- role's table (which PostgreSQL allows no table owner either), nor fails
-- because of another role's table.  The join table's owner can ask for
-- them with dumper_register_join.
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
