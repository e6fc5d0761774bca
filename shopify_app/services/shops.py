"""Shops, affiliates and settings as a person registers and changes them: every value
validated and bounded here, before it is stored."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from sqlmodel import Session

from ledger.errors import MoneyError
from ledger.money import minor_digits
from policy.settings import SettingError, Settings, parse
from shopify_app.services.errors import InvalidInput, NotFound
from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain
from shopify_app.store import inbox, shops
from shopify_app.store.tables import Affiliate, Shop

_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
MAX_CODE = 64
MAX_EMAIL = 254  # the longest address SMTP delivers


def domain_of(raw: str) -> str:
    """A shop domain a person typed, validated (one rule: ``shopify.domains``)."""
    try:
        return valid_shop_domain(raw)
    except InvalidShopDomain as exc:
        raise InvalidInput(str(exc)) from None


def require_shop(session: Session, raw_domain: str) -> Shop:
    domain = domain_of(raw_domain)
    shop = shops.find(session, domain)
    if shop is None:
        raise NotFound(f"unknown shop {domain!r}; add it with: clawback shop add {domain}")
    return shop


def shop_settings(shop: Shop) -> Settings:
    """The shop's settings as stored. Stored values were validated when set; a value stored
    by an older version that is out of today's bounds raises ``SettingError`` here, which
    stops this shop's work visibly and no other shop's."""
    return _settings_from(shop.settings_json or "{}")


@lru_cache(maxsize=1024)
def _settings_from(stored: str) -> Settings:
    """Settings read from their stored JSON, once per distinct text: every try of the worker
    needs its shop's, and reading them (exact decimals, bounds) was 5 % of a try. ``Settings``
    is frozen, so one object may serve every caller; a text that does not read raises each time."""
    return Settings.from_strings(json.loads(stored))


def update_settings(session: Session, shop: Shop, assignments: dict[str, str]) -> Settings:
    """Apply typed-in ``KEY=VALUE`` assignments, all or nothing; money settings may not be
    finer than the shop's currency once it is known."""
    settings = shop_settings(shop).updated(assignments, shop.currency)
    shop.settings_json = json.dumps(settings.as_strings(), sort_keys=True)
    session.add(shop)
    return settings


def save_settings_form(session: Session, shop: Shop, form: dict[str, str], now: datetime) -> dict[str, str]:
    """The admin's settings form: every field checked on its own, so each message stands beside
    its field; nothing is saved unless all are valid. Returns the errors by key (none: saved)."""
    errors = {}
    for key, raw in form.items():
        try:
            parse(key, raw, shop.currency)
        except SettingError as exc:  # beside its field, the key's name would only repeat the label
            message = str(exc).removeprefix(f"{key} ")
            errors[key] = message[:1].upper() + message[1:]
    if errors:
        return errors
    update_settings(session, shop, form)
    shop.settings_saved_at = shop.settings_saved_at or now
    session.add(shop)
    return {}


def _currency(raw: str | None) -> str | None:
    if raw is None:
        return None
    code = raw.strip().upper()
    try:
        minor_digits(code)
    except MoneyError:
        raise InvalidInput(f"not an ISO 4217 currency code: {raw[:10]!r}") from None
    return code


def add_shop(session: Session, raw_domain: str, now: datetime, encrypted_token: str | None = None, currency: str | None = None) -> Shop:
    """Register a shop (or re-register an uninstalled one, keeping its ledger and settings and
    releasing the deliveries held while it was away)."""
    domain = domain_of(raw_domain)
    shop = shops.find(session, domain)
    if shop is None:
        shop = Shop(domain=domain, installed_at=now, settings_json=json.dumps(Settings().as_strings(), sort_keys=True))
    elif shop.uninstalled_at is not None:
        inbox.release_held(session, domain, now)
    shop.uninstalled_at = None
    if encrypted_token is not None:
        shop.access_token_encrypted = encrypted_token
    if currency is not None:
        shop.currency = _currency(currency)
    session.add(shop)
    session.flush()
    return shop


_TERMS = {"rate_percent": ("default_rate_percent", "rate"), "approval_delay_days": ("approval_delay_days", "approval delay")}
"""An affiliate's own terms: the shop setting that bounds each, and its name in messages."""


def affiliate_term(field: str, raw: str):
    """An affiliate's rate or delay override, bounded as the shop's own setting is."""
    key, name = _TERMS[field]
    try:
        return parse(key, raw)
    except SettingError as exc:
        raise InvalidInput(str(exc).replace(key, name), field) from None


def add_affiliate(
    session: Session,
    shop: Shop,
    code: str,
    email: str,
    now: datetime,
    rate_percent: str | None = None,
    approval_delay_days: str | int | None = None,
) -> Affiliate:
    """An affiliate whose code attributes orders; rate and delay are bounded like the shop's
    own settings (0-100 % with at most 4 decimals, 0-3650 days)."""
    code = (code or "").strip()
    if not code or len(code) > MAX_CODE or set(code) - _CODE_CHARS:
        raise InvalidInput(f"not a valid affiliate code: {code[:MAX_CODE + 1]!r} (letters, digits, - and _, at most {MAX_CODE})", "code")
    email = (email or "").strip()
    if "@" not in email or " " in email or len(email) > MAX_EMAIL:
        raise InvalidInput(f"not a valid email: {email[:60]!r}", "email")
    rate = None if rate_percent is None else str(affiliate_term("rate_percent", str(rate_percent)))
    delay = None if approval_delay_days is None else affiliate_term("approval_delay_days", str(approval_delay_days))
    if shops.find_affiliate(session, shop.id, code) is not None:
        raise InvalidInput(f"affiliate code {code!r} already exists in {shop.domain}", "code")
    affiliate = Affiliate(
        shop_id=shop.id, code=code, code_key=code.casefold(), email=email, rate_percent=rate,
        approval_delay_days=delay, created_at=now,
    )
    session.add(affiliate)
    session.flush()
    return affiliate
