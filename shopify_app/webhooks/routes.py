"""``POST /webhooks``: verify, store durably, answer. Nothing is processed here.

Checks, in order (interfaces.md "HTTP"; shopify-platform.md §3 and pitfalls 2-4):

1. body above ``Config.max_webhook_bytes`` -> 413 (also a chunked body with no
   ``Content-Length``: at most limit + 1 bytes are ever read);
2. ``X-Shopify-Hmac-Sha256`` missing or not the HMAC of the raw bytes under the current or
   the previous secret -> 401;
3. a required header missing or a shop domain that is not ``*.myshopify.com`` -> 400;
4. otherwise one short transaction stores the delivery and the answer is 200 with an empty
   body, for a duplicate webhook id too. A signed body that is not a JSON object Shopify
   could have sent is stored as ``failed`` with the reason, so a person can see and replay
   it, and still answered 200: retrying the same bytes can never help.

Nothing of these answers is ever a redirect (Shopify counts 3xx as failure): ``/webhooks``
and ``/webhooks/`` are both routed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from shopify_app import config_of, database_of, utcnow
from shopify_app.inbox import store_delivery
from shopify_app.webhooks.envelope import HMAC_HEADER, EnvelopeError, parse_envelope, shopify_headers
from shopify_app.webhooks.translate import PayloadError, parse_json
from shopify_app.webhooks.verify import verify_hmac

__all__ = ["blueprint", "read_body"]

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__)

_CHUNK = 64 * 1024


def _answer(status: int, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def read_body(limit: int) -> bytes | None:
    """The raw request body, or None when it is larger than ``limit`` bytes.

    Never reads more than ``limit + 1`` bytes, so a chunked body with no ``Content-Length``
    is capped as well as a declared one. Such a body is read from ``wsgi.input`` itself when
    the server terminates that stream (``wsgi.input_terminated``, set by gunicorn and
    werkzeug's server): werkzeug's own wrapper would refuse a body of exactly
    ``MAX_CONTENT_LENGTH`` bytes, since it cannot tell whether more is coming. Without that
    flag and without a length, werkzeug gives an empty stream rather than risk a hang.
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        if request.content_length is None and "wsgi.input_terminated" in request.environ:
            stream = request.environ["wsgi.input"]
        else:
            stream = request.stream  # bounded by Content-Length (and werkzeug's MAX_CONTENT_LENGTH)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = stream.read(min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        return None
    return None if size > limit else b"".join(chunks)


@blueprint.route("/webhooks", methods=["POST"], strict_slashes=False)
@blueprint.route("/webhooks/", methods=["POST"], strict_slashes=False)
def receive() -> Response:
    config = config_of(current_app)
    raw = read_body(config.max_webhook_bytes)
    if raw is None:
        log.warning("webhook refused: body above %d bytes", config.max_webhook_bytes)
        return _answer(413, "payload too large")
    if not verify_hmac(raw, request.headers.get(HMAC_HEADER), config.webhook_secrets):
        log.warning("webhook refused: missing or wrong HMAC (topic %r)", request.headers.get("X-Shopify-Topic"))
        return _answer(401, "unauthorized")
    try:
        envelope = parse_envelope(request.headers)
    except EnvelopeError as exc:
        log.warning("webhook refused: %s", exc)
        return _answer(400, str(exc))

    status, error = "received", None
    try:
        parse_json(raw)  # validity only: the worker parses again when it processes the row
    except PayloadError as exc:
        status, error = "failed", f"unparseable body: {exc}"

    try:
        with database_of(current_app).connection() as connection:
            stored = store_delivery(connection, envelope, raw, shopify_headers(request.headers), utcnow(), status, error)
    except SQLAlchemyError:
        log.exception("webhook %s not stored; Shopify will retry", envelope.webhook_id)
        return _answer(503, "storage unavailable")
    log.info(
        "webhook %s %s for %s: %s",
        envelope.webhook_id,
        envelope.topic,
        envelope.shop_domain,
        status if stored else "duplicate",
    )
    return _answer(200)
