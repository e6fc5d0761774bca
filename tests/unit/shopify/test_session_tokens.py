"""Session tokens, App Home verdicts and the OAuth query: what passes, what is refused, and how.

The clock is always handed in (``NOW``); tokens are built relative to it. The same verdicts
are compared with Shopify's ``shopifyapp`` in tests/e2e/test_session_token_oracle.py.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import shopify

from shopify_app.shopify.app_home import (
    RETRY_HEADER,
    refresh_verdict,
    safe_reload_target,
    verify_app_home_request,
)
from shopify_app.shopify.oauth_query import InvalidOAuthQuery, sign_oauth_query, verify_oauth_query
from shopify_app.shopify.session_tokens import (
    REQUIRED_CLAIMS,
    InvalidSessionClaims,
    InvalidSessionToken,
    verify_session_token,
)
from tests.support.oracle_tokens import API_KEY, DROP, OLD_SECRET, OTHER_SECRET, SECRET, SHOP, claims, forge, sign

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
QUERY = f"embedded=1&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw&locale=en&shop={SHOP}"


def verify(token: str, secrets: tuple[str, ...] = (SECRET,), now: datetime = NOW):
    return verify_session_token(token, api_key=API_KEY, secrets=secrets, now=now)


def refused(token: str, secrets: tuple[str, ...] = (SECRET,)) -> InvalidSessionToken:
    with pytest.raises(InvalidSessionToken) as caught:
        verify(token, secrets)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200
    return caught.value


# --- session tokens -------------------------------------------------------------------------


def test_a_token_shopify_issued_gives_its_shop_user_session_and_times() -> None:
    token = sign(claims(NOW, iat=-5 * S, nbf=-5 * S, exp=55 * S))
    session = verify(token)
    assert session.shop == SHOP
    assert session.user_id == "42"
    assert session.session_id == claims(NOW)["sid"]
    assert session.issued_at == NOW - 5 * S
    assert session.expires_at == NOW + 55 * S
    assert session.raw == token
    assert token not in repr(session)  # exchangeable for an access token: not for logs


@pytest.mark.parametrize("exp", [-9 * S, -1 * S, 0 * S])
def test_expiry_within_the_ten_second_leeway_passes(exp: timedelta) -> None:
    assert verify(sign(claims(NOW, exp=exp, iat=-70 * S, nbf=-70 * S))).expires_at == NOW + exp


@pytest.mark.parametrize("exp", [-10 * S, -11 * S, -3600 * S])
def test_expiry_beyond_the_leeway_is_refused(exp: timedelta) -> None:
    error = refused(sign(claims(NOW, exp=exp, iat=-3700 * S, nbf=-3700 * S)))
    assert not isinstance(error, InvalidSessionClaims)  # stale: a fresh token will do
    assert "expired" in str(error)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_valid_yet_is_refused_beyond_the_leeway(claim: str) -> None:
    verify(sign(claims(NOW, **{claim: 10 * S})))
    error = refused(sign(claims(NOW, **{claim: 11 * S})))
    assert not isinstance(error, InvalidSessionClaims)
    assert f"not valid yet ({claim} 11 s ahead)" in str(error)


def test_the_clock_defaults_to_now() -> None:
    real_now = datetime.now(timezone.utc)
    assert verify_session_token(sign(claims(real_now)), api_key=API_KEY, secrets=[SECRET]).shop == SHOP
    with pytest.raises(InvalidSessionToken, match="expired"):
        verify_session_token(sign(claims(NOW)), api_key=API_KEY, secrets=[SECRET])  # NOW is long gone


@pytest.mark.parametrize("aud", ["another-app", "", [API_KEY], None])
def test_another_audience_is_refused(aud) -> None:
    error = refused(sign(claims(NOW, aud=aud)))
    assert isinstance(error, InvalidSessionClaims)


def test_a_wrong_signature_is_refused() -> None:
    error = refused(sign(claims(NOW), OTHER_SECRET), secrets=(SECRET, OLD_SECRET))
    assert not isinstance(error, InvalidSessionClaims)
    assert "signature matches neither" in str(error)


def test_the_old_secret_is_accepted_after_the_current_one() -> None:
    assert verify(sign(claims(NOW), OLD_SECRET), secrets=(SECRET, OLD_SECRET)).shop == SHOP
    assert verify(sign(claims(NOW), SECRET), secrets=(SECRET, OLD_SECRET)).shop == SHOP
    assert verify(sign(claims(NOW), SECRET), secrets=(SECRET, "")).shop == SHOP  # no old secret set
    refused(sign(claims(NOW), OLD_SECRET), secrets=(SECRET,))


def signed_with_hs512() -> str:
    """The right secret, the wrong algorithm (PyJWT warns the key is short for SHA-512)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims(NOW), SECRET, algorithm="HS512")


