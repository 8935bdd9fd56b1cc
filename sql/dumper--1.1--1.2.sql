-- dumper 1.1 -> 1.2: freshness you can trust.  dumper_wait() (read-your-
-- writes for the session that wrote), dumper_probe() (an end-to-end check
-- of the chain), dumper_stats names the database the worker serves and
-- says whether one is configured for this database, dumper_paths_of()
-- shows the paths of a row before any write, and the views and their
-- columns carry comments.

\echo Use "ALTER EXTENSION dumper UPDATE TO '1.2'" to load this file. \quit

DROP VIEW dumper_stats;
DROP FUNCTION dumper.stats();

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

GRANT SELECT ON dumper_stats TO PUBLIC;

SELECT dumper.check_served('ALTER EXTENSION dumper UPDATE');
