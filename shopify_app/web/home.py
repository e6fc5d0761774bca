"""``GET /``: the embedded app home. Opening it is also how a shop installs: Shopify managed
the install, and the first authenticated open exchanges the merchant's session token for
the shop's offline token (``services.install.open_app``)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, redirect, render_template, request

from shopify_app.clock import utcnow
from shopify_app.context import cipher, config, database, token_endpoint
from shopify_app.services import install, ledger, overview
from shopify_app.shopify.app_config import SCOPES
from shopify_app.shopify.app_home import refresh_verdict
from shopify_app.shopify.oauth import InvalidGrant, InvalidSessionToken
from shopify_app.store import shops
from shopify_app.web.embedded import embedded

log = logging.getLogger(__name__)

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
@embedded
def home():
    visitor = g.visitor
    if visitor.token is not None:
        try:
            with database().transaction() as session:
                install.open_app(session, visitor.shop, visitor.token.raw, utcnow(), token_endpoint(), cipher(), SCOPES)
        except InvalidSessionToken as exc:  # stale by the time it reached Shopify: get a fresh one, as shopifyapp does
            verdict = refresh_verdict(path=request.path, query_string=request.query_string.decode("latin-1"),
                                      headers=request.headers, reason=str(exc))
            response = redirect(verdict.location) if verdict.location else Response(verdict.reason, status=verdict.status)
            response.headers.extend(verdict.headers)
            return response
        except InvalidGrant as exc:
            log.warning("token exchange refused for %s: %s", visitor.shop, exc)
            return Response(render_template("problem.html", title="Shopify did not accept this session",
                                            detail="Open Clawback again from your Shopify admin."), status=401)
        except install.MissingScopes as exc:
            return Response(render_template("problem.html", title="Clawback needs more access", detail=str(exc)), status=403)
    with database().reading() as session:
        shop = shops.find(session, visitor.shop)
        if shop is None or shop.uninstalled_at is not None:
            return Response(render_template("problem.html", title="Clawback is not installed", detail=f"{visitor.shop} has not installed Clawback."), status=404)
        summary = overview.overview(session, shop, utcnow(), config().parked_attention_hours)
        return render_template("home.html", title="Home", active="/", shop=visitor.shop, api_key=config().api_key, flashes=[],
                               overview=summary, needs_auth=shop.needs_auth, balances=ledger.balances(session, shop))
