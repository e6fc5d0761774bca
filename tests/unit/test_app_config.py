"""``shopify.app.toml`` and ``shopify.web.toml`` checked offline the way Shopify's CLI checks
them when it loads an app (packages/app/src/cli/models/app/app.ts and the webhooks
specification of Shopify/cli: required fields and types, URLs, webhook URIs, compliance
topics, no duplicate subscriptions), plus what only this app knows: the subscribed topics
are exactly the handled ones, and every path Shopify will call is routed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shopify_app.shopify import app_config
from shopify_app.shopify.topics import COMPLIANCE_TOPICS, TOPICS

ROOT = Path(__file__).resolve().parents[2]
APP = tomllib.loads((ROOT / "shopify.app.toml").read_text())
WEB = tomllib.loads((ROOT / "shopify.web.toml").read_text())
SCOPE = re.compile(r"(read|write|unauthenticated_read|unauthenticated_write)_[a-z_]+")
API_VERSION = re.compile(r"(20[0-9]{2})-(01|04|07|10)|unstable")


def _https_url(value: object) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme == "https" and parts.hostname)


def _webhook_uri(value: object) -> bool:
    """The CLI's WebhookSubscriptionUriValidation: an https URL, a relative path, Pub/Sub or an EventBridge ARN."""
    return isinstance(value, str) and (
        _https_url(value) or re.fullmatch(r"/[A-Za-z0-9/_\-.]*", value) is not None
        or value.startswith("pubsub://") or value.startswith("arn:aws:events:")
    )


def test_the_required_top_level_fields_have_their_types() -> None:
    assert isinstance(APP["name"], str) and 0 < len(APP["name"]) <= 30
    assert isinstance(APP["client_id"], str) and APP["client_id"]
    assert _https_url(APP["application_url"])
    assert APP["embedded"] is True
    assert re.fullmatch(r"[a-z0-9-]+", APP["handle"])


def test_scopes_are_few_read_only_and_installed_by_shopify() -> None:
    scopes = [s.strip() for s in APP["access_scopes"]["scopes"].split(",")]
    assert all(SCOPE.fullmatch(s) for s in scopes), scopes
    assert tuple(scopes) == app_config.SCOPES  # what the install checks was granted
    assert not any(s.startswith("write_") for s in scopes)
    assert APP["access_scopes"]["use_legacy_install_flow"] is False  # Shopify managed installation


def test_redirect_urls_are_https_callbacks_on_the_app_host() -> None:
    urls = APP["auth"]["redirect_urls"]
    assert urls and all(_https_url(u) for u in urls)
    app_host = urlsplit(APP["application_url"]).hostname
    assert all(urlsplit(u).hostname == app_host and urlsplit(u).path == "/auth/callback" for u in urls)


def test_webhook_subscriptions_are_valid_and_cover_exactly_the_handled_topics() -> None:
    webhooks = APP["webhooks"]
    assert API_VERSION.fullmatch(webhooks["api_version"])
    assert webhooks["api_version"] == app_config.API_VERSION  # the payloads the models read, the Admin API the client calls
    subscriptions = webhooks["subscriptions"]
    pairs = []
    for subscription in subscriptions:
        assert _webhook_uri(subscription["uri"]), subscription
        topics = subscription.get("topics", [])
        compliance = subscription.get("compliance_topics", [])
        assert topics or compliance
        assert all(isinstance(t, str) and re.fullmatch(r"[a-z_]+/[a-z_]+", t) for t in topics)
        assert set(compliance) <= {"customers/redact", "customers/data_request", "shop/redact"}
        pairs += [(t, subscription["uri"]) for t in [*topics, *compliance]]
    assert len(pairs) == len(set(pairs))  # the CLI refuses a duplicate topic and URI
    subscribed = {topic for topic, _ in pairs}
    assert subscribed == set(TOPICS)  # every handled topic subscribed, nothing subscribed that is not handled
    assert COMPLIANCE_TOPICS <= subscribed  # App Store requirement


def test_the_web_toml_runs_the_server_shopify_expects() -> None:
    assert set(WEB["roles"]) <= {"frontend", "backend", "background"} and "backend" in WEB["roles"]
    assert isinstance(WEB["commands"]["dev"], str) and WEB["commands"]["dev"].startswith("clawback serve")
    assert WEB["webhooks_path"].startswith("/") and WEB["auth_callback_path"].startswith("/")


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> dict[str, set[str]]:
    from shopify_app.app import create_app
    from shopify_app.config import Config

    app = create_app(Config(database_url=f"sqlite:///{tmp_path_factory.mktemp('routes') / 'db.sqlite3'}"), migrate=True)
    found: dict[str, set[str]] = {}
    for routed in (app, app.extensions["clawback.intake"]):  # the intake's paths are served by its own app
        for rule in routed.url_map.iter_rules():
            found.setdefault(rule.rule, set()).update(rule.methods or ())
    return found


def test_every_path_shopify_calls_is_routed(routes) -> None:
    webhook_paths = {s["uri"] for s in APP["webhooks"]["subscriptions"] if s["uri"].startswith("/")}
    webhook_paths.add(WEB["webhooks_path"])
    for path in webhook_paths:
        assert "POST" in routes[path], path
    for url in APP["auth"]["redirect_urls"]:
        assert "GET" in routes[urlsplit(url).path]
    assert "GET" in routes[WEB["auth_callback_path"]]
    assert "GET" in routes[urlsplit(APP["application_url"]).path or "/"]
