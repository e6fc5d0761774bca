"""Browser fixtures: the real app over HTTP on 127.0.0.1, driven by Debian's headless Chromium
through Playwright, with Shopify's App Bridge stood in for (``tests/browser/support.py``).

Fixtures (every test under ``tests/browser`` is marked ``browser``):

- ``live_server(dev_mode=True, **config_overrides) -> LiveServer``: the app on a migrated
  database (the ``database`` fixture: SQLite and PostgreSQL), served by werkzeug in a thread.
  ``dev_mode=False`` is the embedded app: session tokens, and its Shopify origin pointed at
  ``fake_shopify`` so the first open's token exchange succeeds. ``LiveServer`` has ``url``,
  ``config``, ``database``, ``open_url(path, shop, **params)`` (what the merchant's browser
  loads: ``?shop=`` in dev mode, the admin iframe's query embedded) and ``add_shop(domain)``.
- ``fake_shopify``: ``tests/support/fake_shopify.FakeShopify`` on the test secret, its clock
  following real time.
- ``page`` / ``app_bridge``: a fresh context (1280x900) and page, and that page's
  ``AppBridgeStub`` (``app_bridge.shop = "other.myshopify.com"`` makes the next tokens that
  shop's). ``new_page(shop=SHOP) -> (Page, AppBridgeStub)`` opens more, each its own context.
- ``screenshot(page, label) -> Path``: a full-page PNG at ``tests/artifacts/<test>-<label>.png``.
- ``assert_accessible(page)``: asserts axe-core finds no WCAG 2 A/AA violation, listing rule
  ids and nodes.

Without Chromium at /usr/bin/chromium, the pinned axe-core or Playwright, these tests skip
with a message (fail under ``CI=true``); ``scripts/install-test-deps.sh`` installs them.
A failed test leaves a screenshot of each of its open pages (``<test>-failure-N.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.browser.support import (
    API_KEY,
    CHROMIUM,
    CHROMIUM_ARGS,
    SHOP,
    TEST_SECRET,
    VIEWPORT,
    AppBridgeStub,
    LiveServer,
    WallClock,
    axe_report,
    require_browser_tools,
    run_axe,
    save_screenshot,
)
from tests.support.db import _pg_database, _sqlite_template, database  # noqa: F401  (fixtures)

HERE = Path(__file__).parent
_CALL_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


# -- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) for all the browser tests of a run: launched by the
    first, closed after the last (package scope: it does not idle through the other suites)."""
    require_browser_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, request) -> Iterator[Callable[..., tuple[Any, AppBridgeStub]]]:
    """Open a page in a fresh context whose App Bridge hands out tokens for ``shop``."""
    contexts: list[tuple[Any, AppBridgeStub]] = []

    def open_page(shop: str = SHOP, *, api_key: str = API_KEY, secret: str = TEST_SECRET) -> tuple[Any, AppBridgeStub]:
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", color_scheme="light",
                                      reduced_motion="reduce")
        context.set_default_timeout(10_000)
        stub = AppBridgeStub(shop=shop, api_key=api_key, secret=secret)
        stub.install(context)
        page = context.new_page()
        stub.watch(page)
        contexts.append((context, stub))
        return page, stub

    yield open_page
    failed = request.node.stash.get(_CALL_FAILED, False)
    for number, (context, _) in enumerate(contexts, start=1):
        if failed:
            for page in context.pages:
                try:
                    print(f"screenshot of the failure: {save_screenshot(page, request.node.name, f'failure-{number}')}")
                except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the failure itself
                    print(f"no screenshot of the failure: {exc}")
        context.close()


@pytest.fixture
def _default_page(new_page) -> tuple[Any, AppBridgeStub]:
    return new_page()


@pytest.fixture
def page(_default_page) -> Any:
    """A fresh page (its own context, 1280x900) with App Bridge stood in for."""
    return _default_page[0]


@pytest.fixture
def app_bridge(_default_page) -> AppBridgeStub:
    """``page``'s App Bridge: whose tokens, and what it issued, blocked and saw fail."""
    return _default_page[1]


# -- the app ----------------------------------------------------------------------------------------


@pytest.fixture
def fake_shopify() -> Iterator[Any]:
    from shopify_app.shopify.app_config import SCOPES
    from tests.support.fake_shopify import FakeShopify

    with FakeShopify(api_key=API_KEY, api_secret=TEST_SECRET, clock=WallClock(), scopes=",".join(SCOPES)) as fake:
        yield fake


@pytest.fixture
def live_server(database, request) -> Iterator[Callable[..., LiveServer]]:  # noqa: F811 - the fixture imported above
    """Serve the app on ``database``: ``live_server()`` in dev mode, ``live_server(dev_mode=False)``
    embedded (its Shopify origin the ``fake_shopify``); other keywords override the config."""
    from shopify_app.app import create_app
    from tests.e2e.conftest import make_config
    from tests.support.cli import TEST_ENCRYPTION_KEY

    servers: list[LiveServer] = []

    def serve(dev_mode: bool = True, **overrides: Any) -> LiveServer:
        values: dict[str, Any] = {"dev_mode": dev_mode}
        if not dev_mode:
            values["encryption_key"] = TEST_ENCRYPTION_KEY
            if "shopify_origin" not in overrides:
                values["shopify_origin"] = request.getfixturevalue("fake_shopify").origin
        values.update(overrides)
        config = make_config(database.url, **values)
        server = LiveServer(create_app(config, migrate=False), config).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()


# -- looking at pages ---------------------------------------------------------------------------------


@pytest.fixture
def screenshot(request) -> Callable[[Any, str], Path]:
    """``screenshot(page, label)``: a full-page PNG at ``tests/artifacts/<test>-<label>.png``."""

    def take(page: Any, label: str) -> Path:
        return save_screenshot(page, request.node.name, label)

    return take


@pytest.fixture
def assert_accessible() -> Callable[[Any], None]:
    """``assert_accessible(page)``: no axe-core WCAG 2 A/AA violation (rule ids and nodes listed if any)."""

    def check(page: Any) -> None:
        violations = run_axe(page)
        assert not violations, f"{page.url}\n{axe_report(violations)}"

    return check
