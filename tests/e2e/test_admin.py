"""The embedded admin's pages through the real Flask app, on SQLite and PostgreSQL: each form
saves exactly what the CLI then shows, refuses bad values beside their field with nothing
saved, refuses a change without its proof (dev-mode CSRF token, embedded session token), and
never shows or changes another shop's data. Money and statuses are read back from the CLI
and the tables, not from the page alone."""

from __future__ import annotations

import re
from decimal import Decimal
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from shopify_app.dev import samples
from shopify_app.store.tables import Affiliate, Payout, ReviewDecision, WebhookDelivery
from tests.e2e.conftest import TEST_SECRET
from tests.support.cli import Cli, Scenario
from tests.support.oracle_tokens import claims, sign
from tests.e2e.conftest import make_config

SHOP = "demo.myshopify.com"
OTHER = "other.myshopify.com"


def ago(days: float, now: datetime | None = None) -> str:
    return ((now or datetime.now(timezone.utc)) - timedelta(days=days)).isoformat()


def net(records: list[dict]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in records), Decimal(0))


@pytest.fixture
def shop(client, database, tmp_path, monkeypatch) -> Scenario:
    cli = Cli(database.url, tmp_path / "instance", monkeypatch, reuse_engine=True)
    for domain in (SHOP, OTHER):
        cli("shop", "add", domain)
    cli("affiliate", "add", "--shop", SHOP, "--code", "ANNA", "--email", "anna@aff.example", "--rate", "20")
    cli("affiliate", "add", "--shop", OTHER, "--code", "OTTO", "--email", "otto@aff.example", "--rate", "10")
    return Scenario(client, cli, database, make_config(database.url), SHOP)


def page(client, path: str, shop: str = SHOP, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"shop": shop, **params}.items())
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, (path, response.status_code, response.data[:500])
    return response.get_data(as_text=True)


def csrf(client, path: str = "/settings", shop: str = SHOP) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page(client, path, shop)).group(1)


def post(client, path: str, form: dict, shop: str = SHOP, token: str | None = None):
    data = {"csrf_token": token if token is not None else csrf(client, shop=shop), **form}
    return client.post(f"{path}?shop={shop}", data=data)


def settings(shop: Scenario, domain: str = SHOP) -> dict:
    return shop.cli.json("settings", "show", "--shop", domain, "--format", "json")


# -- settings ------------------------------------------------------------------------------------


def test_the_settings_form_saves_what_the_cli_then_shows(shop, client) -> None:
    response = post(client, "/settings", {**settings(shop), "approval_delay_days": "21", "amount_only_refunds": "review"})
    assert response.status_code == 303 and "notice=saved" in response.headers["Location"]
    saved = settings(shop)
    assert saved["approval_delay_days"] == "21" and saved["amount_only_refunds"] == "review"
    assert settings(shop, OTHER)["approval_delay_days"] == "30"  # the other shop's are its own
    assert "Settings saved" in page(client, "/settings", notice="saved")


