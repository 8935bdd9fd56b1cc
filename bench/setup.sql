-- bench/setup.sql: the benchmark database of bench/run.sh.
--
-- One table per workload, all shaped like the README's icecream (id, slug,
-- price), so every variant produces the same two paths per row,
-- '/icecream/<slug>/' and '/icecreams/'.  Autovacuum is off on them: the
-- suite vacuums before each timed run, so no variant meets a vacuum by
-- chance.  (dumper.queue keeps its own settings: it is part of what is
-- measured.)
--
-- Variants, installed by bench_use(table, variant):
--   none       no trigger at all (the baseline)
--   sql        dumper with the SQL paths function dependent_paths(<row>)
--   sqlexpr    dumper with a SQL paths function that does not run as
--              templates (lower() of the slug): what an ordinary function
--              costs (icecream only; the instructions phase measures it)
--   templates  dumper with C path templates
--   notify     hand-written PL/pgSQL row trigger, pg_notify per path
--   queue      hand-written PL/pgSQL row trigger, one INSERT per path into
--              a queue table (bench_path_queue, which nothing consumes)
--   noop       a PL/pgSQL AFTER ROW trigger that does nothing (what any
--              AFTER ROW trigger costs, e.g. PostgreSQL's event queue)
--   cnoop      a C AFTER ROW trigger that does nothing (bench/noop): the
--              floor of any row-trigger design, dumper's included
--   paused     templates again; bench/pgbench.sh stops dumper's worker for
--              the run (SIGSTOP): what the writers alone pay

CREATE EXTENSION dumper;

CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price int NOT NULL)
    WITH (autovacuum_enabled = off);
CREATE TABLE icecream_ins (LIKE icecream INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE TABLE icecream_del (LIKE icecream INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE TABLE icecream_bulk (LIKE icecream INCLUDING ALL) WITH (autovacuum_enabled = off);
-- tag: the UPDATE's clock_timestamp() in microseconds, for latency paths.
CREATE TABLE icecream_lat (LIKE icecream INCLUDING ALL, tag bigint)
    WITH (autovacuum_enabled = off);

INSERT INTO icecream SELECT g, 'flavour-' || g, 1 FROM generate_series(1, 100000) g;
INSERT INTO icecream_lat SELECT g, 'flavour-' || g, 1 FROM generate_series(1, 100000) g;
INSERT INTO icecream_bulk SELECT g, 'flavour-' || g, 1 FROM generate_series(1, 1000000) g;

-- The paths functions dumper_register finds by overloading, one per row type.
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
CREATE FUNCTION dependent_paths(icecream_ins) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
CREATE FUNCTION dependent_paths(icecream_del) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
CREATE FUNCTION dependent_paths(icecream_bulk) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;

-- Variant sqlexpr's function: one call per row version (not templates).
CREATE FUNCTION dependent_paths_lower(icecream) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/icecream/' || lower($1.slug) || '/', '/icecreams/'] $$;

-- The queue of the "queue" peer: what a hand-written trigger would write.
CREATE TABLE bench_path_queue (
    id bigserial PRIMARY KEY,
    path text NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);

-- Peer 1: pg_notify per path (not durable: NOTIFY is lost if no listener).
-- Both peers invalidate what dumper does: the new row's paths, and for
-- UPDATE and DELETE the old row's, each distinct path once per row.
CREATE FUNCTION bench_notify_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paths text[];
    p text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        paths := dependent_paths(OLD);
    ELSE
        paths := dependent_paths(NEW);
        IF TG_OP = 'UPDATE' THEN
            FOREACH p IN ARRAY dependent_paths(OLD) LOOP
                IF NOT p = ANY (paths) THEN paths := paths || p; END IF;
            END LOOP;
        END IF;
    END IF;
    FOREACH p IN ARRAY paths LOOP
        PERFORM pg_notify('dumper', p);
    END LOOP;
    RETURN NULL;
END $$;

-- Peer 2: one queue-table INSERT per path (durable; delivery not counted).
CREATE FUNCTION bench_queue_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paths text[];
    p text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        paths := dependent_paths(OLD);
    ELSE
        paths := dependent_paths(NEW);
        IF TG_OP = 'UPDATE' THEN
            FOREACH p IN ARRAY dependent_paths(OLD) LOOP
                IF NOT p = ANY (paths) THEN paths := paths || p; END IF;
            END LOOP;
        END IF;
    END IF;
    FOREACH p IN ARRAY paths LOOP
        INSERT INTO bench_path_queue (path) VALUES (p);
    END LOOP;
    RETURN NULL;
END $$;

-- The no-op AFTER ROW trigger.
CREATE FUNCTION bench_noop_trigger() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN NULL; END $$;

-- The no-op C AFTER ROW trigger (bench/noop, installed by bench_start).
CREATE FUNCTION bench_c_noop_trigger() RETURNS trigger LANGUAGE c
    AS 'bench_noop', 'bench_noop_trigger';

-- Remove every variant from a table, then install one (see the header).
CREATE FUNCTION bench_use(p_tbl regclass, p_variant text,
                          p_templates text[] DEFAULT ARRAY['/icecream/{slug}/', '/icecreams/'])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM dumper_registrations r WHERE r.table_name = p_tbl) THEN
        PERFORM dumper_unregister(p_tbl);
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS bench_notify ON %s', p_tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS bench_queue ON %s', p_tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS bench_noop ON %s', p_tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS bench_cnoop ON %s', p_tbl);
    CASE p_variant
    WHEN 'none' THEN
        NULL;
    WHEN 'sql' THEN
        PERFORM dumper_register(p_tbl);
    WHEN 'sqlexpr' THEN
        PERFORM dumper_register(p_tbl, paths => 'dependent_paths_lower'::regproc);
    WHEN 'templates', 'paused' THEN
        PERFORM dumper_register(p_tbl, templates => p_templates);
    WHEN 'notify' THEN
        EXECUTE format('CREATE TRIGGER bench_notify AFTER INSERT OR UPDATE OR DELETE ON %s
                        FOR EACH ROW EXECUTE FUNCTION bench_notify_trigger()', p_tbl);
    WHEN 'queue' THEN
        EXECUTE format('CREATE TRIGGER bench_queue AFTER INSERT OR UPDATE OR DELETE ON %s
                        FOR EACH ROW EXECUTE FUNCTION bench_queue_trigger()', p_tbl);
    WHEN 'cnoop' THEN
        EXECUTE format('CREATE TRIGGER bench_cnoop AFTER INSERT OR UPDATE OR DELETE ON %s
                        FOR EACH ROW EXECUTE FUNCTION bench_c_noop_trigger()', p_tbl);
    WHEN 'noop' THEN
        EXECUTE format('CREATE TRIGGER bench_noop AFTER INSERT OR UPDATE OR DELETE ON %s
                        FOR EACH ROW EXECUTE FUNCTION bench_noop_trigger()', p_tbl);
    END CASE;
END $$;

VACUUM ANALYZE;
