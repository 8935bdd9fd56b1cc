-- A transaction's gathered paths are bounded by dumper.work_mem: past it
-- they are spilled to the spill queue as part of the (sub)transaction, and
-- follow its commit or rollback like any row.  The spilled rows go to
-- dumper.spill_queue, never to dumper.queue, whose lock an open
-- transaction must not hold (the worker rotates that table).
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/', '/icecreams/']);
INSERT INTO icecream SELECT g, 'f' || g, 1 FROM generate_series(1, 20000) g;
TRUNCATE dumper.queue, dumper.spill_queue;
SET dumper.work_mem = '64kB';

-- The in-memory set stays small; every path is queued at commit.
BEGIN;
UPDATE icecream SET price = price + 1;
SELECT count(*) < 20001 AS spilled FROM dumper_transaction_paths();
SELECT count(*) AS locks_on_queue FROM pg_locks
 WHERE relation = 'dumper.queue'::regclass AND pid = pg_backend_pid();
SELECT (SELECT count(*) FROM dumper.spill_queue) > 0 AS in_spill_queue,
       (SELECT count(*) FROM dumper.queue) = 0 AS not_in_queue;
SELECT sum(total_bytes) <= 256 * 1024 AS bounded
  FROM pg_backend_memory_contexts WHERE name = 'dumper paths';
COMMIT;
-- ("/icecreams/" is queued again after each spill.)
SELECT count(*) >= 20001 AS queued, count(DISTINCT path) AS distinct_paths FROM dumper_pending;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Nothing of a rolled-back transaction is queued, spilled or not.
BEGIN;
UPDATE icecream SET price = price + 1;
ROLLBACK;
SELECT count(*) FROM dumper_pending;

