"""indexes the admin and the risk job read by: an affiliate's records newest first (keyset
pages), the records of a risk window by event time, and the chargebacks of a shop

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHARGEBACKS = sa.text("kind = 'chargeback'")


def upgrade() -> None:
    op.drop_index("ix_records_shop_affiliate", table_name="ledger_records")
    op.create_index("ix_records_shop_affiliate_id", "ledger_records", ["shop_id", "affiliate", "id"])
    op.create_index("ix_records_shop_occurred", "ledger_records", ["shop_id", "occurred_at"])
    op.create_index("ix_records_shop_chargebacks", "ledger_records", ["shop_id"],
                    postgresql_where=_CHARGEBACKS, sqlite_where=_CHARGEBACKS)


def downgrade() -> None:
    op.drop_index("ix_records_shop_chargebacks", table_name="ledger_records")
    op.drop_index("ix_records_shop_occurred", table_name="ledger_records")
    op.drop_index("ix_records_shop_affiliate_id", table_name="ledger_records")
    op.create_index("ix_records_shop_affiliate", "ledger_records", ["shop_id", "affiliate"])
