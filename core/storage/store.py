"""SqlChatStore: core.ports.ChatStore on SQLAlchemy Core (SQLite or PostgreSQL).

Hot paths are prebuilt Core statements (no ORM session, no identity map). Each store call is
one unit of work handed to core.storage.database: reads run without a transaction (WAL readers
never block the writer); writes run in one transaction, so statements that belong together (an
answer and its usage row; a new chat and its first conversation) commit together. On SQLite all
units run in turn on one worker thread, which is also what serialises the single writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Executable
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.domain import (
    ChatCursor,
    ChatRef,
    ChatSettings,
    ChatState,
    NewAssistantMessage,
    NewUserMessage,
    StoredMessage,
    UsageRecord,
    UsageSummary,
    UsageTotals,
)
from core.errors import ConfigError, translating
from core.ports import ChatStore, Clock
from core.storage import queries as q
from core.storage.database import Database, database_for

# Driver and SQLAlchemy failures become InfrastructureError (no SQL, no values).
translated = translating((SQLAlchemyError, OSError), "database")


class SqlChatStore:
    """ChatStore on an AsyncEngine made by ``core.storage.engine.create_engine``.

    Each method is one unit of work (core.storage.database): a plain function of a Connection,
    run on SQLite's worker thread or through run_sync on PostgreSQL. Call ``aclose`` when done.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ConfigError(f"DATABASE_URL: the {dialect!r} database is not supported")
        self._clock = clock
        self._sql = q.DialectStatements(dialect)
        self._db: Database = database_for(engine)

    @property
    def database(self) -> Database:
        return self._db

    async def aclose(self) -> None:
        await self._db.aclose()

    def _now(self) -> datetime:
        return self._clock.now()

    async def _read(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[q.AnyRow]:
        return await self._db.read(lambda c: c.execute(statement, params).all())

    async def _write(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """Run one write statement; return its scalar result (or None)."""

        def work(connection: Connection) -> Any:
            result = connection.execute(statement, params)
            return result.scalar_one_or_none() if result.returns_rows else None

        return await self._db.write(work)

    # ------------------------------------------------------------------ chats

    @translated
    async def load_chat(self, ref: ChatRef) -> ChatState:
        key = q.chat_key(ref)
        rows = await self._read(q.SELECT_CHAT, key)
        if rows and rows[0].active_conversation_id is not None:
            return q.chat_state(ref, rows[0], rows[0].active_conversation_id)
        now = self._now()

        def create(connection: Connection) -> ChatState:
            connection.execute(self._sql.insert_chat, q.new_chat(key, now))
            row = connection.execute(q.SELECT_CHAT_FOR_UPDATE, key).one()
            conversation_id = row.active_conversation_id
            if conversation_id is None:
                conversation_id = _open_conversation(connection, row.id, now)
            return q.chat_state(ref, row, conversation_id)

        return await self._db.write(create)

    @translated
    async def save_settings(self, chat_id: int, settings: ChatSettings) -> None:
        await self._write(q.UPDATE_CHAT, q.settings_params(chat_id, settings, self._now()))

    @translated
    async def start_conversation(self, chat_id: int) -> int:
        now = self._now()
        return await self._db.write(lambda c: _open_conversation(c, chat_id, now))

    # ------------------------------------------------------------------ messages

    @translated
    async def add_user_message(self, message: NewUserMessage) -> int | None:
        params = q.user_message_params(message, self._now())
        message_id: int | None = await self._write(self._sql.insert_user_message, params)
        return message_id

    @translated
    async def user_message_id(self, chat_id: int, platform_message_id: str) -> int | None:
        params = {"chat_id": chat_id, "platform_message_id": platform_message_id}
        rows = await self._read(q.USER_MESSAGE_ID, params)
        return int(rows[0].id) if rows else None

    @translated
    async def answer_to(self, message_id: int) -> StoredMessage | None:
        rows = await self._read(q.ANSWER_TO, {"message_id": message_id})
        return q.stored_message(rows[0]) if rows else None

    @translated
    async def save_answer(self, message: NewAssistantMessage, usage: UsageRecord) -> int:
        now = self._now()
        message_params = q.assistant_message_params(message, now)

        def save(connection: Connection) -> int:
            message_id: int = connection.execute(q.INSERT_MESSAGE, message_params).scalar_one()
            connection.execute(q.INSERT_USAGE, q.usage_params(usage, message_id, now))
            return message_id

        return await self._db.write(save)

    @translated
    async def recent_messages(
        self, conversation_id: int, *, limit: int, before_id: int | None = None
    ) -> list[StoredMessage]:
        if limit <= 0:
            return []
        params = {"conversation_id": conversation_id, "limit": limit, "before_id": before_id}
        statement = q.RECENT_MESSAGES if before_id is None else q.RECENT_MESSAGES_BEFORE
        return [q.stored_message(row) for row in await self._read(statement, params)]

    @translated
    async def last_assistant_message(self, conversation_id: int) -> StoredMessage | None:
        rows = await self._read(q.LAST_ASSISTANT_MESSAGE, {"conversation_id": conversation_id})
        return q.stored_message(rows[0]) if rows else None

    @translated
    async def set_platform_reply_ids(self, message_id: int, platform_ids: Sequence[str]) -> None:
        await self._write(
            q.UPDATE_MESSAGE, {"b_id": message_id, "platform_reply_ids": list(platform_ids)}
        )

    # ------------------------------------------------------------------ usage

    @translated
    async def record_usage(self, record: UsageRecord) -> None:
        await self._write(q.INSERT_USAGE, q.usage_params(record, None, self._now()))

    @translated
    async def last_usage(self, chat_id: int) -> UsageRecord | None:
        rows = await self._read(q.LAST_USAGE, {"chat_id": chat_id})
        return q.usage_record(rows[0]) if rows else None

    @translated
    async def usage_summary(self, chat_id: int) -> UsageSummary:
        return q.usage_summary(await self._read(q.USAGE_BY_MODEL, {"chat_id": chat_id}))

    @translated
    async def chat_cursors(self, platform: str) -> list[ChatCursor]:
        rows = await self._read(q.CHAT_CURSORS, {"platform": platform})
        return [
            ChatCursor(ChatRef(platform, row.chat_id, row.thread_id), row.last_message_id)
            for row in rows
        ]

    # ------------------------------------------------------------------ limits

    @translated
    async def user_message_times(
        self, platform: str, author_id: str, since: datetime, *, limit: int
    ) -> list[datetime]:
        params = {"platform": platform, "author_id": author_id, "since": since, "limit": limit}
        return [row.created_at for row in await self._read(q.USER_MESSAGE_TIMES, params)]

    @translated
    async def user_usage_since(self, platform: str, user_id: str, since: datetime) -> UsageTotals:
        params = {"user_id": f"{platform}:{user_id}", "since": since}  # as usage rows name users
        return q.usage_totals((await self._read(q.USER_USAGE_SINCE, params))[0])

    @translated
    async def chat_usage_since(self, chat_id: int, since: datetime) -> UsageTotals:
        params = {"chat_id": chat_id, "since": since}
        return q.usage_totals((await self._read(q.CHAT_USAGE_SINCE, params))[0])


def _open_conversation(connection: Connection, chat_id: int, now: datetime) -> int:
    params = {"chat_id": chat_id, "started_at": now}
    conversation_id: int = connection.execute(q.INSERT_CONVERSATION, params).scalar_one()
    connection.execute(
        q.UPDATE_CHAT,
        {"b_id": chat_id, "active_conversation_id": conversation_id, "updated_at": now},
    )
    return conversation_id


if TYPE_CHECKING:

    def _conforms(store: SqlChatStore) -> ChatStore:  # mypy checks the class against the port
        return store
