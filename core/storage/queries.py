"""The store's SQL, built once at import (pure construction, no I/O), and row <-> domain mapping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeAlias, cast

from sqlalchemy import (
    Integer,
    Row,
    Table,
    bindparam,
    case,
    desc,
    false,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from core.domain import (
    ChatRef,
    ChatSettings,
    ChatState,
    Language,
    ModelTotals,
    NewAssistantMessage,
    NewUserMessage,
    RequestStatus,
    StoredMessage,
    Usage,
    UsageRecord,
    UsageSummary,
    UsageTotals,
)
from core.storage.models import Chat, Conversation, Message, UsageRow

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

chats: Final = cast(Table, Chat.__table__)
conversations: Final = cast(Table, Conversation.__table__)
messages: Final = cast(Table, Message.__table__)
usage: Final = cast(Table, UsageRow.__table__)

# ---------------------------------------------------------------------- chats

_CHAT_COLUMNS = (
    chats.c.id,
    chats.c.model,
    chats.c.system_prompt,
    chats.c.show_reasoning,
    chats.c.language,
    chats.c.active_conversation_id,
)
SELECT_CHAT: Final = select(*_CHAT_COLUMNS).where(
    chats.c.platform == bindparam("platform"),
    chats.c.chat_id == bindparam("chat_id"),
    chats.c.thread_id == bindparam("thread_id"),
)
SELECT_CHAT_FOR_UPDATE: Final = SELECT_CHAT.with_for_update()  # no-op on SQLite (IMMEDIATE)
UPDATE_CHAT: Final = update(chats).where(chats.c.id == bindparam("b_id"))
INSERT_CONVERSATION: Final = insert(conversations).returning(conversations.c.id)

# ---------------------------------------------------------------------- messages

_MESSAGE_COLUMNS = (  # exactly StoredMessage's fields, in its order (see stored_message)
    messages.c.id,
    messages.c.conversation_id,
    messages.c.role,
    messages.c.author_name,
    messages.c.content,
    messages.c.reasoning,
    messages.c.reasoning_details,
    messages.c.model,
    messages.c.token_estimate,
    messages.c.created_at,
)
INSERT_MESSAGE: Final = insert(messages).returning(messages.c.id)
UPDATE_MESSAGE: Final = update(messages).where(messages.c.id == bindparam("b_id"))
# Both follow ix_messages_conversation_id_in_context_id backwards and stop after LIMIT rows.
RECENT_MESSAGES: Final = (
    select(*_MESSAGE_COLUMNS)
    .where(
        messages.c.conversation_id == bindparam("conversation_id"),
        messages.c.in_context == true(),
    )
    .order_by(messages.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
RECENT_MESSAGES_BEFORE: Final = RECENT_MESSAGES.where(messages.c.id < bindparam("before_id"))
# Answers are always in context, so this walks the same index from the newest row.
LAST_ASSISTANT_MESSAGE: Final = (
    select(*_MESSAGE_COLUMNS)
    .where(
        messages.c.conversation_id == bindparam("conversation_id"),
        messages.c.in_context == true(),
        messages.c.role == "assistant",
    )
    .order_by(messages.c.id.desc())
    .limit(1)
)

# A stored user message by its platform id (uq_messages_chat_id_platform_message_id), and the
# answer stored for it: where a message whose handling was interrupted stands.
USER_MESSAGE_ID: Final = select(messages.c.id).where(
    messages.c.chat_id == bindparam("chat_id"),
    messages.c.platform_message_id == bindparam("platform_message_id"),
)
ANSWER_TO: Final = (
    select(*_MESSAGE_COLUMNS)
    .where(
        messages.c.reply_to_message_id == bindparam("message_id"),
        messages.c.role == "assistant",
    )
    .order_by(messages.c.id.desc())
    .limit(1)
)

# ---------------------------------------------------------------------- usage

_USAGE_COLUMNS = tuple(column for column in usage.c if column.name not in ("id", "message_id"))
INSERT_USAGE: Final = insert(usage)
LAST_USAGE: Final = (
    select(*_USAGE_COLUMNS)
    .where(usage.c.chat_id == bindparam("chat_id"))
    .order_by(usage.c.id.desc())
    .limit(1)
)
_served = func.coalesce(usage.c.model_served, usage.c.model_requested).label("model")
USAGE_BY_MODEL: Final = (
    select(
        _served,
        func.count().label("requests"),
        func.sum(case((usage.c.status == RequestStatus.ERROR.value, 1), else_=0)).label("failed"),
        func.sum(usage.c.prompt_tokens).label("prompt_tokens"),
        func.sum(usage.c.completion_tokens).label("completion_tokens"),
        func.sum(usage.c.reasoning_tokens).label("reasoning_tokens"),
        func.sum(usage.c.total_tokens).label("total_tokens"),
        func.sum(usage.c.cost).label("cost"),
    )
    .where(usage.c.chat_id == bindparam("chat_id"))
    .group_by(_served)
    .order_by(desc("requests"), _served)
)


# A user's answerable messages (not commands, not refused) since a time, on one platform:
# follows ix_messages_author_id_created_at.
USER_MESSAGE_TIMES: Final = (
    select(messages.c.created_at)
    .join(chats, chats.c.id == messages.c.chat_id)
    .where(
        messages.c.author_id == bindparam("author_id"),
        messages.c.created_at >= bindparam("since"),
        messages.c.role == "user",
        messages.c.in_context == true(),
        messages.c.is_command == false(),
        chats.c.platform == bindparam("platform"),
    )
    .order_by(messages.c.created_at)
    .limit(bindparam("limit", type_=Integer))
)
_TOTALS = (
    func.count().label("requests"),
    func.coalesce(func.sum(usage.c.total_tokens), 0).label("tokens"),
    func.sum(usage.c.cost).label("cost"),
)
# Today's use of one user (ix_usage_records_user_id_created_at) or one chat
# (ix_usage_records_chat_id_created_at).
USER_USAGE_SINCE: Final = select(*_TOTALS).where(
    usage.c.user_id == bindparam("user_id"), usage.c.created_at >= bindparam("since")
)
CHAT_USAGE_SINCE: Final = select(*_TOTALS).where(
    usage.c.chat_id == bindparam("chat_id"), usage.c.created_at >= bindparam("since")
)


# Every chat of a platform with the platform id of its newest user message (slash commands'
# "interaction:" ids excluded): one probe of ix_messages_chat_id_id per chat.
_newest_user_message = (
    select(messages.c.platform_message_id)
    .where(
        messages.c.chat_id == chats.c.id,
        messages.c.role == "user",
        messages.c.platform_message_id.not_like("interaction:%"),
    )
    .order_by(messages.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
CHAT_CURSORS: Final = (
    select(chats.c.chat_id, chats.c.thread_id, _newest_user_message.label("last_message_id"))
    .where(chats.c.platform == bindparam("platform"))
    .order_by(chats.c.updated_at.desc())
)


class DialectStatements:
    """The statements whose SQL depends on the dialect (INSERT ... ON CONFLICT DO NOTHING)."""

    def __init__(self, dialect: str) -> None:
        self.insert_chat = _insert_ignoring(dialect, chats, ("platform", "chat_id", "thread_id"))
        self.insert_user_message = _insert_ignoring(
            dialect, messages, ("chat_id", "platform_message_id")
        ).returning(messages.c.id)


def _insert_ignoring(dialect: str, table: Table, key: Sequence[str]) -> Insert:
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)


# ---------------------------------------------------------------------- parameters


def chat_key(ref: ChatRef) -> dict[str, Any]:
    return {"platform": ref.platform, "chat_id": ref.chat_id, "thread_id": ref.thread_id}


def new_chat(key: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**key, "show_reasoning": False, "created_at": now, "updated_at": now}


def settings_params(chat_id: int, settings: ChatSettings, now: datetime) -> dict[str, Any]:
    return {
        "b_id": chat_id,
        "model": settings.model,
        "system_prompt": settings.system_prompt,
        "show_reasoning": settings.show_reasoning,
        "language": settings.language.value if settings.language else None,
        "updated_at": now,
    }


def user_message_params(message: NewUserMessage, now: datetime) -> dict[str, Any]:
    return {
        "chat_id": message.chat_id,
        "conversation_id": message.conversation_id,
        "role": "user",
        "is_command": message.is_command,
        "in_context": message.in_context,
        "author_id": message.author_id,
        "author_name": message.author_name,
        "content": message.content,
        "token_estimate": message.token_estimate,
        "platform_message_id": message.platform_message_id,
        "created_at": now,
    }


def assistant_message_params(message: NewAssistantMessage, now: datetime) -> dict[str, Any]:
    return {
        "chat_id": message.chat_id,
        "conversation_id": message.conversation_id,
        "role": "assistant",
        "is_command": False,
        "in_context": True,
        "content": message.content,
        "reasoning": message.reasoning,
        "reasoning_details": message.reasoning_details,
        "model": message.model,
        "token_estimate": message.token_estimate,
        "reply_to_message_id": message.reply_to_message_id,
        "created_at": now,
    }


def usage_params(record: UsageRecord, message_id: int | None, now: datetime) -> dict[str, Any]:
    counts = record.usage
    return {
        "chat_id": record.chat_id,
        "user_id": record.user_id,
        "model_requested": record.model_requested,
        "model_served": record.model_served,
        "provider": record.provider,
        "generation_id": record.generation_id,
        "prompt_tokens": counts.prompt_tokens,
        "completion_tokens": counts.completion_tokens,
        "reasoning_tokens": counts.reasoning_tokens,
        "cached_tokens": counts.cached_tokens,
        "total_tokens": counts.total_tokens,
        "cost": counts.cost,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "fallback_used": record.fallback_used,
        "status": record.status.value,
        "error_kind": record.error_kind,
        "message_id": message_id,
        "created_at": record.created_at or now,
    }


# ---------------------------------------------------------------------- rows -> domain


def chat_state(ref: ChatRef, row: AnyRow, conversation_id: int) -> ChatState:
    settings = ChatSettings(
        model=row.model,
        system_prompt=row.system_prompt,
        show_reasoning=bool(row.show_reasoning),
        language=Language.from_code(row.language),
    )
    return ChatState(id=row.id, ref=ref, settings=settings, conversation_id=conversation_id)


def stored_message(row: AnyRow) -> StoredMessage:
    # _MESSAGE_COLUMNS lists StoredMessage's fields in order: positional is the fast path.
    return StoredMessage(*row)


def usage_record(row: AnyRow) -> UsageRecord:
    return UsageRecord(
        chat_id=row.chat_id,
        user_id=row.user_id,
        model_requested=row.model_requested,
        model_served=row.model_served,
        provider=row.provider,
        generation_id=row.generation_id,
        usage=Usage(
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            reasoning_tokens=row.reasoning_tokens,
            cached_tokens=row.cached_tokens,
            total_tokens=row.total_tokens,
            cost=row.cost,
        ),
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        fallback_used=bool(row.fallback_used),
        status=RequestStatus(row.status),
        error_kind=row.error_kind,
        created_at=row.created_at,
    )


def usage_summary(rows: Sequence[AnyRow]) -> UsageSummary:
    """Per-model rows (already aggregated in SQL, busiest first) plus their totals."""
    by_model = tuple(
        ModelTotals(
            model=row.model,
            requests=int(row.requests),
            prompt_tokens=int(row.prompt_tokens or 0),
            completion_tokens=int(row.completion_tokens or 0),
            reasoning_tokens=int(row.reasoning_tokens or 0),
            total_tokens=int(row.total_tokens or 0),
            cost=row.cost if row.cost is not None else Decimal(0),
        )
        for row in rows
    )
    return UsageSummary(
        requests=sum(model.requests for model in by_model),
        failed_requests=sum(int(row.failed or 0) for row in rows),
        prompt_tokens=sum(model.prompt_tokens for model in by_model),
        completion_tokens=sum(model.completion_tokens for model in by_model),
        reasoning_tokens=sum(model.reasoning_tokens for model in by_model),
        total_tokens=sum(model.total_tokens for model in by_model),
        cost=sum((model.cost for model in by_model), Decimal(0)),
        by_model=by_model,
    )


def usage_totals(row: AnyRow) -> UsageTotals:
    return UsageTotals(
        requests=int(row.requests or 0),
        tokens=int(row.tokens or 0),
        cost=row.cost if row.cost is not None else Decimal(0),
    )
