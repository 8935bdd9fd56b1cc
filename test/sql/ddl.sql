-- Schema life: DROP TABLE, RENAME, SET SCHEMA, added and dropped columns,
-- the paths function dropped or replaced, DROP EXTENSION.
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price int);
CREATE FUNCTION dependent_paths(icecream) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/icecream/' || $1.slug || '/' $$;
SELECT dumper_register('icecream');
CREATE TABLE cone (id int PRIMARY KEY, name text);
SELECT dumper_register('cone', templates => ARRAY['/cone/{name}/']);
TRUNCATE dumper.queue, dumper.spill_queue;

-- RENAME and SET SCHEMA: the registration follows the table.
ALTER TABLE icecream RENAME TO gelato;
CREATE SCHEMA shop;
ALTER TABLE gelato SET SCHEMA shop;
SELECT table_name, paths_function FROM dumper_registrations ORDER BY 1;
INSERT INTO shop.gelato VALUES (1, 'vanilla', 3);
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Columns added and dropped: the function sees the current row type.
ALTER TABLE shop.gelato ADD COLUMN origin text DEFAULT 'it';
UPDATE shop.gelato SET origin = 'fr';
ALTER TABLE shop.gelato DROP COLUMN price;
UPDATE shop.gelato SET slug = 'vanilla-bean';
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- A column a path template names can be neither dropped nor renamed from
-- under it: the error names the template to change first.
ALTER TABLE cone DROP COLUMN name;
ALTER TABLE cone RENAME COLUMN name TO title;
-- Other columns come and go freely.
ALTER TABLE cone ADD COLUMN crisp boolean;
ALTER TABLE cone DROP COLUMN crisp;
INSERT INTO cone VALUES (1, 'waffle');
-- To rename it, in one transaction: unregister, rename, register again.
BEGIN;
SELECT dumper_unregister('cone');
ALTER TABLE cone RENAME COLUMN name TO title;
SELECT dumper_register('cone', templates => ARRAY['/cone/{title}/']);
COMMIT;
INSERT INTO cone VALUES (2, 'sugar');
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;

-- Nor through another object: an inheritance parent's ALTER, a typed
-- table's type, a dropped domain.  Every such change fails, and the table
-- can still be written.
CREATE TABLE animal_base (id int, slug text);
CREATE TABLE animal () INHERITS (animal_base);
SELECT dumper_register('animal', templates => ARRAY['/animal/{slug}/']);
ALTER TABLE animal_base RENAME COLUMN slug TO name;
ALTER TABLE animal_base DROP COLUMN slug;
CREATE TYPE pet_row AS (id int, slug text);
CREATE TABLE pet OF pet_row;
SELECT dumper_register('pet', templates => ARRAY['/pet/{slug}/']);
ALTER TYPE pet_row RENAME ATTRIBUTE slug TO name CASCADE;
ALTER TYPE pet_row DROP ATTRIBUTE slug CASCADE;
CREATE DOMAIN slug_text AS text;
CREATE TABLE toy (id int, slug slug_text);
SELECT dumper_register('toy', templates => ARRAY['/toy/{slug}/']);
DROP DOMAIN slug_text CASCADE;
BEGIN;
INSERT INTO animal VALUES (1, 'rex');
INSERT INTO pet VALUES (1, 'tom');
INSERT INTO toy VALUES (1, 'ball');
SELECT * FROM dumper_transaction_paths() ORDER BY 1;
ROLLBACK;
DROP TABLE animal, animal_base, pet, toy;
DROP TYPE pet_row;
DROP DOMAIN slug_text;

-- Inheritance: a registered table can have no inheritance children (their
-- rows written through it would invalidate nothing), and a table with
-- children cannot be registered; partitions are the way.
CREATE TABLE vehicle (id int, slug text);
SELECT dumper_register('vehicle', templates => ARRAY['/vehicle/{slug}/']);
CREATE TABLE car () INHERITS (vehicle);
CREATE TABLE bike (id int, slug text);
ALTER TABLE bike INHERIT vehicle;
SELECT dumper_unregister('vehicle');
CREATE TABLE car () INHERITS (vehicle);
SELECT dumper_register('vehicle', templates => ARRAY['/vehicle/{slug}/']);
DROP TABLE car, bike, vehicle;

-- The paths function cannot be dropped while registered ...
DROP FUNCTION dependent_paths(shop.gelato);
-- ... replacing it takes effect at once ...
CREATE OR REPLACE FUNCTION dependent_paths(shop.gelato) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/gelato/' || $1.slug || '/' $$;
UPDATE shop.gelato SET slug = 'vanilla';
SELECT path FROM dumper_pending ORDER BY path;
TRUNCATE dumper.queue, dumper.spill_queue;
-- ... and DROP ... CASCADE removes the registration and its triggers, so
-- writes go on.
DROP FUNCTION dependent_paths(shop.gelato) CASCADE;
SELECT table_name FROM dumper_registrations ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'shop.gelato'::regclass ORDER BY 1;
UPDATE shop.gelato SET slug = 'plain';
SELECT count(*) FROM dumper_pending;

-- DROP TABLE removes the registration.
DROP TABLE cone;
SELECT count(*) FROM dumper.registration;

-- DROP EXTENSION removes every trigger it installed.
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL);
CREATE TABLE size (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE icecream_sizes (icecream_id int REFERENCES icecream,
                             size_id int REFERENCES size,
                             PRIMARY KEY (icecream_id, size_id));
SELECT dumper_register('icecream', templates => ARRAY['/icecream/{slug}/']);
SELECT dumper_register('size', templates => ARRAY['/size/{name}/']);
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
-- But not while committed invalidations wait to be delivered: dropping it
-- would discard them.  Emptying the queue discards them explicitly.
SELECT dumper_invalidate('/pending/', '/also/pending/');
DROP EXTENSION dumper;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
INSERT INTO icecream VALUES (1, 'vanilla');
TRUNCATE icecream_sizes, icecream, size;
-- And it can be created again.
CREATE EXTENSION dumper;
SELECT count(*) FROM dumper_registrations;

DROP TABLE icecream_sizes, icecream, size, shop.gelato;
DROP SCHEMA shop;
TRUNCATE dumper.queue, dumper.spill_queue;
DROP EXTENSION dumper;
