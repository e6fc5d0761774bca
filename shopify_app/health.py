"""``GET /healthz``: liveness and database reachability."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from shopify_app import database_of

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    try:
        with database_of(current_app).reading() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the database is not reachable
        return jsonify(status="error", database="unreachable", error=type(exc).__name__), 503
    return jsonify(status="ok", database="ok")
