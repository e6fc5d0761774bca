"""Session tokens as Shopify issues them, and forged ones, for the unit tests of
``session_tokens``/``app_home`` and for the comparison with the ``shopifyapp`` oracle.

Every time is relative to the ``now`` a test passes in, so nothing depends on the wall clock
except where a test hands in the real now on purpose (the oracle, whose clock we cannot set).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import jwt

API_KEY = "clawback-oracle-api-key"
SECRET = "shpss_0123456789abcdef0123456789abcdef"
OLD_SECRET = "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"
OTHER_SECRET = "shpss_00000000000000000000000000000000"
SHOP = "oracle-shop.myshopify.com"
DROP = object()  # a claim override that leaves the claim out


def claims(now: datetime, *, shop: str = SHOP, **overrides: Any) -> dict[str, Any]:
    """The claims of a token Shopify issued at ``now`` for ``shop`` (one minute of life).

    ``overrides`` replace claims; a ``timedelta`` is taken relative to ``now``; ``DROP`` removes.
    """
    issued = int(now.timestamp())
    values: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "42",
        "exp": issued + 60,
        "nbf": issued,
        "iat": issued,
        "jti": "f8912129-1af6-4cad-9ca3-76b0f7621087",
        "sid": "aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685",
    }
    for name, value in overrides.items():
        if value is DROP:
            values.pop(name, None)
        else:
            values[name] = int((now + value).timestamp()) if isinstance(value, timedelta) else value
    return values


def sign(values: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(values, secret, algorithm="HS256")


def forge(values: dict[str, Any], alg: str, signature: bytes = b"") -> str:
    """A token with header ``alg`` and the given signature bytes, signed by nobody."""
    header = {"alg": alg, "typ": "JWT"}
    parts = [json.dumps(header).encode(), json.dumps(values).encode(), signature]
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts)
