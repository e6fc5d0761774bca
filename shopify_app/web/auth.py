"""Install and auth routes.

- ``GET /auth/session-token``: the token-refresh page. It loads App Bridge, which fetches a
  fresh session token and reloads ``shopify-reload`` with it; only a relative path of this
  app is accepted there (no open redirect).
- ``GET /auth`` and ``GET /auth/callback``: the authorization-code grant, the fallback for
  non-embedded use (embedded installs are managed by Shopify and need no call to the app).
  The callback checks the query HMAC (current or previous secret) and its timestamp, the
  shop domain, and a ``state`` nonce that must match the signed cookie set by ``/auth`` and
  an unused row stored with it (one use, ten minutes); then it exchanges the code for an
  expiring offline token and refuses an install that did not grant every scope.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shopify_app.clock import utcnow
from shopify_app.context import cipher, config, database, shopify_origin, token_endpoint
from shopify_app.services import install
from shopify_app.shopify.app_config import SCOPES
from shopify_app.shopify.app_home import safe_reload_target
from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain
from shopify_app.shopify.oauth import InvalidGrant
from shopify_app.shopify.oauth_query import InvalidOAuthQuery, verify_oauth_query
from shopify_app.store import oauth_states

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

STATE_COOKIE = "clawback_oauth_state"
STATE_LIFETIME = timedelta(minutes=10)


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config().api_secret, salt="clawback-oauth-state")


@blueprint.get("/auth/session-token")
def session_token_page():
    target = safe_reload_target(request.args.get("shopify-reload", ""))
    if target is None:
        abort(400, "shopify-reload must be a path of this app")
    return render_template("bounce.html", api_key=config().api_key)


@blueprint.get("/auth")
def start():
    try:
        shop = valid_shop_domain(request.args.get("shop"))
    except InvalidShopDomain as exc:
        abort(400, str(exc))
    if request.args.get("embedded") == "1":
        abort(400, "embedded installs are managed by Shopify: open Clawback from the Shopify admin")
    nonce = secrets.token_urlsafe(32)
    with database().transaction() as session:
        oauth_states.create(session, nonce, shop, utcnow(), STATE_LIFETIME)
    query = urlencode({"client_id": config().api_key, "scope": ",".join(SCOPES),
                       "redirect_uri": config().app_url.rstrip("/") + "/auth/callback", "state": nonce})
    response = redirect(f"{shopify_origin(shop)}/admin/oauth/authorize?{query}", code=302)
    response.set_cookie(STATE_COOKIE, _signer().dumps(nonce), max_age=int(STATE_LIFETIME.total_seconds()), httponly=True,
                        secure=not config().dev_mode, samesite="Lax")
    return response


def _refuse(reason: str) -> Response:
    log.warning("oauth callback refused: %s", reason)
    response = Response(f"install refused: {reason}", status=400, mimetype="text/plain")
    response.delete_cookie(STATE_COOKIE)
    return response


@blueprint.get("/auth/callback")
def callback():
    now = utcnow()
    try:
        shop = verify_oauth_query(request.args.to_dict(flat=False), secrets=config().webhook_secrets, now=now)
    except InvalidOAuthQuery as exc:
        return _refuse(str(exc))
    state, code = request.args.get("state", ""), request.args.get("code", "")
    try:
        cookie_nonce = _signer().loads(request.cookies.get(STATE_COOKIE, ""), max_age=int(STATE_LIFETIME.total_seconds()))
    except BadSignature:
        return _refuse("no valid state cookie: start again from /auth")
    if not state or not code or not hmac.compare_digest(str(cookie_nonce), state):
        return _refuse("state does not match this browser's install")
    with database().transaction() as session:
        if not oauth_states.use(session, state, shop, now, STATE_LIFETIME):
            return _refuse("state already used, expired or issued for another shop")
    try:
        with database().transaction() as session:
            install.install_by_code(session, shop, code, now, token_endpoint(), cipher(), SCOPES)
    except (InvalidGrant, install.MissingScopes) as exc:
        return _refuse(str(exc))
    response = redirect(f"https://{shop}/admin/apps/{config().api_key}", code=302)
    response.delete_cookie(STATE_COOKIE)
    return response
