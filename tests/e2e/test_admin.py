"""The embedded admin's pages through the real Flask app, on SQLite and PostgreSQL: each form
saves exactly what the CLI then shows, refuses bad values beside their field with nothing
saved, refuses a change without its proof (dev-mode CSRF token, embedded session token), and
never shows or changes another shop's data. Money and statuses are read back from the CLI
and the tables, not from the page alone."""

from __future__ import annotations

import re
from decimal import Decimal
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from shopify_app.dev import samples
from shopify_app.store.tables import Affiliate, LedgerRecord, Payout, ReviewDecision, WebhookDelivery
from tests.e2e.conftest import TEST_SECRET
from tests.support.cli import Cli, Scenario
from tests.support.oracle_tokens import DROP, claims, sign
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


CHANGES = ["settings", "affiliate add", "affiliate edit", "payouts run", "attention retry", "attention decide", "insights use-delay"]


@pytest.fixture
def changeable(shop, client) -> Scenario:
    """SHOP with something for every POST route to change: an approved commission to pay, a
    refund parked for its order (to try again) and one held for review (to decide)."""
    shop.cli("settings", "set", "--shop", SHOP, "amount_only_refunds=review")
    shop.post("orders/paid", samples.order(3201, [(321, "100.00", 1)], code="ANNA", created_at=ago(2)))
    shop.post("refunds/create", samples.refund(4201, 3201, [], discrepancy="-25.00", created_at=ago(1)))
    shop.post("refunds/create", samples.refund(4301, 3301, [(331, 1, "10.00")], created_at=ago(1)))
    approved_order(shop, 3101, "150.00")
    return shop


def a_change(name: str, shop: Scenario, client) -> tuple[str, dict]:
    """The path and a valid form of the POST route ``name``: with its proof, it changes something."""
    with shop.database.reading() as session:
        waiting = {d.status: d.id for d in session.scalars(select(WebhookDelivery))}
    return {
        "settings": lambda: ("/settings", {**settings(shop), "approval_delay_days": "5"}),
        "affiliate add": lambda: ("/affiliates", {"code": "CARA", "email": "cara@aff.example", "rate_percent": "",
                                                  "approval_delay_days": ""}),
        "affiliate edit": lambda: ("/affiliates/ANNA", {"rate_percent": "25", "approval_delay_days": ""}),
        "payouts run": lambda: ("/payouts", {"plan": re.search(r'name="plan" value="([^"]+)"', page(client, "/payouts")).group(1)}),
        "attention retry": lambda: (f"/attention/{waiting['parked']}/retry", {}),
        "attention decide": lambda: (f"/attention/{waiting['review']}/decide", {"decision": "accept"}),
        "insights use-delay": lambda: ("/insights/use-delay", {"days": "26"}),
    }[name]()


def observable(shop: Scenario) -> tuple:
    """Everything a POST route may change: both shops' settings, affiliates, payouts, the
    inbox, decisions and records."""
    with shop.database.reading() as session:
        affiliates = sorted((a.code, a.rate_percent, a.approval_delay_days) for a in session.scalars(select(Affiliate)))
        inbox = sorted((d.id, d.status, d.attempts, d.next_attempt_at) for d in session.scalars(select(WebhookDelivery)))
        counts = [session.scalar(select(func.count()).select_from(table)) for table in (Payout, ReviewDecision, LedgerRecord)]
    return settings(shop), settings(shop, OTHER), affiliates, inbox, counts


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_without_the_form_token_is_refused_and_nothing_is_saved(changeable, client, embedded, change) -> None:
    """Every POST route, refused by ``@embedded`` whatever the route: none can forget to ask."""
    path, form = a_change(change, changeable, client)
    before = observable(changeable)
    assert post(client, path, form, token="").status_code == 403  # dev mode: no form token
    assert post(client, path, form, token=csrf(client, shop=OTHER)).status_code == 403  # a real token, but for another shop
    client.delete_cookie("clawback_csrf")  # a token without its browser's cookie
    stolen = csrf(client)
    client.delete_cookie("clawback_csrf")
    assert post(client, path, form, token=stolen).status_code == 403
    plain = embedded.post(f"{path}?shop={SHOP}&id_token={bearer()}", data=form)  # embedded: a form post, not a fetch
    assert plain.status_code == 403
    assert observable(changeable) == before
    assert post(client, path, form).status_code == 303  # the same change with its proof goes through
    assert observable(changeable) != before


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
    saved = embedded.post(f"/settings?shop={OTHER}&host=YWRtaW4&embedded=1", data=form,
                          headers={"Authorization": f"Bearer {bearer(SHOP)}"})
    assert saved.status_code == 303
    assert settings(shop)["approval_delay_days"] == "3" and settings(shop, OTHER)["approval_delay_days"] == "30"
    # The page it leads to names the token's shop: loaded in full, it bounces to a token-refresh page SHOP's admin may frame.
    assert parse_qs(urlsplit(saved.headers["Location"]).query) == {"embedded": ["1"], "host": ["YWRtaW4"], "shop": [SHOP],
                                                                    "notice": ["saved"]}