-- A rolled-back savepoint takes its spilled paths with it; the enclosing
-- transaction's paths, spilled or in memory, stay.
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/keep/' || g)) FROM generate_series(1, 5000) g;
SAVEPOINT s;
SELECT dumper_invalidate(VARIADIC array_agg('/drop/' || g)) FROM generate_series(1, 20000) g;
ROLLBACK TO SAVEPOINT s;
SELECT dumper_invalidate('/after/');
COMMIT;
SELECT split_part(path, '/', 2) AS kind, count(*) FROM dumper_pending GROUP BY 1 ORDER BY 1;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A released savepoint's spilled paths commit with the transaction.
BEGIN;
SAVEPOINT a;
SELECT dumper_invalidate(VARIADIC array_agg('/sub/' || g)) FROM generate_series(1, 20000) g;
SAVEPOINT b;
SELECT dumper_invalidate(VARIADIC array_agg('/subsub/' || g)) FROM generate_series(1, 20000) g;
RELEASE SAVEPOINT b;
RELEASE SAVEPOINT a;
COMMIT;
SELECT split_part(path, '/', 2) AS kind, count(*) FROM dumper_pending GROUP BY 1 ORDER BY 1;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A duplicate of a spilled path may be queued again; delivery sends each
-- distinct path once per batch.
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/dup/' || g)) FROM generate_series(1, 20000) g;
SELECT dumper_invalidate(VARIADIC array_agg('/dup/' || g)) FROM generate_series(1, 20000) g;
COMMIT;
SELECT count(*) >= 20000 AS queued, count(DISTINCT path) AS distinct_paths FROM dumper_pending;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Two-phase commit: spilled paths wait for COMMIT PREPARED.
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/prepared/' || g)) FROM generate_series(1, 20000) g;
PREPARE TRANSACTION 'spill1';
SELECT count(*) FROM dumper_pending;
-- A prepared transaction's rows are in the spill queue too: it holds no
-- lock on dumper.queue (a prepared transaction's locks have no pid).
SELECT count(*) FILTER (WHERE relation = 'dumper.queue'::regclass) AS locks_on_queue,
       count(*) FILTER (WHERE relation = 'dumper.spill_queue'::regclass) AS locks_on_spill_queue
  FROM pg_locks WHERE pid IS NULL;
COMMIT PREPARED 'spill1';
SELECT count(*) FROM dumper_pending;
TRUNCATE dumper.queue, dumper.spill_queue;
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/prepared/' || g)) FROM generate_series(1, 20000) g;
PREPARE TRANSACTION 'spill2';
ROLLBACK PREPARED 'spill2';
SELECT count(*) FROM dumper_pending;

-- dumper_deliver() in the transaction that spilled leaves the spilled rows
-- alone: they wait for its commit like every writer's, and go with its
-- rollback.  (Another transaction's committed row is delivered, and put
-- back by the rollback.)
SELECT dumper_invalidate('/committed/');
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/own/' || g)) FROM generate_series(1, 20000) g;
SELECT count(*) > 0 AS own_rows_visible FROM dumper.spill_queue WHERE '/own/1' = ANY (paths);
SELECT dumper_deliver() AS delivered;
SELECT count(*) > 0 AS own_rows_kept FROM dumper.spill_queue WHERE '/own/1' = ANY (paths);
ROLLBACK;
SELECT count(*) FROM dumper_pending;

TRUNCATE dumper.queue, dumper.spill_queue;
-- Rolled-back subtransactions' paths leave the set at once and their
-- bytes once they add up to half of dumper.work_mem: 20,000 caught errors
-- that each added a path (2 MB) leave the memory bounded and the
-- transaction's own paths whole.
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/top/' || g)) FROM generate_series(1, 10) g;
DO $$
BEGIN
    FOR i IN 1..20000 LOOP
        BEGIN
            PERFORM dumper_invalidate('/sub/' || i || '/' || repeat('x', 100));
            RAISE EXCEPTION 'rolled back';
        EXCEPTION WHEN raise_exception THEN NULL;
        END;
    END LOOP;
END $$;
SELECT total_bytes <= 2 * 64 * 1024 AS bounded
  FROM pg_backend_memory_contexts WHERE name = 'dumper paths';
SELECT count(*) FROM dumper_transaction_paths();
COMMIT;
SELECT count(*) AS queued FROM dumper_pending;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Nested savepoints, each adding 90 % of what the set holds (then
-- never half of it): each level spills its own paths once they reach half
-- of dumper.work_mem, so memory grows with the depth, instead of doubling
-- with each level.  Nothing is lost.
CREATE TEMP TABLE added (n int);
CREATE FUNCTION pg_temp.add_level(name text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO added SELECT count(*) * 9 / 10 FROM dumper_transaction_paths();
    SELECT dumper_invalidate(VARIADIC array_agg('/' || name || '/' || g || repeat('x', 40)))
      FROM generate_series(1, (SELECT n FROM added ORDER BY ctid DESC LIMIT 1)) g $$;
BEGIN;
SELECT dumper_invalidate(VARIADIC array_agg('/l0/' || g || repeat('x', 40))) FROM generate_series(1, 200) g;
SELECT count(*) AS not_spilled FROM dumper_transaction_paths();
SAVEPOINT l1;
SELECT pg_temp.add_level('l1');
SAVEPOINT l2;
SELECT pg_temp.add_level('l2');
SAVEPOINT l3;
SELECT pg_temp.add_level('l3');
SAVEPOINT l4;
SELECT pg_temp.add_level('l4');
SAVEPOINT l5;
SELECT pg_temp.add_level('l5');
SAVEPOINT l6;
SELECT pg_temp.add_level('l6');
SELECT total_bytes <= 5 * 64 * 1024 AS bounded_by_depth
  FROM pg_backend_memory_contexts WHERE name = 'dumper paths';
COMMIT;
SELECT count(DISTINCT path) = 200 + (SELECT sum(n) FROM added) AS nothing_lost FROM dumper_pending;
TRUNCATE dumper.queue, dumper.spill_queue;

RESET dumper.work_mem;
DROP TABLE icecream;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
