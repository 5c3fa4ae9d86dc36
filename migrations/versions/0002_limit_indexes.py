"""Indexes for the per-user message limit and the daily budgets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_messages_author_id_created_at"), "messages", ["author_id", "created_at"]
    )
    op.create_index(
        op.f("ix_usage_records_user_id_created_at"), "usage_records", ["user_id", "created_at"]
    )
    op.create_index(
        op.f("ix_usage_records_chat_id_created_at"), "usage_records", ["chat_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_records_chat_id_created_at"), table_name="usage_records")
    op.drop_index(op.f("ix_usage_records_user_id_created_at"), table_name="usage_records")
    op.drop_index(op.f("ix_messages_author_id_created_at"), table_name="messages")
