"""App Home requests: is this request from the embedded admin of a shop, and if not, which
answer makes App Bridge fix it.

Mirrors ``verify_app_home_req`` of Shopify's ``shopifyapp`` 1.0.2 case by case (the two are
run side by side in ``tests/e2e/test_session_token_oracle.py``):

- A request without an ``Authorization`` header is a document load; its token is the
  ``id_token`` query parameter. None, or one that does not verify, gets a 302 to the bounce
  page, which loads App Bridge and reloads ``shopify-reload`` (the original path and query
  without ``id_token``) with a fresh token.
- A request with one is a fetch from App Bridge: ``Bearer <token>``. A token that does not
  verify, or another scheme, gets a 401 with ``X-Shopify-Retry-Invalid-Session-Request: 1``,
  so App Bridge refreshes the token and retries once; ``Bearer `` with nothing after it gets
  a bare 401, as in ``shopifyapp``.
- A token that verifies but is not this app's or not a shop's (``InvalidSessionClaims``) gets
  a 401, with the retry header only on a fetch: bouncing a document would loop.

Where we differ (deliberately): the stricter claims of ``session_tokens``; the ``Location``
is relative, because nothing here trusts the ``Host`` header; the only header on an
authenticated document is the ``frame-ancestors`` policy (asset ``Link`` hints belong to the
pages); configuration errors raise instead of answering 500.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence
from urllib.parse import parse_qs, quote

from shopify_app.shopify.session_tokens import (
    InvalidSessionClaims,
    InvalidSessionToken,
    SessionToken,
    verify_session_token,
)

__all__ = [
    "BOUNCE_PATH",
    "MAX_RELOAD_LENGTH",
    "RETRY_HEADER",
    "Verdict",
    "frame_ancestors",
    "refresh_verdict",
    "safe_reload_target",
    "verify_app_home_request",
]

BOUNCE_PATH = "/auth/session-token"
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
MAX_RELOAD_LENGTH = 2048
_BEARER = "Bearer "  # exactly, as shopifyapp compares it
_ID_TOKEN = re.compile(r"(?:^|&)id_token=[^&]*")  # shopifyapp's: the raw query keeps its encoding


@dataclass(frozen=True)
class Verdict:
    token: SessionToken | None  # set when the request is authenticated
    status: int  # 200 authenticated; 302 bounce to the token-refresh page; 401 refused
    location: str | None  # the 302's Location, relative to this app
    headers: tuple[tuple[str, str], ...]  # to add to the response
    reason: str  # one line, for logs


def verify_app_home_request(
    *,
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    api_key: str,
    secrets: Sequence[str],
    now: datetime | None = None,
    bounce_path: str = BOUNCE_PATH,
) -> Verdict:
    """The verdict on one App Home request.

    ``path`` and ``query_string`` are the request's as sent (still percent-encoded; the query
    without ``?``); ``headers`` are compared case-insensitively. ``method`` is not consulted,
    as in ``shopifyapp``: App Bridge marks a fetch by its ``Authorization`` header, whatever
    the method. ``now`` defaults to the clock.
    """
    authorization = _authorization(headers)
    fetch = bool(authorization)
    if not fetch:
        token = parse_qs(query_string, keep_blank_values=True).get("id_token", [""])[0]
        if not token:
            return _refresh(False, path, query_string, bounce_path, "document load without id_token")
    elif not authorization.startswith(_BEARER):
        return _refused(True, "Authorization is not 'Bearer <token>'")
    else:
        token = authorization[len(_BEARER):]
        if not token:
            return _refused(False, "'Bearer ' without a token")
    try:
        session = verify_session_token(token, api_key=api_key, secrets=secrets, now=now)
    except InvalidSessionClaims as exc:
        return _refused(fetch, str(exc))
    except InvalidSessionToken as exc:
        return _refresh(fetch, path, query_string, bounce_path, str(exc))
    page_headers = () if fetch else (("Content-Security-Policy", frame_ancestors(session.shop)),)
    return Verdict(token=session, status=200, location=None, headers=page_headers, reason="verified")


def refresh_verdict(
    *, path: str, query_string: str, headers: Mapping[str, str], reason: str, bounce_path: str = BOUNCE_PATH
) -> Verdict:
    """The answer that gets App Bridge to fetch a fresh token: a bounce for a document, a 401
    with the retry header for a fetch. ``shopifyapp`` prebuilds it as ``invalid_token_response``
    for when Shopify refuses the token later, in token exchange."""
    return _refresh(bool(_authorization(headers)), path, query_string, bounce_path, reason)


def frame_ancestors(shop: str) -> str:
    """The ``Content-Security-Policy`` of a page framed by ``shop``'s admin (§4.6)."""
    return f"frame-ancestors https://{shop} https://admin.shopify.com;"


def safe_reload_target(value: str) -> str | None:
    """``value`` when it is a path of this app for the bounce page to reload, else None.

    ``shopify-reload`` arrives in a query anyone can craft, and the bounce page navigates to
    it: only a relative path of this origin passes (one leading ``/``, no ``//`` in the path,
    so no scheme or host; no backslash, which browsers read as ``/``; no control, format or
    space characters, which browsers drop or which split headers), of bounded length.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_RELOAD_LENGTH:
        return None
    route = re.split(r"[?#]", value, maxsplit=1)[0]
    if not route.startswith("/") or "//" in route or "\\" in value:
        return None
    if any(unicodedata.category(char)[0] in "CZ" for char in value):
        return None
    return value


def _authorization(headers: Mapping[str, str]) -> str:
    return {name.lower(): value for name, value in headers.items()}.get("authorization", "")


def _refresh(fetch: bool, path: str, query_string: str, bounce_path: str, reason: str) -> Verdict:
    if fetch:
        return Verdict(token=None, status=401, location=None, headers=((RETRY_HEADER, "1"),), reason=reason)
    return Verdict(
        token=None, status=302, location=_bounce_location(path, query_string, bounce_path), headers=(), reason=reason
    )


def _refused(fetch: bool, reason: str) -> Verdict:
    retry = ((RETRY_HEADER, "1"),) if fetch else ()
    return Verdict(token=None, status=401, location=None, headers=retry, reason=reason)


def _bounce_location(path: str, query_string: str, bounce_path: str) -> str:
    """``shopifyapp``'s bounce URL, relative: the query without ``id_token`` (the bounce page
    needs ``shop``), then ``shopify-reload`` = the quoted path and that query."""
    if not bounce_path.startswith("/"):
        raise ValueError(f"bounce path must start with '/': {bounce_path[:80]!r}")
    query = _ID_TOKEN.sub("", query_string).lstrip("&")
    reload = "shopify-reload=" + quote(path + ("?" + query if query else ""), safe="")
    return f"{bounce_path}?{query}&{reload}" if query else f"{bounce_path}?{reload}"
