-- Schema life: DROP TABLE, RENAME, SET SCHEMA, added and dropped columns,
-- the paths function dropped or replaced, DROP EXTENSION.
CREATE EXTENSION dumper;
CREATE TABLE icecream (id int PRIMARY KEY, slug text NOT NULL, price int);
CREATE FUNCTION dependent_paths(icecream) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/icecream/' || $1.slug || '/' $$;
SELECT dumper_register('icecream');
CREATE TABLE cone (id int PRIMARY KEY, name text);
SELECT dumper_register('cone', templates => ARRAY['/cone/{name}/']);
DELETE FROM dumper.queue;

-- RENAME and SET SCHEMA: the registration follows the table.
ALTER TABLE icecream RENAME TO gelato;
CREATE SCHEMA shop;
ALTER TABLE gelato SET SCHEMA shop;
SELECT table_name, paths_function FROM dumper_registrations ORDER BY 1;
INSERT INTO shop.gelato VALUES (1, 'vanilla', 3);
SELECT path FROM dumper_pending ORDER BY path;
DELETE FROM dumper.queue;

-- Columns added and dropped: the function sees the current row type.
ALTER TABLE shop.gelato ADD COLUMN origin text DEFAULT 'it';
UPDATE shop.gelato SET origin = 'fr';
ALTER TABLE shop.gelato DROP COLUMN price;
UPDATE shop.gelato SET slug = 'vanilla-bean';
SELECT path FROM dumper_pending ORDER BY path;
DELETE FROM dumper.queue;
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
DELETE FROM dumper.queue;

-- The paths function cannot be dropped while registered ...
DROP FUNCTION dependent_paths(shop.gelato);
-- ... replacing it takes effect at once ...
CREATE OR REPLACE FUNCTION dependent_paths(shop.gelato) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT '/gelato/' || $1.slug || '/' $$;
UPDATE shop.gelato SET slug = 'vanilla';
SELECT path FROM dumper_pending ORDER BY path;
DELETE FROM dumper.queue;
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
DROP EXTENSION dumper;
SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'dumper%';
INSERT INTO icecream VALUES (1, 'vanilla');
TRUNCATE icecream_sizes, icecream, size;
-- And it can be created again.
CREATE EXTENSION dumper;
SELECT count(*) FROM dumper_registrations;

DROP TABLE icecream_sizes, icecream, size, shop.gelato;
DROP SCHEMA shop;
DROP EXTENSION dumper;
