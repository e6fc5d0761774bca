"""``GET /healthz``: liveness and database reachability."""

from __future__ import annotations

from tests.e2e.conftest import make_config

from shopify_app.app import create_app


def test_healthz_ok_when_the_database_answers(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_postgres_port_is_closed() -> None:
    app = create_app(make_config("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"), migrate=False)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_healthz_503_when_sqlite_path_is_a_directory(tmp_path) -> None:
    app = create_app(make_config(f"sqlite:///{tmp_path}"), migrate=False)  # a directory cannot be opened as a database
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
