from tests.support.db import _pg_database, _sqlite_template, database  # noqa: F401  (fixtures)
