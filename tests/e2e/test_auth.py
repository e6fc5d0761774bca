"""Auth through the real Flask app, outside dev mode: session tokens on page loads and data
requests, the token-refresh page and its open-redirect defence, the CSP every HTML answer
carries, and the authorization-code fallback's refusals. Each refusal also asserts that
nothing was stored or changed. (The token exchange itself, against a fake Shopify, is in
test_install.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from shopify_app.shopify.oauth_query import sign_oauth_query
from shopify_app.store.tables import OAuthState, Shop
from tests.e2e.conftest import TEST_SECRET
from tests.support.oracle_tokens import claims, sign

API_KEY = "dev-api-key"
SHOP = "demo.myshopify.com"
OTHER = "other.myshopify.com"


@pytest.fixture
def app(app_factory):
    return app_factory(dev_mode=False)


def token(now: datetime | None = None, secret: str = TEST_SECRET, **overrides) -> str:
    now = now or datetime.now(timezone.utc)
    return sign(claims(now, shop=overrides.pop("shop", SHOP), aud=API_KEY, **overrides), secret)


def shops(database) -> list[tuple]:
    with database.reading() as session:
        return [(s.domain, s.access_token_encrypted) for s in session.scalars(select(Shop))]


# -- page loads and data requests ----------------------------------------------------------------


def test_a_page_load_without_a_token_bounces_to_the_token_refresh_page(client) -> None:
    response = client.get("/?shop=demo.myshopify.com&host=YWRtaW4&embedded=1")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/session-token"
    assert parse_qs(location.query)["shopify-reload"] == ["/?shop=demo.myshopify.com&host=YWRtaW4&embedded=1"]


def test_a_stale_token_on_a_page_load_bounces_without_it(client) -> None:
    stale = token(datetime.now(timezone.utc) - timedelta(minutes=5))
    response = client.get(f"/?shop={SHOP}&id_token={stale}&host=x")
    assert response.status_code == 302
    reload_target = parse_qs(urlsplit(response.headers["Location"]).query)["shopify-reload"][0]
    assert reload_target == f"/?shop={SHOP}&host=x" and "id_token" not in reload_target


@pytest.mark.parametrize("authorization", [
    "Bearer " + "x.y.z",
    "Bearer {expired}",
    "Bearer {forged}",
    "Bearer {wrong_audience}",
    "Bearer {foreign_dest}",
])
def test_a_data_request_with_a_bad_token_is_401_and_asks_app_bridge_to_retry(client, database, authorization) -> None:
    now = datetime.now(timezone.utc)
    bad = authorization.format(
        expired=token(now - timedelta(minutes=5)),
        forged=token(secret="not-the-app-secret-but-just-as-long-0123"),
        wrong_audience=sign(claims(now, shop=SHOP, aud="another-app"), TEST_SECRET),
        foreign_dest=sign(claims(now, shop=SHOP, aud=API_KEY, dest="https://evil.com"), TEST_SECRET),
    )
    response = client.get("/", headers={"Authorization": bad})
    assert response.status_code == 401
    assert response.headers.get("X-Shopify-Retry-Invalid-Session-Request") == "1"
    assert shops(database) == []  # nothing installed on a refused request


# -- the token-refresh page ----------------------------------------------------------------------


def test_the_token_refresh_page_loads_app_bridge_and_may_be_framed_by_the_named_shop(client) -> None:
    response = client.get(f"/auth/session-token?shop={SHOP}&shopify-reload=%2Fsettings%3Fhost%3Dx")
    assert response.status_code == 200
    assert b'<meta name="shopify-api-key" content="dev-api-key">' in response.data
    assert b"https://cdn.shopify.com/shopifycloud/app-bridge.js" in response.data
    assert response.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com/", "/\\evil.com", "javascript:alert(1)", "/a\r\nSet-Cookie:x", "", "/" + "x" * 3000])
def test_the_token_refresh_page_reloads_only_paths_of_this_app(client, target: str) -> None:
    response = client.get("/auth/session-token?" + urlencode({"shop": SHOP, "shopify-reload": target}))
    assert response.status_code == 400
    assert b"app-bridge.js" not in response.data


def test_html_without_a_known_shop_may_be_framed_by_nobody(client) -> None:
    response = client.get("/auth/session-token?shop=evil.com&shopify-reload=/")
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"


# -- the authorization-code fallback -------------------------------------------------------------


def callback_query(shop: str = SHOP, state: str = "nonce", secret: str = TEST_SECRET, when: datetime | None = None, **extra) -> str:
    params = {"code": "code-1", "shop": shop, "state": state, "host": "YWRtaW4",
              "timestamp": str(int((when or datetime.now(timezone.utc)).timestamp())), **extra}
    params["hmac"] = sign_oauth_query(params, secret)
    return urlencode(params)


def start(client, shop: str = SHOP) -> str:
    """``/auth``: the nonce Shopify will get back as ``state``."""
    response = client.get(f"/auth?shop={shop}")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", shop, "/admin/oauth/authorize")
    query = parse_qs(location.query)
    assert query["client_id"] == [API_KEY] and query["redirect_uri"] == ["http://127.0.0.1:8080/auth/callback"]
    assert query["scope"] == ["read_orders,read_returns,read_shopify_payments_disputes"]
    return query["state"][0]


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "https://demo.myshopify.com", ""])
def test_auth_refuses_a_foreign_shop(client, database, shop: str) -> None:
    assert client.get("/auth?" + urlencode({"shop": shop})).status_code == 400
    with database.reading() as session:
        assert session.scalars(select(OAuthState)).all() == []


def test_auth_deletes_the_expired_states_as_it_stores_a_new_one(client, database) -> None:
    """Anyone may call /auth: its rows must not pile up. Expired ones go, spent or not; the
    others stay usable (or refusable, once spent) until they expire."""
    now = datetime.now(timezone.utc)
    minutes = lambda n: now - timedelta(minutes=n)  # noqa: E731
    with database.transaction() as session:
        session.add_all([
            OAuthState(nonce="expired", shop_domain=SHOP, created_at=minutes(11)),
            OAuthState(nonce="expired-and-spent", shop_domain=SHOP, created_at=minutes(11), used_at=minutes(10)),
            OAuthState(nonce="pending", shop_domain=OTHER, created_at=minutes(9)),
            OAuthState(nonce="spent", shop_domain=SHOP, created_at=minutes(2), used_at=minutes(1)),
        ])
    nonce = start(client)
    with database.reading() as session:
        assert sorted(state.nonce for state in session.scalars(select(OAuthState))) == sorted([nonce, "pending", "spent"])


@pytest.mark.parametrize("case", ["bad hmac", "old timestamp", "future timestamp", "foreign shop", "no cookie", "other state",
                                  "replayed state", "state of another shop"])
def test_the_callback_refuses_and_installs_nothing(client, database, case: str) -> None:
    now = datetime.now(timezone.utc)
    nonce = start(client)
    query = {
        "bad hmac": lambda: callback_query(state=nonce, secret="not-the-secret"),
        "old timestamp": lambda: callback_query(state=nonce, when=now - timedelta(minutes=5)),
        "future timestamp": lambda: callback_query(state=nonce, when=now + timedelta(minutes=5)),
        "foreign shop": lambda: callback_query(shop="evil.com", state=nonce),
        "no cookie": lambda: callback_query(state=nonce),
        "other state": lambda: callback_query(state="another-nonce"),
        "replayed state": lambda: callback_query(state=nonce),
        "state of another shop": lambda: callback_query(shop=OTHER, state=nonce),
    }[case]()
    if case == "no cookie":
        client.delete_cookie("clawback_oauth_state")
    if case == "replayed state":
        with database.transaction() as session:  # as if its first use had gone through
            session.get(OAuthState, nonce).used_at = now
    response = client.get(f"/auth/callback?{query}")
    assert response.status_code == 400 and response.data.startswith(b"install refused: ")
    assert shops(database) == []
