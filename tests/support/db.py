"""Database fixtures: every integration test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local trust-auth server, database
``test``). Each test process gets its own schema, emptied between tests with TRUNCATE
(which row-level append-only triggers do not block). When no server answers, PostgreSQL
tests skip with a clear message, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = "balance_totals, webhook_deliveries, payout_items, payouts, approvals, ledger_records, orders, affiliates, oauth_states, review_decisions, shops"


def postgres_or_skip() -> str:
    """A URL to a fresh schema on the test server, or skip (fail under CI) when unreachable."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        schema = f"clawback_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "no PostgreSQL here"
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_URL} is unreachable: {exc}")
        pytest.skip(f"no PostgreSQL reachable at {PG_URL} ({type(exc).__name__}); set TEST_DATABASE_URL")
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    schema = url.rsplit("%3D", 1)[1]
    engine = create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def _pg_database():
    url = postgres_or_skip()
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()
    drop_schema(url)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "clawback.sqlite3"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


def empty_database(kind: str, request, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a copied SQLite file, or a truncated PostgreSQL schema."""
    if kind == "sqlite":
        path = tmp_path / "clawback.sqlite3"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    db = request.getfixturevalue("_pg_database")
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    yield from empty_database(request.param, request, tmp_path)
