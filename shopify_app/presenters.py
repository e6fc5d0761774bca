"""The JSON and CSV shapes of docs/interfaces.md, built in one place for the CLI and the
admin: plain values in, plain dicts and text out; no queries."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from typing import Iterable, Sequence

from ledger.balances import Balance
from ledger.money import Money
from ledger.records import Record
from policy.settings import Settings
from shopify_app.store.inbox import DeliveryStatus
from shopify_app.store.tables import Payout


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, as in the interface examples."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def rate_text(rate) -> str:
    """A rate as people write it: ``20``, ``12.5``."""
    return format(rate.normalize(), "f")


def record_json(record: Record) -> dict:
    return {
        "id": str(record.id),
        "order_id": record.order_id,
        "line_item_id": record.line_item_id,
        "affiliate": record.affiliate,
        "kind": record.kind.value,
        "status": record.status.value,
        "amount": str(record.amount),
        "currency": record.currency,
        "base": str(record.base),
        "rate": rate_text(record.rate),
        "pairs_with": str(record.pairs_with) if record.pairs_with is not None else None,
        "clawback": record.clawback,
        "reason": record.reason,
        "source": record.source,
        "created_at": iso(record.created_at),
        "approves_at": iso(record.approves_at),
        "occurred_at": iso(record.occurred_at),
    }


RECORD_FIELDS = ["id", "order_id", "line_item_id", "affiliate", "kind", "status", "amount", "currency", "base", "rate",
                 "pairs_with", "clawback", "reason", "source", "created_at", "approves_at", "occurred_at"]


def records_csv(records: Iterable[Record]) -> str:
    """The records as CSV with the full header, also when there are none."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RECORD_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(record_json(r) for r in records)
    return out.getvalue()


def balance_json(balance: Balance, flagged: bool) -> dict:
    return {
        "affiliate": balance.affiliate,
        "currency": balance.currency,
        "pending": str(balance.pending),
        "payable": str(balance.payable),
        "paid": str(balance.paid),
        "owed": str(balance.owed),
        "flagged": flagged,
    }


def settings_json(settings: Settings) -> dict:
    return settings.as_strings()


def payout_json(payout: Payout) -> dict:
    return {
        "id": str(payout.id),
        "affiliate": payout.affiliate,
        "currency": payout.currency,
        "total": str(Money(payout.total_minor, payout.currency)),
        "records": payout.record_count,
        "created_at": iso(payout.created_at),
    }


def _why(row) -> str:
    if row.status == DeliveryStatus.PARKED:
        return f"parked since {iso(row.received_at)}: waiting for order {row.order_id} to arrive paid"
    if row.status == DeliveryStatus.RECEIVED:
        return f"retrying (attempt {row.attempts} failed): {row.last_error}"
    return row.last_error or row.status


def inbox_json(counts: dict[str, int], attention: Sequence) -> dict:
    """Deliveries by status, and those a person should look at (``store.inbox.needing_attention``)."""
    return {
        "counts": {status: counts[status] for status in sorted(counts)},
        "attention": [
            {"id": str(row.id), "shop": row.shop_domain, "topic": row.topic, "status": row.status, "order_id": row.order_id,
             "key": row.business_key, "why": _why(row)}
            for row in attention
        ],
    }
