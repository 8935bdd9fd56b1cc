-- dumper 1.2: invalidate cached web pages in Redis after committed writes.
--
-- User-facing objects carry the dumper_ prefix and live in the schema the
-- extension is created in; internal state lives in the schema "dumper",
-- which ordinary roles cannot use.  Built-ins are schema-qualified so that a
-- caller's search_path cannot change what this script means.

\echo Use "CREATE EXTENSION dumper" to load this file. \quit

CREATE SCHEMA dumper;
REVOKE ALL ON SCHEMA dumper FROM PUBLIC;

-- Registered tables: one row per table, with either a paths function or
-- path templates.  A configuration table: pg_dump keeps its rows.  The paths
-- function is kept by OID, which follows a rename, and by schema and name,
-- which a dump and pg_upgrade carry (they give functions new OIDs, and
-- pg_upgrade refuses a regprocedure column); its one argument is always
-- tbl's row type.  dumper.paths_function() tells which function it is.
CREATE TABLE dumper.registration (
    tbl pg_catalog.regclass NOT NULL,
    paths_schema pg_catalog.name,
    paths_name pg_catalog.name,
    paths_oid pg_catalog.oid,
    templates pg_catalog.text[],
    CONSTRAINT registration_one_source
        CHECK ((paths_oid IS NULL) <> (templates IS NULL)),
    CONSTRAINT registration_paths_named
        CHECK ((paths_oid IS NULL) = (paths_schema IS NULL)
               AND (paths_oid IS NULL) = (paths_name IS NULL))
);
CREATE UNIQUE INDEX registration_tbl ON dumper.registration ((tbl::pg_catalog.oid));
SELECT pg_catalog.pg_extension_config_dump('dumper.registration', '');

-- Join ("through") tables whose rows invalidate the rows they reference:
-- found automatically by dumper_register (pure join tables), or registered
-- explicitly with dumper_register_join.
CREATE TABLE dumper.join_table (
    tbl pg_catalog.regclass NOT NULL,
    explicit pg_catalog.bool NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX join_table_tbl ON dumper.join_table ((tbl::pg_catalog.oid));
SELECT pg_catalog.pg_extension_config_dump('dumper.join_table', '');

-- A row loaded into dumper.join_table for a table that has one already
-- merges with it (explicit when either is) rather than failing on the
-- unique index: a parallel pg_restore may load this table's rows after a
-- constraint's ALTER TABLE made dumper.sync_table cover a pure join table,
-- and the COPY must not fail and lose the other rows (an explicit join
-- table's among them).  It runs as whoever inserts (only the extension's
-- owner and superusers may), and updates only the row of the table being
-- inserted; dumper's own inserts (INSERT ... ON CONFLICT) merge the same.
CREATE FUNCTION dumper.join_table_merge()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE dumper.join_table AS j
       SET explicit = j.explicit OR NEW.explicit
     WHERE j.tbl::pg_catalog.oid OPERATOR(pg_catalog.=) NEW.tbl::pg_catalog.oid;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION dumper.join_table_merge() FROM PUBLIC;
CREATE TRIGGER join_table_merge BEFORE INSERT ON dumper.join_table
    FOR EACH ROW EXECUTE FUNCTION dumper.join_table_merge();

-- The durable queue: one row per committed transaction (or per chunk of its
-- paths), written directly into the heap at pre-commit, so it commits or
-- vanishes with the transaction and is WAL-logged like any table.  Rows are
-- deleted once Redis acknowledged them.  PLAIN storage: the writer keeps
-- every row under the page size, so nothing is ever TOASTed.
CREATE TABLE dumper.queue (
    xid pg_catalog.xid8 NOT NULL,
    enqueued_at pg_catalog.timestamptz NOT NULL,
    paths pg_catalog.text[] NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 10000,
        autovacuum_vacuum_insert_scale_factor = 0,
        autovacuum_vacuum_insert_threshold = 10000);
ALTER TABLE dumper.queue ALTER COLUMN paths SET STORAGE PLAIN;

-- Rows written before their transaction's commit: the paths a transaction
-- spills past dumper.work_mem, and a prepared transaction's (written at
-- PREPARE, committed by COMMIT PREPARED).  Such a transaction holds its lock
-- on the table it wrote until it ends, however long it stays open, so
-- these rows stay out of dumper.queue, whose rotation needs its lock free
-- for a moment.  Few transactions write here: autovacuum keeps it small.
CREATE TABLE dumper.spill_queue (
    xid pg_catalog.xid8 NOT NULL,
    enqueued_at pg_catalog.timestamptz NOT NULL,
    paths pg_catalog.text[] NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 100,
        autovacuum_vacuum_insert_scale_factor = 0,
        autovacuum_vacuum_insert_threshold = 100);
