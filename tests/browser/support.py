"""What the browser tests use besides their fixtures (``tests/browser/conftest.py``): the app
served over real HTTP, a stand-in for Shopify's App Bridge, axe-core and screenshots.

Nothing here reaches the network. A page's context routes every request: 127.0.0.1 goes
through, App Bridge's script (and the stand-in's token URL) is answered from Python, and
anything else is aborted and recorded in :attr:`AppBridgeStub.blocked`.

**The App Bridge stand-in** does, for our pages, what the real script from Shopify's CDN does
inside the admin's iframe:

- ``window.shopify.idToken()`` resolves to a fresh session token (HS256 with the app secret,
  ``aud`` the api key, ``iss``/``dest`` for :attr:`AppBridgeStub.shop`, 60 s of life), made in
  Python for each call;
- ``window.fetch`` adds ``Authorization: Bearer <fresh token>`` to same-origin requests and,
  when the answer is a 401 with ``X-Shopify-Retry-Invalid-Session-Request: 1``, retries once
  with another fresh token;
- on a page whose query has ``shopify-reload`` (the token-refresh page,
  ``/auth/session-token``), it loads that path of this origin again with ``id_token=<fresh
  token>`` appended;
- ``ui-nav-menu`` and ``ui-title-bar`` are inert custom elements that render nothing in the
  page (the real ones are drawn by the admin, outside the iframe).

It refuses to start, as the real one does, without ``<meta name="shopify-api-key">`` or when
the script is loaded ``async``, ``defer`` or as a module; it also refuses an api key other
than the one its tokens are for. Those errors reach :attr:`AppBridgeStub.page_errors`. It
does not redirect a page opened outside the admin to the admin (the real one does), since
these tests open the app's pages at top level, as if they were the admin's iframe.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.support.fake_shopify import FakeClock

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
NODE_DIR = ROOT / "tests" / "browser" / ".node"
AXE_VERSION = "4.14.1"  # keep in step with AXE_VERSION in scripts/install-test-deps.sh
AXE_JS = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")  # WCAG 2.0, 2.1 and 2.2, levels A and AA

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 900}

APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
TOKEN_URL = "https://cdn.shopify.com/shopifycloud/app-bridge-stub/id-token"  # answered by the route, never fetched
API_KEY = "dev-api-key"  # tests/e2e/conftest.py:make_config's
TEST_SECRET = "dev-api-secret-for-local-use-only"  # likewise
SHOP = "browser-demo.myshopify.com"

INSTALL_HINT = "run `bash scripts/install-test-deps.sh` (or `make test`)"


# -- what must be on the machine -----------------------------------------------------------------


def missing_requirements() -> list[str]:
    """Why the browser tests cannot run here; empty when they can."""
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the Python package playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"Debian's Chromium is missing at {CHROMIUM}")
    installed = installed_axe_version()
    if installed is None:
        problems.append(f"axe-core is missing at {AXE_JS.relative_to(ROOT)}")
    elif installed != AXE_VERSION:
        problems.append(f"axe-core {installed} is installed, the tests pin {AXE_VERSION}")
    return problems


def installed_axe_version() -> str | None:
    package = AXE_JS.parent / "package.json"
    if not AXE_JS.is_file() or not package.is_file():
        return None
    return json.loads(package.read_text(encoding="utf-8")).get("version")


def require_browser_tools() -> None:
    """Skip (fail under ``CI=true``) when Chromium, axe-core or Playwright is missing."""
    problems = missing_requirements()
    if not problems:
        return
    message = "browser tests need: " + "; ".join(problems) + f" ({INSTALL_HINT}; never `playwright install`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# -- the app over real HTTP ----------------------------------------------------------------------


class _Handler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Quiet: a failing test shows the browser's view (screenshots, page errors), not a log."""


