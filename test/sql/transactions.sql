-- Transaction semantics: only committed work is queued; savepoints;
-- de-duplication; manual invalidation; dumper.enabled; two-phase commit.
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text, price int);
CREATE FUNCTION dependent_paths(icecream) RETURNS text[] LANGUAGE sql
    AS $$ SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/'] $$;
SELECT dumper_register('icecream');

-- A rolled-back transaction queues nothing.
BEGIN;
INSERT INTO icecream VALUES (1, 'vanilla', 3);
ROLLBACK;
SELECT count(*) FROM dumper_pending;

-- Savepoints: a rolled-back savepoint's paths are discarded, a released
-- one's are kept, nested ones follow their parents.
BEGIN;
INSERT INTO icecream VALUES (1, 'vanilla', 3);
SAVEPOINT a;
INSERT INTO icecream VALUES (2, 'chocolate', 3);
ROLLBACK TO SAVEPOINT a;
SAVEPOINT b;
INSERT INTO icecream VALUES (3, 'mint', 3);
SAVEPOINT c;
INSERT INTO icecream VALUES (4, 'lemon', 3);
RELEASE SAVEPOINT c;
SAVEPOINT d;
INSERT INTO icecream VALUES (5, 'peach', 3);
SAVEPOINT e;
INSERT INTO icecream VALUES (6, 'plum', 3);
ROLLBACK TO SAVEPOINT d;
RELEASE SAVEPOINT b;
SAVEPOINT f;
-- Already gathered at top level: a rollback must not remove it.
UPDATE icecream SET price = 4 WHERE id = 1;
ROLLBACK TO SAVEPOINT f;
SELECT * FROM dumper_transaction_paths();
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;

-- A PL/pgSQL exception block is a subtransaction too.
DO $$
BEGIN
    BEGIN
        INSERT INTO icecream VALUES (7, 'cherry', 3);
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    INSERT INTO icecream VALUES (8, 'apple', 3);
END $$;
SELECT path FROM dumper_pending WHERE path LIKE '/icecream/%' ORDER BY path;

-- One transaction, 1,000 rows sharing a path: each distinct path is queued
-- once.
SELECT dumper_deliver() > 0 AS delivered;
INSERT INTO icecream SELECT g, 'bulk-' || (g % 3), 1 FROM generate_series(100, 1099) g;
SELECT path, count(*) FROM dumper_pending GROUP BY path ORDER BY path;
SELECT count(*) AS queue_rows FROM dumper.queue;
SELECT dumper_deliver();
SELECT count(*) FROM dumper_pending;

-- Several transactions queue the same hot path: each queues its own row
-- (writers never wait on each other), delivery sends it once per batch.
UPDATE icecream SET price = 2 WHERE id = 1;
UPDATE icecream SET price = 2 WHERE id = 3;
SELECT path, count(*) FROM dumper_pending GROUP BY path ORDER BY path;
SELECT dumper_deliver();

-- dumper_deliver(max_paths) stops after about max_paths paths.
-- Rows are claimed whole, so a batch may exceed max_paths by one row.
SELECT dumper_invalidate('/a', '/b');
SELECT dumper_invalidate('/c', '/d');
SELECT dumper_deliver(0);
SELECT count(*) FROM dumper_pending;
SELECT dumper_deliver(1);
SELECT count(*) FROM dumper_pending;
SELECT dumper_deliver();

-- Manual invalidation joins the transaction's set, ignoring NULLs, empty
-- strings and duplicates, and is transactional.
BEGIN;
SELECT dumper_invalidate('/manual/', NULL, '', '/manual/', '/other/');
SELECT dumper_invalidate(VARIADIC ARRAY['/from-array/']);
SELECT * FROM dumper_transaction_paths();
ROLLBACK;
SELECT count(*) FROM dumper_pending;

-- De-duplication compares whole paths, a path and its prefixes apart: in
-- a set of up to eight paths, searched in order, and in a larger one,
-- hashed from the ninth on; a savepoint rolled back across that switch.
BEGIN;
SELECT dumper_invalidate('/ab', '/a', '/ab', '/a', '/abc');
SELECT string_agg(p, ' ') FROM dumper_transaction_paths() p;
SAVEPOINT big;
SELECT dumper_invalidate('/c', '/d', '/e', '/f', '/g', '/h', '/abc', '/i', '/j', '/c', '/a');
SELECT string_agg(p, ' ') FROM dumper_transaction_paths() p;
ROLLBACK TO big;
SELECT dumper_invalidate('/j', '/ab', '/j');
SELECT string_agg(p, ' ') FROM dumper_transaction_paths() p;
ROLLBACK;

-- dumper.enabled = off skips gathering from writes, not manual paths.
SET dumper.enabled = off;
BEGIN;
UPDATE icecream SET price = 9 WHERE id = 1;
SELECT dumper_invalidate('/after-bulk-load/');
SELECT * FROM dumper_transaction_paths();
COMMIT;
RESET dumper.enabled;
SELECT path FROM dumper_pending;
SELECT dumper_deliver();

-- Two-phase commit: nothing is pending before COMMIT PREPARED, nothing ever
-- after ROLLBACK PREPARED.
BEGIN;
UPDATE icecream SET slug = 'vanilla-2pc' WHERE id = 1;
PREPARE TRANSACTION 'dumper_2pc_commit';
SELECT count(*) FROM dumper_pending;
COMMIT PREPARED 'dumper_2pc_commit';
SELECT path FROM dumper_pending ORDER BY path;
SELECT dumper_deliver();
BEGIN;
UPDATE icecream SET slug = 'vanilla-rolled-back' WHERE id = 1;
PREPARE TRANSACTION 'dumper_2pc_rollback';
ROLLBACK PREPARED 'dumper_2pc_rollback';
SELECT count(*) FROM dumper_pending;

-- Paths are kept byte for byte: spaces, a newline, quotes, non-ASCII UTF-8.
SELECT dumper_invalidate(E'/caf\u00e9 cr\u00e8me/"quoted" ''single''\nline2/\u96ea/');
SELECT path, octet_length(path) FROM dumper_pending;
SELECT dumper_deliver();

-- Many long paths in one transaction are split over several queue rows,
-- each under the page size, and nothing is lost.
BEGIN;
SELECT dumper_invalidate(VARIADIC ARRAY(SELECT '/long/' || g || '/' || repeat('x', 4000) FROM generate_series(1, 50) g));
COMMIT;
SELECT count(*) AS paths, count(DISTINCT transaction_id) AS transactions FROM dumper_pending;
SELECT count(*) > 1 AS several_rows, max(pg_column_size(q.*)) < 8160 AS rows_fit_a_page FROM dumper.queue q;
SELECT dumper_deliver();

-- Clean up; the order of cascade notices is no contract.
SET client_min_messages = warning;
DROP TABLE icecream CASCADE;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper CASCADE;
