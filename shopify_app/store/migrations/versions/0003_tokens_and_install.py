"""expiring offline tokens, the install state of a shop, and one-use OAuth state nonces

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SHOP_COLUMNS = (
    ("access_token_expires_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    ("refresh_token_encrypted", sqlmodel.sql.sqltypes.AutoString()),
    ("refresh_token_expires_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    ("needs_auth", sa.Text()),
    ("last_reconciled_at", sqlmodel.sql.sqltypes.UTCDateTime()),
)


def upgrade() -> None:
    for name, type_ in _SHOP_COLUMNS:
        op.add_column("shops", sa.Column(name, type_, nullable=True))
    op.create_table(
        "oauth_states",
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("shop_domain", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )


def downgrade() -> None:
    op.drop_table("oauth_states")
    for name, _ in reversed(_SHOP_COLUMNS):
        op.execute(f"ALTER TABLE shops DROP COLUMN {name}")
