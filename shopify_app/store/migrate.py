"""Alembic migrations, applied programmatically (``clawback db upgrade``; automatically on
the embedded SQLite default), and the check that a database is at the code's schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shopify_app.store.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(RuntimeError):
    """The database is not at the schema this code needs: say what to run, not which
    relation is missing."""


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    config = alembic_config(database.url)
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def check_current(database: Database) -> None:
    """Raise ``SchemaBehind`` unless the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        connection.rollback()
    if current == head:
        return
    where = database.url.split("@")[-1]
    if current is None:
        raise SchemaBehind(f"the database at {where} has no Clawback schema yet; run: clawback db upgrade")
    raise SchemaBehind(f"the database at {where} is at schema {current}, this code needs {head}; run: clawback db upgrade")
