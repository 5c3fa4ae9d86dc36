"""The inbox: every message received, kept until its answer was delivered; and an index on
the answer to a message.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), server_default="", nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("posted", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('received', 'answering', 'answered', 'delivered')",
            name=op.f("ck_inbox_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint(
            "platform",
            "chat_id",
            "thread_id",
            "message_id",
            name=op.f("uq_inbox_platform_chat_id_thread_id_message_id"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_inbox_platform_chat_id_thread_id_position"),
        "inbox",
        ["platform", "chat_id", "thread_id", "position"],
    )
    op.create_index(op.f("ix_inbox_state_updated_at"), "inbox", ["state", "updated_at"])
    op.create_index(op.f("ix_messages_reply_to_message_id"), "messages", ["reply_to_message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_reply_to_message_id"), table_name="messages")
    op.drop_index(op.f("ix_inbox_state_updated_at"), table_name="inbox")
    op.drop_index(op.f("ix_inbox_platform_chat_id_thread_id_position"), table_name="inbox")
    op.drop_table("inbox")
