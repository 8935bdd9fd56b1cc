-- Every user error reachable here, with its SQLSTATE, message, detail and
-- hint.
CREATE EXTENSION dumper;

-- Shows what a statement raises: SQLSTATE, message, detail, hint.
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

CREATE TABLE icecream (id int PRIMARY KEY, slug text);
CREATE VIEW icecream_view AS SELECT * FROM icecream;
CREATE MATERIALIZED VIEW icecream_mv AS SELECT * FROM icecream;
CREATE SEQUENCE icecream_seq;
CREATE INDEX icecream_slug ON icecream (slug);
CREATE TYPE icecream_type AS (a int);
CREATE FOREIGN DATA WRAPPER dumper_test_fdw;
CREATE SERVER dumper_test_server FOREIGN DATA WRAPPER dumper_test_fdw;
CREATE FOREIGN TABLE icecream_ft (id int, slug text) SERVER dumper_test_server;
CREATE TEMP TABLE icecream_tmp (id int, slug text);
CREATE TABLE parted (id int, slug text) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);

-- Not a table.
SELECT pg_temp.err($$SELECT dumper_register('icecream_view')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_mv')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_seq')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_slug')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_type')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_ft')$$);
SELECT pg_temp.err($$SELECT dumper_register('pg_class')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream_tmp')$$);
SELECT pg_temp.err($$SELECT dumper_register('parted_1')$$);
SELECT pg_temp.err($$SELECT dumper_register(NULL)$$);
SELECT pg_temp.err($$SELECT dumper_register('no_such_table')$$);

-- No dependent_paths for the row type.
SELECT pg_temp.err($$SELECT dumper_register('icecream')$$);

-- Paths functions of the wrong shape.
CREATE FUNCTION wrong_arg(int) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION two_args(icecream, int) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION wrong_ret(icecream) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION setof_array(icecream) RETURNS SETOF text[] LANGUAGE sql AS $$ SELECT ARRAY['x'] $$;
CREATE FUNCTION varchar_ret(icecream) RETURNS varchar LANGUAGE sql AS $$ SELECT 'x'::varchar $$;
CREATE PROCEDURE a_procedure(icecream) LANGUAGE sql AS $$ SELECT 1 $$;
CREATE AGGREGATE an_aggregate(icecream) (sfunc = array_append, stype = icecream[]);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'wrong_arg')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'two_args')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'wrong_ret')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'setof_array')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'varchar_ret')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'a_procedure')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'an_aggregate')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'no_such_function')$$);
SELECT pg_temp.err($$SELECT dumper_register('icecream', 'wrong_arg', templates => ARRAY['/icecream/{slug}/'])$$);

-- Nothing was registered by any of that.
SELECT count(*) FROM dumper_registrations;
SELECT count(*) FROM pg_trigger WHERE tgname = 'dumper_row';

-- Unregistering a table that is not registered.
SELECT pg_temp.err($$SELECT dumper_unregister('icecream')$$);

-- Ownership and privileges.
CREATE FUNCTION dependent_paths(icecream) RETURNS text LANGUAGE sql
    AS $$ SELECT '/icecream/' || $1.slug $$;
CREATE ROLE dumper_stranger;
CREATE ROLE dumper_owner;
CREATE TABLE owned (id int, slug text);
ALTER TABLE owned OWNER TO dumper_owner;
CREATE FUNCTION private_paths(owned) RETURNS text LANGUAGE sql AS $$ SELECT $1.slug $$;
REVOKE EXECUTE ON FUNCTION private_paths(owned) FROM PUBLIC;
SET ROLE dumper_stranger;
SELECT pg_temp.err($$SELECT dumper_register('icecream')$$);
RESET ROLE;
SELECT dumper_register('icecream');
SET ROLE dumper_stranger;
SELECT pg_temp.err($$SELECT dumper_unregister('icecream')$$);
SELECT pg_temp.err($$SELECT dumper_invalidate('/x')$$);
SELECT pg_temp.err($$SELECT dumper_deliver()$$);
SELECT pg_temp.err($$SELECT * FROM dumper.queue$$);
SELECT pg_temp.err($$DELETE FROM dumper.registration$$);
SELECT pg_temp.err($$SHOW dumper.redis_url$$);
SELECT pg_temp.err($$SELECT current_setting('dumper.redis_url')$$);
SELECT count(*) FROM pg_settings WHERE name = 'dumper.redis_url';
SELECT pg_temp.err($$SET dumper.enabled = off$$);
RESET ROLE;
SET ROLE dumper_owner;
SELECT pg_temp.err($$SELECT dumper_register('owned', 'private_paths')$$);
RESET ROLE;

-- A paths function that raises aborts the write: nothing is dropped
-- silently.
CREATE FUNCTION raising_paths(icecream) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'no paths for %', $1.slug USING ERRCODE = 'data_exception';
END $$;
SELECT dumper_register('icecream', 'raising_paths');
SELECT pg_temp.err($$INSERT INTO icecream VALUES (1, 'vanilla')$$);
SELECT count(*) FROM icecream;
SELECT count(*) FROM dumper_pending;

