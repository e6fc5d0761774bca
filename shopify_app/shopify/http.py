"""The one place that sends HTTP to Shopify: OAuth's token endpoint and the Admin API both
go through :class:`ShopifyHTTP`.

Why one place: every rule about talking to Shopify is written once. Where requests go (the
origin template, so tests and a local fake can stand in for ``https://{shop}``), how long
they may take (connect and read timeouts), what is retried (429 after its ``Retry-After``,
5xx and dropped connections, with exponential backoff and jitter, a bounded number of
times) and what each failure means (:class:`ShopifyAuthError`: the token no longer works;
:class:`ShopifyRequestError`: Shopify refused the request and says why;
:class:`ShopifyUnavailable`: Shopify did not answer usefully, try later). Bodies are read
exactly (``body.parse_json``: no float ever touches an amount).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from shopify_app.config import check_origin
from shopify_app.shopify.body import parse_json
from shopify_app.shopify.domains import valid_shop_domain
from shopify_app.shopify.errors import PayloadError

DEFAULT_ORIGIN = "https://{shop}"
_MESSAGE_CHARS = 200


class ShopifyError(Exception):
    """Any failure talking to Shopify."""


class ShopifyUnavailable(ShopifyError):
    """No useful answer after every attempt (throttled, 5xx, connection lost): try later."""


class ShopifyAuthError(ShopifyError):
    """401/403: the access token (or the app's credentials) no longer works."""


class ShopifyRequestError(ShopifyError):
    """Another 4xx (or a redirect): Shopify refused the request; retrying cannot help."""

    def __init__(self, where: str, status: int, reason: str) -> None:
        super().__init__(f"{where}: HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class ShopifyHTTP:
    """POST to one shop's Shopify endpoints, with timeouts, bounded retries and typed errors.

    ``sleep`` and ``jitter`` (a float in [0, 1)) are injectable so tests run without waiting.
    A delay is ``backoff * 2**(attempt-1)`` capped at ``max_delay``, then scaled into its
    upper half by the jitter, so retrying workers spread out; a 429's ``Retry-After`` (in
    seconds, also capped) replaces it.
    """

    def __init__(
        self,
        origin: str = DEFAULT_ORIGIN,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.origin = check_origin(origin)
        self._session = session or requests.Session()
        self._timeout = (connect_timeout, read_timeout)
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter

    def url(self, shop: str, path: str) -> str:
        """The URL of ``path`` on ``shop``; the shop must be exactly ``NAME.myshopify.com``."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.origin.replace("{shop}", valid_shop_domain(shop)) + path

    def post(
        self,
        shop: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a form or a JSON body and return the answer's JSON object, read exactly.

        Redirects are never followed: Shopify's API does not redirect, and following one
        would resend the access token header to wherever it points. Raises the errors of
        this module, or ``PayloadError`` when a 2xx body is not a JSON object."""
        url = self.url(shop, path)
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._session.post(
                    url, data=form, json=json, headers=dict(headers or {}), timeout=self._timeout, allow_redirects=False
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                cause, delay = type(exc).__name__, self._delay(attempt)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return _json_object(response, f"{path} on {shop}")
                if status in (401, 403):
                    raise ShopifyAuthError(f"{path} on {shop}: HTTP {status}: {_reason(response)}")
                if status == 429:
                    cause, delay = "HTTP 429", _retry_after(response, self._max_delay) or self._delay(attempt)
                elif status >= 500:
                    cause, delay = f"HTTP {status}", self._delay(attempt)
                else:
                    raise ShopifyRequestError(f"{path} on {shop}", status, _reason(response))
            if attempt == self._max_attempts:
                break
            self._sleep(delay)
        raise ShopifyUnavailable(f"{path} on {shop}: {cause} after {self._max_attempts} attempts")

    def _delay(self, attempt: int) -> float:
        delay = min(self._max_delay, self._backoff * 2 ** (attempt - 1))
        return delay * (0.5 + 0.5 * self._jitter())


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        return parse_json(response.content)
    except PayloadError as exc:
        raise PayloadError(f"{what}: {exc}") from None


def _retry_after(response: requests.Response, cap: float) -> float | None:
    """``Retry-After`` in seconds (Shopify sends e.g. ``2.0``), capped; None when absent or
    not a number of seconds (an HTTP date falls back to backoff)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(cap, seconds) if seconds >= 0 else None


def _reason(response: requests.Response) -> str:
    """Shopify's own words for a refusal, on one bounded line: ``error_description``,
    ``error`` or ``errors`` of a JSON body, else the start of the text."""
    try:
        body: Any = parse_json(response.content)
    except PayloadError:
        body = None
    found: Any = None
    if isinstance(body, dict):
        found = body.get("error_description") or body.get("error") or body.get("errors")
    text = re.sub(r"\s+", " ", response.text if found is None else _words(found)).strip()
    text = text or response.reason or "no reason given"
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _words(value: Any) -> str:
    """``{"query": ["is invalid"]}`` -> ``query: is invalid``."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_words(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(_words(item) for item in value)
    return str(value)
