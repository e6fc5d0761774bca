"""``GET /healthz``: liveness and database reachability."""

from __future__ import annotations

from flask import Blueprint, jsonify

from shopify_app.context import database

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    error = database().ping()
    if error is not None:
        return jsonify(status="error", database="unreachable", error=error), 503
    return jsonify(status="ok", database="ok")
