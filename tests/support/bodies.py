"""Shopify-shaped webhook bodies for the tests of the shopify room and of what snapshots
mean: Shopify's own samples (tests/fixtures/shopify) and minimal bodies built to hit one
quirk each."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shopify_app.shopify.body import parse_json
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.parse import parse_delivery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"


def load(name: str) -> dict[str, Any]:
    return parse_json((FIXTURES / name).read_bytes())


def to_json(value: Any) -> str:
    """JSON text of a test body, with each Decimal written as the JSON number it stands
    for, digit for digit (json.dumps cannot write a Decimal as a number)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {to_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


def raw(body: dict[str, Any]) -> bytes:
    """A body as Shopify sends it."""
    return to_json(body).encode()


def parsed(topic: str, body: dict[str, Any]) -> Any:
    """The snapshot (or event) of one delivery."""
    return parse_delivery(topic, raw(body)).snapshot


def refused(topic: str, body: dict[str, Any]) -> str:
    """The one-line reason a delivery is refused."""
    with pytest.raises(PayloadError) as caught:
        parse_delivery(topic, raw(body))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message  # one line, bounded
    return message


def money_set(shop: str, presentment: str | None = None, code: str = "USD", p_code: str = "USD") -> dict:
    return {"shop_money": {"amount": shop, "currency_code": code},
            "presentment_money": {"amount": presentment or shop, "currency_code": p_code}}


def order_body(*lines: dict, currency: str = "USD", taxes_included: bool = False, **extra: Any) -> dict:
    """A minimal Order body: only what the models read."""
    body = {
        "id": 1001, "name": "#1001", "currency": currency, "taxes_included": taxes_included,
        "financial_status": "paid", "processed_at": "2026-11-02T10:00:00+00:00",
        "updated_at": "2026-11-03T10:00:00+00:00", "line_items": list(lines),
    }
    body.update(extra)
    return body


def line_item(line_id: int, price: str, quantity: int = 1, discounts: tuple[str, ...] = (), taxes: tuple[str, ...] = (),
              currency: str = "USD", **extra: Any) -> dict:
    item = {
        "id": line_id, "title": f"Item {line_id}", "quantity": quantity, "price": price,
        "price_set": money_set(price, code=currency, p_code=currency), "product_id": 555, "gift_card": False,
        "discount_allocations": [{"amount": d, "amount_set": money_set(d, code=currency, p_code=currency),
                                  "discount_application_index": 0} for d in discounts],
        "tax_lines": [{"price": t, "price_set": money_set(t, code=currency, p_code=currency)} for t in taxes],
    }
    item.update(extra)
    return item


def refund_body(**extra: Any) -> dict:
    body = {"id": 7, "order_id": 1001, "created_at": "2026-11-04T10:00:00Z", "refund_line_items": []}
    body.update(extra)
    return body
