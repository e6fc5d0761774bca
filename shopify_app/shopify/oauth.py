"""Shopify's token endpoint (``POST {origin}/admin/oauth/access_token``, form-encoded): an
authorization code, a session token or a refresh token in, a :class:`TokenSet` out.

Why always expiring offline tokens: public apps must use them from 2027-01-01
(shopify-platform.md §4.5), and a background job needs an offline token. So every grant
asks ``expiring=1`` and every answer carries when the access token and its single-use
refresh token run out, computed from ``expires_in`` against the ``now`` the caller passes
(services are handed the time, and so is this).

A refused grant (a used or unknown code, an invalid or expired session token, a used or
expired refresh token) is :class:`InvalidGrant`: nothing the app can retry, the merchant
must open the app so a fresh session token can be exchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.http import ShopifyError, ShopifyHTTP, ShopifyRequestError

TOKEN_PATH = "/admin/oauth/access_token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
_MAX_TOKEN_CHARS = 1_000
_MAX_LIFETIME = timedelta(days=3_650)  # Shopify's longest is 90 days; ten years is no real token


class InvalidGrant(ShopifyError):
    """The token endpoint refused the grant (HTTP 400): the merchant must open the app."""


class InvalidSessionToken(InvalidGrant):
    """Token exchange refused the session token (invalid, expired, for another app)."""


class InvalidRefreshToken(InvalidGrant):
    """The refresh token is unknown, already used or expired."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    scopes: tuple[str, ...]
    expires_at: datetime | None  # None: a non-expiring token
    refresh_token: str | None
    refresh_expires_at: datetime | None


class TokenEndpoint:
    """The three grants Clawback uses, for one app (``client_id`` / ``client_secret``)."""

    def __init__(self, http: ShopifyHTTP, client_id: str, client_secret: str) -> None:
        self._http = http
        self._credentials = {"client_id": client_id, "client_secret": client_secret}

    def exchange_code(self, shop: str, code: str, *, now: datetime) -> TokenSet:
        """Authorization code grant (non-embedded installs): the callback's ``code``."""
        return self._grant(shop, {"code": code, "expiring": "1"}, now, InvalidGrant, "authorization code")

    def exchange_session_token(self, shop: str, session_token: str, *, now: datetime) -> TokenSet:
        """Token exchange: an App Bridge session token for an expiring offline token."""
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN,
            "requested_token_type": OFFLINE_TOKEN,
            "expiring": "1",
        }
        return self._grant(shop, form, now, InvalidSessionToken, "session token")

    def refresh(self, shop: str, refresh_token: str, *, now: datetime) -> TokenSet:
        """A new access token and a new refresh token; Shopify invalidates the old refresh
        token, so the caller must store the answer before anything else uses it."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._grant(shop, form, now, InvalidRefreshToken, "refresh token")

    def _grant(self, shop: str, form: dict[str, str], now: datetime, refused: type[InvalidGrant], what: str) -> TokenSet:
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")  # before anything is sent: a refresh token is single use
        try:
            body = self._http.post(shop, TOKEN_PATH, form={**self._credentials, **form})
        except ShopifyRequestError as exc:
            if exc.status == 400:
                raise refused(f"{shop}: {what} refused: {exc.reason}") from None
            raise
        return token_set(body, now)


def token_set(body: dict[str, Any], now: datetime) -> TokenSet:
    """The token endpoint's answer, checked: ``access_token`` and ``scope`` always;
    ``expires_in``, ``refresh_token`` and ``refresh_token_expires_in`` for expiring tokens."""
    access = _token(body, "access_token")
    scope = body.get("scope")
    if not isinstance(scope, str):
        raise PayloadError(f"token answer: scope: expected a string, got {type(scope).__name__}")
    refresh = _token(body, "refresh_token") if "refresh_token" in body else None
    return TokenSet(
        access_token=access,
        scopes=tuple(s.strip() for s in scope.split(",") if s.strip()),
        expires_at=_expiry(body, "expires_in", now),
        refresh_token=refresh,
        refresh_expires_at=_expiry(body, "refresh_token_expires_in", now),
    )


def _token(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TOKEN_CHARS:
        raise PayloadError(f"token answer: {key}: expected a token string")
    return value


def _expiry(body: dict[str, Any], key: str, now: datetime) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= _MAX_LIFETIME.total_seconds():
        raise PayloadError(f"token answer: {key}: expected whole seconds up to {_MAX_LIFETIME.days} days")
    return now + timedelta(seconds=value)
