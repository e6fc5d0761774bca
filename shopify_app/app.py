"""The Flask app factory: configuration, database, blueprints. Does no work at import time."""

from __future__ import annotations

from flask import Flask

from shopify_app.config import Config
from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade
from shopify_app.web import admin, auth, health, home, ui
from shopify_app.web.embedded import frame_ancestors
from shopify_app.web.errors import install as install_error_pages
from shopify_app.webhooks import routes as webhooks


def create_app(config: Config | None = None, *, migrate: bool | None = None) -> Flask:
    """Build the app. The embedded SQLite default is migrated on start; PostgreSQL is
    migrated explicitly (``clawback db upgrade``) unless ``migrate=True``."""
    config = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=False, template_folder="web/templates", static_folder="web/static")
    app.config["CLAWBACK"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_webhook_bytes
    database = Database(config.database_url)
    if migrate if migrate is not None else config.is_sqlite:
        upgrade(database)
    app.extensions["clawback.db"] = database
    for blueprint in (health.blueprint, webhooks.blueprint, auth.blueprint, home.blueprint, admin.blueprint):
        app.register_blueprint(blueprint)
    ui.install(app)
    install_error_pages(app)
    app.after_request(frame_ancestors)
    return app
