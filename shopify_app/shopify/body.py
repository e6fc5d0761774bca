"""Webhook body bytes -> a JSON object, exactly: the only decoder of Shopify bodies.

Why not pydantic's JSON mode: it reads JSON numbers through ``float``
(``12345678901234567890.123456789`` comes back as ``12345678901234567000``), and no float
may ever touch money. The models validate the Python objects this returns instead.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from shopify_app.shopify.errors import PayloadError

__all__ = ["parse_json"]

# NUL cannot be stored in PostgreSQL text; a lone surrogate (from a "\ud800" escape) cannot
# even be encoded as UTF-8. Both would fail later, far from the cause, so refuse them here.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# JSON text can carry either only as a \u escape (a raw control character is invalid JSON,
# and UTF-8 cannot encode a surrogate), so a body without such an escape needs no walk over
# its strings: that walk is most of the decoding time, and real bodies almost never need it.
_MAYBE_UNSTORABLE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"JSON constant {name} is not a number")


def parse_json(raw: bytes) -> dict[str, Any]:
    """Decode a webhook body exactly: numbers as ``Decimal``/``int``, never ``float``.

    Decodes UTF-8 explicitly (``json.loads`` on bytes would silently accept UTF-16/32),
    refuses ``NaN``/``Infinity`` (not JSON, and not money), a top level that is not an
    object, and NUL characters or lone surrogates in any key or string.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_json takes the raw body bytes, got {type(raw).__name__}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=int, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit, deep nesting
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"body is a JSON {type(data).__name__}, not an object")
    if _MAYBE_UNSTORABLE.search(text):
        _check_strings(data)
    return data


def _check_strings(data: dict[str, Any]) -> None:
    stack: list[Any] = [data]
    while stack:  # iterative: a deep payload must not overflow the Python stack here
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                _check_storable(key)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_storable(item)


def _check_storable(text: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise PayloadError("NUL character in a string: PostgreSQL text cannot store it")
    raise PayloadError("unpaired surrogate in a string: not storable as UTF-8")
