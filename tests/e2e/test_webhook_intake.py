"""``POST /webhooks`` end to end, on SQLite and PostgreSQL: answers AND what the inbox holds.

interfaces.md "HTTP"; shopify-platform.md §3 and pitfalls 2-4; reliability-and-performance.md §A6.
"""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from flask import request
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from shopify_app import worker
from shopify_app.app import create_app
from shopify_app.store.inbox import counts_by_status
from shopify_app.store.tables import WebhookDelivery
from shopify_app.shopify.signature import sign, verify_hmac
from tests.e2e.conftest import make_config
from tests.support.signing import SHOP, body_bytes, post_webhook, signed_headers

ORDER = {"id": 5012345678901, "name": "#1001", "financial_status": "paid", "total_price": "200.00", "currency": "EUR"}
COMPLIANCE_TOPICS = ["customers/data_request", "customers/redact", "shop/redact"]


def rows(database) -> list[WebhookDelivery]:
    with database.transaction() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# -- accepted ----------------------------------------------------------------------------


def test_valid_delivery_is_stored_with_its_exact_bytes(client, database) -> None:
    raw = b'{"id": 5012345678901,  "total_price":"200.00" ,"note":"caf\xc3\xa9"}\n'  # odd spacing kept as sent
    response = post_webhook(client, "orders/paid", raw, webhook_id="wh-1", event_id="ev-1")
    assert response.status_code == 200
    assert response.data == b""
    [row] = rows(database)
    assert row.body == raw
    assert (row.status, row.webhook_id, row.topic, row.shop_domain) == ("received", "wh-1", "orders/paid", SHOP)
    assert (row.event_id, row.api_version, row.triggered_at) == ("ev-1", "2026-07", "2026-11-02T10:00:00.000Z")
    assert row.order_id is None and row.last_error is None and row.attempts == 0
    assert row.next_attempt_at == row.received_at
    headers = json.loads(row.headers_json)
    assert headers["x-shopify-webhook-id"] == "wh-1"
    assert headers["x-shopify-topic"] == "orders/paid"
    assert verify_hmac(row.body, headers["x-shopify-hmac-sha256"], ["dev-api-secret-for-local-use-only"])  # replayable as stored
    assert "host" not in headers


def test_trailing_slash_is_served_not_redirected(client, database) -> None:
    response = post_webhook(client, "orders/paid", ORDER, path="/webhooks/")
    assert response.status_code == 200
    assert len(rows(database)) == 1


def test_lowercase_header_names_work(client, database) -> None:
    response = post_webhook(client, "orders/paid", ORDER, lowercase=True, webhook_id="wh-lower")
    assert response.status_code == 200
    [row] = rows(database)
    assert (row.webhook_id, row.status) == ("wh-lower", "received")


def test_shop_domain_is_stored_normalised(client, database) -> None:
    assert post_webhook(client, "orders/paid", ORDER, shop=" Demo.MyShopify.com ").status_code == 200
    assert [r.shop_domain for r in rows(database)] == ["demo.myshopify.com"]


def test_duplicate_webhook_id_answers_200_and_keeps_one_row(client, database) -> None:
    first = post_webhook(client, "orders/paid", ORDER, webhook_id="wh-dup")
    again = post_webhook(client, "orders/paid", ORDER, webhook_id="wh-dup")
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(rows(database)) == 1
    other = post_webhook(client, "orders/paid", ORDER, webhook_id="wh-other")  # a different delivery is kept
    assert other.status_code == 200
    assert [r.webhook_id for r in rows(database)] == ["wh-dup", "wh-other"]


@pytest.mark.parametrize("topic", COMPLIANCE_TOPICS)
def test_compliance_topics_signed_200_unsigned_401(client, database, topic) -> None:
    payload = {"shop_id": 954889, "shop_domain": SHOP, "customer": {"id": 191167}}
    assert post_webhook(client, topic, payload, secret=None).status_code == 401
    assert post_webhook(client, topic, payload, hmac=sign(body_bytes(payload), "not-the-secret")).status_code == 401
    assert rows(database) == []
    assert post_webhook(client, topic, payload).status_code == 200
    [row] = rows(database)
    assert (row.topic, row.status) == (topic, "received")


# -- HMAC: 401, nothing stored -----------------------------------------------------------------


def test_wrong_hmac_is_401_and_not_stored(client, database) -> None:
    response = post_webhook(client, "orders/paid", ORDER, secret="some-other-secret")
    assert response.status_code == 401
    assert rows(database) == []


def test_hmac_over_reserialised_json_is_401(client, database) -> None:
    raw = b'{"id": 5012345678901, "total_price": "200.00"}'
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert reserialised != raw
    headers = signed_headers(raw, "orders/paid", hmac=sign(reserialised, "dev-api-secret-for-local-use-only"))
    assert client.post("/webhooks", data=raw, headers=headers).status_code == 401
    assert rows(database) == []


