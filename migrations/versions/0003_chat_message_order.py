"""An index on a chat's messages in order: where a catch-up after a restart starts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_messages_chat_id_id"), "messages", ["chat_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_chat_id_id"), table_name="messages")
