"""Shopify-shaped webhook bodies built from a few numbers, for the demo, the end-to-end
tests and the benchmarks. Shapes follow Shopify's published samples (shared/shopify-samples):
money as strings in ``*_set.shop_money``, ids as integers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable, Sequence


def _money(amount: str | Decimal, currency: str) -> dict:
    text = str(amount)
    return {"shop_money": {"amount": text, "currency_code": currency}, "presentment_money": {"amount": text, "currency_code": currency}}


def order(
    order_id: int,
    lines: Sequence[tuple[int, str, int]],
    *,
    currency: str = "USD",
    code: str | None = None,
    email: str = "buyer@example.com",
    financial_status: str = "paid",
    created_at: str = "2026-11-02T10:00:00Z",
    cancelled_at: str | None = None,
    taxes_included: bool = False,
    ref: str | None = None,
) -> dict:
    """An Order body; ``lines`` are ``(line_item_id, unit_price, quantity)``."""
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": email,
        "contact_email": email,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": financial_status,
        "taxes_included": taxes_included,
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": created_at,
        "cancelled_at": cancelled_at,
        "landing_site": f"/?ref={ref}" if ref else "/",
        "note_attributes": [],
        "discount_codes": [{"code": code, "amount": "0.00", "type": "percentage"}] if code else [],
        "discount_applications": [],
        "customer": {"id": 1, "email": email},
        "line_items": [
            {
                "id": line_id,
                "title": f"Item {line_id}",
                "quantity": quantity,
                "price": price,
                "price_set": _money(price, currency),
                "gift_card": False,
                "product_id": 9000 + index,
                "discount_allocations": [],
                "tax_lines": [],
            }
            for index, (line_id, price, quantity) in enumerate(lines)
        ],
        "fulfillments": [],
        "refunds": [],
    }


def refund(
    refund_id: int,
    order_id: int,
    lines: Iterable[tuple[int, int, str]],
    *,
    currency: str = "USD",
    discrepancy: str | None = None,
    created_at: str = "2026-11-10T10:00:00Z",
) -> dict:
    """A Refund body (refunds/create); ``lines`` are ``(line_item_id, quantity, subtotal)``."""
    adjustments = []
    if discrepancy is not None:
        adjustments.append({"id": refund_id * 10, "order_id": order_id, "refund_id": refund_id, "kind": "refund_discrepancy",
                            "reason": "Refund discrepancy", "amount": discrepancy, "tax_amount": "0.00",
                            "amount_set": _money(discrepancy, currency), "tax_amount_set": _money("0.00", currency)})
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": created_at,
        "processed_at": created_at,
        "note": None,
        "return": None,
        "refund_shipping_lines": [],
        "order_adjustments": adjustments,
        "refund_line_items": [
            {
                "id": refund_id * 100 + n,
                "line_item_id": line_id,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": subtotal,
                "total_tax": "0.00",
                "subtotal_set": _money(subtotal, currency),
                "total_tax_set": _money("0.00", currency),
            }
            for n, (line_id, quantity, subtotal) in enumerate(lines)
        ],
        "transactions": [],
    }


def dispute(
    dispute_id: int, order_id: int, status: str, *, amount: str = "0.00", currency: str = "USD", kind: str = "chargeback",
    initiated_at: str = "2026-11-12T10:00:00Z",
) -> dict:
    return {"id": dispute_id, "order_id": order_id, "type": kind, "amount": amount, "currency": currency, "reason": "fraudulent",
            "network_reason_code": "4837", "status": status, "evidence_due_by": None, "evidence_sent_on": None,
            "finalized_on": None, "initiated_at": initiated_at}


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def exchange_return(return_id: int, order_id: int, returned: Sequence[tuple[int, int]], exchanged: Sequence[tuple[int, int]],
                    *, status: str = "open") -> dict:
    """A returns/approve body that lists its lines: ``returned`` are ``(order line_item_id,
    quantity)``, ``exchanged`` the ``(new line_item_id, quantity)`` Shopify added to the order."""
    return {
        "id": return_id,
        "admin_graphql_api_id": f"gid://shopify/Return/{return_id}",
        "status": status,
        "order": {"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}"},
        "name": f"#{order_id}-R1",
        "total_return_line_items": len(returned),
        "return_line_items": [
            {"id": return_id * 10 + n, "quantity": quantity, "return_reason": "size_too_small",
             "fulfillment_line_item": {"id": line_id * 10, "line_item": {"id": line_id}}}
            for n, (line_id, quantity) in enumerate(returned)
        ],
        "total_exchange_line_items": len(exchanged),
        "exchange_line_items": [
            {"id": return_id * 100 + n, "quantity": quantity, "line_item": {"id": line_id, "quantity": quantity}}
            for n, (line_id, quantity) in enumerate(exchanged)
        ],
        "return_shipping_fees": [],
    }
