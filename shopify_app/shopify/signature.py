"""Webhook HMAC: base64 HMAC-SHA256 of the raw request body (shopify-platform.md §3).

Pure: bytes and strings in, a bool out. The OAuth query HMAC (hex over sorted params) is a
different scheme and does not belong here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Sequence

__all__ = ["sign", "verify_hmac"]

_DIGEST_BYTES = hashlib.sha256().digest_size


def _digest(raw_body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()


def sign(raw_body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify would send for ``raw_body``."""
    return base64.b64encode(_digest(raw_body, secret)).decode("ascii")


def verify_hmac(raw_body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True when ``header`` is the HMAC of exactly these bytes under any of ``secrets``.

    ``secrets`` holds the current secret and, during a rotation, the previous one. Every
    secret is tried (no early exit) and each compare is constant-time. A missing, empty or
    non-base64 header, or one of the wrong length, is simply False.
    """
    if not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in the header
        return False
    if len(given) != _DIGEST_BYTES:
        return False
    matched = False
    for secret in secrets:
        if secret:
            matched |= hmac.compare_digest(_digest(raw_body, secret), given)
    return matched