@pytest.mark.parametrize(
    "token",
    [
        forge(claims(NOW), "none"),
        forge(claims(NOW), "None"),
        forge(claims(NOW), "RS256", b"\x01" * 256),
        signed_with_hs512(),
    ],
    ids=["alg none", "alg None", "RS256", "HS512"],
)
def test_only_hs256_is_accepted(token: str) -> None:
    error = refused(token)
    assert "refused (only HS256)" in str(error)
    assert not isinstance(error, InvalidSessionClaims)


@pytest.mark.parametrize("token", ["not.a.token", "x", "a.b.c.d", forge({"dest": 1}, "HS256")[:-1] + "!"])
def test_a_malformed_token_is_refused_as_stale_not_as_foreign(token: str) -> None:
    assert not isinstance(refused(token), InvalidSessionClaims)


def test_an_oversized_token_is_refused_before_parsing() -> None:
    assert "8192" in str(refused("a" * 8193))


def test_iss_must_be_the_admin_of_the_dest_shop() -> None:
    error = refused(sign(claims(NOW, iss="https://other-shop.myshopify.com/admin")))
    assert isinstance(error, InvalidSessionClaims)
    assert "is not the admin of dest oracle-shop.myshopify.com" in str(error)
    for iss in (f"https://{SHOP}", f"http://{SHOP}/admin", f"https://{SHOP}/admin/", SHOP):
        assert isinstance(refused(sign(claims(NOW, iss=iss))), InvalidSessionClaims)


@pytest.mark.parametrize(
    "dest",
    [
        "https://evil.com",
        "https://x.myshopify.com.evil.com",
        "https://evil.com/x.myshopify.com",
        f"https://{SHOP}/admin",
        f"https://{SHOP}/",
        f"https://{SHOP}:443",
        f"http://{SHOP}",
        f"https://{SHOP.upper()}",
        f"https://{SHOP} ",
        "https://admin.shopify.com",
        "https://myshopify.com",
        "",
        42,
    ],
)
def test_dest_must_be_exactly_a_shop(dest) -> None:
    error = refused(sign(claims(NOW, dest=dest)))
    assert isinstance(error, InvalidSessionClaims)


def test_dest_may_come_without_its_scheme() -> None:
    assert verify(sign(claims(NOW, dest=SHOP))).shop == SHOP


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_every_claim_the_checks_read_is_required(claim: str) -> None:
    error = refused(sign(claims(NOW, **{claim: DROP})))
    assert isinstance(error, InvalidSessionClaims)
    assert f"lacks {claim}" in str(error)


@pytest.mark.parametrize("value", ["1767225600", True, 1e300, float("nan"), -1])
def test_a_time_claim_must_be_unix_seconds(value) -> None:
    assert not isinstance(refused(sign(claims(NOW, exp=value))), InvalidSessionClaims)


def test_user_and_session_are_optional_strings() -> None:
    session = verify(sign(claims(NOW, sub=DROP, sid=DROP)))
    assert (session.user_id, session.session_id) == (None, None)
    assert isinstance(refused(sign(claims(NOW, sid=7))), InvalidSessionClaims)
    assert not isinstance(refused(sign(claims(NOW, sub=7))), InvalidSessionClaims)  # PyJWT's own check


@pytest.mark.parametrize(
    "api_key, secrets", [("", (SECRET,)), (API_KEY, ()), (API_KEY, ("",)), (API_KEY, SECRET)],
    ids=["no api key", "no secret", "empty secret", "one string, not a sequence"],
)
def test_a_configuration_error_is_not_a_bad_token(api_key: str, secrets) -> None:
    with pytest.raises(ValueError) as caught:
        verify_session_token(sign(claims(NOW)), api_key=api_key, secrets=secrets, now=NOW)
    assert not isinstance(caught.value, InvalidSessionToken)


