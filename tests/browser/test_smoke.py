"""The app home in a real browser: dev mode (``?shop=``) and embedded (session tokens through a
stand-in for App Bridge), each screenshotted and checked with axe-core (WCAG 2 A/AA).

Embedded, the first load carries no ``id_token``: the app bounces it to the token-refresh page,
App Bridge fetches a token and comes back with it, and that first authenticated open
exchanges the token at (fake) Shopify. That round trip is the proof the stand-in behaves
like App Bridge for our pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.browser.support import SHOP

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture skips (fails under CI=true) and says why
    expect = None

OTHER_SHOP = "browser-other.myshopify.com"


def _path(url: str) -> str:
    return urlsplit(url).path


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _open_embedded(page, server, shop: str) -> None:
    """Load ``/`` as the admin's iframe does (no ``id_token``) and wait for App Bridge to come
    back from the token-refresh page with one."""
    page.goto(server.open_url("/", shop=shop))
    page.wait_for_url(re.compile(r"[?&]id_token="))
    page.wait_for_load_state("load")


def _clean(app_bridge) -> None:
    """Nothing left 127.0.0.1, no script error, no request of the app failed."""
    assert app_bridge.blocked == [], f"requests off this machine: {app_bridge.blocked}"
    assert app_bridge.page_errors == [], f"uncaught errors: {app_bridge.page_errors}"
    assert app_bridge.broken == [], f"failed requests: {app_bridge.broken}"


def test_home_in_dev_mode(live_server, page, app_bridge, screenshot, assert_accessible) -> None:
    server = live_server()
    server.add_shop(SHOP)

    response = page.goto(server.open_url("/", shop=SHOP))

    assert response is not None and response.status == 200
    expect(page.locator("h1").first).to_be_visible()
    expect(page.locator("body")).to_contain_text(SHOP)  # dev mode says which shop ?shop= chose
    screenshot(page, "home")
    assert_accessible(page)
    assert app_bridge.issued == [], "dev mode must not load App Bridge or use session tokens"
    _clean(app_bridge)


def test_home_embedded_bounces_for_a_session_token_and_comes_back_authenticated(
    live_server, fake_shopify, page, app_bridge, screenshot, assert_accessible
) -> None:
    server = live_server(dev_mode=False)
    server.add_shop(SHOP)

    _open_embedded(page, server, SHOP)

    # The tokenless load bounced to the token-refresh page, which came back with a token.
    assert [(status, _path(url)) for status, url in app_bridge.documents] == [
        (302, "/"), (200, "/auth/session-token"), (200, "/")], app_bridge.documents
    bounce, back = app_bridge.documents[1][1], app_bridge.documents[2][1]
    assert _query(bounce)["shopify-reload"] == [f"/?{urlsplit(server.open_url('/', shop=SHOP)).query}"]
    assert _query(back)["shop"] == [SHOP] and _query(back)["id_token"][0] in app_bridge.issued
    expect(page.locator("h1").first).to_be_visible()
    assert fake_shopify.count("token_exchange", 200) == 1, fake_shopify.requests  # the first open installed the shop

    # A fetch from the page carries a fresh token that the app accepts (and no second exchange).
    with page.expect_request(lambda request: _path(request.url) == "/" and request.resource_type == "fetch") as sent:
        status = page.evaluate("() => fetch('/').then((response) => response.status)")
    assert status == 200
    authorization = sent.value.headers.get("authorization", "")
    assert authorization.startswith("Bearer ") and authorization.removeprefix("Bearer ") in app_bridge.issued
    assert fake_shopify.count("token_exchange") == 1

    screenshot(page, "home")
    assert_accessible(page)
    _clean(app_bridge)


def test_embedded_the_shop_is_the_tokens_never_the_query(live_server, fake_shopify, page, app_bridge) -> None:
    server = live_server(dev_mode=False)
    server.add_shop(SHOP)
    server.add_shop(OTHER_SHOP)
    app_bridge.shop = SHOP  # the admin framing this page is SHOP's: so are its tokens

    with page.expect_response(lambda response: _path(response.url) == "/" and "id_token=" in response.url) as answer:
        _open_embedded(page, server, OTHER_SHOP)  # ... whatever the query says

    assert answer.value.status == 200 and _query(page.url)["shop"] == [OTHER_SHOP]
    expect(page.locator("h1").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(OTHER_SHOP)
    policy = answer.value.headers.get("content-security-policy", "")
    assert f"https://{SHOP} " in policy and OTHER_SHOP not in policy  # framed by SHOP's admin only
    assert [(r.shop, r.status) for r in fake_shopify.requests] == [(SHOP, 200)]  # SHOP's token exchanged, nothing of OTHER_SHOP
    _clean(app_bridge)
