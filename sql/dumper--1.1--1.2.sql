-- dumper 1.1 -> 1.2: freshness you can trust.  dumper_wait() (read-your-
-- writes for the session that wrote), dumper_probe() (an end-to-end check
-- of the chain), and dumper_stats names the database the worker serves and
-- says whether one is configured for this database.

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

GRANT SELECT ON dumper_stats TO PUBLIC;

SELECT dumper.check_served('ALTER EXTENSION dumper UPDATE');