# --- App Home verdicts ----------------------------------------------------------------------


def home(path: str = "/app", query: str = "", headers: dict[str, str] | None = None, **kw):
    return verify_app_home_request(
        method="GET", path=path, query_string=query, headers=headers or {},
        api_key=API_KEY, secrets=[SECRET, OLD_SECRET], now=NOW, **kw,
    )


def test_a_document_with_a_valid_id_token_is_authenticated_and_framed_by_its_shop() -> None:
    verdict = home(query=f"{QUERY}&id_token={sign(claims(NOW))}")
    assert (verdict.status, verdict.location, verdict.reason) == (200, None, "verified")
    assert verdict.token is not None and verdict.token.shop == SHOP
    assert verdict.headers == (
        ("Content-Security-Policy", f"frame-ancestors https://{SHOP} https://admin.shopify.com;"),
    )


def test_a_fetch_with_a_valid_bearer_token_is_authenticated() -> None:
    verdict = home(headers={"Authorization": f"Bearer {sign(claims(NOW), OLD_SECRET)}"})
    assert (verdict.status, verdict.headers) == (200, ())
    assert verdict.token is not None and verdict.token.shop == SHOP


def test_the_authorization_header_is_found_in_any_case() -> None:
    verdict = home(headers={"authorization": f"Bearer {sign(claims(NOW))}"})
    assert verdict.status == 200


def test_a_document_without_id_token_bounces_with_its_path_and_query() -> None:
    verdict = home(path="/app/orders", query="shop=a.myshopify.com&host=YQ&x=a%20b")
    assert (verdict.status, verdict.token, verdict.headers) == (302, None, ())
    assert verdict.location == (
        "/auth/session-token?shop=a.myshopify.com&host=YQ&x=a%20b"
        "&shopify-reload=%2Fapp%2Forders%3Fshop%3Da.myshopify.com%26host%3DYQ%26x%3Da%2520b"
    )
    assert verdict.reason == "document load without id_token"


def test_a_document_without_any_query_bounces_with_its_path_only() -> None:
    assert home(path="/").location == "/auth/session-token?shopify-reload=%2F"


BOUNCE_SH = "/auth/session-token?shop=s&host=h&shopify-reload=%2Fp%3Fshop%3Ds%26host%3Dh"


@pytest.mark.parametrize(
    "query, location",
    [
        ("id_token=T&shop=s&host=h", BOUNCE_SH),
        ("shop=s&id_token=T&host=h", BOUNCE_SH),
        ("shop=s&host=h&id_token=T", BOUNCE_SH),
        ("id_token=T", "/auth/session-token?shopify-reload=%2Fp"),
        ("id_token=T&a=1&id_token=U", "/auth/session-token?a=1&shopify-reload=%2Fp%3Fa%3D1"),
        ("id_token=&a=1", "/auth/session-token?a=1&shopify-reload=%2Fp%3Fa%3D1"),
        ("xid_token=T&id_tokens=", "/auth/session-token?xid_token=T&id_tokens="
                                   "&shopify-reload=%2Fp%3Fxid_token%3DT%26id_tokens%3D"),
    ],
)
def test_a_stale_document_bounces_without_its_id_token(query: str, location: str) -> None:
    verdict = home(path="/p", query=query)
    assert (verdict.status, verdict.location) == (302, location)


def test_an_expired_token_on_a_document_bounces_to_a_custom_page() -> None:
    stale = sign(claims(NOW, exp=-60 * S, iat=-120 * S, nbf=-120 * S))
    verdict = home(path="/app", query=f"shop={SHOP}&id_token={stale}", bounce_path="/bounce")
    assert verdict.status == 302
    assert verdict.location == f"/bounce?shop={SHOP}&shopify-reload=%2Fapp%3Fshop%3D{SHOP}"
    assert "expired 60 s ago" in verdict.reason


def test_a_bounce_page_that_is_not_a_path_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="bounce path"):
        home(bounce_path="https://evil.com/bounce")


