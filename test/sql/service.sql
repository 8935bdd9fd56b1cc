-- Whether a worker serves this database, and what depends on it:
-- dumper_wait(), dumper_probe(), dumper_stats's worker columns, and the
-- warnings of CREATE EXTENSION and dumper_register.  The regression
-- database is not dumper.database ('postgres'): nothing delivers here.
CREATE EXTENSION dumper;
CREATE TABLE svc (id int PRIMARY KEY, slug text);
-- Once per session: a second registration does not warn again.
SELECT dumper_register('svc', templates => ARRAY['/svc/{slug}/']);
CREATE TABLE svc2 (id int PRIMARY KEY, slug text);
SELECT dumper_register('svc2', templates => ARRAY['/svc2/{slug}/']);

-- The worker runs for another database.
SELECT worker_database, serves_this_database, worker_pid IS NOT NULL AS worker_runs
FROM dumper_stats;

-- Nothing committed that queued paths: nothing to wait for.
SELECT dumper_wait();
-- A commit that queued a path nothing will deliver: a WARNING, false.
INSERT INTO svc VALUES (1, 'one');
SELECT dumper_wait(100);
-- Said once: the next call has nothing to wait for.
SELECT dumper_wait(100);
-- A rolled-back write queued nothing.
BEGIN;
INSERT INTO svc VALUES (2, 'two');
ROLLBACK;
SELECT dumper_wait(100);
-- A write with dumper.enabled off queued nothing either.
SET dumper.enabled = off;
INSERT INTO svc VALUES (3, 'three');
RESET dumper.enabled;
SELECT dumper_wait(100);
SELECT dumper_wait(-1);
SELECT dumper_wait(NULL) IS NULL AS null_timeout;

-- dumper_probe queues one fresh '@probe:' path in the transaction.
BEGIN;
SELECT dumper_probe() ~ '^@probe:[0-9a-f]{32}$' AS probe_path;
SELECT count(*) AS paths, bool_and(p LIKE '@probe:%') AS all_probes
FROM dumper_transaction_paths() AS p;
-- One per transaction, however many calls (any role may call it).
SELECT dumper_probe() = dumper_probe() AS one_per_transaction;
SELECT count(*) AS paths FROM dumper_transaction_paths() AS p;
SELECT dumper_probe() AS first_probe \gset
ROLLBACK;
-- A rolled-back savepoint takes it out; the next call puts it back.
BEGIN;
SAVEPOINT s;
SELECT dumper_probe() IS NOT NULL AS in_savepoint;
ROLLBACK TO s;
SELECT count(*) AS paths FROM dumper_transaction_paths() AS p;
SELECT dumper_probe() IS NOT NULL AS again;
SELECT count(*) AS paths FROM dumper_transaction_paths() AS p;
ROLLBACK;
-- A new transaction, a new path.
BEGIN;
SELECT dumper_probe() <> :'first_probe' AS fresh_per_transaction;
ROLLBACK;
-- Any role may probe; it cannot name the path.
CREATE ROLE svc_probe;
SET ROLE svc_probe;
BEGIN;
SELECT dumper_probe() LIKE '@probe:%' AS probe_as_ordinary_role;
ROLLBACK;
SELECT dumper_wait(0);
RESET ROLE;
BEGIN READ ONLY;
SELECT dumper_probe();
ROLLBACK;
-- The scripts' check is not for everyone.
SET ROLE svc_probe;
SELECT dumper.check_served('x');
RESET ROLE;
DROP ROLE svc_probe;
DROP TABLE svc, svc2;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
