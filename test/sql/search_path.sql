-- Every statement dumper runs with the extension owner's rights pins its
-- search_path (spi.c): a role with a schema of its own, full of operators
-- and functions that shadow pg_catalog's, puts it first and reaches every
-- entry point of dumper -- registering, writing, TRUNCATE, each command of
-- the DDL event triggers, delivery, the views -- and none of its code runs.
-- Each trap raises, naming the role it ran as: on a dumper without the
-- pinned search_path, DROP FUNCTION ran "=" on names as the superuser.
-- (The worker's start is TAP test 022_hostile_search_path.)
CREATE EXTENSION dumper;
TRUNCATE dumper.queue, dumper.spill_queue;
CREATE ROLE dumper_mallory;
CREATE ROLE dumper_operator;
GRANT dumper_operator TO dumper_mallory;
DO $$ BEGIN
    EXECUTE format('GRANT CREATE ON DATABASE %I TO dumper_mallory', current_database());
END $$;
GRANT EXECUTE ON FUNCTION dumper_deliver(int), dumper_invalidate(text[]) TO dumper_mallory;

SET ROLE dumper_mallory;
CREATE SCHEMA mallory;
-- "=" and "<>" for every type dumper's statements compare, "||", "-" of
-- timestamps, and the functions and aggregates they call by name.
DO $$
DECLARE
    t text;
    n int := 0;
BEGIN
    FOREACH t IN ARRAY ARRAY['name', 'oid', 'text', '"char"', 'regclass', 'regproc',
                             'regprocedure', 'int2', 'int4', 'int8', 'bool', 'xid8',
                             'timestamptz', 'oidvector', 'text[]']
    LOOP
        n := n + 1;
        EXECUTE format('CREATE FUNCTION mallory.trap_%s(%s, %s) RETURNS bool LANGUAGE plpgsql'
                       ' AS $f$BEGIN RAISE EXCEPTION ''trap: %s on %s ran as %%'', current_user; END$f$',
                       n, t, t, '=', replace(t, '''', ''''''));
        EXECUTE format('CREATE OPERATOR mallory.= (LEFTARG = %s, RIGHTARG = %s, FUNCTION = mallory.trap_%s)',
                       t, t, n);
        EXECUTE format('CREATE OPERATOR mallory.<> (LEFTARG = %s, RIGHTARG = %s, FUNCTION = mallory.trap_%s)',
                       t, t, n);
    END LOOP;
END $$;
CREATE FUNCTION mallory.trap_cat(text, text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: || ran as %', current_user; END $$;
CREATE OPERATOR mallory.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.trap_cat);
CREATE FUNCTION mallory.trap_minus(timestamptz, timestamptz) RETURNS interval LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: - ran as %', current_user; END $$;
CREATE OPERATOR mallory.- (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                           FUNCTION = mallory.trap_minus);
CREATE FUNCTION mallory.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: unnest ran as %', current_user; END $$;
CREATE FUNCTION mallory.now() RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: now ran as %', current_user; END $$;
CREATE FUNCTION mallory.trap_agg(int8) RETURNS int8 LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: count ran as %', current_user; END $$;
CREATE AGGREGATE mallory.count(*) (SFUNC = mallory.trap_agg, STYPE = int8);
CREATE FUNCTION mallory.trap_min(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'trap: min ran as %', current_user; END $$;
CREATE AGGREGATE mallory.min(timestamptz) (SFUNC = mallory.trap_min, STYPE = timestamptz);

-- mallory's own tables: a registered table with a paths function, one with
-- templates, a partitioned one, a join table.
CREATE TABLE mallory.post (id int PRIMARY KEY, slug text);
CREATE TABLE mallory.tag (id int PRIMARY KEY, name text);
CREATE TABLE mallory.post_tag (post_id int REFERENCES mallory.post, tag_id int REFERENCES mallory.tag,
                               PRIMARY KEY (post_id, tag_id));
CREATE TABLE mallory.event (id int, day date, slug text) PARTITION BY RANGE (day);
CREATE TABLE mallory.event_2026 PARTITION OF mallory.event
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE FUNCTION mallory.post_paths(mallory.post) RETURNS text[] LANGUAGE sql STABLE
    SET search_path = pg_catalog
    AS $$ SELECT ARRAY['/post/' OPERATOR(pg_catalog.||) $1.slug OPERATOR(pg_catalog.||) '/'] $$;
CREATE FUNCTION mallory.spare_paths(mallory.tag) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT NULL::text $$;
INSERT INTO mallory.post VALUES (1, 'hello');
INSERT INTO mallory.tag VALUES (1, 'news');
INSERT INTO mallory.event VALUES (1, '2026-05-01', 'may');

-- From here on, mallory's schema comes first.
SET search_path = mallory, pg_catalog, public;

-- Registering, explicitly covering a join table, the views.
SELECT dumper_register('mallory.post', 'mallory.post_paths');
SELECT dumper_register('mallory.tag', templates => ARRAY['/tag/{name}/']);
SELECT dumper_register('mallory.event', templates => ARRAY['/event/{slug}/']);
SELECT dumper_register_join('mallory.post_tag');
SELECT table_name, paths_function, templates, join_tables, triggers
  FROM dumper_registrations ORDER BY table_name::text COLLATE "C";

-- Writes and TRUNCATE, through every kind of trigger.
BEGIN;
INSERT INTO mallory.post VALUES (2, 'world');
UPDATE mallory.tag SET name = 'old' WHERE id OPERATOR(pg_catalog.=) 1;
INSERT INTO mallory.post_tag VALUES (1, 1);
DELETE FROM mallory.event WHERE id OPERATOR(pg_catalog.=) 1;
TRUNCATE mallory.post_tag;
SELECT dumper_invalidate('/by/hand/');
SELECT p FROM dumper_transaction_paths() AS p ORDER BY p COLLATE "C";
COMMIT;

-- Each command of the DDL event triggers.
CREATE TABLE mallory.event_2027 PARTITION OF mallory.event
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE mallory.post_tag2 (post_id int REFERENCES mallory.post, tag_id int REFERENCES mallory.tag,
                                PRIMARY KEY (post_id, tag_id));
ALTER TABLE mallory.post ADD COLUMN title text;
ALTER TABLE mallory.event DETACH PARTITION mallory.event_2027;
ALTER TABLE mallory.event ATTACH PARTITION mallory.event_2027
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
DROP TABLE mallory.event_2027;
CREATE FUNCTION mallory.note_trigger() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER note AFTER INSERT ON mallory.tag FOR EACH ROW EXECUTE FUNCTION mallory.note_trigger();
CREATE TYPE mallory.mood AS (happy bool);
ALTER TYPE mallory.mood ADD ATTRIBUTE sad bool;
ALTER FUNCTION mallory.post_paths(mallory.post) RENAME TO post_paths2;
ALTER ROUTINE mallory.post_paths2(mallory.post) RENAME TO post_paths;
ALTER FUNCTION mallory.spare_paths(mallory.tag) RENAME TO spare_paths2;
DROP FUNCTION mallory.spare_paths2(mallory.tag);
CREATE FUNCTION mallory.spare_paths(mallory.tag) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$;
DROP ROUTINE mallory.spare_paths(mallory.tag);
CREATE SCHEMA mallory_spare;
ALTER SCHEMA mallory_spare RENAME TO mallory_spare2;
DROP SCHEMA mallory_spare2;
DROP EXTENSION IF EXISTS no_such_extension;
DROP OWNED BY dumper_operator RESTRICT;

-- Delivery, granted to mallory, and the views again.
SELECT dumper_deliver() >= 0 AS delivered;
SELECT pg_catalog.count(*) AS pending FROM dumper_pending;
SELECT connection IS NOT NULL AS has_connection, pending_rows OPERATOR(pg_catalog.=) 0 AS drained
  FROM dumper_stats;

-- Unregistering, and registering the join table's other side again.
SELECT dumper_unregister('mallory.tag');
SELECT dumper_register('mallory.tag', templates => ARRAY['/tag/{name}/']);
RESET ROLE;

-- The registrations survived the renames, and nothing ran as anyone else.
RESET search_path;
SELECT table_name, paths_function FROM dumper_registrations ORDER BY table_name::text COLLATE "C";
SELECT rolsuper FROM pg_roles WHERE rolname = 'dumper_mallory';

-- Clean up.
DROP SCHEMA mallory CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
DO $$ BEGIN
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM dumper_mallory', current_database());
END $$;
DROP ROLE dumper_mallory;
DROP ROLE dumper_operator;