@pytest.mark.parametrize(
    "token",
    [
        sign(claims(NOW, exp=-60 * S, iat=-120 * S, nbf=-120 * S)),
        sign(claims(NOW), OTHER_SECRET),
        forge(claims(NOW), "none"),
        "garbage",
        " " + sign(claims(NOW)),
    ],
    ids=["expired", "wrong signature", "alg none", "garbage", "two spaces after Bearer"],
)
def test_a_fetch_with_a_bad_token_gets_401_and_the_retry_header(token: str) -> None:
    verdict = home(headers={"Authorization": f"Bearer {token}"})
    assert (verdict.status, verdict.token, verdict.location) == (401, None, None)
    assert verdict.headers == ((RETRY_HEADER, "1"),)


@pytest.mark.parametrize("authorization", ["Basic b3JhY2xl", "Bearer", "bearer " + "x", "Token abc"])
def test_a_fetch_without_a_bearer_token_gets_401_and_the_retry_header(authorization: str) -> None:
    verdict = home(headers={"Authorization": authorization})
    assert (verdict.status, verdict.headers) == (401, ((RETRY_HEADER, "1"),))


def test_bearer_without_a_token_gets_a_bare_401_as_in_shopifyapp() -> None:
    verdict = home(headers={"Authorization": "Bearer "})
    assert (verdict.status, verdict.headers, verdict.location) == (401, (), None)


def test_an_empty_authorization_header_makes_a_document_load() -> None:
    assert home(headers={"Authorization": ""}).status == 302


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "another-app"}, {"iss": "https://other-shop.myshopify.com/admin"}, {"shop": "evil.com"}, {"exp": DROP}],
    ids=["wrong audience", "iss/dest mismatch", "foreign shop", "no exp"],
)
def test_a_token_for_another_app_or_host_is_refused_not_refreshed(overrides: dict) -> None:
    token = sign(claims(NOW, **overrides))
    document = home(query=f"shop={SHOP}&id_token={token}")
    assert (document.status, document.headers, document.location) == (401, (), None)  # a bounce would loop
    fetched = home(headers={"Authorization": f"Bearer {token}"})
    assert (fetched.status, fetched.headers) == (401, ((RETRY_HEADER, "1"),))


def test_the_refresh_verdict_bounces_a_document_and_asks_a_fetch_to_retry() -> None:
    document = refresh_verdict(path="/app", query_string="shop=s", headers={}, reason="token exchange refused")
    assert (document.status, document.location) == (302, "/auth/session-token?shop=s&shopify-reload=%2Fapp%3Fshop%3Ds")
    fetched = refresh_verdict(path="/app", query_string="", headers={"Authorization": "Bearer x"}, reason="r")
    assert (fetched.status, fetched.headers, fetched.reason) == (401, ((RETRY_HEADER, "1"),), "r")


@pytest.mark.parametrize(
    "target",
    ["/", "/app", "/app/orders?shop=a.myshopify.com&host=YQ", "/a%20b?x=https://y//z", "/app#top", "/café"],
)
def test_a_reload_target_of_this_app_is_kept(target: str) -> None:
    assert safe_reload_target(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "",
        "//evil.com",
        "//evil.com/app",
        "https://evil.com",
        "http:/evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "/app\\..\\x",
        "javascript:alert(1)",
        "evil.com/app",
        "app",
        "/app\r\nSet-Cookie: a=b",
        "/\t/evil.com",
        "/\x00app",
        "/app\u2028x",
        "/app\u200bx",
        "/ /evil.com",
        "/app//x",
        "/" + "a" * 2048,
    ],
)
def test_a_reload_target_that_could_leave_the_app_is_refused(target: str) -> None:
    assert safe_reload_target(target) is None


def test_a_reload_target_may_be_as_long_as_the_bound() -> None:
    assert safe_reload_target("/" + "a" * 2047) is not None


# --- the OAuth query --------------------------------------------------------------------------

TIMESTAMP = str(int(NOW.timestamp()))


def oauth(secret: str = SECRET, **overrides) -> dict:
    """A callback query as Shopify signs it (``hmac`` over the rest)."""
    params = {"code": "0907a61c0c8d", "host": "YWRtaW4", "shop": SHOP, "state": "n0nce", "timestamp": TIMESTAMP}
    params.update(overrides)
    return {**params, "hmac": sign_oauth_query(params, secret)}


def test_shopifys_published_example_signs_as_documented() -> None:
    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "state": "0.6784241404160823",
        "timestamp": "1337178173",
    }
    assert sign_oauth_query(params, "hush") == "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"