@dataclass
class LiveServer:
    """The Flask app behind werkzeug's threaded server on 127.0.0.1 (a free port)."""

    app: Any
    config: Any
    url: str = ""
    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="clawback-live", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.app.extensions["clawback.db"].dispose()

    @property
    def dev_mode(self) -> bool:
        return self.config.dev_mode

    @property
    def database(self) -> Any:
        return self.app.extensions["clawback.db"]

    def open_url(self, path: str = "/", shop: str = SHOP, **params: str) -> str:
        """The URL a merchant's browser loads for ``path``: in dev mode with ``?shop=``;
        embedded, as the Shopify admin's iframe does, with ``embedded``, ``host`` and ``shop``
        but no ``id_token`` (the app bounces through the token-refresh page for one)."""
        if self.dev_mode:
            query = {"shop": shop, **params}
        else:
            host = b64encode(f"admin.shopify.com/store/{shop.removesuffix('.myshopify.com')}".encode()).decode().rstrip("=")
            query = {"embedded": "1", "host": host, "shop": shop, **params}
        return f"{self.url}{path}?{urlencode(query)}"

    def add_shop(self, domain: str = SHOP, **kwargs: Any) -> None:
        """Register ``domain`` (``shopify_app.services.shops.add_shop``), no access token yet."""
        from shopify_app.services.shops import add_shop

        with self.database.transaction() as session:
            add_shop(session, domain, datetime.now(timezone.utc), **kwargs)


class WallClock(FakeClock):
    """The fake Shopify's clock following real time: the browser's session tokens are made with
    the real clock, and a frozen fake clock would call them not yet valid after 10 s."""

    def __init__(self) -> None:
        super().__init__(datetime.now(timezone.utc))
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self(), timezone.utc)


# -- App Bridge, stood in for ----------------------------------------------------------------------

_STUB_JS = r"""
(() => {
  "use strict";
  const CONFIG = __CONFIG__;
  const script = document.currentScript;
  if (script && (script.async || script.defer || script.type === "module")) {
    throw new Error("App Bridge must be loaded as a plain synchronous <script> (not async, defer or module)");
  }
  const meta = document.querySelector('meta[name="shopify-api-key"]');
  if (!meta || !meta.content) throw new Error('App Bridge needs <meta name="shopify-api-key" content="..."> before its script');
  if (meta.content !== CONFIG.apiKey) throw new Error(`App Bridge: shopify-api-key ${meta.content} is not this app's (${CONFIG.apiKey})`);

  const nativeFetch = window.fetch.bind(window);

  async function idToken() {
    const response = await nativeFetch(CONFIG.tokenUrl, { cache: "no-store" });
    if (!response.ok) throw new Error(`App Bridge stand-in: no session token (${response.status})`);
    return (await response.text()).trim();
  }

  async function withToken(request) {
    const headers = new Headers(request.headers);
    if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${await idToken()}`);
    return nativeFetch(new Request(request, { headers }));
  }

  window.fetch = async function fetch(input, init) {
    const request = new Request(input, init);
    if (new URL(request.url, location.href).origin !== location.origin) return nativeFetch(request);
    const spare = request.clone();
    const response = await withToken(request);
    if (response.status === 401 && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
      return withToken(spare);
    }
    return response;
  };

  window.shopify = {
    config: { apiKey: CONFIG.apiKey, shop: CONFIG.shop, locale: "en" },
    environment: { embedded: true, mobile: false, pos: false },
    idToken,
  };

  for (const name of ["ui-nav-menu", "ui-title-bar"]) {
    if (!customElements.get(name)) {
      customElements.define(name, class extends HTMLElement {
        constructor() { super(); this.attachShadow({ mode: "open" }); }  // drawn by the admin, not here
      });
    }
  }

  const reload = new URLSearchParams(location.search).get("shopify-reload");
  if (reload !== null) {
    const target = new URL(reload, location.origin);
    if (target.origin !== location.origin || !reload.startsWith("/")) {
      throw new Error(`App Bridge: shopify-reload ${reload} is not a path of this app`);
    }
    idToken().then((token) => {
      const [path, hash] = reload.split("#", 2);
      const joined = `${path}${path.includes("?") ? "&" : "?"}id_token=${encodeURIComponent(token)}`;
      location.replace(hash === undefined ? joined : `${joined}#${hash}`);
    });
  }
})();
"""


