"""End-to-end fixtures: the real Flask app over a migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from shopify_app.app import create_app
from shopify_app.config import Config
from tests.support.db import _pg_database, _sqlite_template, database  # noqa: F401  (fixtures)

TEST_SECRET = "dev-api-secret-for-local-use-only"


def make_config(database_url: str, **overrides) -> Config:
    """The test app's settings: dev mode, the dev secret, no old secret, small test limits."""
    values = dict(
        database_url=database_url,
        dev_mode=True,
        api_key="dev-api-key",
        api_secret=TEST_SECRET,
        api_secret_old=None,
        encryption_key=None,
        smtp_url=None,
    )
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def app_factory(database):
    """Build an app on the test database with some settings overridden (secrets, limits)."""
    built = []

    def build(**overrides):
        app = create_app(make_config(database.url, **overrides), migrate=False)
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["clawback.db"].dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()