def test_a_signed_query_gives_its_shop() -> None:
    assert verify_oauth_query(oauth(), secrets=[SECRET], now=NOW) == SHOP


def test_a_query_as_werkzeug_lists_it_verifies_the_same() -> None:
    listed = {name: [value] for name, value in oauth().items()}
    assert verify_oauth_query(listed, secrets=[SECRET], now=NOW) == SHOP


def test_the_old_secret_is_accepted_and_no_other() -> None:
    assert verify_oauth_query(oauth(OLD_SECRET), secrets=[SECRET, OLD_SECRET], now=NOW) == SHOP
    with pytest.raises(InvalidOAuthQuery, match="neither the current nor the old"):
        verify_oauth_query(oauth(OTHER_SECRET), secrets=[SECRET, OLD_SECRET], now=NOW)


@pytest.mark.parametrize(
    "change", [{"hmac": "0" * 64}, {"hmac": ""}, {"state": "other"}, {"shop": "other.myshopify.com"}]
)
def test_a_wrong_or_tampered_hmac_is_refused(change: dict) -> None:
    with pytest.raises(InvalidOAuthQuery):
        verify_oauth_query({**oauth(), **change}, secrets=[SECRET], now=NOW)


def test_a_query_without_hmac_is_refused() -> None:
    params = oauth()
    del params["hmac"]
    with pytest.raises(InvalidOAuthQuery, match="no hmac"):
        verify_oauth_query(params, secrets=[SECRET], now=NOW)


@pytest.mark.parametrize("offset, accepted", [(-90, True), (90, True), (-91, False), (91, False), (-86400, False)])
def test_the_timestamp_must_be_within_the_tolerance_either_way(offset: int, accepted: bool) -> None:
    params = oauth(timestamp=str(int(NOW.timestamp()) + offset))
    if accepted:
        assert verify_oauth_query(params, secrets=[SECRET], now=NOW) == SHOP
    else:
        with pytest.raises(InvalidOAuthQuery, match="ahead" if offset > 0 else "old"):
            verify_oauth_query(params, secrets=[SECRET], now=NOW)


@pytest.mark.parametrize("timestamp", ["", "12x", "-5", "١٢٣", "9" * 13])
def test_a_timestamp_must_be_unix_seconds(timestamp: str) -> None:
    with pytest.raises(InvalidOAuthQuery, match="timestamp"):
        verify_oauth_query(oauth(timestamp=timestamp), secrets=[SECRET], now=NOW)


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "https://x.myshopify.com", "x", ""])
def test_a_signed_query_for_a_foreign_shop_is_refused(shop: str) -> None:
    with pytest.raises(InvalidOAuthQuery, match="not a valid shop domain"):
        verify_oauth_query(oauth(shop=shop), secrets=[SECRET], now=NOW)


def test_array_parameters_are_signed_as_shopify_lists_them() -> None:
    params = oauth(**{"ids[]": ["1", "2"]})
    assert verify_oauth_query(params, secrets=[SECRET], now=NOW) == SHOP
    pairs = ['ids=["1", "2"]', f"shop={SHOP}", "code=0907a61c0c8d", "host=YWRtaW4", "state=n0nce"]
    pairs.append(f"timestamp={TIMESTAMP}")
    message = "&".join(sorted(pairs))  # Shopify's rule written out: sorted name=value, ids as JSON
    assert params["hmac"] == hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(InvalidOAuthQuery):
        verify_oauth_query({**params, "ids[]": ["1", "3"]}, secrets=[SECRET], now=NOW)


def test_a_repeated_plain_parameter_is_refused() -> None:
    with pytest.raises(InvalidOAuthQuery, match="'shop' given 2 times"):
        verify_oauth_query({**oauth(), "shop": [SHOP, "evil.myshopify.com"]}, secrets=[SECRET], now=NOW)


def test_signing_leaves_shopifyapis_global_secret_alone() -> None:
    before = shopify.Session.secret
    sign_oauth_query({"shop": SHOP}, SECRET)
    assert shopify.Session.secret == before


@pytest.mark.parametrize("secrets", [[], [""], SECRET])
def test_oauth_without_a_usable_secret_is_a_configuration_error(secrets) -> None:
    with pytest.raises(ValueError) as caught:
        verify_oauth_query(oauth(), secrets=secrets, now=NOW)
    assert not isinstance(caught.value, InvalidOAuthQuery)
