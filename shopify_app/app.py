"""The Flask app factory: configuration, database, blueprints. Does no work at import time.

Two Flask apps share one configuration and one database behind one WSGI callable:
``/webhooks`` and ``/webhooks/`` go to an app holding only the intake's blueprint, every
other path to the full app. So nothing the admin installs for its own requests (the CSP and
CSRF ``after_request`` hooks, HTML error pages, template globals, and whatever is added
later) runs on, or changes, Shopify's deliveries. Speed is not the reason: measured in
process, the full app's request path costs about 0.01 ms more than the intake's.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from flask import Flask

from shopify_app.config import Config
from shopify_app.store.engine import Database
from shopify_app.store.intake import InboxWriter
from shopify_app.store.migrate import upgrade
from shopify_app.web import admin, auth, health, home, ui
from shopify_app.web.embedded import frame_ancestors
from shopify_app.web.errors import install as install_error_pages
from shopify_app.webhooks import routes as webhooks

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def create_app(config: Config | None = None, *, migrate: bool | None = None) -> Flask:
    """Build the app. The embedded SQLite default is migrated on start; PostgreSQL is
    migrated explicitly (``clawback db upgrade``) unless ``migrate=True``.

    The returned app is the full one; its ``wsgi_app`` hands the intake's paths to the
    intake app (``app.extensions["clawback.intake"]``), so a server and a test client reach
    both through it."""
    config = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=False, template_folder="web/templates", static_folder="web/static")
    app.config["CLAWBACK"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_webhook_bytes
    database = Database(config.database_url)
    if migrate if migrate is not None else config.is_sqlite:
        upgrade(database)
    app.extensions["clawback.db"] = database
    for blueprint in (health.blueprint, auth.blueprint, home.blueprint, admin.blueprint):
        app.register_blueprint(blueprint)
    ui.install(app)
    install_error_pages(app)
    app.after_request(frame_ancestors)

    intake = Flask(__name__, static_folder=None)
    intake.config = app.config  # one configuration: what a test sets on the app holds for the intake too
    intake.extensions["clawback.db"] = database
    intake.extensions["clawback.inbox_writer"] = InboxWriter(database)
    intake.register_blueprint(webhooks.blueprint)
    app.extensions["clawback.intake"] = intake
    app.wsgi_app = _by_path(webhooks.PATHS, intake.wsgi_app, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _by_path(paths: frozenset[str], matched: WSGIApp, other: WSGIApp) -> WSGIApp:
    """A WSGI callable sending requests for exactly ``paths`` to ``matched``, all others to
    ``other``, with the environ untouched. werkzeug's ``DispatcherMiddleware`` mounts by
    prefix instead: it would move ``/webhooks`` into ``SCRIPT_NAME`` and take
    ``/webhooks/anything`` too."""

    def dispatch(environ: dict, start_response: Callable) -> Any:
        return (matched if environ.get("PATH_INFO") in paths else other)(environ, start_response)

    return dispatch
