"""Shared limits: the rate windows, cool-downs and free daily quota that every replica of the
bot counts together on PostgreSQL (see core.llm.shared and core.storage.limits).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_starts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("limiter", sa.String(200), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
    )
    op.create_index("ix_limit_starts_limiter_at", "limit_starts", ["limiter", "at"])
    op.create_table(
        "limit_tickets",
        sa.Column("seq", ID, primary_key=True),
        sa.Column("limiter", sa.String(200), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("limiter", "ticket", name="uq_limit_tickets_limiter_ticket"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_limit_tickets_limiter_seq", "limit_tickets", ["limiter", "seq"])
    op.create_table(
        "limit_cooldowns",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("until", sa.Double(), nullable=False),
    )
    op.create_table(
        "limit_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=True),
        sa.Column("exhausted", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("limit_days")
    op.drop_table("limit_cooldowns")
    op.drop_index("ix_limit_tickets_limiter_seq", table_name="limit_tickets")
    op.drop_table("limit_tickets")
    op.drop_index("ix_limit_starts_limiter_at", table_name="limit_starts")
    op.drop_table("limit_starts")
