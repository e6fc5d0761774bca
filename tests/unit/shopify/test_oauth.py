"""The token endpoint client against mocked HTTP: what each grant sends, the TokenSet it
makes of the answer, and refused grants as InvalidGrant (one per kind)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import responses

from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.http import ShopifyAuthError, ShopifyHTTP
from shopify_app.shopify.oauth import (
    InvalidGrant,
    InvalidRefreshToken,
    InvalidSessionToken,
    TokenEndpoint,
    TokenSet,
    token_set,
)

SHOP = "demo.myshopify.com"
URL = f"https://{SHOP}/admin/oauth/access_token"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
EXPIRING = {"access_token": "shpat_new", "scope": "read_orders,read_returns", "expires_in": 3600,
            "refresh_token": "shprt_new", "refresh_token_expires_in": 7776000}


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint(ShopifyHTTP(sleep=lambda _: None), "client-id", "client-secret")


def form(call: responses.Call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


@responses.activate
def test_token_exchange_asks_for_an_expiring_offline_token(endpoint: TokenEndpoint) -> None:
    responses.post(URL, json=EXPIRING)
    tokens = endpoint.exchange_session_token(SHOP, "session.jwt", now=NOW)
    assert tokens == TokenSet("shpat_new", ("read_orders", "read_returns"), NOW + timedelta(hours=1),
                              "shprt_new", NOW + timedelta(days=90))
    assert form(responses.calls[0]) == {
        "client_id": "client-id", "client_secret": "client-secret",
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": "session.jwt",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token", "expiring": "1",
    }
    assert responses.calls[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"


@responses.activate
def test_code_and_refresh_grants_send_what_shopify_documents(endpoint: TokenEndpoint) -> None:
    responses.post(URL, json=EXPIRING)
    endpoint.exchange_code(SHOP, "the-code", now=NOW)
    endpoint.refresh(SHOP, "shprt_old", now=NOW)
    code, refresh = (form(call) for call in responses.calls)
    assert code == {"client_id": "client-id", "client_secret": "client-secret", "code": "the-code", "expiring": "1"}
    assert refresh == {"client_id": "client-id", "client_secret": "client-secret",
                       "grant_type": "refresh_token", "refresh_token": "shprt_old"}


@responses.activate
@pytest.mark.parametrize("grant, refused, what", [
    (lambda e: e.exchange_session_token(SHOP, "expired.jwt", now=NOW), InvalidSessionToken, "session token"),
    (lambda e: e.refresh(SHOP, "shprt_used", now=NOW), InvalidRefreshToken, "refresh token"),
    (lambda e: e.exchange_code(SHOP, "used-code", now=NOW), InvalidGrant, "authorization code"),
])
def test_a_refused_grant_is_invalid_grant_of_its_kind(endpoint: TokenEndpoint, grant, refused, what) -> None:  # type: ignore[no-untyped-def]
    responses.post(URL, status=400, json={"error": "invalid_grant", "error_description": "expired or was used"})
    with pytest.raises(refused) as caught:
        grant(endpoint)
    assert isinstance(caught.value, InvalidGrant)
    assert str(caught.value) == f"{SHOP}: {what} refused: expired or was used"
    assert "shprt_used" not in str(caught.value) and "expired.jwt" not in str(caught.value)
    assert len(responses.calls) == 1  # a refusal is never retried


@responses.activate
def test_wrong_app_credentials_are_an_auth_error_not_a_refused_grant(endpoint: TokenEndpoint) -> None:
    responses.post(URL, status=401, json={"errors": "invalid client credentials"})
    with pytest.raises(ShopifyAuthError):
        endpoint.refresh(SHOP, "shprt", now=NOW)


def test_a_non_expiring_answer_has_no_expiry() -> None:
    assert token_set({"access_token": "shpat_x", "scope": ""}, NOW) == TokenSet("shpat_x", (), None, None, None)


@pytest.mark.parametrize("body", [
    {"scope": "read_orders"},
    {"access_token": "", "scope": "read_orders"},
    {"access_token": "shpat_x"},
    {"access_token": "shpat_x", "scope": "a", "expires_in": "3600"},
    {"access_token": "shpat_x", "scope": "a", "expires_in": -1},
    {"access_token": "shpat_x", "scope": "a", "refresh_token": 5},
])
def test_a_malformed_answer_is_refused(body: dict) -> None:
    with pytest.raises(PayloadError):
        token_set(body, NOW)


@responses.activate
def test_a_naive_now_is_refused_before_anything_is_sent(endpoint: TokenEndpoint) -> None:
    with pytest.raises(ValueError):
        endpoint.refresh(SHOP, "shprt", now=NOW.replace(tzinfo=None))
    assert len(responses.calls) == 0
