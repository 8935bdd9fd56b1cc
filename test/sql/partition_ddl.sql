-- Partitions attached, detached or dropped: the paths of the rows that
-- enter or leave a registered table, or a covered join table.
CREATE EXTENSION dumper;
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
INSERT INTO event VALUES (1, '2025-05-01', 'spring'), (2, '2026-05-01', 'fair');
TRUNCATE dumper.queue, dumper.spill_queue;

-- DETACH: the rows of the partition leave the registered table.
BEGIN;
ALTER TABLE event DETACH PARTITION event_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A partition with partitions of its own: their rows.
BEGIN;
ALTER TABLE event DETACH PARTITION event_2026;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- DROP TABLE of a partition, of a partition's partition (the registered
-- table is its grandparent), and of a partition with its own partition
-- named too (each row once).
BEGIN;
DROP TABLE event_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DROP TABLE event_2026_rest;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DROP TABLE event_2026_rest, event_2026;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- DROP TABLE of the registered table itself: the whole table goes, its
-- registration with it, and nothing is invalidated (docs/invalidation.md).
BEGIN;
DROP TABLE event CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

-- ATTACH: the rows of the table enter the registered table, converted to
-- its row type by column name (these columns are in another order).
CREATE TABLE event_2027 (slug text NOT NULL, day date NOT NULL, id int);
INSERT INTO event_2027 VALUES ('fest', '2027-05-01', 3);
SELECT count(*) FROM dumper_pending;
BEGIN;
ALTER TABLE event ATTACH PARTITION event_2027
    FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
COMMIT;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- A failed ATTACH (a row outside the bounds) queues nothing.
CREATE TABLE event_2028 (LIKE event);
INSERT INTO event_2028 VALUES (4, '2030-01-01', 'late');
ALTER TABLE event ATTACH PARTITION event_2028
    FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SELECT count(*) FROM dumper_pending;
-- A table that lacks a column is left to ATTACH's own error.
CREATE TABLE event_bad (id int, day date NOT NULL);
ALTER TABLE event ATTACH PARTITION event_bad
    FOR VALUES FROM ('2029-01-01') TO ('2030-01-01');

-- DETACH ... CONCURRENTLY (its own transactions): queued with the first.
ALTER TABLE event DETACH PARTITION event_2027 CONCURRENTLY;
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- A role that does not own the tables gets the command's own error, not
-- one from reading rows it may not read: nothing is locked or read first.
CREATE ROLE dumper_partition_stranger;
SET ROLE dumper_partition_stranger;
ALTER TABLE event DETACH PARTITION event_2025;
DROP TABLE event_2025;
RESET ROLE;

-- Each command's own owner: DETACH needs the parent's, DROP TABLE the
-- partition's.  The parent's owner detaching another role's partition
-- reads its rows with SELECT on it, like TRUNCATE, or fails.
CREATE ROLE dumper_partition_parent_owner;
ALTER TABLE event OWNER TO dumper_partition_parent_owner;
ALTER TABLE event_2025 OWNER TO dumper_partition_stranger;
SET ROLE dumper_partition_parent_owner;
ALTER TABLE event DETACH PARTITION event_2025;
RESET ROLE;
GRANT SELECT ON event_2025 TO dumper_partition_parent_owner;
SET ROLE dumper_partition_parent_owner;
BEGIN;
ALTER TABLE event DETACH PARTITION event_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET ROLE;
SET ROLE dumper_partition_stranger;
BEGIN;
DROP TABLE event_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET ROLE;
REVOKE SELECT ON event_2025 FROM dumper_partition_parent_owner;
ALTER TABLE event OWNER TO CURRENT_USER;
ALTER TABLE event_2025 OWNER TO CURRENT_USER;
DROP ROLE dumper_partition_parent_owner;

-- Row-level security that would hide rows from the command's role fails
-- the command rather than leave their pages stale.  (A superuser reads
-- every row: the tables' owner here is a plain role.)
CREATE ROLE dumper_partition_owner;
ALTER TABLE event OWNER TO dumper_partition_owner;
ALTER TABLE event_2025 OWNER TO dumper_partition_owner;
ALTER TABLE event_2025 ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_2025 FORCE ROW LEVEL SECURITY;
CREATE POLICY only_fair ON event_2025 USING (slug = 'fair');
SET ROLE dumper_partition_owner;
ALTER TABLE event DETACH PARTITION event_2025;
RESET ROLE;
ALTER TABLE event_2025 NO FORCE ROW LEVEL SECURITY;
SET ROLE dumper_partition_owner;
BEGIN;
ALTER TABLE event DETACH PARTITION event_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET ROLE;
DROP POLICY only_fair ON event_2025;
ALTER TABLE event_2025 DISABLE ROW LEVEL SECURITY;
ALTER TABLE event OWNER TO CURRENT_USER;
ALTER TABLE event_2025 OWNER TO CURRENT_USER;
DROP ROLE dumper_partition_owner;

-- With dumper.enabled off, nothing is gathered.
BEGIN;
SET LOCAL dumper.enabled = off;
ALTER TABLE event DETACH PARTITION event_2025;
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;

-- A partitioned table that is not registered: nothing.
CREATE TABLE note (id int, body text) PARTITION BY LIST (id);
CREATE TABLE note_1 PARTITION OF note FOR VALUES IN (1);
INSERT INTO note VALUES (1, 'hello');
BEGIN;
ALTER TABLE note DETACH PARTITION note_1;
DROP TABLE note_1;
SELECT count(*) FROM dumper_transaction_paths();
ROLLBACK;

-- A partitioned join table: the rows its partition's rows reference.
CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
INSERT INTO size VALUES (1, 'small'), (2, 'large');
CREATE TABLE event_sizes (event_day date, size_id int REFERENCES size)
    PARTITION BY RANGE (event_day);
SELECT dumper_register_join('event_sizes');
CREATE TABLE event_sizes_2025 PARTITION OF event_sizes
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO event_sizes VALUES ('2025-05-01', 2);
CREATE TABLE event_sizes_2026 (size_id int, event_day date);
INSERT INTO event_sizes_2026 VALUES (1, '2026-05-01');
TRUNCATE dumper.queue, dumper.spill_queue;
BEGIN;
ALTER TABLE event_sizes DETACH PARTITION event_sizes_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
DROP TABLE event_sizes_2025;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
BEGIN;
ALTER TABLE event_sizes ATTACH PARTITION event_sizes_2026
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;

SELECT dumper_unregister('size');
SELECT dumper_unregister('event');
DROP FUNCTION event_paths(event);
DROP TABLE event_sizes, event_sizes_2026, size, note, event, event_2027,
    event_2028, event_bad;
DROP ROLE dumper_partition_stranger;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
