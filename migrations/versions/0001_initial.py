"""Initial schema: chats, conversations, messages, usage_records.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
CHATS_ACTIVE_CONVERSATION_FK = "fk_chats_active_conversation_id_conversations"


def upgrade() -> None:
    # chats <-> conversations reference each other. SQLite accepts a reference to a table that
    # does not exist yet (and cannot add one later without a copy); PostgreSQL adds it at the end.
    sqlite = op.get_bind().dialect.name == "sqlite"
    active_fk = sa.ForeignKeyConstraint(
        ["active_conversation_id"],
        ["conversations.id"],
        name=op.f(CHATS_ACTIVE_CONVERSATION_FK),
    )
    op.create_table(
        "chats",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), server_default="", nullable=False),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("show_reasoning", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("active_conversation_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
        sa.UniqueConstraint(
            "platform", "chat_id", "thread_id", name=op.f("uq_chats_platform_chat_id_thread_id")
        ),
        *([active_fk] if sqlite else []),
    )
    op.create_table(
        "conversations",
        sa.Column("id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_conversations_chat_id_chats")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_chat_id"), "conversations", ["chat_id"])
    if not sqlite:
        op.create_foreign_key(
            op.f(CHATS_ACTIVE_CONVERSATION_FK),
            "chats",
            "conversations",
            ["active_conversation_id"],
            ["id"],
        )

    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_command", sa.Boolean(), nullable=False),
        sa.Column("in_context", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=True),
        sa.Column("author_name", sa.String(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("reasoning_details", sa.JSON(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("token_estimate", sa.Integer(), nullable=False),
        sa.Column("platform_message_id", sa.String(), nullable=True),
        sa.Column("platform_reply_ids", sa.JSON(), nullable=True),
        sa.Column("reply_to_message_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f("ck_messages_role")),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_messages_chat_id_chats")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messages_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_message_id"],
            ["messages.id"],
            name=op.f("fk_messages_reply_to_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "chat_id", "platform_message_id", name=op.f("uq_messages_chat_id_platform_message_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_messages_conversation_id_in_context_id"),
        "messages",
        ["conversation_id", "in_context", "id"],
    )

    op.create_table(
        "usage_records",
        sa.Column("id", ID, nullable=False),
        sa.Column("chat_id", ID, nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("model_requested", sa.String(), nullable=False),
        sa.Column("model_served", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("generation_id", sa.String(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("fallback_used", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_kind", sa.String(length=64), nullable=True),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_usage_records_status")),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_usage_records_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_usage_records_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    op.create_index(op.f("ix_usage_records_chat_id_id"), "usage_records", ["chat_id", "id"])


def downgrade() -> None:
    op.drop_table("usage_records")
    op.drop_table("messages")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CHATS_ACTIVE_CONVERSATION_FK), "chats", type_="foreignkey")
    op.drop_table("conversations")
    op.drop_table("chats")