ALTER TABLE dumper.spill_queue ALTER COLUMN paths SET STORAGE PLAIN;

-- The paths function a registration names: by schema and name with the
-- table's row type as argument, else by OID; NULL when neither exists.
CREATE FUNCTION dumper.paths_function(pg_catalog.regclass, pg_catalog.name,
                                      pg_catalog.name, pg_catalog.oid)
RETURNS pg_catalog.regprocedure
AS 'MODULE_PATHNAME', 'dumper_paths_function'
LANGUAGE C STABLE;

-- The row trigger of every registered table.
CREATE FUNCTION dumper.trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'dumper_trigger'
LANGUAGE C;

-- The row trigger of join tables.
CREATE FUNCTION dumper.join_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'dumper_join_trigger'
LANGUAGE C;

-- The BEFORE TRUNCATE trigger of registered tables, their partitions and
-- join tables.
CREATE FUNCTION dumper.truncate_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'dumper_truncate_trigger'
LANGUAGE C;

CREATE FUNCTION dumper_register(tbl pg_catalog.regclass,
                                paths pg_catalog.regproc DEFAULT NULL,
                                templates pg_catalog.text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_register'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION dumper_register(pg_catalog.regclass, pg_catalog.regproc, pg_catalog.text[]) IS
'register a table whose committed writes invalidate the paths its function returns';

CREATE FUNCTION dumper_unregister(tbl pg_catalog.regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_unregister'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_unregister(pg_catalog.regclass) IS
'remove a table''s registration and its trigger';

CREATE FUNCTION dumper_register_join(tbl pg_catalog.regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_register_join'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_register_join(pg_catalog.regclass) IS
'treat a through table with extra columns as a join table';

CREATE FUNCTION dumper_invalidate(VARIADIC paths pg_catalog.text[])
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_invalidate'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_invalidate(pg_catalog.text[]) IS
'add paths to the current transaction''s invalidations';

CREATE FUNCTION dumper_transaction_paths()
RETURNS SETOF pg_catalog.text
AS 'MODULE_PATHNAME', 'dumper_transaction_paths'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_transaction_paths() IS
'paths gathered by the current transaction, not yet committed';

CREATE FUNCTION dumper_deliver(max_paths pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'dumper_deliver'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION dumper_deliver(pg_catalog.int4) IS
'deliver committed, pending invalidations to Redis from this session';

-- What the queue holds, read without keeping a lock on it (a reader idle
-- in a transaction must not stop the queue's rotation), the paths shown
-- only to superusers and members of pg_read_all_stats.
CREATE FUNCTION dumper.pending_paths(OUT path pg_catalog.text,
                                     OUT enqueued_at pg_catalog.timestamptz,
                                     OUT transaction_id pg_catalog.xid8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'dumper_pending_paths'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION dumper.pending_summary(OUT pending_rows pg_catalog.int8,
                                       OUT oldest_pending_age pg_catalog.interval)
RETURNS record
AS 'MODULE_PATHNAME', 'dumper_pending_summary'
LANGUAGE C STRICT VOLATILE;

-- Committed invalidations not yet delivered, one row per path.
CREATE VIEW dumper_pending AS
    SELECT p.path, p.enqueued_at, p.transaction_id
    FROM dumper.pending_paths() AS p;

-- Whether the join triggers of a join table run a registered table's paths
-- function.
CREATE FUNCTION dumper.join_covers(pg_catalog.regclass, pg_catalog.regclass)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'dumper_join_covers'
LANGUAGE C STRICT STABLE;

-- Registered tables with their source of paths and their triggers: those a
-- role owns or has a privilege on (as information_schema shows tables),
-- every one to superusers and members of pg_read_all_stats.
CREATE VIEW dumper_registrations AS
    SELECT r.tbl AS table_name,
           dumper.paths_function(r.tbl, r.paths_schema, r.paths_name, r.paths_oid)
               AS paths_function,
           r.templates,
           ARRAY(
               SELECT j.tbl
               FROM dumper.join_table AS j
               WHERE EXISTS (
                   SELECT FROM pg_catalog.pg_constraint AS c
                   WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                     AND c.conrelid OPERATOR(pg_catalog.=) j.tbl
                     AND c.confrelid OPERATOR(pg_catalog.=) r.tbl)
                 AND dumper.join_covers(j.tbl, r.tbl)
               ORDER BY j.tbl::pg_catalog.text) AS join_tables,
           ARRAY(
               SELECT t.tgname::pg_catalog.text
               FROM pg_catalog.pg_trigger AS t
               WHERE t.tgrelid OPERATOR(pg_catalog.=) r.tbl
                 AND t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY[
                     'dumper.trigger()'::pg_catalog.regprocedure,
                     'dumper.truncate_trigger()'::pg_catalog.regprocedure])
               ORDER BY t.tgname) AS triggers
    FROM dumper.registration AS r
    WHERE pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
       OR pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class AS c
                                  WHERE c.oid OPERATOR(pg_catalog.=) r.tbl), 'USAGE')
       OR pg_catalog.has_table_privilege(r.tbl,
              'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
       OR pg_catalog.has_any_column_privilege(r.tbl, 'SELECT, INSERT, UPDATE, REFERENCES');

-- Schema life.  New partitions of registered tables and new pure join
-- tables get their triggers; registrations of dropped tables and dropped
-- paths functions go away; a change that leaves a path template naming a
-- missing column fails; DROP EXTENSION first drops every dumper trigger.
CREATE FUNCTION dumper.sync_table(pg_catalog.oid)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_sync_table'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION dumper.sync_table(pg_catalog.oid) FROM PUBLIC;

CREATE FUNCTION dumper.sync_trigger(pg_catalog.oid)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_sync_trigger'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION dumper.sync_trigger(pg_catalog.oid) FROM PUBLIC;

CREATE FUNCTION dumper.check_templates(pg_catalog.oid)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_check_templates'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION dumper.check_templates(pg_catalog.oid) FROM PUBLIC;

CREATE FUNCTION dumper.sync_registrations()
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_sync_registrations_sql'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION dumper.sync_registrations() FROM PUBLIC;

CREATE FUNCTION dumper.on_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands()
               WHERE object_type IN ('table', 'table column')
    LOOP
        PERFORM dumper.sync_table(cmd.objid);
    END LOOP;
    FOR cmd IN SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands()
               WHERE object_type = 'trigger'
    LOOP
        PERFORM dumper.sync_trigger(cmd.objid);
    END LOOP;
    FOR cmd IN SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands()
               WHERE object_type IN ('table', 'table column', 'type', 'composite type',
                                     'composite type column')
    LOOP
        PERFORM dumper.check_templates(cmd.objid);
    END LOOP;
    -- A paths function renamed or moved to another schema (by itself, with
    -- its schema or with its extension), or given a new OID by a restore or
    -- pg_upgrade.
    PERFORM dumper.sync_registrations();
END $$;
CREATE EVENT TRIGGER dumper_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TRIGGER', 'ALTER TYPE',
                 'ALTER FUNCTION', 'ALTER ROUTINE', 'ALTER SCHEMA', 'ALTER EXTENSION')
    EXECUTE FUNCTION dumper.on_ddl_end();

CREATE FUNCTION dumper.on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    obj record;
BEGIN
    DELETE FROM dumper.registration AS r
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = r.tbl)
       OR (r.paths_oid IS NOT NULL
           AND dumper.paths_function(r.tbl, r.paths_schema, r.paths_name,
                                     r.paths_oid) IS NULL);
    DELETE FROM dumper.join_table AS j
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = j.tbl);
    -- A dropped column, also one a dropped domain or type took with it.
    FOR obj IN SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_dropped_objects()
               WHERE object_type = 'table column'
    LOOP
        PERFORM dumper.check_templates(obj.objid);
    END LOOP;
END $$;
CREATE EVENT TRIGGER dumper_sql_drop ON sql_drop
    EXECUTE FUNCTION dumper.on_sql_drop();

CREATE FUNCTION dumper.on_ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'dumper_on_ddl_start'
LANGUAGE C;
CREATE EVENT TRIGGER dumper_ddl_start ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP FUNCTION', 'DROP ROUTINE', 'DROP SCHEMA',
                 'DROP OWNED', 'ALTER TABLE', 'DROP TABLE', 'CREATE TRIGGER')
    EXECUTE FUNCTION dumper.on_ddl_start();

