-- Safe in a shared database: a user's search_path cannot hijack what
-- dumper runs; roles that are not superusers write, register and deliver
-- within their privileges; a paths function returning 100,000 paths works.
CREATE EXTENSION dumper;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A schema whose operators and functions shadow pg_catalog's for anyone
-- who puts it first, each one raising.
CREATE SCHEMA evil;
CREATE FUNCTION evil.trap_tt(text, text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: text = text'; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_tt);
CREATE FUNCTION evil.trap_oo(oid, oid) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: oid = oid'; END $$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.trap_oo);
CREATE FUNCTION evil.trap_ii(int, int) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: int = int'; END $$;
CREATE OPERATOR evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.trap_ii);
CREATE FUNCTION evil.trap_cat(text, text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: text || text'; END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_cat);
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF text LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: unnest'; END $$;
CREATE FUNCTION evil.min(anyelement) RETURNS anyelement LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hijacked: min'; END $$;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

-- An ordinary role owns the tables and registers them.
CREATE ROLE dumper_app;
CREATE ROLE dumper_writer;
GRANT CREATE ON SCHEMA public TO dumper_app;
SET ROLE dumper_app;
CREATE TABLE public.icecream (id int PRIMARY KEY, slug text);
CREATE TABLE public.size (id int PRIMARY KEY, name text);
CREATE TABLE public.icecream_sizes (
    icecream_id int REFERENCES public.icecream ON DELETE CASCADE,
    size_id int REFERENCES public.size ON DELETE CASCADE,
    PRIMARY KEY (icecream_id, size_id));
CREATE FUNCTION public.size_paths(public.size) RETURNS text[] LANGUAGE sql STABLE
    SET search_path = pg_catalog
    AS $$ SELECT ARRAY['/size/' || $1.name || '/'] $$;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON public.icecream, public.size, public.icecream_sizes TO dumper_writer;

-- Everything below runs with the hijacking schema first.
SET search_path = evil, pg_catalog, public;
SELECT dumper_register('public.icecream', templates => ARRAY['/icecream/{slug}/', '/icecreams/']);
SELECT dumper_register('public.size', 'public.size_paths');
SELECT table_name, paths_function, templates, join_tables FROM dumper_registrations ORDER BY 1;
RESET ROLE;

-- A role that is neither owner nor superuser writes: its writes invalidate.
-- (Its own statements name pg_catalog's operator: evil's would trap them.)
SET ROLE dumper_writer;
SET search_path = evil, pg_catalog, public;
INSERT INTO public.icecream VALUES (1, 'vanilla'), (2, 'mint');
INSERT INTO public.size VALUES (1, 'small');
INSERT INTO public.icecream_sizes VALUES (1, 1);
UPDATE public.icecream SET slug = 'vanilla-bean' WHERE id OPERATOR(pg_catalog.=) 1;
BEGIN;
TRUNCATE public.icecream_sizes;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
TRUNCATE public.icecream CASCADE;
RESET ROLE;
SET search_path = evil, pg_catalog, public;
SELECT path FROM dumper_pending ORDER BY path;
SELECT pending_rows > 0 AS has_rows, oldest_pending_age IS NOT NULL AS has_age FROM dumper_stats;

-- Delivery may be granted to an operator role (PUBLIC has no EXECUTE).
SET ROLE dumper_writer;
DO $$ BEGIN PERFORM dumper_deliver(); EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'no EXECUTE on dumper_deliver'; END $$;
RESET ROLE;
SET ROLE dumper_writer;
RESET ROLE;
GRANT EXECUTE ON FUNCTION dumper_deliver(int) TO dumper_writer;
SET ROLE dumper_writer;
SET search_path = evil, pg_catalog, public;
SELECT dumper_deliver() > 0 AS delivered;
RESET ROLE;
SET search_path = evil, pg_catalog, public;
SELECT count(*) FROM dumper_pending;

-- EXECUTE on the paths function is checked for each role that writes, also
-- after another role's write compiled the function in this session.
SET search_path = pg_catalog, public;
REVOKE EXECUTE ON FUNCTION public.size_paths(public.size) FROM PUBLIC;
BEGIN;
SET LOCAL ROLE dumper_app;
UPDATE public.size SET name = 'tiny' WHERE id = 1;
SET LOCAL ROLE dumper_writer;
UPDATE public.size SET name = 'small' WHERE id = 1;
ROLLBACK;
GRANT EXECUTE ON FUNCTION public.size_paths(public.size) TO dumper_writer;
BEGIN;
SET LOCAL ROLE dumper_writer;
UPDATE public.size SET name = 'tiny' WHERE id = 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
GRANT EXECUTE ON FUNCTION public.size_paths(public.size) TO PUBLIC;
REVOKE EXECUTE ON FUNCTION public.size_paths(public.size) FROM dumper_writer;
SET search_path = evil, pg_catalog, public;

-- Unregistering under the same search_path.
SET ROLE dumper_app;
SELECT dumper_unregister('public.size');
RESET ROLE;
RESET search_path;

-- A paths function in a schema the writer cannot use: called by OID, as
-- PostgreSQL calls a trigger's function, it needs EXECUTE only.  A fresh
-- session of the writer finds it (by schema and name, without USAGE on
-- the schema), and the writer can read the registration.
CREATE SCHEMA private_paths;
CREATE TABLE public.cone (id int PRIMARY KEY, name text);
GRANT SELECT, INSERT, UPDATE ON public.cone TO dumper_writer;
CREATE FUNCTION private_paths.cone_paths(public.cone) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/cone/' || $1.name || '/' $$;
SELECT dumper_register('public.cone', 'private_paths.cone_paths');
\c
SET ROLE dumper_writer;
SELECT has_schema_privilege('private_paths', 'USAGE');
BEGIN;
INSERT INTO public.cone VALUES (1, 'waffle');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT table_name, paths_function FROM dumper_registrations
 WHERE table_name = 'public.cone'::regclass;
RESET ROLE;
SELECT dumper_unregister('public.cone');
DROP SCHEMA private_paths CASCADE;
DROP TABLE public.cone;

-- A paths function returning 100,000 paths: all queued, in rows that fit
-- a heap page each.
CREATE TABLE big (id int PRIMARY KEY);
CREATE FUNCTION big_paths(big) RETURNS SETOF text LANGUAGE sql
    AS $$ SELECT '/big/' || $1.id || '/' || g FROM generate_series(1, 100000) g $$;
SELECT dumper_register('big', 'big_paths');
INSERT INTO big VALUES (1);
SELECT dumper_unregister('big');
SELECT count(*), count(DISTINCT path) FROM dumper_pending;
SELECT count(*) > 1 AS several_rows, max(pg_column_size(paths)) < 8160 AS each_fits
  FROM dumper.queue;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Row-level security: TRUNCATE removes the rows a policy hides from the
-- truncating role, so dumper, reading as that role, would miss their
-- paths: such a TRUNCATE is refused (42501), of the registered table and of
-- its join table.  The owner and a BYPASSRLS role truncate as usual.  Join
-- rows written under a policy look up what the writer sees (docs/invalidation.md).
RESET search_path;
SET ROLE dumper_app;
CREATE TABLE public.shop (id int PRIMARY KEY, slug text, tenant name);
CREATE TABLE public.shop_tags (shop_id int REFERENCES public.shop, tag text,
    PRIMARY KEY (shop_id, tag));
ALTER TABLE public.shop ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_shops ON public.shop USING (tenant = current_user);
GRANT SELECT, INSERT, DELETE, TRUNCATE ON public.shop, public.shop_tags TO dumper_writer;
SELECT dumper_register('public.shop', templates => ARRAY['/shop/{slug}/']);
INSERT INTO public.shop VALUES (1, 'mine', 'dumper_writer'), (2, 'theirs', 'someone_else');
INSERT INTO public.shop_tags VALUES (2, 'owner-wrote');
RESET ROLE;
SET ROLE dumper_writer;
BEGIN;
INSERT INTO public.shop_tags VALUES (1, 'mine');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
TRUNCATE public.shop_tags;
TRUNCATE public.shop CASCADE;
SELECT count(*) AS tags_left FROM public.shop_tags;
RESET ROLE;
ALTER ROLE dumper_writer BYPASSRLS;
SET ROLE dumper_writer;
BEGIN;
TRUNCATE public.shop_tags;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET ROLE;
ALTER ROLE dumper_writer NOBYPASSRLS;
SET ROLE dumper_app;
BEGIN;
TRUNCATE public.shop CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT dumper_unregister('public.shop');
DROP TABLE public.shop_tags, public.shop;
RESET ROLE;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Clean up.
DROP FUNCTION big_paths(big);
DROP TABLE big;
SELECT dumper_unregister('public.icecream');
DROP SCHEMA evil CASCADE;
DROP FUNCTION public.size_paths(public.size);
DROP TABLE public.icecream_sizes, public.icecream, public.size;
REVOKE CREATE ON SCHEMA public FROM dumper_app;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
DROP ROLE dumper_app;
DROP ROLE dumper_writer;
