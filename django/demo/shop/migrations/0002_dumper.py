# django/demo/shop/migrations/0002_dumper.py: the pages each row shows, told to dumper.
#
# Rules: the SQL functions dependent_paths(<row type>) return the paths of
# every page that shows the row, as the seed's model methods did; they must
# agree with demo/urls.py and the templates.  An ice cream appears on its
# page, on the list and on the pages of its sizes; a size on its page and on
# the pages of its ice creams.  The many-to-many table shop_icecream_sizes
# needs nothing: dumper finds it and invalidates both sides of a changed
# pair.  CREATE EXTENSION needs a superuser: run it once beforehand when the
# migrating role is not one (IF NOT EXISTS then does nothing).
"""Create dumper's extension, the paths functions, and register both models."""

from django.db import migrations

from dumper_django.operations import RegisterPaths

PATHS_FUNCTIONS = r"""
CREATE FUNCTION dependent_paths(shop_icecream) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY['/icecream/' || $1.slug || '/', '/icecreams/']
        || ARRAY(SELECT '/size/' || s.slug || '/'
                 FROM shop_icecream_sizes j JOIN shop_size s ON s.id = j.size_id
                 WHERE j.icecream_id = $1.id)
$$;
CREATE FUNCTION dependent_paths(shop_size) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT ARRAY['/size/' || $1.slug || '/']
        || ARRAY(SELECT '/icecream/' || i.slug || '/'
                 FROM shop_icecream_sizes j JOIN shop_icecream i ON i.id = j.icecream_id
                 WHERE j.size_id = $1.id)
$$;
"""

DROP_PATHS_FUNCTIONS = r"""
DROP FUNCTION dependent_paths(shop_size);
DROP FUNCTION dependent_paths(shop_icecream);
"""


class Migration(migrations.Migration):
    """dumper for the shop: extension, paths functions, registrations."""

    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.RunSQL("CREATE EXTENSION IF NOT EXISTS dumper", migrations.RunSQL.noop),
        migrations.RunSQL(PATHS_FUNCTIONS, DROP_PATHS_FUNCTIONS),
        RegisterPaths("icecream"),
        RegisterPaths("size"),
    ]