@dataclass
class AppBridgeStub:
    """One browser context's App Bridge, and what its pages did. ``shop`` is whose tokens it
    hands out (change it at any time: the next token follows). Recorded: ``issued``, every
    token handed out; ``blocked``, every request aborted for leaving 127.0.0.1;
    ``page_errors``, every uncaught error of its pages; ``documents``, ``(status, url)`` of
    every page load, redirects included; ``broken``, every request of the app that failed or
    answered 400 or more (a missing stylesheet, a script that 404s)."""

    shop: str = SHOP
    api_key: str = API_KEY
    secret: str = TEST_SECRET
    lifetime: int = 60
    issued: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    documents: list[tuple[int, str]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": f"https://{self.shop}/admin", "dest": f"https://{self.shop}", "aud": self.api_key, "sub": "42",
            "exp": now + self.lifetime, "nbf": now, "iat": now, "jti": secrets.token_hex(8), "sid": secrets.token_hex(16),
        }
        token = jwt.encode(claims, self.secret, algorithm="HS256")
        self.issued.append(token)
        return token

    def script(self) -> str:
        config = {"apiKey": self.api_key, "shop": self.shop, "tokenUrl": TOKEN_URL}
        return _STUB_JS.replace("__CONFIG__", json.dumps(config))

    def install(self, context: Any) -> None:
        """Route every request of ``context`` (see the module's docstring)."""
        context.route("**/*", self._route)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _response(self, response: Any) -> None:
        request = response.request
        if request.resource_type == "document" and request.frame.parent_frame is None:
            self.documents.append((response.status, response.url))
        elif response.status >= 400 and urlsplit(response.url).hostname == "127.0.0.1":
            self.broken.append(f"{response.status} {request.method} {response.url}")

    def _request_failed(self, request: Any) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            self.broken.append(f"failed ({request.failure}) {request.method} {request.url}")

    def _route(self, route: Any, request: Any) -> None:
        url = request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
            return
        bare = url.split("?", 1)[0].split("#", 1)[0]
        if bare == APP_BRIDGE_URL:
            route.fulfill(status=200, content_type="text/javascript; charset=utf-8", body=self.script(),
                          headers={"Cache-Control": "no-store"})
        elif bare == TOKEN_URL:
            route.fulfill(status=200, content_type="text/plain; charset=utf-8", body=self.token(),
                          headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")


# -- axe-core and screenshots ------------------------------------------------------------------------

_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html, summary: n.failureSummary })),
  }));
}"""


def run_axe(page: Any, tags: tuple[str, ...] = AXE_TAGS) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on ``page`` as it is now (rule id, impact, help, nodes).

    axe is evaluated in the page through the DevTools protocol, so a page's own
    Content-Security-Policy cannot block it and need not be loosened for it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    return page.evaluate(_RUN_AXE, list(tags))


def axe_report(violations: list[dict[str, Any]]) -> str:
    """The violations, one rule then its nodes per line, for an assertion message."""
    lines = [f"{len(violations)} axe-core violation(s) of {', '.join(AXE_TAGS)}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            summary = " ".join((node.get("summary") or "").split())
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:200]}" + (f" -- {summary}" if summary else ""))
    return "\n".join(lines)


def artifact_name(test_name: str, label: str) -> str:
    """``<test-name>-<label>.png``, safe as a file name (``test_x[sqlite]`` → ``test_x-sqlite``)."""
    safe = re.sub(r"[^\w.]+", "-", f"{test_name}-{label}").strip("-")
    return f"{safe}.png"


def save_screenshot(page: Any, test_name: str, label: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / artifact_name(test_name, label)
    page.screenshot(path=str(path), full_page=True)
    return path
