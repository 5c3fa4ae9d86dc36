"""The schema, as SQLAlchemy 2 typed declarative models.

The store runs Core statements against these tables (``Chat.__table__`` ...), not ORM sessions;
the classes are the single description of the schema that migrations are checked against.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.domain import JsonValue
from core.storage.text import clean_json, storable_text

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the auto-assigned rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamp with time zone``; always stored as UTC and read back aware (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CleanString(TypeDecorator[str]):
    """VARCHAR whose values pass through ``storable_text`` (see core.storage.text)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable_text(value)


class CleanText(TypeDecorator[str]):
    """TEXT whose values pass through ``storable_text``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable_text(value)


class CleanJSON(TypeDecorator[Any]):
    """JSON stored verbatim (``json``, not ``jsonb``, on PostgreSQL, so key order survives).

    Python ``None`` is SQL NULL; strings pass through ``clean_json``.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: JsonValue, dialect: Dialect) -> JsonValue:
        return None if value is None else clean_json(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "thread_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(CleanString())
    chat_id: Mapped[str] = mapped_column(CleanString())
    thread_id: Mapped[str] = mapped_column(CleanString(), default="", server_default="")
    model: Mapped[str | None] = mapped_column(CleanString())
    system_prompt: Mapped[str | None] = mapped_column(CleanText())
    show_reasoning: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    language: Mapped[str | None] = mapped_column(String(8))
    active_conversation_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("conversations.id", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[int] = mapped_column(Id, ForeignKey("chats.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "platform_message_id"),
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        # The context window: WHERE conversation_id = ? AND in_context ORDER BY id DESC LIMIT n.
        Index(None, "conversation_id", "in_context", "id"),
        # A user's messages of the last minute (USER_MESSAGES_PER_MINUTE).
        Index(None, "author_id", "created_at"),
        # A chat's newest message (where a catch-up after a restart starts).
        Index(None, "chat_id", "id"),
        # The answer to a message (taking up a message whose handling was interrupted).
        Index(None, "reply_to_message_id"),
        {"sqlite_autoincrement": True},  # ids never reused: "newest" is "highest id"
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[int] = mapped_column(Id, ForeignKey("chats.id"))
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"))
    role: Mapped[str] = mapped_column(String(16))
    is_command: Mapped[bool] = mapped_column(Boolean, default=False)
    in_context: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[str | None] = mapped_column(CleanString())
    author_name: Mapped[str | None] = mapped_column(CleanString())
    content: Mapped[str] = mapped_column(CleanText())
    reasoning: Mapped[str | None] = mapped_column(CleanText())
    reasoning_details: Mapped[list[JsonValue] | None] = mapped_column(CleanJSON())
    model: Mapped[str | None] = mapped_column(CleanString())
    token_estimate: Mapped[int] = mapped_column(Integer)
    platform_message_id: Mapped[str | None] = mapped_column(CleanString())
    platform_reply_ids: Mapped[list[str] | None] = mapped_column(CleanJSON())
    reply_to_message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageRow(Base):
    __tablename__ = "usage_records"
    __table_args__ = (
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        Index(None, "chat_id", "id"),
        # Today's use of a user or a chat (the daily budgets).
        Index(None, "user_id", "created_at"),
        Index(None, "chat_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[int] = mapped_column(Id, ForeignKey("chats.id"))
    user_id: Mapped[str | None] = mapped_column(CleanString())
    model_requested: Mapped[str] = mapped_column(CleanString())
    model_served: Mapped[str | None] = mapped_column(CleanString())
    provider: Mapped[str | None] = mapped_column(CleanString())
    generation_id: Mapped[str | None] = mapped_column(CleanString())
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    reasoning_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    total_tokens: Mapped[int] = mapped_column(Integer)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 10))
    latency_ms: Mapped[int] = mapped_column(Integer)
    ttft_ms: Mapped[int | None] = mapped_column(Integer)
    fallback_used: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboxRow(Base):
    """A message received from a platform, kept until its answer was delivered (see
    core.inbox). ``payload`` is the adapter's own record of the message and where its answer
    goes; ``reply`` the final answer once written; ``posted`` the platform messages created for
    the answer so far (the first one edited, never sent twice, when the work is taken up again).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "thread_id", "message_id"),
        CheckConstraint(
            "state IN ('received', 'answering', 'answered', 'delivered')", name="state"
        ),
        # A chat's next unfinished message (the claim), and the ones that follow it.
        Index(None, "platform", "chat_id", "thread_id", "position"),
        # Unfinished work (taken up on start), and delivered rows old enough to forget.
        Index(None, "state", "updated_at"),
        {"sqlite_autoincrement": True},  # ids never reused: arrival order is id order
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(CleanString())
    chat_id: Mapped[str] = mapped_column(CleanString())
    thread_id: Mapped[str] = mapped_column(CleanString(), default="", server_default="")
    message_id: Mapped[str] = mapped_column(CleanString())
    position: Mapped[int] = mapped_column(BigInteger)  # the platform's order (core.domain.Envelope)
    # Verbatim (not CleanJSON): the adapter gets back exactly what it stored. The JSON text
    # escapes NULs and lone surrogates (\u0000), which both databases' json take.
    payload: Mapped[dict[str, JsonValue]] = mapped_column(JSON(none_as_null=True))
    state: Mapped[str] = mapped_column(String(16))
    reply: Mapped[dict[str, JsonValue] | None] = mapped_column(CleanJSON())
    posted: Mapped[list[str] | None] = mapped_column(CleanJSON())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeaseRow(Base):
    """Work that one process does at a time (see core.leases): held by ``owner`` until
    ``until``, renewed while the owner lives, taken over once it lapsed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LimitStartRow(Base):
    """A request start in a shared rate window (see core.llm.shared): ``at`` is wall-clock
    seconds since the epoch; rows older than their window are deleted as new ones come."""

    __tablename__ = "limit_starts"
    __table_args__ = (Index(None, "limiter", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    limiter: Mapped[str] = mapped_column(String(200))
    ticket: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Double())
    tokens: Mapped[int] = mapped_column(Integer)


class LimitTicketRow(Base):
    """A request waiting for a place in a shared window; ``seq`` is the arrival order. Tickets
    not refreshed (``seen_at``) for 30 s belonged to a dead replica and are deleted."""

    __tablename__ = "limit_tickets"
    __table_args__ = (
        UniqueConstraint("limiter", "ticket"),
        Index(None, "limiter", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Id, primary_key=True)
    limiter: Mapped[str] = mapped_column(String(200))
    ticket: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    tokens: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[float] = mapped_column(Double())


class LimitCooldownRow(Base):
    """A model (or every free model) that may not be tried before ``until`` (epoch seconds)."""

    __tablename__ = "limit_cooldowns"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    until: Mapped[float] = mapped_column(Double())


class LimitDayRow(Base):
    """The free-model requests of one UTC day, counted by every replica."""

    __tablename__ = "limit_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
    daily_limit: Mapped[int | None] = mapped_column(Integer)
    exhausted: Mapped[bool] = mapped_column(Boolean)


metadata = Base.metadata
