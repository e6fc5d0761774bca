"""``POST /webhooks``: verify, store durably, answer. Nothing is processed here.

Checks, in order (interfaces.md "HTTP"; shopify-platform.md §3 and pitfalls 2-4):

1. body above ``Config.max_webhook_bytes`` -> 413, whether its ``Content-Length`` says so or
   a chunked body runs over (at most limit + 1 bytes are ever read); a body of exactly the
   limit is accepted both ways;
2. ``X-Shopify-Hmac-Sha256`` missing or not the HMAC of the raw bytes under the current or
   the previous secret -> 401;
3. a required header missing or a shop domain that is not exactly ``NAME.myshopify.com``
   -> 400;
4. otherwise the delivery is stored and the answer is 200 with an empty body: for a retry of
   a stored delivery too, and for a reused webhook id with other content, which is kept as a
   conflict (``store.inbox.store_delivery``; a new delivery takes one INSERT, ``store.intake``);
   a database that does not take the write -> 503, so Shopify retries.

A client that stops sending mid-body gets 408 after ``BODY_SECONDS``, so it holds one of
gunicorn's threads for at most that long and never delays Shopify's own deliveries, which
must be answered within 5 s. Nothing here is ever a redirect (Shopify counts 3xx as
failure): ``/webhooks`` and ``/webhooks/`` are both routed.

Refusals are logged as warnings and storage failures as errors; a stored delivery only at DEBUG. At
Shopify's volumes a line per acknowledged delivery is a measurable share of the request's
cost and says nothing the inbox row (``received_at``, ``clawback inbox``) does not.
"""

from __future__ import annotations

import logging
import socket
import time

from flask import Blueprint, Response, request

from shopify_app.clock import utcnow
from shopify_app.shopify.headers import HMAC_HEADER, EnvelopeError, parse_envelope, shopify_headers
from shopify_app.shopify.signature import verify_hmac
from shopify_app.store.engine import StorageUnavailable
from shopify_app.context import config, inbox_writer

__all__ = ["PATHS", "blueprint", "read_body"]

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__)

PATHS = frozenset({"/webhooks", "/webhooks/"})
"""Where Shopify posts deliveries: both spellings are routed, since Shopify counts a redirect
as a failed delivery. The app factory serves exactly these paths from the intake's own app."""

_CHUNK = 64 * 1024
BODY_SECONDS = 3.0
"""The longest a body may take to arrive; Shopify's whole request has 5 s."""


class _Stalled(Exception):
    """The client stopped sending before its body was complete."""


def _answer(status: int, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def read_body(limit: int) -> bytes | None:
    """The raw request body, or None when it is larger than ``limit`` bytes.

    Reads the WSGI input itself: with a ``Content-Length`` exactly that many bytes, without
    one (chunked) at most ``limit + 1``, so a chunked body over the limit is caught without
    reading it all. werkzeug's own wrapper cannot be used here: capped at the limit, it
    refuses a body of exactly the limit because it cannot tell whether more is coming.
    Without a length and without a server that terminates the input (gunicorn and
    werkzeug's server both do), there is nothing safe to read: the body is empty.
    """
    length = request.content_length
    if length is not None and length > limit:
        return None
    if length is None and "wsgi.input_terminated" not in request.environ:
        return b""
    want = length if length is not None else limit + 1
    stream = request.environ["wsgi.input"]
    sock = request.environ.get("gunicorn.socket")
    deadline = time.monotonic() + BODY_SECONDS
    previous = sock.gettimeout() if sock is not None else None
    chunks: list[bytes] = []
    size = 0
    try:
        while size < want:
            if sock is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Stalled
                sock.settimeout(left)
            chunk = stream.read(min(_CHUNK, want - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (socket.timeout, TimeoutError) as exc:
        raise _Stalled from exc
    finally:
        if sock is not None:
            sock.settimeout(previous)
    return None if size > limit else b"".join(chunks)


def receive() -> Response:
    settings = config()
    limit = settings.max_webhook_bytes
    try:
        raw = read_body(limit)
    except _Stalled:
        log.warning("webhook refused: body not received within %s s", BODY_SECONDS)
        return _answer(408, "request body timed out")
    if raw is None:
        log.warning("webhook refused: body above %d bytes", limit)
        return _answer(413, "payload too large")
    if not verify_hmac(raw, request.headers.get(HMAC_HEADER), settings.webhook_secrets):
        log.warning("webhook refused: missing or wrong HMAC (topic %r)", request.headers.get("X-Shopify-Topic", "")[:80])
        return _answer(401, "unauthorized")
    headers = list(request.headers.items())  # werkzeug re-reads the environ on every pass: read it once
    try:
        envelope = parse_envelope(headers)
    except EnvelopeError as exc:
        log.warning("webhook refused: %s", exc)
        return _answer(400, str(exc))
    try:
        stored = inbox_writer().store(
            webhook_id=envelope.webhook_id, shop_domain=envelope.shop_domain, topic=envelope.topic,
            api_version=envelope.api_version, event_id=envelope.event_id, triggered_at=envelope.triggered_at,
            headers=shopify_headers(headers), body=raw, now=utcnow(),
        )
    except StorageUnavailable:
        log.exception("webhook %s not stored; Shopify will retry", envelope.webhook_id)
        return _answer(503, "storage unavailable")
    log.debug("webhook %s %s for %s: %s", envelope.webhook_id, envelope.topic, envelope.shop_domain, stored.value)
    return _answer(200)


for _path in sorted(PATHS):
    blueprint.add_url_rule(_path, view_func=receive, methods=["POST"], strict_slashes=False)