-- Delivery statistics kept in shared memory (with shared_preload_libraries).
CREATE FUNCTION dumper.stats(OUT worker_pid pg_catalog.int4,
                             OUT connection pg_catalog.text,
                             OUT paths_delivered pg_catalog.int8,
                             OUT batches_delivered pg_catalog.int8,
                             OUT failures pg_catalog.int8,
                             OUT last_error pg_catalog.text,
                             OUT last_error_at pg_catalog.timestamptz,
                             OUT last_delivery_at pg_catalog.timestamptz,
                             OUT worker_database pg_catalog.name,
                             OUT serves_this_database pg_catalog.bool)
RETURNS record
AS 'MODULE_PATHNAME', 'dumper_stats'
LANGUAGE C STRICT VOLATILE;

-- Delivery state: the worker, its Redis connection, counters since server
-- start, the age of the oldest pending invalidation, the database the
-- running worker serves and whether a worker is configured for this one.
CREATE VIEW dumper_stats AS
    SELECT s.worker_pid, s.connection, s.paths_delivered, s.batches_delivered,
           s.failures, s.last_error, s.last_error_at, s.last_delivery_at,
           q.pending_rows, q.oldest_pending_age,
           s.worker_database, s.serves_this_database
    FROM dumper.stats() AS s, dumper.pending_summary() AS q;

