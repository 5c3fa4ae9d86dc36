"""Indexes for the per-user message limit and the daily budgets; usage rows name their user
``platform:id`` (the same number may be two people on two platforms).

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
    op.execute(
        "UPDATE usage_records SET user_id = "
        "(SELECT platform FROM chats WHERE chats.id = usage_records.chat_id) || ':' || user_id "
        "WHERE user_id IS NOT NULL AND user_id NOT LIKE '%:%'"
    )
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
    op.execute(
        "UPDATE usage_records SET user_id = substr(user_id, strpos(user_id, ':') + 1) "
        "WHERE user_id LIKE '%:%'"
        if op.get_bind().dialect.name == "postgresql"
        else "UPDATE usage_records SET user_id = substr(user_id, instr(user_id, ':') + 1) "
        "WHERE user_id LIKE '%:%'"
    )