def test_embedded_links_keep_the_tokens_shop_and_a_sane_host_for_a_full_page_load(shop, embedded) -> None:
    headers = {"Authorization": f"Bearer {bearer(SHOP)}"}
    html = embedded.get(f"/affiliates?shop={OTHER}&host=YWRtaW4", headers=headers).get_data(as_text=True)
    assert f'href="/affiliates/ANNA?embedded=1&amp;host=YWRtaW4&amp;shop={SHOP}"' in html
    html = embedded.get("/affiliates?host=%22%3E%3Cscript%3E", headers=headers).get_data(as_text=True)  # not a host: left out
    assert f'href="/affiliates/ANNA?embedded=1&amp;shop={SHOP}"' in html and "script%3E" not in html
    bounced = embedded.get(f"/affiliates/ANNA?embedded=1&host=YWRtaW4&shop={SHOP}")  # the link followed, without a token
    assert bounced.status_code == 302 and urlsplit(bounced.headers["Location"]).path == "/auth/session-token"
    refresh = embedded.get(bounced.headers["Location"])
    assert refresh.status_code == 200
    assert refresh.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


@pytest.mark.parametrize("subject, who", [({}, "42"), ({"sub": DROP}, "sid-7"), ({"sub": DROP, "sid": DROP}, None)])
def test_embedded_a_decision_records_the_tokens_user_else_its_session_else_is_refused(changeable, embedded, subject, who) -> None:
    with changeable.database.reading() as session:
        held = session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "review")).one().id
    token = sign(claims(datetime.now(timezone.utc), shop=SHOP, aud="dev-api-key", **{"sid": "sid-7", **subject}), TEST_SECRET)
    answer = embedded.post(f"/attention/{held}/decide", data={"decision": "accept"}, headers={"Authorization": f"Bearer {token}"})
    with changeable.database.reading() as session:
        decided = [d.decided_by for d in session.scalars(select(ReviewDecision))]
    if who is None:
        assert answer.status_code == 403 and "signed-in user" in answer.get_data(as_text=True) and decided == []
    else:
        assert answer.status_code == 303 and decided == [who]


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
    typed = post(client, "/affiliates/anna", {"rate_percent": "26", "approval_delay_days": ""})  # the code as typed in the URL
    assert typed.status_code == 303 and urlsplit(typed.headers["Location"]).path == "/affiliates/ANNA"


def test_the_affiliate_list_pages_by_fifty(shop, client) -> None:
    for n in range(60):
        shop.cli("affiliate", "add", "--shop", SHOP, "--code", f"A{n:03d}", "--email", f"a{n}@aff.example")
    first, second = page(client, "/affiliates"), page(client, "/affiliates", page=2)
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    listed = lambda html: re.findall(r'<th scope="row"[^>]*><a href="/affiliates/([^"?]+)\?', html)  # noqa: E731
    assert listed(first) == [f"A{n:03d}" for n in range(50)]  # by code: "A0.." sorts before "ANNA"
    assert listed(second) == [f"A{n:03d}" for n in range(50, 60)] + ["ANNA"]