@pytest.mark.parametrize("field, value", [
    ("approval_delay_days", "-3"),
    ("approval_delay_days", "1e3"),
    ("default_rate_percent", "101"),
    ("minimum_payout", "-5"),
    ("minimum_payout", "NaN"),
    ("amount_only_refunds", "sometimes"),
])
def test_an_invalid_setting_is_shown_beside_its_field_and_nothing_is_saved(shop, client, field, value) -> None:
    before = settings(shop)
    form = {**before, "approval_delay_days": "14", field: value}  # one valid change next to the bad one
    response = post(client, "/settings", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="field-{field}-error">(.*?)</p>', html, re.S)
    assert error is not None and error.group(1).strip(), html
    assert html.count('aria-invalid="true"') == 1
    assert settings(shop) == before


def test_a_change_without_the_form_token_is_refused_and_nothing_is_saved(shop, client) -> None:
    before = settings(shop)
    assert post(client, "/settings", {**before, "approval_delay_days": "5"}, token="").status_code == 403
    other_token = csrf(client, shop=OTHER)  # a real token, but for another shop
    assert post(client, "/settings", {**before, "approval_delay_days": "5"}, token=other_token).status_code == 403
    client.delete_cookie("clawback_csrf")  # a token without its browser's cookie
    stolen = re.search(r'name="csrf_token" value="([^"]+)"', page(client, "/settings")).group(1)
    client.delete_cookie("clawback_csrf")
    assert client.post(f"/settings?shop={SHOP}", data={**before, "approval_delay_days": "5", "csrf_token": stolen}).status_code == 403
    assert settings(shop) == before


# -- embedded: session tokens -------------------------------------------------------------------


@pytest.fixture
def embedded(app_factory, shop):
    return app_factory(dev_mode=False).test_client()


def bearer(shop: str = SHOP) -> str:
    return sign(claims(datetime.now(timezone.utc), shop=shop, aud="dev-api-key", sub="42"), TEST_SECRET)


def test_embedded_a_plain_form_post_is_refused_and_a_fetch_with_the_session_token_saves(shop, embedded) -> None:
    before = settings(shop)
    form = {**before, "approval_delay_days": "9"}
    plain = embedded.post(f"/settings?shop={SHOP}&id_token={bearer()}", data=form)  # a form post carries no header
    assert plain.status_code == 403 and settings(shop) == before
    fetched = embedded.post("/settings", data=form, headers={"Authorization": f"Bearer {bearer()}"})
    assert fetched.status_code == 303 and settings(shop)["approval_delay_days"] == "9"


def test_embedded_the_token_names_the_shop_never_the_query(shop, embedded) -> None:
    response = embedded.get(f"/affiliates?shop={OTHER}", headers={"Authorization": f"Bearer {bearer(SHOP)}"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "ANNA" in html and "OTTO" not in html
    form = {**settings(shop, OTHER), "approval_delay_days": "3"}
    assert embedded.post(f"/settings?shop={OTHER}", data=form, headers={"Authorization": f"Bearer {bearer(SHOP)}"}).status_code == 303
    assert settings(shop)["approval_delay_days"] == "3" and settings(shop, OTHER)["approval_delay_days"] == "30"


# -- affiliates --------------------------------------------------------------------------------


def test_adding_an_affiliate_and_a_bad_one(shop, client) -> None:
    added = post(client, "/affiliates", {"code": "CARA", "email": "cara@aff.example", "rate_percent": "12.5", "approval_delay_days": ""})
    assert added.status_code == 303
    bad = post(client, "/affiliates", {"code": "bad code!", "email": "not-an-email", "rate_percent": "", "approval_delay_days": ""})
    assert bad.status_code == 422 and "field-code-error" in bad.get_data(as_text=True)
    with shop.database.reading() as session:
        codes = sorted(a.code for a in session.scalars(select(Affiliate)))
    assert codes == ["ANNA", "CARA", "OTTO"]


def test_editing_an_affiliate_applies_from_now_and_refuses_bounds(shop, client) -> None:
    assert post(client, "/affiliates/ANNA", {"rate_percent": "250", "approval_delay_days": ""}).status_code == 422
    assert post(client, "/affiliates/ANNA", {"rate_percent": "25", "approval_delay_days": "7"}).status_code == 303
    html = page(client, "/affiliates/ANNA")
    assert 'value="25"' in html and 'value="7"' in html
    assert post(client, "/affiliates/OTTO", {"rate_percent": "30", "approval_delay_days": ""}).status_code == 404  # OTHER's


def test_the_affiliate_list_pages_by_fifty(shop, client) -> None:
    for n in range(60):
        shop.cli("affiliate", "add", "--shop", SHOP, "--code", f"A{n:03d}", "--email", f"a{n}@aff.example")
    first, second = page(client, "/affiliates"), page(client, "/affiliates", page=2)
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count('href="/affiliates/A0') + second.count('href="/affiliates/A0') == 60
    assert "A059" not in first or "A059" not in second


# -- one order -----------------------------------------------------------------------------------


def test_an_order_page_shows_each_line_and_the_refund_paired_with_it(shop, client) -> None:
    shop.post("orders/paid", samples.order(3001, [(31, "100.00", 1), (32, "50.00", 2)], code="ANNA", created_at=ago(2)))
    shop.post("refunds/create", samples.refund(4001, 3001, [(32, 1, "50.00")], created_at=ago(1)))
    shop.work()
    records = shop.records(3001)
    refund = next(r for r in records if r["amount"].startswith("-"))
    html = page(client, "/orders/3001")
    assert f"pairs with #{refund['pairs_with']}" in html and "-$10.00" in html
    assert "$20.00" in html and "$10.00" in html  # line 31 net 20.00; line 32 20.00 - 10.00
    assert client.get(f"/orders/3001?shop={OTHER}").status_code == 404


# -- payouts ---------------------------------------------------------------------------------------


def approved_order(shop: Scenario, order_id: int, price: str) -> None:
    shop.post("orders/paid", samples.order(order_id, [(order_id * 10, price, 1)], code="ANNA", created_at=ago(40)))
    shop.work()
    shop.cli.approve_due(SHOP, datetime.now(timezone.utc).isoformat())


def payout_count(database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(Payout))


def test_a_payout_runs_what_the_merchant_saw_and_its_csv_pays_it(shop, client, database) -> None:
    approved_order(shop, 3101, "150.00")
    html = page(client, "/payouts")
    plan = re.search(r'name="plan" value="([^"]+)"', html).group(1)
    assert "$30.00" in html
    approved_order(shop, 3102, "50.00")  # the ledger moves after the preview
    stale = post(client, "/payouts", {"plan": plan})
    assert stale.status_code == 409 and "changed since you looked" in stale.get_data(as_text=True)
    assert payout_count(database) == 0
    fresh = re.search(r'name="plan" value="([^"]+)"', stale.get_data(as_text=True)).group(1)
    assert post(client, "/payouts", {"plan": fresh}).status_code == 303
    assert shop.balances()["ANNA"]["paid"] == "40.00" and payout_count(database) == 1
    with database.reading() as session:
        payout_id = session.scalar(select(Payout.id))
    csv = client.get(f"/payouts/{payout_id}.csv?shop={SHOP}")
    assert csv.status_code == 200 and csv.headers["Content-Disposition"] == f'attachment; filename="payout-{payout_id}.csv"'
    rows = csv.get_data(as_text=True).splitlines()
    assert rows[0] == "email,amount,currency,reference,note" and rows[1].startswith(f"anna@aff.example,40.00,USD,clawback-demo-{payout_id},")
    assert client.get(f"/payouts/{payout_id}.csv?shop={OTHER}").status_code == 404
    again = post(client, "/payouts", {"plan": fresh})  # a double submit
    assert again.status_code == 409 and payout_count(database) == 1


# -- needs attention -------------------------------------------------------------------------------


def test_a_held_refund_is_decided_from_needs_attention_with_who_and_when(shop, client, database) -> None:
    shop.cli("settings", "set", "--shop", SHOP, "amount_only_refunds=review")
    shop.post("orders/paid", samples.order(3201, [(321, "100.00", 1)], code="ANNA", created_at=ago(2)))
    shop.post("refunds/create", samples.refund(4201, 3201, [], discrepancy="-25.00", created_at=ago(1)))
    shop.work()
    assert net(shop.records(3201)) == Decimal("20.00")
    html = page(client, "/attention")
    delivery_id = int(re.search(r'id="delivery-(\d+)"', html).group(1))
    assert "held for your decision" in html
    assert client.get(f"/attention?shop={OTHER}").get_data(as_text=True).count('id="delivery-') == 0
    assert post(client, f"/attention/{delivery_id}/decide", {"decision": "maybe"}).status_code == 400
    assert post(client, f"/attention/{delivery_id}/decide", {"decision": "accept"}, shop=OTHER).status_code == 404
    assert post(client, f"/attention/{delivery_id}/decide", {"decision": "accept"}).status_code == 303
    assert net(shop.records(3201)) == Decimal("15.00")  # 20 % of (100 - 25)
    with database.reading() as session:
        decision = session.scalars(select(ReviewDecision)).one()
        delivery = session.get(WebhookDelivery, delivery_id)
        assert (decision.accepted, decision.decided_by, decision.event_key) == (True, "dev", "refund:4201")
        assert delivery.status == "done" and "accepted by user dev" in delivery.last_error
    assert post(client, f"/attention/{delivery_id}/decide", {"decision": "reject"}).status_code == 404  # decided once
    assert net(shop.records(3201)) == Decimal("15.00")


def test_a_parked_refund_is_shown_and_can_be_tried_again(shop, client, database) -> None:
    shop.post("refunds/create", samples.refund(4301, 3301, [(331, 1, "10.00")], created_at=ago(1)))
    shop.work()
    with database.transaction() as session:
        row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.topic == "refunds/create")).one()
        row.received_at = datetime.now(timezone.utc) - timedelta(days=3)
    html = page(client, "/attention")
    assert "Waiting for its order" in html and f'id="delivery-{row.id}"' in html
    assert post(client, f"/attention/{row.id}/retry", {}).status_code == 303
    shop.post("orders/paid", samples.order(3301, [(331, "10.00", 1)], code="ANNA", created_at=ago(2)))
    shop.work()
    assert net(shop.records(3301)) == 0  # the sale and its refund
    assert "Nothing needs your attention" in page(client, "/attention")


# -- insight ---------------------------------------------------------------------------------------


def test_the_insight_recommends_delays_from_the_shops_refunds_and_one_can_be_used(shop, client) -> None:
    lags = [2, 3, 5, 8, 9, 12, 15, 20, 26, 40]  # days from order to refund
    now = datetime.now(timezone.utc)
    for n, lag in enumerate(lags):
        order_id = 3400 + n
        shop.post("orders/paid", samples.order(order_id, [(order_id * 10, "10.00", 1)], code="ANNA", created_at=ago(lag + 1, now)))
        shop.post("refunds/create", samples.refund(4400 + n, order_id, [(order_id * 10, 1, "10.00")], created_at=ago(1, now)))
    shop.work()
    html = page(client, "/insights")
    found = dict(re.findall(r"Holds back (\d+) % of refunds</p>\s*<p class=\"stat__value\">(\d+) day", html))
    assert found == {"80": "20", "90": "26", "95": "40"}  # the 8th, 9th and 10th of 10
    assert "it would have held back <strong>90.0 %</strong> of the 10 refunds" in html  # 30-day delay
    assert post(client, "/insights/use-delay", {"days": "26"}).status_code == 303
    assert settings(shop)["approval_delay_days"] == "26"
    assert post(client, "/insights/use-delay", {"days": "99999"}).status_code == 400
    assert settings(shop)["approval_delay_days"] == "26"


# -- pages without a shop ----------------------------------------------------------------------


def test_a_shop_that_never_installed_gets_a_page_saying_so(client, database) -> None:
    response = client.get("/settings?shop=stranger.myshopify.com")
    assert response.status_code == 404 and "has not installed Clawback" in response.get_data(as_text=True)


def test_the_demo_shops_next_payout_nets_the_clawback_and_every_page_opens(client, database) -> None:
    from shopify_app.dev.demo import DEMO_SHOP, seed

    seed(database, make_config(database.url))
    html = page(client, "/payouts", DEMO_SHOP)
    row = re.search(r'href="/affiliates/BEN[^"]*">BEN</a></th>(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == ["2", "-$6.00", "$21.00"]  # 27.00 earned, 6.00 clawed back
    for path in ("/", "/settings", "/affiliates", "/affiliates/ANNA", "/affiliates/BEN", "/orders/5002", "/orders/5006",
                 "/attention", "/insights"):
        assert "Traceback" not in page(client, path, DEMO_SHOP)
    assert client.get(f"/orders/5099?shop={DEMO_SHOP}").status_code == 404  # the parked refund's order never arrived
