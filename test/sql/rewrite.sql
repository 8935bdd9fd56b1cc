-- ALTER TABLE ... ALTER COLUMN ... TYPE rewrites every row without firing a
-- row trigger: the paths of every row of a covered table, from its old
-- values (before the rewrite) and from its new ones (after it), are
-- gathered as the command's role (rewrite.c, from the ProcessUtility hook).
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price numeric(5,2));
SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/', '/price/{price}/']);
CREATE TABLE note (id int PRIMARY KEY, code int NOT NULL);
CREATE FUNCTION note_paths(note) RETURNS text[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['/note/' || $1.code::text || '/'] $$;
SELECT dumper_register('note', 'note_paths');
CREATE TABLE event (id int, day date NOT NULL, slug text NOT NULL)
    PARTITION BY RANGE (day);
CREATE TABLE event_2025 PARTITION OF event
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE event_2026 PARTITION OF event
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY LIST (id);
CREATE TABLE event_2026_rest PARTITION OF event_2026 DEFAULT;
SELECT dumper_register('event', templates => ARRAY['/event/{slug}/']);
CREATE TABLE plain (id int, slug text);
INSERT INTO icecream VALUES (1, 'vanilla', 3.25), (2, 'mint', 4.75);
INSERT INTO note VALUES (1, 7), (2, 8);
INSERT INTO event VALUES (1, '2025-05-01', 'spring'), (2, '2026-05-01', 'fair');
INSERT INTO plain VALUES (1, 'x');
TRUNCATE dumper.queue, dumper.spill_queue;

-- Templates: old and new values of the rewritten column, and the paths
-- of the other templates (the same before and after) once.
BEGIN;
ALTER TABLE icecream ALTER COLUMN price TYPE numeric(5,1) USING price + 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- SET DATA TYPE, among other subcommands.
BEGIN;
ALTER TABLE icecream ALTER COLUMN price SET DEFAULT 0,
    ALTER COLUMN slug SET DATA TYPE varchar(20) USING upper(slug);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A paths function.
BEGIN;
ALTER TABLE note ALTER COLUMN code TYPE bigint USING code * 10;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A partitioned table: the rows of every partition, at every level.
BEGIN;
ALTER TABLE event ALTER COLUMN slug TYPE varchar(20) USING slug || '-x';
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- A typed table: ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE
-- rewrites it (numeric(5,1) rounds).
CREATE TYPE offer_t AS (id int, price numeric(5,2));
CREATE TABLE offer OF offer_t;
SELECT dumper_register('offer', templates => ARRAY['/offer/{price}/']);
INSERT INTO offer VALUES (1, 3.25);
TRUNCATE dumper.queue, dumper.spill_queue;
BEGIN;
ALTER TYPE offer_t ALTER ATTRIBUTE price TYPE numeric(5,1) CASCADE;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
SELECT dumper_unregister('offer');
DROP TABLE offer;
DROP TYPE offer_t;
-- A registered table inheriting from an unregistered one: the command
-- recurses to it, and so do its paths.
CREATE TABLE base (id int, code int NOT NULL);
ALTER TABLE note INHERIT base;
BEGIN;
ALTER TABLE base ALTER COLUMN code TYPE bigint USING code + 1;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
ALTER TABLE note NO INHERIT base;
DROP TABLE base;

-- The paths are queued with the command, when it commits.
ALTER TABLE icecream ALTER COLUMN price TYPE numeric(6,2);
SELECT path FROM dumper_pending ORDER BY 1;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Other ALTER TABLEs of a registered table rewrite no value: nothing.
BEGIN;
ALTER TABLE icecream ALTER COLUMN price SET DEFAULT 1, ADD COLUMN note text;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- An unregistered table: nothing gathered, and no lock but the command's
-- own: the same locks as with dumper.enabled off (whose DDL event trigger
-- still writes dumper.registration).
CREATE VIEW my_locks AS
    SELECT n.nspname, c.relname, l.mode
    FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
      AND n.nspname IN ('public', 'dumper') AND c.relname <> 'my_locks';
SET dumper.enabled = off;
BEGIN;
ALTER TABLE plain ALTER COLUMN slug TYPE varchar(10);
SELECT * FROM my_locks ORDER BY 1, 2, 3;
ROLLBACK;
RESET dumper.enabled;
BEGIN;
ALTER TABLE plain ALTER COLUMN slug TYPE varchar(10);
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
SELECT * FROM my_locks ORDER BY 1, 2, 3;
ROLLBACK;
DROP VIEW my_locks;

-- A role that does not own the table gets the command's own error, not
-- dumper's (nothing is read or locked for it).
CREATE ROLE dumper_rewrite_stranger;
GRANT SELECT ON icecream TO dumper_rewrite_stranger;
SET ROLE dumper_rewrite_stranger;
ALTER TABLE icecream ALTER COLUMN price TYPE numeric(6,1);
RESET ROLE;
REVOKE SELECT ON icecream FROM dumper_rewrite_stranger;
DROP ROLE dumper_rewrite_stranger;

-- Row-level security hiding rows from the owner (FORCE): dumper refuses,
-- the command fails.  Without FORCE, the owner reads every row.
CREATE ROLE dumper_rewrite_owner;
ALTER TABLE note OWNER TO dumper_rewrite_owner;
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
ALTER TABLE note FORCE ROW LEVEL SECURITY;
CREATE POLICY only_one ON note USING (id = 1);
SET ROLE dumper_rewrite_owner;
ALTER TABLE note ALTER COLUMN code TYPE bigint;
RESET ROLE;
ALTER TABLE note NO FORCE ROW LEVEL SECURITY;
SET ROLE dumper_rewrite_owner;
BEGIN;
ALTER TABLE note ALTER COLUMN code TYPE bigint USING code * 2;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
-- An owner who revoked its own SELECT: dumper's error.
REVOKE SELECT ON note FROM dumper_rewrite_owner;
ALTER TABLE note ALTER COLUMN code TYPE bigint;
RESET ROLE;
ALTER TABLE note OWNER TO CURRENT_USER;
DROP ROLE dumper_rewrite_owner;

-- dumper.enabled off: nothing.
SET dumper.enabled = off;
BEGIN;
ALTER TABLE note ALTER COLUMN code TYPE bigint;
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
RESET dumper.enabled;

SELECT dumper_unregister('icecream');
SELECT dumper_unregister('note');
SELECT dumper_unregister('event');
DROP FUNCTION note_paths(note);
DROP TABLE icecream, note, event, plain;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
