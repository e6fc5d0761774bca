"""Session tokens (App Bridge ID tokens): which shop, and which user, an App Home request is from.

A session token is an HS256 JWT that Shopify signs with the app's secret and App Bridge hands
to the page (shopify-platform.md §4.3). It is the only proof of the shop on an App Home
request, so the shop comes from the verified token and from nothing else (never the ``shop``
query parameter), and token exchange sends the token itself to Shopify (``raw``).

The checks are those of Shopify's ``shopifyapp`` 1.0.2 (``verify_app_home_req``) and Node
library: HS256 only, 10 seconds of clock leeway, the current then the old secret, ``aud``
equal to the api key. They are stricter where Shopify's docs ask for more than ``shopifyapp``
checks: ``dest`` must be exactly ``NAME.myshopify.com``, ``https://`` before it or not (no
other host, port, path or upper case; the scheme is optional because ``shopifyapp`` takes a
bare host as the shop, in ``verify_app_home_req`` and in its token-exchange check alike),
``iss`` that shop's ``https://NAME.myshopify.com/admin``, and the claims the checks read must
all be present (``shopifyapp`` accepts a token without ``exp``, which never expires).

Two failures are told apart because the answer to the request differs (``app_home``):

- ``InvalidSessionToken``: the token did not verify (malformed, wrong algorithm or signature,
  outside its time window). ``shopifyapp`` answers by asking App Bridge for a fresh token.
- ``InvalidSessionClaims`` (a subclass): the token verified but was issued for another app or
  names no shop. A fresh token would say the same, so the request is refused outright.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import jwt

from shopify_app.clock import utcnow
from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain
from shopify_app.shopify.fields import show

__all__ = [
    "ALGORITHM",
    "LEEWAY",
    "REQUIRED_CLAIMS",
    "InvalidSessionClaims",
    "InvalidSessionToken",
    "SessionToken",
    "verify_session_token",
]

ALGORITHM = "HS256"
LEEWAY = timedelta(seconds=10)
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "dest", "aud")
MAX_TOKEN_LENGTH = 8192  # Shopify's tokens are under 1 KB; bounded before any parsing
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last instant a datetime holds
_HTTPS = "https://"

# PyJWT checks the form, the algorithm, the signature and the type of sub and jti; the time
# window and the audience are checked here, against the given ``now`` and the exact api key.
_DECODE_OPTIONS: Any = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}


class InvalidSessionToken(ValueError):
    """The token did not verify: malformed, wrong algorithm or signature, expired or not yet
    valid. A fresh token from App Bridge may do (one-line reason)."""


class InvalidSessionClaims(InvalidSessionToken):
    """The token verified, but its claims are not this app's or not a shop's: another ``aud``,
    a ``dest`` that is no ``NAME.myshopify.com``, an ``iss`` of another host, a claim missing.
    A fresh token would carry the same claims (one-line reason)."""


@dataclass(frozen=True)
class SessionToken:
    shop: str  # the dest host, exactly NAME.myshopify.com
    user_id: str | None  # sub
    session_id: str | None  # sid
    issued_at: datetime
    expires_at: datetime
    raw: str = field(repr=False)  # exchangeable for an access token: kept out of logs


def verify_session_token(
    token: str, *, api_key: str, secrets: Sequence[str], now: datetime | None = None
) -> SessionToken:
    """The verified token, or ``InvalidSessionToken`` (``InvalidSessionClaims``) with a reason.

    ``secrets`` holds the current secret and, during a rotation, the old one; empty entries are
    skipped. ``now`` (aware) defaults to the clock. A missing api key or secret is a
    configuration error (``ValueError``), not a bad token.
    """
    if not api_key:
        raise ValueError("no api key configured")
    keys = [secret for secret in secrets if secret]
    if isinstance(secrets, str) or not keys:
        raise ValueError("secrets must be a sequence holding at least one non-empty secret")
    if not token:
        raise InvalidSessionToken("no session token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidSessionToken(f"session token of {len(token)} characters (at most {MAX_TOKEN_LENGTH})")
    claims = _signed_claims(token, keys)
    _check_window(claims, (now or utcnow()).timestamp())
    missing = [name for name in REQUIRED_CLAIMS if claims.get(name) in (None, "")]
    if missing:
        raise InvalidSessionClaims(f"session token lacks {', '.join(missing)}")
    if claims["aud"] != api_key:
        raise InvalidSessionClaims(f"aud {show(claims['aud'])} is not this app's api key")
    shop = _shop_of(claims["dest"])
    if claims["iss"] != f"{_HTTPS}{shop}/admin":
        raise InvalidSessionClaims(f"iss {show(claims['iss'])} is not the admin of dest {shop}")
    return SessionToken(
        shop=shop,
        user_id=_optional_text(claims, "sub"),
        session_id=_optional_text(claims, "sid"),
        issued_at=_instant(claims, "iat"),
        expires_at=_instant(claims, "exp"),
        raw=token,
    )


def _signed_claims(token: str, keys: list[str]) -> dict[str, Any]:
    """The claims of ``token`` once its HS256 signature verifies under one of ``keys``, in order.

    Only a signature mismatch moves on to the next key: a malformed token or a refused
    algorithm fails the same way under every key.
    """
    for key in keys:
        try:
            return jwt.decode(token, key, algorithms=[ALGORITHM], options=_DECODE_OPTIONS)
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAlgorithmError:
            alg = jwt.get_unverified_header(token).get("alg")
            raise InvalidSessionToken(f"algorithm {show(alg)} refused (only {ALGORITHM})") from None
        except jwt.PyJWTError as exc:
            raise InvalidSessionToken(f"malformed session token: {show(str(exc))}") from None
    raise InvalidSessionToken("signature matches neither the current nor the old secret")


def _check_window(claims: dict[str, Any], now: float) -> None:
    """PyJWT's own comparisons, against ``now``: ``iat`` and ``nbf`` no later than now plus the
    leeway, ``exp`` later than now minus the leeway. A missing one is left to the presence check."""
    leeway = LEEWAY.total_seconds()
    for name in ("iat", "nbf"):
        if name in claims and (ahead := _seconds(claims, name) - now) > leeway:
            raise InvalidSessionToken(f"session token not valid yet ({name} {ahead:.0f} s ahead)")
    if "exp" in claims and (late := now - _seconds(claims, "exp")) >= leeway:
        raise InvalidSessionToken(f"session token expired {late:.0f} s ago")


def _seconds(claims: dict[str, Any], name: str) -> int:
    """A time claim as whole UNIX seconds (truncated, as PyJWT does), within datetime's range."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidSessionToken(f"{name} is not a number: {show(value)}")
    if not 0 <= value <= _LAST_SECOND:
        raise InvalidSessionToken(f"{name} out of range: {show(value)}")
    return int(value)


def _instant(claims: dict[str, Any], name: str) -> datetime:
    return datetime.fromtimestamp(_seconds(claims, name), tz=timezone.utc)


def _shop_of(dest: Any) -> str:
    """The shop ``dest`` names: ``NAME.myshopify.com``, ``https://`` before it or not (Shopify
    writes the scheme; ``shopifyapp`` takes the bare host too, see the module docstring), with
    nothing to rewrite (no path, port, upper case or space); any other host, however close, is
    not a shop."""
    host = dest.removeprefix(_HTTPS) if isinstance(dest, str) else ""
    try:
        if valid_shop_domain(host) == host:
            return host
    except InvalidShopDomain:
        pass
    raise InvalidSessionClaims(f"dest {show(dest)} is not a shop (expected {_HTTPS}NAME.myshopify.com)")


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidSessionClaims(f"{name} is not a string: {show(value)}")

