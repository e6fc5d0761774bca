"""A shop's install and its tokens, from the first open to an uninstall and back.

- Shopify managed installation grants the scopes; the app learns of the shop when the
  merchant first opens it, and exchanges that session token for an EXPIRING offline token
  (one hour) with a single-use refresh token (90 days).
- Before every use a token that expires within ``REFRESH_AHEAD`` is refreshed, holding the
  shop row's lock: Shopify invalidates a refresh token once used, so two workers must never
  both send it; the second one waits, then finds the new token.
- A refresh token that expired or was refused marks the shop ``needs_auth`` (shown to
  people, checked before any call) until the merchant opens the app again.
- ``app/uninstalled`` drops the tokens and holds the shop's later deliveries; opening the app
  again reinstalls it and releases them, so the ledger picks up where it left.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, Sequence

from sqlmodel import Session

from shopify_app.shopify.oauth import InvalidGrant, TokenSet
from shopify_app.services.shops import add_shop
from shopify_app.store import shops
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.tables import Shop

REFRESH_AHEAD = timedelta(minutes=5)
"""Refresh a token this long before it expires: a call started just before expiry must not
fail halfway through a reconciliation."""


class TokenEndpoint(Protocol):
    """Shopify's ``/admin/oauth/access_token`` (``shopify.oauth.TokenEndpoint``; a fake in tests)."""

    def exchange_session_token(self, shop: str, session_token: str, *, now: datetime) -> TokenSet: ...

    def refresh(self, shop: str, refresh_token: str, *, now: datetime) -> TokenSet: ...

    def exchange_code(self, shop: str, code: str, *, now: datetime) -> TokenSet: ...


class MissingScopes(ValueError):
    """Shopify granted fewer scopes than the app needs."""


def store_tokens(shop: Shop, tokens: TokenSet, cipher: TokenCipher) -> None:
    shop.access_token_encrypted = cipher.encrypt(tokens.access_token)
    shop.access_token_expires_at = tokens.expires_at
    shop.refresh_token_encrypted = cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None
    shop.refresh_token_expires_at = tokens.refresh_expires_at
    shop.scopes = ",".join(tokens.scopes)
    shop.needs_auth = None


def _drop_tokens(shop: Shop) -> None:
    shop.access_token_encrypted = shop.refresh_token_encrypted = None
    shop.access_token_expires_at = shop.refresh_token_expires_at = None


def _usable(shop: Shop, now: datetime) -> bool:
    """Whether the shop holds a token that works now or can be refreshed."""
    if shop.needs_auth or shop.access_token_encrypted is None:
        return False
    if not refresh_due(shop, now):
        return True
    return shop.refresh_token_encrypted is not None and (shop.refresh_token_expires_at is None or shop.refresh_token_expires_at > now)


def _check_scopes(tokens: TokenSet, required: Sequence[str]) -> None:
    missing = sorted(set(required) - set(tokens.scopes))
    if missing:
        raise MissingScopes(f"Shopify granted {', '.join(tokens.scopes) or 'no scope'}; the app needs {', '.join(missing)} too")


def _installed(session: Session, domain: str, now: datetime) -> Shop:
    """The shop's row, created on first sight or reinstalled (``add_shop``)."""
    shop = shops.find(session, domain)
    return shop if shop is not None and shop.uninstalled_at is None else add_shop(session, domain, now)


def open_app(
    session: Session, domain: str, session_token: str, now: datetime, endpoint: TokenEndpoint, cipher: TokenCipher,
    required_scopes: Sequence[str],
) -> Shop:
    """The merchant opened the app with a verified session token for ``domain``: install or
    reinstall the shop and, unless it holds a token that works, exchange the session token
    for an expiring offline token. Raises ``InvalidGrant`` or ``MissingScopes``."""
    shop = _installed(session, domain, now)
    if not _usable(shop, now):
        tokens = endpoint.exchange_session_token(domain, session_token, now=now)
        _check_scopes(tokens, required_scopes)
        store_tokens(shop, tokens, cipher)
    session.add(shop)
    return shop


def install_by_code(
    session: Session, domain: str, code: str, now: datetime, endpoint: TokenEndpoint, cipher: TokenCipher,
    required_scopes: Sequence[str],
) -> Shop:
    """The authorization-code fallback: exchange the code (always: it is single use) and keep
    the tokens, once every required scope was granted."""
    tokens = endpoint.exchange_code(domain, code, now=now)
    _check_scopes(tokens, required_scopes)
    shop = _installed(session, domain, now)
    store_tokens(shop, tokens, cipher)
    session.add(shop)
    return shop


def access_token(session: Session, shop: Shop, now: datetime, endpoint: TokenEndpoint, cipher: TokenCipher) -> str | None:
    """A working access token for ``shop``, refreshed first when it is about to expire, in the
    caller's transaction, holding the shop row's lock. None when only the merchant can
    restore access: the shop is then marked ``needs_auth`` (with why), in the same
    transaction, so the caller must let it commit (it does not raise). A token far from
    expiry is used as the caller's row has it, without the lock: the worker reads Shopify in
    the middle of a batch, and a lock on the shop row there would order it against every
    other worker's batch of that shop."""
    if _holds_token(shop) and not refresh_due(shop, now):
        return cipher.decrypt(shop.access_token_encrypted)
    locked = shops.lock(session, shop.domain)
    if locked is None or not _holds_token(locked):
        return None
    if not refresh_due(locked, now):  # another worker refreshed it while we waited for the lock
        return cipher.decrypt(locked.access_token_encrypted)
    refresh = locked.refresh_token_encrypted
    if refresh is None or (locked.refresh_token_expires_at is not None and locked.refresh_token_expires_at <= now):
        reason = "the refresh token expired: the merchant must open the app to renew access"
    else:
        try:
            tokens = endpoint.refresh(locked.domain, cipher.decrypt(refresh), now=now)
        except InvalidGrant as refused:
            reason = f"Shopify refused the refresh token ({refused}): the merchant must open the app to renew access"
        else:
            store_tokens(locked, tokens, cipher)
            session.add(locked)
            return tokens.access_token
    mark_needs_auth(session, locked, reason)
    return None


def _holds_token(shop: Shop) -> bool:
    """Installed, not waiting for its merchant, and holding an access token."""
    return shop.uninstalled_at is None and not shop.needs_auth and shop.access_token_encrypted is not None


def refresh_due(shop: Shop, now: datetime) -> bool:
    """Whether the shop's access token expires within ``REFRESH_AHEAD`` (its next use
    refreshes it, a call to Shopify that cannot be undone)."""
    return shop.access_token_encrypted is not None and shop.access_token_expires_at is not None and shop.access_token_expires_at <= now + REFRESH_AHEAD


def mark_needs_auth(session: Session, shop: Shop, reason: str) -> None:
    """Only the merchant opening the app can give Clawback access again: say so, drop what no
    longer works."""
    shop.needs_auth = reason
    _drop_tokens(shop)
    session.add(shop)


def uninstalled(session: Session, shop: Shop, now: datetime) -> None:
    """``app/uninstalled``: the tokens go, the ledger and settings stay for a reinstall."""
    shop.uninstalled_at = now
    shop.needs_auth = None
    _drop_tokens(shop)
    session.add(shop)


def rotate_keys(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token with the first configured key; returns how many."""
    count = 0
    for shop in shops.all_shops(session):
        for column in ("access_token_encrypted", "refresh_token_encrypted"):
            stored = getattr(shop, column)
            if stored is not None:
                setattr(shop, column, cipher.rotate(stored))
                count += 1
        session.add(shop)
    return count
