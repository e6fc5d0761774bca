"""the admin: affiliate risk kept per affiliate, when settings were first saved, and the
audit of merchants' decisions on money held for review

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_AFFILIATE_COLUMNS = (
    ("refund_rate_percent", sqlmodel.sql.sqltypes.AutoString(), None),
    ("referred_orders", sa.Integer(), "0"),
    ("chargebacks", sa.Integer(), "0"),
    ("flag_reason", sa.Text(), None),
)


def upgrade() -> None:
    op.add_column("shops", sa.Column("settings_saved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    for name, type_, default in _AFFILIATE_COLUMNS:
        op.add_column("affiliates", sa.Column(name, type_, nullable=default is None, server_default=default))
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_decisions_shop_id", "review_decisions", ["shop_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER review_decisions_append_only BEFORE UPDATE OR DELETE ON review_decisions "
                   "FOR EACH ROW EXECUTE FUNCTION clawback_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER review_decisions_no_{action.lower()} BEFORE {action} ON review_decisions "
                       "BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only'); END")


def downgrade() -> None:
    op.drop_table("review_decisions")
    for name, _, _ in reversed(_AFFILIATE_COLUMNS):
        op.execute(f"ALTER TABLE affiliates DROP COLUMN {name}")
    op.execute("ALTER TABLE shops DROP COLUMN settings_saved_at")
