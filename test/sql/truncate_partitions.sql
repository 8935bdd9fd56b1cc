-- TRUNCATE of a registered table, of a join table, with CASCADE, rolled
-- back; a partitioned table registered at its root, with partitions
-- attached and created later.
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE icecream_sizes (
    icecream_id int REFERENCES icecream,
    size_id int REFERENCES size,
    PRIMARY KEY (icecream_id, size_id));
SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/', '/icecreams/']);
SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
INSERT INTO icecream VALUES (1, 'vanilla'), (2, 'mint'), (3, 'lemon');
INSERT INTO size VALUES (1, 'small'), (2, 'large');
INSERT INTO icecream_sizes VALUES (1, 1), (2, 2);
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE of a join table: both sides' rows it referenced.
BEGIN;
TRUNCATE icecream_sizes;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- A rolled-back TRUNCATE queues nothing.
SELECT count(*) FROM dumper_pending;

-- TRUNCATE ... CASCADE: the registered table's rows and the join table's.
BEGIN;
TRUNCATE size CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- TRUNCATE of a registered table alone: every row it removes.
TRUNCATE icecream_sizes;
TRUNCATE dumper.queue, dumper.spill_queue;
TRUNCATE icecream CASCADE;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Partitions: registering the root covers every partition.
CREATE TABLE event (id int, day date NOT NULL, slug text NOT NULL)
    PARTITION BY RANGE (day);
CREATE TABLE event_2025 PARTITION OF event
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE event_2026 PARTITION OF event
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY LIST (slug);
CREATE TABLE event_2026_rest PARTITION OF event_2026 DEFAULT;
CREATE FUNCTION event_paths(event) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/event/' || $1.slug || '/', '/events/' || $1.day || '/'] $$;
SELECT dumper_register('event', 'event_paths');
-- A partition alone cannot be registered.
SELECT dumper_register('event_2025', 'event_paths');
-- One attached after registration, one created after it.
CREATE TABLE event_2027 (id int, day date NOT NULL, slug text NOT NULL);
ALTER TABLE event ATTACH PARTITION event_2027
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE event_2028 PARTITION OF event
    FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SELECT tgrelid::regclass AS partition, tgname FROM pg_trigger
 WHERE tgname LIKE 'dumper%' AND tgrelid::regclass::text LIKE 'event%' ORDER BY 1, 2;

-- Writes to each partition invalidate, through the root's function.
INSERT INTO event VALUES (1, '2025-05-01', 'spring'), (2, '2026-05-01', 'fair'),
                         (3, '2027-05-01', 'fest'), (4, '2028-05-01', 'gala');
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- Moving a row between partitions: its old and new paths.
UPDATE event SET day = '2028-06-01' WHERE id = 1;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- TRUNCATE of one partition, and of the root.
TRUNCATE event_2027;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
TRUNCATE event;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A detached partition is no longer covered: its row trigger clone goes
-- with DETACH, its TRUNCATE trigger at the DETACH's ddl_command_end.
ALTER TABLE event DETACH PARTITION event_2028;
INSERT INTO event_2028 VALUES (5, '2028-07-01', 'detached');
SELECT count(*) FROM dumper_pending;
TRUNCATE event_2028;
SELECT count(*) FROM dumper_pending;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'event_2028'::regclass;

-- Only what a DETACH detached loses its TRUNCATE trigger: the partition
-- and its own partitions, also with DETACH ... CONCURRENTLY (which commits
-- in between).  Any other ALTER TABLE of a partitioned table drops no
-- table's: not the trigger of a table whose registration is yet to come
-- (a restore may load dumper.registration last; here it never comes).
CREATE TABLE event_2029 PARTITION OF event
    FOR VALUES FROM ('2029-01-01') TO ('2030-01-01') PARTITION BY RANGE (day);
CREATE TABLE event_2029_h1 PARTITION OF event_2029
    FOR VALUES FROM ('2029-01-01') TO ('2029-07-01');
CREATE TABLE pending_registration (id int);
CREATE TRIGGER dumper_truncate BEFORE TRUNCATE ON pending_registration
    FOR EACH STATEMENT EXECUTE FUNCTION dumper.truncate_trigger();
ALTER TABLE event ALTER COLUMN id SET STATISTICS 100;
SELECT tgrelid::regclass, tgname FROM pg_trigger
 WHERE tgname = 'dumper_truncate'
   AND tgrelid IN ('event_2029'::regclass, 'event_2029_h1'::regclass,
                   'pending_registration'::regclass)
 ORDER BY 1;
ALTER TABLE event DETACH PARTITION event_2029 CONCURRENTLY;
SELECT tgrelid::regclass, tgname FROM pg_trigger
 WHERE tgname = 'dumper_truncate'
   AND tgrelid IN ('event_2029'::regclass, 'event_2029_h1'::regclass,
                   'pending_registration'::regclass)
 ORDER BY 1;
DROP TABLE pending_registration, event_2029;

SELECT dumper_unregister('event');
DROP FUNCTION event_paths(event);
DROP TABLE event, event_2028, icecream_sizes, size, icecream;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
