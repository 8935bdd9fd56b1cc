-- dumper 1.0 -> 1.1: spilled and prepared transactions' paths go to a queue
-- of their own (dumper.spill_queue), so that no open transaction holds the
-- rotated queue's lock; the views read the queues without keeping a lock on
-- them and show paths, the last error and registrations only to roles that
-- may see them; a join table's sides follow the ownership rule; CREATE
-- TRIGGER at ddl_command_start (a restored trigger replaces the one dumper
-- made); a row loaded into dumper.join_table for a table that has one
-- merges with it (a restore may load them after dumper made that row).

\echo Use "ALTER EXTENSION dumper UPDATE TO '1.1'" to load this file. \quit

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

CREATE OR REPLACE VIEW dumper_pending AS
    SELECT p.path, p.enqueued_at, p.transaction_id
    FROM dumper.pending_paths() AS p;

CREATE FUNCTION dumper.join_covers(pg_catalog.regclass, pg_catalog.regclass)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'dumper_join_covers'
LANGUAGE C STRICT STABLE;

CREATE OR REPLACE VIEW dumper_registrations AS
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

CREATE OR REPLACE VIEW dumper_stats AS
    SELECT s.*, q.pending_rows, q.oldest_pending_age
    FROM dumper.stats() AS s, dumper.pending_summary() AS q;

DROP EVENT TRIGGER dumper_ddl_start;
CREATE EVENT TRIGGER dumper_ddl_start ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP FUNCTION', 'DROP ROUTINE', 'DROP SCHEMA',
                 'DROP OWNED', 'ALTER TABLE', 'DROP TABLE', 'CREATE TRIGGER')
    EXECUTE FUNCTION dumper.on_ddl_start();

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
