# dumper_django/operations.py: migration operations that register models with dumper.
#
# Rules: they only issue SQL through the migration's schema editor, so they
# run in the migration's transaction and are reversible.  The extension must
# exist (CREATE EXTENSION dumper needs a superuser, once per database); the
# migration's role must own the model's table; without the extension the
# operation fails with ExtensionMissing, naming the database, rather than
# PostgreSQL's "function does not exist".  Table names come from the model
# state of the migration, never from hand-written strings.
"""Migration operations: RegisterPaths and its reverse."""

from django.db.migrations.operations.base import Operation


class ExtensionMissing(Exception):
    """RegisterPaths ran in a database without the extension dumper."""


def _require_extension(schema_editor):
    """Raise ExtensionMissing unless the extension dumper is in the database
    (sqlmigrate, which only collects SQL, checks nothing)."""
    if schema_editor.collect_sql:
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), EXISTS "
                       "(SELECT FROM pg_extension WHERE extname = 'dumper')")
        database, installed = cursor.fetchone()
    if not installed:
        raise ExtensionMissing(
            f'the extension "dumper" is not installed in database "{database}"; '
            f"hint: a superuser runs CREATE EXTENSION dumper; in database {database}, "
            "then the migration again")


def _table(state, app_label, model_name):
    """The database table of APP_LABEL.MODEL_NAME in migration state STATE."""
    return state.apps.get_model(app_label, model_name)._meta.db_table


class RegisterPaths(Operation):
    """SELECT dumper_register(<table>, ...) for a model; reversed by dumper_unregister.

    RegisterPaths("icecream") uses the SQL function dependent_paths(<row type>),
    which an earlier RunSQL creates.  RegisterPaths("icecream",
    templates=["/icecream/{slug}/", "/icecreams/"]) fills the templates from
    the row's columns instead (no SQL call per row).  function="name(argtype)"
    names another paths function.  Many-to-many tables that Django creates
    are found by dumper itself.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name, templates=None, function=None):
        """Register MODEL_NAME with TEMPLATES, FUNCTION, or dependent_paths()."""
        if templates is not None and function is not None:
            raise ValueError("RegisterPaths takes templates or function, not both")
        self.model_name = model_name
        self.templates = list(templates) if templates is not None else None
        self.function = function

    def deconstruct(self):
        """How the operation is written in a migration file."""
        kwargs = {}
        if self.templates is not None:
            kwargs["templates"] = self.templates
        if self.function is not None:
            kwargs["function"] = self.function
        return (self.__class__.__name__, [self.model_name], kwargs)

    def state_forwards(self, app_label, state):
        """Registration changes no model state."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        """Register the model's table."""
        _require_extension(schema_editor)
        table = schema_editor.quote_name(_table(to_state, app_label, self.model_name))
        if self.templates is not None:
            schema_editor.execute(
                "SELECT dumper_register(%s::regclass, templates => %s::text[])",
                [table, self.templates])
        elif self.function is not None:
            schema_editor.execute(
                "SELECT dumper_register(%s::regclass, %s::regprocedure::oid::regproc)",
                [table, self.function])
        else:
            schema_editor.execute("SELECT dumper_register(%s::regclass)", [table])

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        """Unregister the model's table."""
        _require_extension(schema_editor)
        table = schema_editor.quote_name(_table(from_state, app_label, self.model_name))
        schema_editor.execute("SELECT dumper_unregister(%s::regclass)", [table])

    def describe(self):
        """One line for `manage.py migrate` and `sqlmigrate`."""
        return f"Register {self.model_name} with dumper"