# -- one order -----------------------------------------------------------------------------------


def test_an_order_page_shows_each_line_and_the_refund_paired_with_it(shop, client) -> None:
    shop.post("orders/paid", samples.order(3001, [(31, "100.00", 1), (32, "50.00", 2)], code="ANNA", created_at=ago(2)))
    shop.post("refunds/create", samples.refund(4001, 3001, [(32, 1, "50.00")], created_at=ago(1)))
    shop.work()
    records = shop.records(3001)
    refund = next(r for r in records if r["amount"].startswith("-"))
    html = page(client, "/orders/3001")
    line = lambda n: re.search(rf'id="line-{n}".*?</section>', html, re.S).group(0)  # noqa: E731
    net_row = lambda n: [re.sub(r"<[^>]+>", "", cell).strip()  # noqa: E731
                         for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", re.search(r"<tfoot>.*?</tfoot>", line(n), re.S).group(0))]
    assert f"pairs with #{refund['pairs_with']}" in line(32) and "-$10.00" in line(32)
    assert net_row(31) == ["Net", "$20.00"] and net_row(32) == ["Net", "$10.00"]  # 31: 20 % of 100; 32: 20 % of 100, less 20 % of 50
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


# -- ids out of range ---------------------------------------------------------------------------

INTEGER, BIGINT = 2**31 - 1, 2**63 - 1  # the largest payout and delivery id (PostgreSQL's INTEGER), and record id


@pytest.mark.parametrize("method, path", [
    ("GET", f"/payouts/{INTEGER}.csv"),
    ("GET", f"/payouts/{INTEGER + 1}.csv"),
    ("GET", f"/payouts/{BIGINT + 1}.csv"),
    ("GET", "/payouts/9999999999999999999.csv"),
    ("POST", f"/attention/{INTEGER}/retry"),
    ("POST", f"/attention/{INTEGER + 1}/retry"),
    ("POST", "/attention/9999999999999999999/retry"),
    ("POST", f"/attention/{INTEGER}/decide"),
    ("POST", f"/attention/{BIGINT + 1}/decide"),
    ("POST", f"/attention/{'9' * 40}/decide"),
])
def test_an_id_beyond_any_row_is_not_found_not_a_database_error(shop, client, method, path) -> None:
    response = client.get(f"{path}?shop={SHOP}") if method == "GET" else post(client, path, {"decision": "accept"})
    assert response.status_code == 404


@pytest.mark.parametrize("before", [str(BIGINT + 1), "9999999999999999999", "9" * 40, "\u00b2", "-1", "1e3"])
def test_a_records_cursor_that_is_no_id_shows_the_newest_page(shop, client, before) -> None:
    shop.post("orders/paid", samples.order(3001, [(31, "100.00", 1)], code="ANNA", created_at=ago(2)))
    shop.work()
    html = page(client, "/affiliates/ANNA", before=before)
    assert 'href="/orders/3001?shop=demo.myshopify.com"' in html and ">Newest<" not in html
    older = page(client, "/affiliates/ANNA", before=str(BIGINT))  # the largest cursor is one: every record is older
    assert 'href="/orders/3001?shop=demo.myshopify.com"' in older and ">Newest<" in older


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
    for path, title in (("/", "Home"), ("/settings", "Settings"), ("/affiliates", "Affiliates"), ("/affiliates/ANNA", "ANNA"),
                        ("/affiliates/BEN", "BEN"), ("/orders/5002", "Order #5002"), ("/orders/5006", "Order #5006"),
                        ("/attention", "Needs attention"), ("/insights", "Refund timing")):
        assert re.search(r'<h1 class="page-title">(.*?)</h1>', page(client, path, DEMO_SHOP)).group(1) == title, path
    assert client.get(f"/orders/5099?shop={DEMO_SHOP}").status_code == 404  # the parked refund's order never arrived
