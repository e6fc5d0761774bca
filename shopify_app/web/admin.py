"""The embedded admin's pages (docs/interfaces.md, "HTTP"): settings, affiliates, an order's
ledger, payouts, deliveries needing attention, and the refund-lag insight.

Every route is ``@embedded`` (the shop is the verified session token's, or dev mode's
``?shop=``), reads and writes through ``services`` in one unit of work, and answers HTML.
A change is a POST: embedded, a ``fetch`` with the session token; in dev mode, a form with its
CSRF token (``@embedded`` checks either before the view runs). An invalid form answers 422
with the page again, the message beside each field, and nothing saved; a valid one redirects
(303) to the page with a notice, so a reload never posts twice. What a service cannot find
(``NotFound``) is the 404 page with its message, for every route at once.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, g, redirect, render_template, request
from werkzeug.exceptions import NotFound as HTTPNotFound

from ledger.money import Money
from policy.clause import refund_clause
from policy.settings import AmountOnlyRefunds, DelayStarts, ExchangeUpgrades, Settings
from shopify_app.clock import utcnow
from shopify_app.context import config, database
from shopify_app.services import affiliates, attention, insights, ledger, payouts, shops as registry
from shopify_app.services.errors import InvalidInput, NotFound
from shopify_app.store import shops
from shopify_app.store.tables import Shop
from shopify_app.web.embedded import embedded
from shopify_app.web.errors import problem_page
from shopify_app.web.ui import link, money

blueprint = Blueprint("admin", __name__)

# The largest ids the columns hold (PostgreSQL's types; SQLite's integers are all 64-bit):
# payouts' and deliveries' are INTEGER, records' BIGINT. A larger number in a URL is no row
# (404, or the newest page for a cursor), not an overflow in the database.
MAX_ID = 2**31 - 1
MAX_RECORD_ID = 2**63 - 1

NOTICES = {
    "saved": ("success", "Settings saved. They apply to orders from now on; past commissions keep their frozen rates and dates."),
    "added": ("success", "Affiliate added. Orders carrying their code are attributed to them from now on."),
    "edited": ("success", "Affiliate updated. The new terms apply to their orders from now on; past commissions keep theirs."),
    "paid": ("success", "Payouts created. Download each one's CSV for PayPal or Wise."),
    "nothing-paid": ("info", "Nothing was due: no affiliate's approved balance reached the minimum."),
    "retried": ("success", "Queued to be tried again in a moment."),
    "accepted": ("success", "Accepted: the refunded amount now lowers the order's commissions, and the record says who decided."),
    "rejected": ("success", "Rejected: the refunded amount does not change commissions; the decision is recorded."),
    "delay": ("success", "Approval delay changed. It applies to orders from now on."),
}


@blueprint.errorhandler(NotFound)
def _not_found(error: NotFound):
    return problem_page(HTTPNotFound(str(error)))


def _shop(session) -> Shop:
    shop = shops.find(session, g.visitor.shop)
    if shop is None or shop.uninstalled_at is not None:
        abort(404, f"{g.visitor.shop} has not installed Clawback")
    return shop


def _page(template: str, title: str, active: str, status: int = 200, **context) -> Response:
    tone_message = NOTICES.get(request.args.get("notice", ""))
    body = render_template(template, title=title, active=active, shop=g.visitor.shop, api_key=config().api_key,
                           flashes=[tone_message] if tone_message else [], **context)
    return Response(body, status=status, mimetype="text/html")


def _done(path: str, notice: str) -> Response:
    return redirect(link(path, notice=notice), code=303)


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 1_000_000))
    except ValueError:
        return 1


def _before() -> int | None:
    """The keyset cursor of an older page of records (a record id); None: the newest page,
    also for a cursor that is no id (ASCII digits only, as ``str.isdigit`` would pass ``²``;
    at most ``MAX_RECORD_ID``)."""
    raw = request.args.get("before", "")
    return int(raw) if re.fullmatch(r"[0-9]{1,19}", raw) and int(raw) <= MAX_RECORD_ID else None


def _who() -> str:
    """Who decides, for the record: the session token's user (``sub``), else its session
    (``sid``), else nobody we could name, so no decision; "dev" only in dev mode, which has
    no token."""
    token = g.visitor.token
    if token is None:
        return "dev"
    who = token.user_id or token.session_id
    if not who:
        abort(403, "decisions need a signed-in user")
    return who


# -- settings --------------------------------------------------------------------------------------

SETTING_CHOICES = {
    "delay_starts": [(DelayStarts.ORDER.value, "the order date"), (DelayStarts.FULFILLMENT.value, "the fulfilment date")],
    "amount_only_refunds": [(AmountOnlyRefunds.PRORATE.value, "Spread over the order's items"), (AmountOnlyRefunds.IGNORE.value, "Ignore"),
                            (AmountOnlyRefunds.REVIEW.value, "Hold for my review")],
    "exchange_upgrades": [(ExchangeUpgrades.COMMISSION.value, "Raise the commission"), (ExchangeUpgrades.IGNORE.value, "Keep the commission")],
    "notify_affiliates": [("true", "Yes"), ("false", "No")],
}


def _settings_page(shop: Shop, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    current = registry.shop_settings(shop)
    minimum = Money.rounded(current.minimum_payout, shop.currency) if shop.currency else None
    return _page("settings.html", "Settings", "/settings", status, values=values, errors=errors, choices=SETTING_CHOICES,
                 currency=shop.currency, clause=refund_clause(current, money(minimum) if minimum and minimum.minor else None))


@blueprint.get("/settings")
@embedded
def settings_page():
    with database().reading() as session:
        shop = _shop(session)
        return _settings_page(shop, registry.shop_settings(shop).as_strings(), {})


@blueprint.post("/settings")
@embedded
def settings_save():
    form = {key: request.form.get(key, "") for key in Settings().as_strings()}
    with database().transaction() as session:
        shop = _shop(session)
        errors = registry.save_settings_form(session, shop, form, utcnow())
        if errors:
            return _settings_page(shop, form, errors, status=422)
    return _done("/settings", "saved")


# -- affiliates ------------------------------------------------------------------------------------


@blueprint.get("/affiliates")
@embedded
def affiliates_page():
    with database().reading() as session:
        shop = _shop(session)
        return _page("affiliates.html", "Affiliates", "/affiliates", listing=affiliates.listing(session, shop, _page_number()),
                     form={}, errors={})


@blueprint.post("/affiliates")
@embedded
def affiliate_add():
    form = {key: request.form.get(key, "").strip() for key in ("code", "email", "rate_percent", "approval_delay_days")}
    with database().transaction() as session:
        shop = _shop(session)
        try:
            registry.add_affiliate(session, shop, form["code"], form["email"], utcnow(), form["rate_percent"] or None,
                                   form["approval_delay_days"] or None)
        except InvalidInput as exc:
            return _page("affiliates.html", "Affiliates", "/affiliates", 422, listing=affiliates.listing(session, shop, 1),
                         form=form, errors=affiliates.invalid_to_fields(exc))
    return _done("/affiliates", "added")


def _affiliate_page(session, shop: Shop, code: str, form: dict | None = None, errors: dict | None = None, status: int = 200) -> Response:
    affiliate = affiliates.find(session, shop, code)
    listing = affiliates.history(session, shop, affiliate, _before())
    balances = [b for b in ledger.balances(session, shop) if b.affiliate == affiliate.code]
    values = form or {"rate_percent": affiliate.rate_percent or "", "approval_delay_days": "" if affiliate.approval_delay_days is None else str(affiliate.approval_delay_days)}
    return _page("affiliate.html", affiliate.code, "/affiliates", status, affiliate=affiliate, history=listing, balances=balances,
                 form=values, errors=errors or {}, back=(link("/affiliates"), "Affiliates"))


@blueprint.get("/affiliates/<code>")
@embedded
def affiliate_page(code: str):
    with database().reading() as session:
        shop = _shop(session)
        return _affiliate_page(session, shop, code)


@blueprint.post("/affiliates/<code>")
@embedded
def affiliate_edit(code: str):
    form = {key: request.form.get(key, "") for key in ("rate_percent", "approval_delay_days")}
    with database().transaction() as session:
        shop = _shop(session)
        affiliate = affiliates.find(session, shop, code)
        errors = affiliates.edit(session, shop, affiliate, form["rate_percent"], form["approval_delay_days"])
        if errors:
            return _affiliate_page(session, shop, code, form, errors, 422)
    return _done(f"/affiliates/{affiliate.code}", "edited")


# -- one order -------------------------------------------------------------------------------------


@blueprint.get("/orders/<order_id>")
@embedded
def order_page(order_id: str):
    with database().reading() as session:
        shop = _shop(session)
        view = ledger.order_view(session, shop, order_id)
        return _page("order.html", f"Order {view.name}", "/affiliates", view=view, admin_url=f"https://{shop.domain}/admin/orders/{view.order_id}")


# -- payouts ---------------------------------------------------------------------------------------


def _payouts_page(session, shop: Shop, status: int = 200, changed: bool = False) -> Response:
    done, page, pages = payouts.history(session, shop, _page_number())
    return _page("payouts.html", "Payouts", "/payouts", status, plan=payouts.plan(session, shop), history=done, page=page,
                 pages=pages, changed=changed)


@blueprint.get("/payouts")
@embedded
def payouts_page():
    with database().reading() as session:
        return _payouts_page(session, _shop(session))


@blueprint.post("/payouts")
@embedded
def payouts_run():
    with database().transaction() as session:
        shop = _shop(session)
        try:
            made = payouts.run(session, shop, request.form.get("plan", ""), utcnow())
        except payouts.PlanChanged:
            return _payouts_page(session, shop, status=409, changed=True)
    return _done("/payouts", "paid" if made else "nothing-paid")


@blueprint.get(f"/payouts/<int(max={MAX_ID}):payout_id>.csv")
@embedded
def payout_csv(payout_id: int):
    with database().reading() as session:
        shop = _shop(session)
        name, text = payouts.as_csv(session, shop, payout_id)
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- needs attention -------------------------------------------------------------------------------


@blueprint.get("/attention")
@embedded
def attention_page():
    with database().reading() as session:
        shop = _shop(session)
        return _page("attention.html", "Needs attention", "/attention", items=attention.items(session, shop, utcnow(), config().parked_attention_hours))


@blueprint.post(f"/attention/<int(max={MAX_ID}):delivery_id>/retry")
@embedded
def attention_retry(delivery_id: int):
    with database().transaction() as session:
        attention.retry(session, _shop(session), delivery_id, utcnow())
    return _done("/attention", "retried")


@blueprint.post(f"/attention/<int(max={MAX_ID}):delivery_id>/decide")
@embedded
def attention_decide(delivery_id: int):
    try:
        accepted = attention.parse_decision(request.form.get("decision", ""))
    except InvalidInput as exc:
        abort(400, str(exc))
    who = _who()
    with database().transaction() as session:
        attention.decide(session, _shop(session), delivery_id, accepted, who, utcnow())
    return _done("/attention", "accepted" if accepted else "rejected")


# -- insight ---------------------------------------------------------------------------------------


@blueprint.get("/insights")
@embedded
def insights_page():
    with database().reading() as session:
        shop = _shop(session)
        return _page("insights.html", "Refund timing", "/insights", insight=insights.refund_lags(session, shop),
                     delay=registry.shop_settings(shop).approval_delay_days)


@blueprint.post("/insights/use-delay")
@embedded
def insights_use_delay():
    with database().transaction() as session:
        shop = _shop(session)
        errors = registry.save_settings_form(session, shop, {"approval_delay_days": request.form.get("days", "")}, utcnow())
        if errors:
            abort(400, errors["approval_delay_days"])
    return _done("/insights", "delay")
