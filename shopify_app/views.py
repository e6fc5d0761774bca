"""The JSON shapes of docs/interfaces.md, built in one place for the CLI and HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlmodel import Session

from ledger.balances import Balance
from ledger.records import Record
from policy.settings import Settings
from shopify_app.tables import WebhookDelivery


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
    }


RECORD_FIELDS = ["id", "order_id", "line_item_id", "affiliate", "kind", "status", "amount", "currency", "base", "rate",
                 "pairs_with", "clawback", "reason", "source", "created_at", "approves_at"]


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


def inbox_summary(session: Session, now: datetime, parked_attention_hours: int) -> dict:
    """Deliveries by status, and those a person should look at: failed, conflicting, or
    parked longer than ``parked_attention_hours`` (their order never arrived)."""
    counts = dict(session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
    old = now - timedelta(hours=parked_attention_hours)
    rows = session.scalars(
        select(WebhookDelivery)
        .where(
            (WebhookDelivery.status.in_(["failed", "conflict", "review"]))
            | ((WebhookDelivery.status == "parked") & (WebhookDelivery.received_at < old))
        )
        .order_by(WebhookDelivery.id)
    ).all()
    attention = [
        {
            "id": str(row.id),
            "shop": row.shop_domain,
            "topic": row.topic,
            "status": row.status,
            "order_id": row.order_id,
            "key": row.notice_key,
            "why": row.last_error if row.status != "parked" else f"parked since {iso(row.received_at)}: order not received",
        }
        for row in rows
    ]
    return {"counts": {k: counts[k] for k in sorted(counts)}, "attention": attention}
