"""Database tables (SQLModel). Rows only: domain values live in ``ledger``/``policy`` and the
store modules map between the two explicitly (SQLModel table models skip validation, so
nothing here is built straight from webhook JSON).

Money columns are integer minor units with their currency; rates are exact decimal text.
Ledger records, approvals and payout items are insert-only (on PostgreSQL a trigger
rejects UPDATE and DELETE); an order's facts and the webhook inbox are ordinary mutable
state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-increasing rowid.
ID = BigInteger().with_variant(Integer, "sqlite")


class Shop(SQLModel, table=True):
    __tablename__ = "shops"
    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(unique=True, index=True)
    currency: str | None = None  # the shop currency, once an order or the shop told us
    access_token_encrypted: str | None = None
    access_token_expires_at: datetime | None = None  # None: a token that does not expire (custom apps)
    refresh_token_encrypted: str | None = None
    refresh_token_expires_at: datetime | None = None
    # Why the merchant must open the app before Clawback can call Shopify again (the refresh
    # token expired or was refused); None while the tokens work.
    needs_auth: str | None = Field(default=None, sa_column=Column(Text))
    last_reconciled_at: datetime | None = None
    settings_saved_at: datetime | None = None  # when the merchant first saved the settings (the first-run checklist)
    scopes: str | None = None
    settings_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    installed_at: datetime
    uninstalled_at: datetime | None = None


class OAuthState(SQLModel, table=True):
    """A pending authorization-code install: the ``state`` nonce sent to Shopify, usable once."""

    __tablename__ = "oauth_states"
    nonce: str = Field(primary_key=True)
    shop_domain: str
    created_at: datetime
    used_at: datetime | None = None


class Affiliate(SQLModel, table=True):
    __tablename__ = "affiliates"
    __table_args__ = (UniqueConstraint("shop_id", "code_key", name="uq_affiliate_code"),)
    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True)
    code: str
    code_key: str  # casefolded code: codes compare case-insensitively
    email: str
    rate_percent: str | None = None
    approval_delay_days: int | None = None
    flagged: bool = False  # set by the risk job or a merchant
    # The risk job's last reading (policy.risk), kept so list pages need not fold records.
    refund_rate_percent: str | None = None
    referred_orders: int = 0
    chargebacks: int = 0
    flag_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime


class OrderRow(SQLModel, table=True):
    """What policy knows about one order (``policy.facts.OrderFacts`` as JSON)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_id", "order_id", name="uq_order"),)
    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True)
    order_id: str
    facts_json: str = Field(sa_column=Column(Text, nullable=False))
    lines_json: str | None = Field(default=None, sa_column=Column(Text))  # latest priced lines, no PII
    created_at: datetime
    updated_at: datetime


class LedgerRecord(SQLModel, table=True):
    """One ledger record; insert-only. ``created_status`` is its status when written."""

    __tablename__ = "ledger_records"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id", "event_key", "line_item_id", name="uq_record_identity"),
        Index("ix_records_shop_affiliate_id", "shop_id", "affiliate", "id"),  # an affiliate's records, newest first
        Index("ix_records_shop_order", "shop_id", "order_id"),
        Index("ix_records_shop_occurred", "shop_id", "occurred_at"),  # the risk window
        Index("ix_records_shop_chargebacks", "shop_id", postgresql_where=text("kind = 'chargeback'"),
              sqlite_where=text("kind = 'chargeback'")),
    )
    id: int | None = Field(default=None, sa_column=Column(ID, primary_key=True, autoincrement=True))
    shop_id: int = Field(foreign_key="shops.id")
    order_id: str
    line_item_id: str
    affiliate: str
    kind: str
    created_status: str
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    base_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str
    rate: str
    pairs_with: int | None = Field(default=None, sa_column=Column(ID, ForeignKey("ledger_records.id")))
    clawback: bool = False
    reason: str
    source: str
    event_key: str
    occurred_at: datetime  # when the causing event happened at Shopify
    created_at: datetime  # when the record was written
    approves_at: datetime | None = None


class Approval(SQLModel, table=True):
    """A record moved from pending to approved; insert-only, at most once per record."""

    __tablename__ = "approvals"
    record_id: int = Field(sa_column=Column(ID, ForeignKey("ledger_records.id"), primary_key=True))
    shop_id: int = Field(foreign_key="shops.id", index=True)
    approved_at: datetime


class Payout(SQLModel, table=True):
    __tablename__ = "payouts"
    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True)
    affiliate: str
    currency: str
    total_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    record_count: int
    created_at: datetime


class PayoutItem(SQLModel, table=True):
    """A record paid by a payout; insert-only, at most once per record."""

    __tablename__ = "payout_items"
    record_id: int = Field(sa_column=Column(ID, ForeignKey("ledger_records.id"), primary_key=True))
    shop_id: int = Field(foreign_key="shops.id", index=True)
    payout_id: int = Field(foreign_key="payouts.id", index=True)


class BalanceTotal(SQLModel, table=True):
    """Running sums per affiliate, currency and status: a projection of the ledger kept in
    the same transaction as every append and transition, so reading balances costs one row
    per affiliate instead of a fold over every record. The fold stays the truth: tests
    compare the two after every scenario."""

    __tablename__ = "balance_totals"
    shop_id: int = Field(foreign_key="shops.id", primary_key=True)
    affiliate: str = Field(primary_key=True)
    currency: str = Field(primary_key=True)
    status: str = Field(primary_key=True)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    record_count: int


class ReviewDecision(SQLModel, table=True):
    """A merchant's decision on money held for review: who, when, what. Insert-only."""

    __tablename__ = "review_decisions"
    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", index=True)
    delivery_id: int
    order_id: str
    event_key: str  # the held refund's key, refund:ID
    accepted: bool
    decided_by: str  # the Shopify user id of the session token, or "dev" in dev mode
    decided_at: datetime


class WebhookDelivery(SQLModel, table=True):
    """The durable inbox: every verified delivery, stored before Shopify gets its 200."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_deliveries_runnable", "status", "next_attempt_at", "id"),
        Index("ix_deliveries_order", "shop_domain", "order_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(unique=True)
    shop_domain: str = Field(index=True)
    topic: str
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: str | None = None
    received_at: datetime
    headers_json: str = Field(sa_column=Column(Text, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = "received"  # a store.inbox.DeliveryStatus
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    order_id: str | None = None
    business_key: str | None = None  # refund:ID, order:ID, dispute:ID:status, ...
    processed_at: datetime | None = None
