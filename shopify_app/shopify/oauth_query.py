"""The query Shopify signs on an authorization-code-grant redirect (shopify-platform.md §4.2):
hex HMAC-SHA256 over the sorted parameters, a ``timestamp`` and a ``shop``.

The fallback install only: embedded installs go through managed installation and token
exchange. The digest is ShopifyAPI's own routine (``Session.calculate_hmac``: its sorting, its
escaping, its ``ids[]`` rule), so the two cannot drift. What this module adds is what
ShopifyAPI leaves out or keeps loose: a constant-time compare under the current and the old
secret, a timestamp window in both directions (ShopifyAPI only refuses a day-old one;
Shopify's Node library allows 90 seconds), and the one shop-domain rule.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta
from typing import Mapping, Sequence

import shopify

from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain

__all__ = ["TOLERANCE", "InvalidOAuthQuery", "sign_oauth_query", "verify_oauth_query"]

TOLERANCE = timedelta(seconds=90)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")

Params = Mapping[str, str | Sequence[str]]


class InvalidOAuthQuery(ValueError):
    """The query is not one Shopify signed for this app just now (one-line reason)."""


def sign_oauth_query(params: Params, secret: str) -> str:
    """The ``hmac`` Shopify would add to ``params`` (any ``hmac`` already there is ignored)."""
    return _signer(secret).calculate_hmac(_signed_params(params))


def verify_oauth_query(
    params: Params, *, secrets: Sequence[str], now: datetime, tolerance: timedelta = TOLERANCE
) -> str:
    """The shop the query is for, once its HMAC, timestamp and shop check out.

    ``params`` maps each name to its value, or to its values (``ids[]``; Werkzeug's
    ``args.to_dict(flat=False)`` gives lists everywhere, and a one-value list is that value).
    ``secrets`` holds the current secret and, during a rotation, the old one: every one is
    tried, each compare constant-time.
    """
    keys = [secret for secret in secrets if secret]
    if isinstance(secrets, str) or not keys:
        raise ValueError("secrets must be a sequence holding at least one non-empty secret")
    signed = _signed_params(params)
    given = signed.get("hmac")
    if not isinstance(given, str) or not given:
        raise InvalidOAuthQuery("query has no hmac")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(_signer(key).calculate_hmac(signed).encode(), given.encode())
    if not matched:
        raise InvalidOAuthQuery("hmac matches neither the current nor the old secret")
    _check_timestamp(signed.get("timestamp"), now, tolerance)
    shop = signed.get("shop")
    try:
        return valid_shop_domain(shop if isinstance(shop, str) else None)
    except InvalidShopDomain as exc:
        raise InvalidOAuthQuery(str(exc)) from None


def _signer(secret: str) -> type[shopify.Session]:
    """``shopify.Session`` with ``secret`` on a subclass: ``calculate_hmac`` reads the class
    attribute, and setting it on ``shopify.Session`` itself would race other threads."""
    return type("OAuthQuerySigner", (shopify.Session,), {"secret": secret})


def _signed_params(params: Params) -> dict[str, str | list[str]]:
    """``params`` as ShopifyAPI signs them: a list for a ``name[]``, one string otherwise."""
    signed: dict[str, str | list[str]] = {}
    for name, value in params.items():
        if name.endswith("[]"):
            signed[name] = [value] if isinstance(value, str) else list(value)
        elif isinstance(value, str):
            signed[name] = value
        elif len(value) == 1:
            signed[name] = value[0]
        else:
            raise InvalidOAuthQuery(f"parameter {name[:40]!r} given {len(value)} times")
    return signed


def _check_timestamp(raw: object, now: datetime, tolerance: timedelta) -> None:
    if not isinstance(raw, str) or not _UNIX_SECONDS.fullmatch(raw):
        raise InvalidOAuthQuery("timestamp is missing or not UNIX seconds")
    skew = int(raw) - now.timestamp()
    if abs(skew) > tolerance.total_seconds():
        side = "ahead" if skew > 0 else "old"
        raise InvalidOAuthQuery(f"timestamp {abs(skew):.0f} s {side} (tolerance {tolerance.total_seconds():.0f} s)")