-- Read-your-writes: wait until this session's committed invalidations are
-- delivered.
CREATE FUNCTION dumper_wait(timeout_ms pg_catalog.int4 DEFAULT 2000)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'dumper_wait'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_wait(pg_catalog.int4) IS
'wait until the invalidations of this session''s commits are delivered';

-- An end-to-end check: invalidate a fresh '@probe:' path, which no page has.
CREATE FUNCTION dumper_probe()
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'dumper_probe'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_probe() IS
'invalidate a fresh probe path in this transaction and return it';

-- The warning of CREATE EXTENSION when no worker serves this database.
CREATE FUNCTION dumper.check_served(pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'dumper_check_served'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION dumper.check_served(pg_catalog.text) FROM PUBLIC;

-- The paths a write of a row would invalidate, computed without writing it
-- (preview.c): the paths function runs as the caller, who needs SELECT on
-- the row's table.
CREATE FUNCTION dumper_paths_of(row_value pg_catalog.anyelement)
RETURNS SETOF pg_catalog.text
AS 'MODULE_PATHNAME', 'dumper_paths_of'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION dumper_paths_of(pg_catalog.anyelement) IS
'the paths a write of this row of a registered table would invalidate, without writing it';

-- What the views and their columns mean, with their units, for \d+ and
-- every tool that reads pg_description.
COMMENT ON VIEW dumper_pending IS
'committed invalidations not yet delivered to Redis: one row per path (a transaction that queued n paths shows n rows)';
COMMENT ON COLUMN dumper_pending.path IS
'the path whose key is to be deleted; NULL unless the reader is a superuser or a member of pg_read_all_stats';
COMMENT ON COLUMN dumper_pending.enqueued_at IS
'when the path was queued: at its transaction''s pre-commit, or when the transaction spilled it past dumper.work_mem';
COMMENT ON COLUMN dumper_pending.transaction_id IS
'the transaction that queued the path';

COMMENT ON VIEW dumper_registrations IS
'registered tables, with their source of paths and their triggers: those the reader owns or has a privilege on, every one to superusers and members of pg_read_all_stats';
COMMENT ON COLUMN dumper_registrations.table_name IS
'the registered table';
COMMENT ON COLUMN dumper_registrations.paths_function IS
'the function returning the paths of a row; NULL when the table is registered with templates';
COMMENT ON COLUMN dumper_registrations.templates IS
'the path templates filled from a row''s columns; NULL when the table is registered with a paths function';
COMMENT ON COLUMN dumper_registrations.join_tables IS
'the join tables whose writes invalidate the paths of the rows of this table they reference';
COMMENT ON COLUMN dumper_registrations.triggers IS
'the names of dumper''s triggers on the table';

COMMENT ON VIEW dumper_stats IS
'delivery state: the worker, its Redis connection, counters since server start (needs shared_preload_libraries), and the queue';
COMMENT ON COLUMN dumper_stats.worker_pid IS
'the process ID of the background worker; NULL when none runs';
COMMENT ON COLUMN dumper_stats.connection IS
'the worker''s Redis connection: connected, disconnected, backing off or no worker';
COMMENT ON COLUMN dumper_stats.paths_delivered IS
'paths whose deletion Redis acknowledged, since server start (a path counts again when sent again)';
COMMENT ON COLUMN dumper_stats.batches_delivered IS
'batches of paths (up to dumper.batch_size each) Redis acknowledged, since server start';
COMMENT ON COLUMN dumper_stats.failures IS
'failed delivery attempts (Redis refused, timed out or answered an error), since server start';
COMMENT ON COLUMN dumper_stats.last_error IS
'the last delivery error; NULL unless the reader is a superuser or a member of pg_read_all_stats';
COMMENT ON COLUMN dumper_stats.last_error_at IS
'when the last delivery error happened; NULL if none since server start';
COMMENT ON COLUMN dumper_stats.last_delivery_at IS
'when Redis last acknowledged a batch; NULL if none since server start';
COMMENT ON COLUMN dumper_stats.pending_rows IS
'queue rows waiting for delivery: one per committed transaction (or per chunk of one with many paths), not one per path as in dumper_pending';
COMMENT ON COLUMN dumper_stats.oldest_pending_age IS
'how long the oldest queue row has waited; NULL when nothing waits';
COMMENT ON COLUMN dumper_stats.worker_database IS
'the database the running worker serves; NULL when none runs';
COMMENT ON COLUMN dumper_stats.serves_this_database IS
'whether dumper is preloaded and dumper.database names this database';

-- Manual invalidation and delivery are granted explicitly.
REVOKE ALL ON FUNCTION dumper_invalidate(pg_catalog.text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION dumper_deliver(pg_catalog.int4) FROM PUBLIC;
GRANT SELECT ON dumper_pending, dumper_registrations, dumper_stats TO PUBLIC;

SELECT dumper.check_served('CREATE EXTENSION dumper');
