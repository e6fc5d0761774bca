"""records carry their event's time; the inbox names business keys; the shop its currency;
orders lose three columns nothing read

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

- ``ledger_records.occurred_at``: when the causing event happened at Shopify (records
  written before this revision get their write time, the best that is known of them);
- ``webhook_deliveries.notice_key`` -> ``business_key`` (policy inputs are "events" now;
  "notices" will be the affiliates' e-mails);
- ``shops.currency``: money settings are checked against it;
- ``orders.affiliate``, ``has_sale``, ``parked_count``: written on every event, never read.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# A constant default lets SQLite add a NOT NULL column to a table with rows; every row gets
# its real value right after, and every insert names the column.
_PLACEHOLDER = "1970-01-01 00:00:00.000000"


def _append_only_triggers(enable: bool) -> None:
    """The backfill is an UPDATE of ledger rows, which the append-only triggers refuse:
    switch them off for this one statement, inside the migration's transaction."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_records {'ENABLE' if enable else 'DISABLE'} TRIGGER ledger_records_append_only")
    elif enable:
        op.execute("CREATE TRIGGER ledger_records_no_update BEFORE UPDATE ON ledger_records "
                   "BEGIN SELECT RAISE(ABORT, 'ledger table ledger_records is append-only'); END")
    else:
        op.execute("DROP TRIGGER ledger_records_no_update")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("ledger_records", sa.Column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False,
                                              server_default=_PLACEHOLDER))
    _append_only_triggers(enable=False)
    op.execute("UPDATE ledger_records SET occurred_at = created_at")
    _append_only_triggers(enable=True)
    if postgres:
        op.alter_column("ledger_records", "occurred_at", server_default=None)

    op.execute("ALTER TABLE webhook_deliveries RENAME COLUMN notice_key TO business_key")
    op.add_column("shops", sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    for column in ("affiliate", "has_sale", "parked_count"):
        op.execute(f"ALTER TABLE orders DROP COLUMN {column}")


def downgrade() -> None:
    op.add_column("orders", sa.Column("parked_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("has_sale", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("orders", sa.Column("affiliate", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.execute("ALTER TABLE shops DROP COLUMN currency")
    op.execute("ALTER TABLE webhook_deliveries RENAME COLUMN business_key TO notice_key")
    op.execute("ALTER TABLE ledger_records DROP COLUMN occurred_at")
