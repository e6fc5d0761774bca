"""The ``clawback`` command line (interfaces.md, "Command line"), on SQLite and PostgreSQL.

Commands run in-process through click's ``CliRunner`` with a real environment
(``DATABASE_URL``, ``CLAWBACK_DEV=1``, a private ``CLAWBACK_INSTANCE_DIR``), and a few as
real processes of the installed ``clawback`` script. Contract checked everywhere: JSON alone
on stdout, messages on stderr, exit 0 on success, non-zero with one ``Error:`` line.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from shopify_app.dev import samples as payloads
from shopify_app.store.tables import Shop, WebhookDelivery
from shopify_app.shopify.signature import verify_hmac
from tests.e2e.conftest import TEST_SECRET, make_config
from tests.support.cli import BALANCE_KEYS, RECORD_KEYS, Cli, Scenario, cli_env, error_line, iso, run_script
from tests.support.signing import SHOP

ANNA = "anna@affiliates.example"
DEFAULT_SETTINGS = {
    "approval_delay_days": "30",
    "delay_starts": "order",
    "default_rate_percent": "10",
    "amount_only_refunds": "prorate",
    "exchange_upgrades": "commission",
    "minimum_payout": "0",
    "notify_affiliates": "true",
    "refund_rate_threshold_percent": "30",
    "refund_rate_minimum_orders": "10",
    "chargeback_threshold": "3",
    "flagged_extra_delay_days": "30",
}


@pytest.fixture
def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def cli(database, tmp_path, monkeypatch):
    # One engine for the test's many commands (the first one still auto-migrates SQLite);
    # `db upgrade` and `demo` below run on fresh engines and real processes.
    runner = Cli(database.url, tmp_path / "instance", monkeypatch, reuse_engine=True)
    yield runner
    runner.close()


@pytest.fixture
def shop(client, database, cli) -> Scenario:
    cli("shop", "add", SHOP)
    cli("affiliate", "add", "--shop", SHOP, "--code", "ANNA", "--email", ANNA, "--rate", "20")
    return Scenario(client, cli, database, make_config(database.url), SHOP)


def one_line_error(result) -> str:
    """A ``ClickException``: exit 1 and exactly one line on stderr."""
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    return result.stderr.strip()


def shops(database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(Shop.domain).order_by(Shop.id)))


def test_every_command_of_the_interface_is_there(cli) -> None:
    result = cli("--help")
    for command in ("serve", "worker", "demo", "shop", "affiliate", "settings", "approve-due", "payouts", "export", "balances", "replay", "db"):
        assert f"  {command} " in result.stdout or f"  {command}\n" in result.stdout, command
    assert "--no-worker" in cli("serve", "--help").stdout
    assert "--until-idle" in cli("worker", "--help").stdout


# -- shop add -----------------------------------------------------------------------------------


def test_shop_add_registers_once_and_messages_go_to_stderr(cli, database) -> None:
    result = cli("shop", "add", SHOP)
    assert (result.stdout, result.stderr) == ("", f"shop {SHOP} registered\n")
    cli("shop", "add", " Demo.MyShopify.com ")  # the same shop (case and spaces aside): still one
    assert shops(database) == [SHOP]


@pytest.mark.parametrize("domain", [
    "evil.com", "https://evil.com", "demo.myshopify.com.evil.com", "demo.myshopify.com@evil.com", "de mo.myshopify.com", "",
    # One rule for every shop domain: what ShopifyAPI would rewrite into a shop is refused, not repaired.
    "demo", "https://demo.myshopify.com", "demo.myshopify.com/admin", "x" * 64 + ".myshopify.com",
])
def test_shop_add_refuses_a_bad_domain_with_one_line(cli, database, domain) -> None:
    message = one_line_error(cli.fails("shop", "add", domain))
    assert "not a valid shop domain" in message
    assert shops(database) == []


# -- affiliate add ------------------------------------------------------------------------------


def test_affiliate_add_rate_and_delay_override_are_used_for_its_orders(client, database, cli, now) -> None:
    cli("shop", "add", SHOP)
    result = cli("affiliate", "add", "--shop", SHOP, "--code", "Anna", "--email", ANNA, "--rate", "12.5", "--approval-delay-days", "7")
    assert (result.stdout, result.stderr) == ("", f"affiliate Anna added to {SHOP}\n")
    scenario = Scenario(client, cli, database, make_config(database.url), SHOP)
    scenario.post("orders/paid", payloads.order(1, [(11, "99.99", 1)], code="ANNA", created_at=iso(now)))
    scenario.work()
    [record] = scenario.records()
    # 12.5 % of 99.99 = 12.49875 -> 12.50 (half-up, once)
    assert (record["affiliate"], record["rate"], record["amount"], record["approves_at"]) == ("Anna", "12.5", "12.50", iso(now + timedelta(days=7)))


def test_affiliate_add_errors(cli) -> None:
    cli("shop", "add", SHOP)
    cli("affiliate", "add", "--shop", SHOP, "--code", "ANNA", "--email", ANNA)
    base = ("affiliate", "add", "--shop", SHOP)
    assert "already exists" in one_line_error(cli.fails(*base, "--code", "anna", "--email", "other@example.com"))
    for email in ("not-an-email", "anna @example.com", ""):
        assert "not a valid email" in one_line_error(cli.fails(*base, "--code", "BEN", "--email", email))
    for rate in ("150", "abc", "-5", "NaN", "1E-999999999", "0.00001"):
        assert one_line_error(cli.fails(*base, "--code", "BEN", "--email", "b@example.com", "--rate", rate)).startswith("Error: rate ")
    for code in ("BE N", "", "x" * 65, "BEN;DROP"):
        assert "not a valid affiliate code" in one_line_error(cli.fails(*base, "--code", code, "--email", "b@example.com"))
    assert "unknown shop 'other.myshopify.com'" in one_line_error(
        cli.fails("affiliate", "add", "--shop", "other.myshopify.com", "--code", "BEN", "--email", "b@example.com"))
    for delay in ("-1", "3651", "100000000", "1.5"):
        message = one_line_error(cli.fails(*base, "--code", "BEN", "--email", "b@example.com", "--approval-delay-days", delay))
        assert message.startswith("Error: approval delay ") and delay in message
    # Only the first affiliate exists.
    assert cli("affiliate", "add", *base[2:], "--code", "BEN", "--email", "b@example.com").exit_code == 0


# -- settings -------------------------------------------------------------------------------------


def test_settings_show_json_and_text(cli) -> None:
    cli("shop", "add", SHOP)
    assert cli.json("settings", "show", "--shop", SHOP, "--format", "json") == DEFAULT_SETTINGS
    text = cli("settings", "show", "--shop", SHOP).stdout
    assert text.splitlines() == [f"{k}={v}" for k, v in DEFAULT_SETTINGS.items()]


def test_settings_set_is_all_or_nothing(cli) -> None:
    cli("shop", "add", SHOP)
    result = cli("settings", "set", "--shop", SHOP, "approval_delay_days=14", "minimum_payout=25.50", "delay_starts=Fulfillment",
                 "chargeback_threshold=0")
    assert result.stdout == "" and "updated" in result.stderr
    expected = dict(DEFAULT_SETTINGS, approval_delay_days="14", minimum_payout="25.50", delay_starts="fulfillment", chargeback_threshold="0")
    show = ("settings", "show", "--shop", SHOP, "--format", "json")
    assert cli.json(*show) == expected

    message = one_line_error(cli.fails("settings", "set", "--shop", SHOP, "approval_delay_days=20", "nonsense=1"))
    assert "unknown setting 'nonsense'" in message
    for bad in ("approval_delay_days=-1", "approval_delay_days=ten", "default_rate_percent=101", "minimum_payout=-5",
                "amount_only_refunds=sometimes", "delay_starts=never", "notify_affiliates=maybe", "exchange_upgrades=",
                # the probe's values that used to be accepted, then hung or broke the worker and payouts
                "default_rate_percent=1E-999999999", "minimum_payout=1E+999999999", "approval_delay_days=100000000"):
        message = one_line_error(cli.fails("settings", "set", "--shop", SHOP, "approval_delay_days=21", bad))
        key, value = bad.split("=", 1)
        assert message.startswith(f"Error: {key} ") and message.endswith(f"got {value!r}"), (bad, message)  # quote closed
    usage = cli.fails("settings", "set", "--shop", SHOP, "approval_delay_days")
    assert usage.exit_code == 2 and "KEY=VALUE" in error_line(usage)
    assert cli.json(*show) == expected  # nothing of a refused command was applied
    assert "unknown shop 'other.myshopify.com'" in one_line_error(cli.fails("settings", "show", "--shop", "other.myshopify.com"))


@pytest.mark.parametrize(("currency", "refused", "accepted"), [("USD", "10.555", "10.55"), ("JPY", "1000.5", "1000"), ("KWD", "1.0005", "1.005")])
def test_money_settings_have_at_most_the_shop_currency_digits(cli, currency: str, refused: str, accepted: str) -> None:
    cli("shop", "add", SHOP, "--currency", currency)
    message = one_line_error(cli.fails("settings", "set", "--shop", SHOP, f"minimum_payout={refused}"))
    assert message.startswith(f"Error: minimum_payout takes {currency} amounts with")
    assert cli.json("settings", "show", "--shop", SHOP, "--format", "json")["minimum_payout"] == "0"
    cli("settings", "set", "--shop", SHOP, f"minimum_payout={accepted}")
    assert cli.json("settings", "show", "--shop", SHOP, "--format", "json")["minimum_payout"] == accepted


def test_shop_add_refuses_an_unknown_currency(cli, database) -> None:
    assert "not an ISO 4217 currency code: 'EURO'" in one_line_error(cli.fails("shop", "add", SHOP, "--currency", "EURO"))
    assert shops(database) == []


# -- approve-due ------------------------------------------------------------------------------------


def test_approve_due_as_of_forms_and_errors(shop, now) -> None:
    sold = (now - timedelta(days=1)).replace(hour=10, minute=0, second=0)
    due = sold + timedelta(days=30)
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(sold)))
    shop.work()
    [record] = shop.records()
    assert record["approves_at"] == iso(due)

    def approve(value: str) -> dict:
        return shop.cli.json("approve-due", "--shop", SHOP, "--as-of", value, "--format", "json")

    plus_two = timezone(timedelta(hours=2))
    just_before = (due - timedelta(seconds=1)).astimezone(plus_two).isoformat()  # 11:59:59+02:00 is 09:59:59Z
    assert approve(just_before) == {"as_of": just_before, "approved": {SHOP: []}}
    naive = (due - timedelta(seconds=1)).replace(tzinfo=None).isoformat()  # read as UTC
    assert approve(naive) == {"as_of": naive + "+00:00", "approved": {SHOP: []}}
    assert approve(due.date().isoformat()) == {"as_of": f"{due.date().isoformat()}T00:00:00+00:00", "approved": {SHOP: []}}
    for bad in ("yesterday", "2026-13-01", "02/12/2026"):
        result = shop.cli.fails("approve-due", "--shop", SHOP, "--as-of", bad)
        assert result.exit_code == 2 and "--as-of" in error_line(result) and bad in error_line(result)
    at_due = due.astimezone(plus_two).isoformat()
    assert approve(at_due) == {"as_of": at_due, "approved": {SHOP: [record["id"]]}}
    assert shop.records()[0]["status"] == "approved"
    later = iso(due + timedelta(days=1))
    assert approve(later)["approved"] == {SHOP: []}  # approving is done once

    # Without --shop: every shop; text output says how many.
    shop.cli("shop", "add", "other.myshopify.com")
    document = shop.cli.json("approve-due", "--as-of", later, "--format", "json")
    assert document["approved"] == {SHOP: [], "other.myshopify.com": []}
    text = shop.cli("approve-due", "--as-of", later).stdout
    assert f"{SHOP}: 0 records approved" in text


# -- payouts --------------------------------------------------------------------------------------------


def test_payouts_respect_the_minimum_and_carry_a_negative_sum_as_owed(shop, now) -> None:
    sold = now - timedelta(days=40)
    due = iso(now)
    shop.cli("settings", "set", "--shop", SHOP, "minimum_payout=40.01", "refund_rate_threshold_percent=0")
    shop.post("orders/paid", payloads.order(1, [(11, "200.00", 1)], currency="EUR", code="ANNA", created_at=iso(sold)))
    shop.work()  # the worker's own approval run approves the commission: its delay is over
    assert [r["status"] for r in shop.records()] == ["approved"]
    assert shop.cli.payouts(SHOP, due) == []  # 40.00 is under the minimum
    assert shop.cli("payouts", "run", "--shop", SHOP, "--as-of", due).stdout == "no payout due\n"
    assert shop.balances()["ANNA"]["payable"] == "40.00"

    shop.cli("settings", "set", "--shop", SHOP, "minimum_payout=40")
    [payout] = shop.cli.payouts(SHOP, due)  # at least the minimum
    assert {k: payout[k] for k in ("affiliate", "currency", "total", "records")} == {"affiliate": "ANNA", "currency": "EUR", "total": "40.00", "records": 1}
    assert isinstance(payout["id"], str) and payout["created_at"].startswith(due[:10])
    assert shop.cli.payouts(SHOP, due) == []  # paid records are never paid twice

    # Refunded after the payout: the clawback is owed, and a negative sum pays nothing.
    shop.cli("settings", "set", "--shop", SHOP, "minimum_payout=0")
    shop.post("refunds/create", payloads.refund(91, 1, [(11, 1, "200.00")], currency="EUR", created_at=iso(now)))
    shop.post("orders/paid", payloads.order(2, [(21, "150.00", 1)], currency="EUR", code="ANNA", created_at=iso(sold)))
    shop.work()
    assert [(r["kind"], r["amount"], r["status"], r["clawback"]) for r in shop.records()] == [
        ("commission", "40.00", "paid", False), ("refund", "-40.00", "approved", True), ("commission", "30.00", "approved", False)]
    assert shop.cli.payouts(SHOP, due) == []
    assert shop.balances()["ANNA"] == {"affiliate": "ANNA", "currency": "EUR", "pending": "0.00", "payable": "0.00",
                                       "paid": "40.00", "owed": "10.00", "flagged": False}

    shop.post("orders/paid", payloads.order(3, [(31, "100.00", 1)], currency="EUR", code="ANNA", created_at=iso(sold)))
    shop.work()
    [payout] = shop.cli.payouts(SHOP, due)
    assert (payout["total"], payout["records"]) == ("10.00", 3)  # 30.00 + 20.00 - 40.00
    assert shop.balances()["ANNA"] == {"affiliate": "ANNA", "currency": "EUR", "pending": "0.00", "payable": "0.00",
                                       "paid": "50.00", "owed": "0.00", "flagged": False}
    text = shop.cli("payouts", "run", "--shop", SHOP, "--as-of", due).stdout
    assert text == "no payout due\n"


# -- export ---------------------------------------------------------------------------------------------


def _csv_rows(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def test_export_json_and_csv_carry_the_same_records(shop, now) -> None:
    shop.post("orders/paid", payloads.order(1, [(11, "80.00", 1), (12, "40.00", 1)], code="ANNA", created_at=iso(now)))
    shop.post("orders/paid", payloads.order(2, [(21, "10.00", 1)], code="ANNA", created_at=iso(now)))
    shop.post("refunds/create", payloads.refund(91, 1, [(12, 1, "40.00")], created_at=iso(now)))
    shop.work()
    records = shop.records()
    assert [(r["order_id"], r["line_item_id"], r["kind"], r["amount"]) for r in records] == [
        ("1", "11", "commission", "16.00"), ("1", "12", "commission", "8.00"), ("2", "21", "commission", "2.00"), ("1", "12", "refund", "-8.00")]
    assert json.loads(shop.cli("export", "--shop", SHOP).stdout) == {"records": records}  # json is the default
    assert shop.records(1) == [r for r in records if r["order_id"] == "1"]
    assert shop.cli.json("export", "--shop", SHOP, "--order", "424242", "--format", "json") == {"records": []}

    header, rows = _csv_rows(shop.cli("export", "--shop", SHOP, "--format", "csv").stdout)
    assert header == RECORD_KEYS
    assert rows == [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]
    header, rows = _csv_rows(shop.cli("export", "--shop", SHOP, "--order", "2", "--format", "csv").stdout)
    assert (header, [r["id"] for r in rows]) == (RECORD_KEYS, [records[2]["id"]])

    assert "unknown shop 'other.myshopify.com'" in one_line_error(shop.cli.fails("export", "--shop", "other.myshopify.com"))
    assert "not a valid shop domain" in one_line_error(shop.cli.fails("export", "--shop", "evil.com"))


def test_export_csv_of_no_records_still_has_the_full_header(cli) -> None:
    cli("shop", "add", SHOP)
    header, rows = _csv_rows(cli("export", "--shop", SHOP, "--format", "csv").stdout)
    assert (header, rows) == (RECORD_KEYS, [])


# -- balances ---------------------------------------------------------------------------------------------


def test_balances_json_shape_and_the_flag(shop, now) -> None:
    assert shop.cli.json("balances", "--shop", SHOP, "--format", "json") == {"balances": []}
    assert shop.cli("balances", "--shop", SHOP).stdout == f"no balances yet for {SHOP}: no commission has been recorded\n"
    shop.cli("affiliate", "add", "--shop", SHOP, "--code", "BEN", "--email", "ben@affiliates.example", "--rate", "10")
    shop.cli("settings", "set", "--shop", SHOP, "chargeback_threshold=1", "refund_rate_threshold_percent=0")
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.post("orders/paid", payloads.order(2, [(21, "100.00", 1)], code="BEN", created_at=iso(now)))
    shop.work()
    document = shop.cli.json("balances", "--shop", SHOP, "--format", "json")
    assert sorted(document["balances"], key=lambda b: b["affiliate"]) == [
        {"affiliate": "ANNA", "currency": "USD", "pending": "20.00", "payable": "0.00", "paid": "0.00", "owed": "0.00", "flagged": False},
        {"affiliate": "BEN", "currency": "USD", "pending": "10.00", "payable": "0.00", "paid": "0.00", "owed": "0.00", "flagged": False},
    ]
    assert all(list(b) == BALANCE_KEYS for b in document["balances"])

    # One chargeback reaches a threshold of 1: ANNA is flagged, and her next sale waits the extra days.
    shop.post("disputes/create", payloads.dispute(81, 1, "needs_response", amount="100.00"))
    shop.work()
    balances = shop.balances()
    assert (balances["ANNA"]["flagged"], balances["ANNA"]["pending"], balances["BEN"]["flagged"]) == (True, "0.00", False)
    shop.post("orders/paid", payloads.order(3, [(31, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work()
    assert shop.records(3)[0]["approves_at"] == iso(now + timedelta(days=60))

    shop.cli("settings", "set", "--shop", SHOP, "chargeback_threshold=0")  # 0 switches the signal off
    shop.work()
    assert shop.balances()["ANNA"]["flagged"] is False
    text = shop.cli("balances", "--shop", SHOP).stdout
    assert "ANNA USD: pending 20.00, payable 0.00, paid 0.00, owed 0.00" in text
    assert "unknown shop 'other.myshopify.com'" in one_line_error(shop.cli.fails("balances", "--shop", "other.myshopify.com", "--format", "json"))


def test_unknown_shop_is_named_by_every_command(cli) -> None:
    other = "other.myshopify.com"
    for args in (("export", "--shop", other), ("balances", "--shop", other), ("settings", "show", "--shop", other),
                 ("settings", "set", "--shop", other, "minimum_payout=1"), ("approve-due", "--shop", other),
                 ("payouts", "run", "--shop", other)):
        assert f"unknown shop '{other}'" in one_line_error(cli.fails(*args)), args


# -- replay, worker, inbox ---------------------------------------------------------------------------


@contextmanager
def serving(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_replay_sends_a_signed_webhook_to_a_real_server(app, database, cli, tmp_path, now) -> None:
    cli("shop", "add", SHOP)
    cli("affiliate", "add", "--shop", SHOP, "--code", "ANNA", "--email", ANNA, "--rate", "20")
    payload, refund = tmp_path / "order.json", tmp_path / "refund.json"
    raw = json.dumps(payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)), indent=1).encode() + b"\n"
    payload.write_bytes(raw)  # sent as the file's bytes: odd spacing and the final newline included
    refund.write_bytes(payloads.encode(payloads.refund(91, 1, [(11, 1, "25.00")], created_at=iso(now))))

    with serving(app) as base:
        # A real process of the installed script.
        done = run_script(["replay", str(payload), "--topic", "orders/paid", "--shop", SHOP, "--url", f"{base}/webhooks"],
                          cli_env(database.url, tmp_path / "instance"), cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "orders/paid -> 200\n")
        # The default URL is SHOPIFY_APP_URL/webhooks.
        result = cli("replay", str(refund), "--topic", "refunds/create", "--shop", SHOP, SHOPIFY_APP_URL=base + "/")
        assert result.stderr == "refunds/create -> 200\n"
        # Signed with another secret: 401, exit non-zero, nothing stored.
        wrong = cli.run("replay", str(payload), "--topic", "orders/paid", "--shop", SHOP, "--url", f"{base}/webhooks",
                        SHOPIFY_API_SECRET="not-the-app-secret")
        assert (wrong.exit_code, wrong.stderr) == (1, "orders/paid -> 401\n")
    assert "not a valid shop domain" in one_line_error(cli.fails("replay", str(payload), "--topic", "orders/paid", "--shop", "evil.com"))

    with database.transaction() as session:
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert [(r.topic, r.shop_domain, r.status, r.body) for r in rows] == [
        ("orders/paid", SHOP, "received", raw), ("refunds/create", SHOP, "received", refund.read_bytes())]
    for row in rows:
        headers = json.loads(row.headers_json)
        assert verify_hmac(row.body, headers["x-shopify-hmac-sha256"], [TEST_SECRET])
        assert headers["x-shopify-webhook-id"] and headers["x-shopify-api-version"]

    # `clawback worker --until-idle` processes what was stored, and exits.
    result = cli("worker", "--until-idle")
    assert (result.stdout, result.stderr) == ("", "tried 2: done 2; approved 0\n")
    assert [(r["kind"], r["amount"], r["source"]) for r in cli.export(SHOP)] == [("commission", "20.00", "order:1"), ("refund", "-5.00", "refund:91")]
    assert cli.inbox() == {"counts": {"done": 2}, "attention": []}
    assert cli("worker", "--until-idle").stderr == "tried 0: ; approved 0\n"


def test_inbox_text_and_json(shop) -> None:
    assert shop.cli.inbox() == {"counts": {}, "attention": []}
    assert shop.cli("inbox").stdout == "no deliveries\n"
    shop.post("orders/paid", b"not json")
    assert shop.cli.inbox() == {"counts": {"received": 1}, "attention": []}
    shop.work()
    document = shop.cli.inbox()
    assert document["counts"] == {"failed": 1}
    [item] = document["attention"]
    assert list(item) == ["id", "shop", "topic", "status", "order_id", "key", "why"]
    text = shop.cli("inbox").stdout.splitlines()
    assert text[0] == "failed: 1" and text[1].startswith(f"attention: delivery {item['id']} orders/paid failed: payload: body is not valid JSON")
    assert shop.cli.json("inbox", "--shop", "other.myshopify.com", "--format", "json") == {"counts": {}, "attention": []}


def _stored(database, webhook_id: str, at: datetime, status: str) -> None:
    """A delivery received and settled as ``status`` at ``at``."""
    from shopify_app.store.inbox import store_delivery

    with database.transaction() as session:
        store_delivery(session, webhook_id=webhook_id, shop_domain=SHOP, topic="orders/paid", api_version="2026-07", event_id=None,
                       triggered_at=None, headers={}, body=b"{}", now=at)
        session.execute(WebhookDelivery.__table__.update().where(WebhookDelivery.webhook_id == webhook_id)
                        .values(status=status, processed_at=None if status == "received" else at))


def test_inbox_prune_removes_old_finished_deliveries_and_says_how_many(cli, database, now) -> None:
    for days, status in [(40, "done"), (40, "ignored"), (40, "failed"), (40, "received"), (40, "parked"), (20, "done"), (8, "ignored"), (1, "done")]:
        _stored(database, f"{status}-{days}", now - timedelta(days=days), status)
    result = cli("inbox", "prune")  # the configured retention: 30 days by default
    assert result.stdout.startswith("2 finished deliveries removed (finished before ") and result.stdout.endswith(", 30 days ago)\n")
    assert cli.inbox()["counts"] == {"done": 2, "ignored": 1, "failed": 1, "received": 1, "parked": 1}
    assert cli("inbox", "prune", CLAWBACK_INBOX_RETENTION_DAYS="14").stdout.startswith("1 finished delivery removed")
    document = cli.json("inbox", "prune", "--older-than-days", "7", "--format", "json")
    assert (document["removed"], document["older_than_days"]) == (1, 7)
    assert datetime.fromisoformat(document["finished_before"]) <= datetime.now(timezone.utc) - timedelta(days=7)
    assert cli.inbox()["counts"] == {"done": 1, "failed": 1, "received": 1, "parked": 1}
    assert cli("inbox", "prune", "--older-than-days", "7").stdout.startswith("0 finished deliveries removed")


@pytest.mark.parametrize("value", ["6", "0", "abc", "", "3651"])
def test_inbox_prune_refuses_a_retention_below_shopifys_retry_window_with_one_line(cli, value: str) -> None:
    error = one_line_error(cli.fails("inbox", "prune", "--older-than-days", value))
    assert error.startswith("Error: --older-than-days must be a whole number of days from 7 to 3650")
    assert "CLAWBACK_INBOX_RETENTION_DAYS must be" in one_line_error(cli.fails("inbox", "prune", CLAWBACK_INBOX_RETENTION_DAYS="2"))


# -- demo and db upgrade ------------------------------------------------------------------------------


def test_demo_no_serve_seeds_once_into_its_own_database(tmp_path, monkeypatch) -> None:
    instance = tmp_path / "instance"
    env = {"CLAWBACK_DEV": "1", "CLAWBACK_INSTANCE_DIR": str(instance), "DATABASE_URL": None}
    first = run_script(["demo", "--no-serve"], env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert "clawback-demo.myshopify.com seeded: 16 deliveries processed, 2 payout(s) made" in first.stderr
    database_file = instance / "demo.sqlite3"
    assert database_file.exists() and not (instance / "clawback.sqlite3").exists()
    assert f"DATABASE_URL=sqlite:///{database_file} clawback export" in first.stderr

    demo = "clawback-demo.myshopify.com"
    cli = Cli(f"sqlite:///{database_file}", instance, monkeypatch)
    records = cli.export(demo)
    by_order = {}
    for r in records:
        by_order.setdefault(r["order_id"], []).append((r["kind"], r["amount"], r["status"]))
    assert by_order == {
        # refunded inside the delay: nets 0, approved together and settled in the payout at 0
        "5001": [("commission", "40.00", "paid"), ("refund", "-40.00", "paid")],
        # paid out 15 days ago, then a line returned: a clawback, owed until the next payout
        "5002": [("commission", "12.00", "paid"), ("commission", "6.00", "paid"), ("refund", "-6.00", "approved")],
        "5003": [("commission", "20.00", "paid"), ("refund", "-6.00", "paid")],  # amount-only refund, before payout
        "5004": [("commission", "7.50", "pending"), ("refund", "-3.75", "pending")],  # its refund arrived first
        "5005": [("commission", "12.00", "pending"), ("chargeback", "-12.00", "pending"), ("reinstatement", "12.00", "pending")],
        # a 50.00 item exchanged for a 65.00 one: the upgrade earns 20 % of 15.00
        "5006": [("commission", "10.00", "pending"), ("commission", "6.00", "pending"), ("exchange", "3.00", "pending")],
        # ordered 36 days ago, reported after the payout run: approved, for the next run
        "5007": [("commission", "27.00", "approved")],
    }
    assert next(r for r in records if r["source"] == "refund:7002")["clawback"] is True
    inbox = cli.inbox()  # ignored: the second paid payload of 5006; parked: a refund of an order never seen
    assert inbox["counts"] == {"done": 14, "ignored": 1, "parked": 1}
    assert [(a["order_id"], a["status"]) for a in inbox["attention"]] == [("5099", "parked")]
    balances = cli.balances(demo)
    # BEN's 6.00 clawback is netted against 5007's 27.00: the next payout pays him 21.00
    assert (balances["BEN"]["paid"], balances["BEN"]["payable"], balances["BEN"]["owed"], balances["ANNA"]["paid"]) == ("18.00", "21.00", "0.00", "14.00")
    assert not any(b["flagged"] for b in balances.values())  # a few orders are too few to judge a refund rate

    # Again, in-process this time: the same demo file, left as it is.
    again = Cli(None, instance, monkeypatch).run("demo", "--no-serve")
    assert again.exit_code == 0 and "demo shop clawback-demo.myshopify.com already seeded" in again.stderr
    assert cli.export(demo) == records and cli.inbox()["counts"] == {"done": 14, "ignored": 1, "parked": 1}
    with sqlite3.connect(database_file) as connection:
        assert connection.execute("select count(*) from shops").fetchone() == (1,)


def test_demo_never_seeds_the_configured_database(cli, database) -> None:
    """A demo pointed at a real ledger (the test database here) seeds its own file instead."""
    cli("shop", "add", SHOP)
    result = cli("demo", "--no-serve")
    assert "note: the demo uses its own database" in result.stderr and "not DATABASE_URL" in result.stderr
    assert shops(database) == [SHOP]  # untouched: no demo shop, no deliveries
    assert cli.inbox() == {"counts": {}, "attention": []}


def test_db_upgrade_migrates_a_new_database_and_is_idempotent(tmp_path, monkeypatch, database) -> None:
    fresh = tmp_path / "fresh" / "clawback.sqlite3"
    cli = Cli(f"sqlite:///{fresh}", tmp_path / "instance", monkeypatch)
    for _ in range(2):
        result = cli("db", "upgrade")
        assert result.stdout == "" and result.stderr.endswith("is up to date\n")
    with sqlite3.connect(fresh) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
    assert {"shops", "affiliates", "orders", "ledger_records", "approvals", "payouts", "payout_items", "webhook_deliveries", "alembic_version"} <= tables
    cli("shop", "add", SHOP)

    # The test database (SQLite or PostgreSQL) is already at head: upgrading again changes nothing.
    on_test_database = Cli(database.url, tmp_path / "instance", monkeypatch)
    on_test_database("db", "upgrade")
    on_test_database("shop", "add", SHOP)
    assert on_test_database.export(SHOP) == []


# -- failures outside the app's own checks ------------------------------------------------------------


def test_replay_to_an_unreachable_url_is_a_one_line_error(tmp_path, monkeypatch) -> None:
    payload = tmp_path / "order.json"
    payload.write_bytes(b"{}")
    cli = Cli(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "instance", monkeypatch)
    result = cli.fails("replay", str(payload), "--topic", "orders/paid", "--shop", SHOP, "--url", "http://127.0.0.1:1/webhooks")
    assert "127.0.0.1:1" in one_line_error(result)


@pytest.mark.postgres
def test_a_postgresql_database_before_db_upgrade_says_what_to_run(tmp_path, monkeypatch) -> None:
    from tests.support.db import drop_schema, postgres_or_skip

    url = postgres_or_skip()  # a fresh, empty schema
    try:
        cli = Cli(url, tmp_path / "instance", monkeypatch)
        for command in (("export", "--shop", SHOP), ("shop", "add", SHOP), ("worker", "--until-idle")):
            message = one_line_error(cli.fails(*command))
            assert message.endswith("has no Clawback schema yet; run: clawback db upgrade"), message
            assert "relation" not in message
        cli("db", "upgrade")
        cli("shop", "add", SHOP)
        assert cli.export(SHOP) == []
    finally:
        drop_schema(url)


def test_unreachable_database_is_a_one_line_error(tmp_path, monkeypatch) -> None:
    cli = Cli("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", tmp_path / "instance", monkeypatch)
    one_line_error(cli.fails("export", "--shop", SHOP))


def test_keys_rotate_re_encrypts_every_token_with_the_new_key(cli, database) -> None:
    from cryptography.fernet import Fernet

    from shopify_app.store.crypto import TokenCipher

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cli("shop", "add", SHOP, "--token", "shpat_secret", CLAWBACK_ENCRYPTION_KEY=old)
    result = cli("keys", "rotate", CLAWBACK_ENCRYPTION_KEY=f"{new},{old}")
    assert result.stderr == "1 stored tokens re-encrypted with the first key\n"
    with database.reading() as session:
        stored = session.scalars(select(Shop.access_token_encrypted)).one()
    assert TokenCipher(new.encode()).decrypt(stored) == "shpat_secret"
    message = one_line_error(cli.fails("keys", "rotate", CLAWBACK_ENCRYPTION_KEY=Fernet.generate_key().decode()))
    assert "cannot be decrypted with any configured key" in message