@pytest.mark.parametrize("value", [None, "", "not base64 !!", "YWJj", "\u00e9t\u00e9"])
def test_missing_or_garbage_hmac_header_is_401(client, database, value) -> None:
    kw = {"secret": None} if value is None else {"hmac": value}
    assert post_webhook(client, "orders/paid", ORDER, **kw).status_code == 401
    assert rows(database) == []


def test_old_secret_accepted_only_while_rotating(app_factory, database) -> None:
    rotating = app_factory(api_secret="new-secret", api_secret_old="old-secret").test_client()
    assert post_webhook(rotating, "orders/paid", ORDER, secret="old-secret", webhook_id="wh-old").status_code == 200
    assert post_webhook(rotating, "orders/paid", ORDER, secret="new-secret", webhook_id="wh-new").status_code == 200
    assert post_webhook(rotating, "orders/paid", ORDER, secret="dev-api-secret-for-local-use-only").status_code == 401
    rotated = app_factory(api_secret="new-secret", api_secret_old=None).test_client()
    assert post_webhook(rotated, "orders/paid", ORDER, secret="old-secret", webhook_id="wh-late").status_code == 401
    assert [r.webhook_id for r in rows(database)] == ["wh-old", "wh-new"]


def test_hmac_is_checked_before_headers(client, database) -> None:
    """An unsigned request learns nothing about which headers it lacks."""
    response = post_webhook(client, "orders/paid", ORDER, secret=None, omit=("X-Shopify-Topic",))
    assert response.status_code == 401


# -- headers: 400, nothing stored ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id", "X-Shopify-API-Version"]
)
def test_missing_required_header_is_400_and_not_stored(client, database, header) -> None:
    response = post_webhook(client, "orders/paid", ORDER, omit=(header,))
    assert response.status_code == 400
    assert header in response.get_data(as_text=True)
    assert rows(database) == []


def test_blank_required_header_counts_as_missing(client, database) -> None:
    assert post_webhook(client, "orders/paid", ORDER, webhook_id=" ", api_version="").status_code == 400
    assert rows(database) == []


@pytest.mark.parametrize(
    "shop", ["evil.com", "shop.myshopify.com.evil.test", "evil.com/x.myshopify.com", "-x.myshopify.com", "a b.myshopify.com"]
)
def test_bad_shop_domain_is_400_and_not_stored(client, database, shop) -> None:
    assert post_webhook(client, "orders/paid", ORDER, shop=shop).status_code == 400
    assert rows(database) == []


def test_control_character_in_a_header_is_400(client, database) -> None:
    assert post_webhook(client, "orders/paid", ORDER, webhook_id="wh\x00nul").status_code == 400
    assert rows(database) == []


# -- size: 413, nothing stored -------------------------------------------------------------------

LIMIT = 1024


@pytest.fixture
def small_app(app_factory):
    return app_factory(max_webhook_bytes=LIMIT)


def _padded(size: int) -> bytes:
    raw = json.dumps({"id": 1, "pad": "x" * size}).encode()
    return raw[: size - 2] + b'"}' if len(raw) > size else raw


def test_body_at_the_limit_is_accepted(small_app, database) -> None:
    raw = _padded(LIMIT)
    assert len(raw) == LIMIT
    assert post_webhook(small_app.test_client(), "orders/paid", raw).status_code == 200
    assert len(rows(database)) == 1


def test_body_over_the_limit_is_413_and_not_stored(small_app, database) -> None:
    raw = _padded(LIMIT + 1)
    assert len(raw) == LIMIT + 1
    assert post_webhook(small_app.test_client(), "orders/paid", raw).status_code == 413
    assert post_webhook(small_app.test_client(), "orders/paid", b"{}" + b" " * 10_000_000).status_code == 413
    assert rows(database) == []


def _chunked(app, raw: bytes, **kw) -> int:
    """Run the app on a request with no Content-Length, as a server does for a chunked body."""
    environ = EnvironBuilder(
        path="/webhooks", method="POST", data=raw,
        headers={**signed_headers(raw, "orders/paid", **kw), "Transfer-Encoding": "chunked"},
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True  # the server de-chunks and ends the stream
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0])


def test_chunked_body_without_content_length_is_capped(small_app, database) -> None:
    assert _chunked(small_app, _padded(LIMIT + 1)) == 413
    assert _chunked(small_app, b"{}" + b" " * 10_000_000) == 413
    assert rows(database) == []
    assert _chunked(small_app, _padded(LIMIT), webhook_id="wh-chunked") == 200
    [row] = rows(database)
    assert (row.webhook_id, row.body) == ("wh-chunked", _padded(LIMIT))