-- A path over the length limit is an error, never a cut.
SELECT dumper_register('icecream');
SELECT pg_temp.err($$INSERT INTO icecream VALUES (1, repeat('x', 4096))$$);
SELECT pg_temp.err($$SELECT dumper_invalidate(repeat('y', 4097))$$);
-- The detail cuts a multibyte path at a character boundary (the database
-- is UTF8): 39 bytes of 'y' then 'é', 2 bytes, shown whole or not at all.
SELECT pg_temp.err($$SELECT dumper_invalidate(repeat('y', 39) || repeat('é', 3000))$$);
BEGIN;
SELECT dumper_invalidate(repeat('z', 4096));
SELECT octet_length(p) FROM dumper_transaction_paths() p;
ROLLBACK;
SELECT count(*) FROM icecream;

-- Invalid dumper.redis_url values are refused when set.
SELECT pg_temp.err($$SET dumper.redis_url = ''$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'http://127.0.0.1:6379'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'rediss://127.0.0.1:6379'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://127.0.0.1:0'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://127.0.0.1:65536'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://127.0.0.1:port'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://127.0.0.1:6379/db'$$);
SELECT pg_temp.err(format('SET dumper.redis_url = %L', 'redis://' || repeat('h', 300) || ':6379'));
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://[::1:6379'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix://relative/redis.sock'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix:///tmp/redis.sock?db=x'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'redis://user:pa%zzss@127.0.0.1'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix://user@host/redis.sock'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix://:a@/tmp/redis.sock?password=b'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix:///tmp/redis.sock?password=&password=b'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix:///tmp/redis.sock?password=%zz'$$);
SELECT pg_temp.err($$SET dumper.redis_url = 'unix:///tmp/redis.sock?user=x'$$);
-- Valid ones are accepted.
SET dumper.redis_url = 'redis://user:p%40ss@127.0.0.1:6380/2';
SET dumper.redis_url = 'redis://:secret@[::1]:6380';
SET dumper.redis_url = 'unix:///run/redis/redis.sock?db=3';
SET dumper.redis_url = 'unix://user:p%40ss@/run/redis/redis.sock?db=3';
SET dumper.redis_url = 'unix:///run/redis/redis.sock?db=3&password=p%40ss';
SET dumper.redis_url = 'unix:///run/redis/a@b.sock';
RESET dumper.redis_url;

-- Bad arguments of dumper_deliver.
SELECT pg_temp.err($$SELECT dumper_deliver(-1)$$);
-- It deletes what it delivers: not in a read-only transaction.
BEGIN READ ONLY;
SELECT pg_temp.err($$SELECT dumper_deliver()$$);
-- dumper_invalidate writes the queue (at commit): refused at once.
SELECT pg_temp.err($$SELECT dumper_invalidate('/read-only/')$$);
ROLLBACK;

-- Redis unreachable: a clear error, and every row stays queued.
SELECT dumper_invalidate('/kept/');
SET dumper.redis_url = 'redis://127.0.0.1:1/0';
SELECT pg_temp.err($$SELECT dumper_deliver()$$);
RESET dumper.redis_url;
SELECT path FROM dumper_pending;
-- An IPv6 zone index written as RFC 6874 has it ("%25lo") is decoded, and
-- the message names the server as it was dialled (whatever the reason the
-- connection fails on this machine).
SET dumper.redis_url = 'redis://[::1%25lo]:1/0';
SELECT substring(pg_temp.err($$SELECT dumper_deliver()$$) FROM 'at \[[^]]*\]:1');
SET dumper.redis_url = 'redis://[::1%lo]:1/0';
SELECT substring(pg_temp.err($$SELECT dumper_deliver()$$) FROM 'at \[[^]]*\]:1');
RESET dumper.redis_url;

-- A user's trigger with one of dumper's trigger names is neither taken for
-- dumper's nor dropped by it.
CREATE TABLE named (id int PRIMARY KEY, slug text);
CREATE FUNCTION named_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER dumper_row AFTER INSERT ON named FOR EACH ROW EXECUTE FUNCTION named_audit();
SELECT pg_temp.err($$SELECT dumper_register('named', templates => ARRAY['/named/{slug}/'])$$);
CREATE TABLE named_parted (id int, slug text) PARTITION BY RANGE (id);
CREATE TRIGGER dumper_truncate BEFORE TRUNCATE ON named_parted EXECUTE FUNCTION named_audit();
ALTER TABLE named_parted ADD COLUMN extra int;
SELECT tgrelid::regclass, tgname FROM pg_trigger
  WHERE tgrelid IN ('named'::regclass, 'named_parted'::regclass) ORDER BY 1, 2;
DROP TABLE named, named_parted;
DROP FUNCTION named_audit();

-- Inheritance children: neither registered through their parent, nor
-- added under a registered parent.
CREATE TABLE inh_parent (id int, slug text);
CREATE TABLE inh_child () INHERITS (inh_parent);
SELECT pg_temp.err($$SELECT dumper_register('inh_parent', templates => ARRAY['/p/{slug}/'])$$);
DROP TABLE inh_child;
SELECT dumper_register('inh_parent', templates => ARRAY['/p/{slug}/']);
SELECT pg_temp.err($$CREATE TABLE inh_child () INHERITS (inh_parent)$$);
DROP TABLE inh_parent;

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE icecream, owned, parted CASCADE;
DROP SEQUENCE icecream_seq;
DROP TYPE icecream_type;
DROP FOREIGN TABLE icecream_ft;
DROP SERVER dumper_test_server;
DROP FOREIGN DATA WRAPPER dumper_test_fdw;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
DROP ROLE dumper_stranger;
DROP ROLE dumper_owner;
