"""The floor for bench/ingest.py: a Flask endpoint that only checks the webhook HMAC.

Same framework, same server (gunicorn sync workers), same HMAC check as the real intake
(``shopify_app.shopify.signature.verify_hmac``), but no envelope parsing, no JSON check, no
database and no logging. Run: ``gunicorn -w 2 -b 127.0.0.1:PORT bench.bare_app:app``.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from shopify_app.shopify.signature import verify_hmac

SECRETS = (os.environ.get("BARE_SECRET", "dev-api-secret-for-local-use-only"),)

app = Flask(__name__)


@app.post("/webhooks")
def receive() -> Response:
    raw = request.get_data(cache=False)
    if not verify_hmac(raw, request.headers.get("X-Shopify-Hmac-Sha256"), SECRETS):
        return Response("unauthorized", status=401, mimetype="text/plain")
    return Response("", status=200, mimetype="text/plain")