def test_chunked_upload_over_a_real_socket(small_app, database) -> None:
    """Through werkzeug's HTTP server, which de-chunks and sets ``wsgi.input_terminated``."""
    server = make_server("127.0.0.1", 0, small_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:

        def send(raw: bytes, **kw) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                headers = signed_headers(raw, "orders/paid", **kw)
                chunks = (raw[i : i + 100] for i in range(0, len(raw), 100))
                connection.request("POST", "/webhooks", body=chunks, headers=headers, encode_chunked=True)
                response = connection.getresponse()
                response.read()
                return response.status
            finally:
                connection.close()

        assert send(_padded(LIMIT + 1)) == 413
        assert rows(database) == []
        assert send(_padded(LIMIT), webhook_id="wh-socket") == 200
    finally:
        server.shutdown()
        thread.join(5)
    [row] = rows(database)
    assert (row.webhook_id, row.body) == ("wh-socket", _padded(LIMIT))


# -- signed but unusable bodies: 200, stored, failed at the worker's first try -------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json", "not valid JSON"),
        (b'{"id": 1, "note": "caf\xe9"}', "UTF-8"),
        (b'{"id": 1, "note": "a\\u0000b"}', "NUL"),
        (b'{"id": 1, "note": "a\x00b"}', "not valid JSON"),
        (b'[{"id": 1}]', "not an object"),
        (b'"just a string"', "not an object"),
        (b"", "not valid JSON"),
        (b'{"total_price": NaN}', "NaN"),
    ],
    ids=["not-json", "invalid-utf8", "escaped-nul", "raw-nul", "array", "string", "empty", "nan"],
)
def test_signed_unusable_body_is_stored_answered_200_and_failed_by_the_worker(client, database, raw, reason) -> None:
    """The intake parses nothing (one parse per delivery, in the worker): the bytes are kept
    as sent, and the first try fails them for good with the reason."""
    response = post_webhook(client, "orders/paid", raw, webhook_id="wh-bad")
    assert response.status_code == 200
    [row] = rows(database)
    assert (row.webhook_id, row.status, row.body) == ("wh-bad", "received", raw)
    report = worker.run(database, make_config(database.url), until_idle=True)
    assert report.statuses == {"failed": 1}
    [row] = rows(database)
    assert (row.status, row.attempts, row.body) == ("failed", 1, raw)
    assert row.last_error.startswith("payload: ") and reason in row.last_error
    with database.transaction() as session:
        assert counts_by_status(session) == {"failed": 1}


def test_counts_by_status(client, database) -> None:
    post_webhook(client, "orders/paid", ORDER)
    post_webhook(client, "orders/create", ORDER)
    post_webhook(client, "orders/paid", b"nope")
    with database.transaction() as session:
        assert counts_by_status(session) == {"received": 3}


# -- storage down: not 2xx, so Shopify retries ---------------------------------------------------


def test_unreachable_database_is_not_acknowledged() -> None:
    app = create_app(make_config("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"), migrate=False)
    response = post_webhook(app.test_client(), "orders/paid", ORDER)
    assert response.status_code == 503


def test_get_is_not_a_redirect(client) -> None:
    assert client.get("/webhooks").status_code == 405
    assert client.get("/webhooks/").status_code == 405


# -- the intake's own app: nothing of the admin on Shopify's path ---------------------------------


def test_the_intake_paths_reach_the_intake_app_and_every_other_path_the_full_app(app, client, database) -> None:
    seen: list[tuple[str, str]] = []
    app.extensions["clawback.intake"].before_request(lambda: seen.append(("intake", request.path)))
    app.before_request(lambda: seen.append(("full", request.path)))
    answers = [
        post_webhook(client, "orders/paid", ORDER, webhook_id="wh-a").status_code,
        post_webhook(client, "orders/paid", ORDER, webhook_id="wh-b", path="/webhooks/").status_code,
        client.get("/webhooks").status_code,
        post_webhook(client, "orders/paid", ORDER, path="/webhooks/extra").status_code,
        post_webhook(client, "orders/paid", ORDER, path="/webhooksx").status_code,
        client.get("/healthz").status_code,
        client.get("/nothing-here").status_code,
    ]
    assert answers == [200, 200, 405, 404, 404, 200, 404]
    assert seen == [("intake", "/webhooks"), ("intake", "/webhooks/"), ("intake", "/webhooks"), ("full", "/webhooks/extra"),
                    ("full", "/webhooksx"), ("full", "/healthz"), ("full", "/nothing-here")]
    assert [r.webhook_id for r in rows(database)] == ["wh-a", "wh-b"]


def test_webhook_answers_carry_none_of_the_admin_headers_that_its_pages_do(client, database) -> None:
    stored = post_webhook(client, "orders/paid", ORDER, webhook_id="wh-plain")
    refused = post_webhook(client, "orders/paid", ORDER, secret="some-other-secret")
    wrong_method = client.get(f"/webhooks?shop={SHOP}")  # an HTML answer, which the admin would frame for the shop
    for answer, status in ((stored, 200), (refused, 401), (wrong_method, 405)):
        assert answer.status_code == status
        assert {"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Set-Cookie"}.isdisjoint(answer.headers)
    assert wrong_method.mimetype == "text/html"
    page = client.get(f"/auth/session-token?shop={SHOP}&shopify-reload=/")
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    assert client.get(f"/nothing-here?shop={SHOP}").headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
