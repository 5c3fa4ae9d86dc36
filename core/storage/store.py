"""SqlChatStore: core.ports.ChatStore on SQLAlchemy Core (SQLite or PostgreSQL).

Hot paths are one prebuilt Core statement per call (no ORM session, no identity map), run
without BEGIN/COMMIT round trips when one statement is all there is: reads (WAL readers never
block the writer) and single-row writes. Several statements that belong together (an answer and
its usage row; a new chat and its first conversation) run in one transaction.

SQLite has one writer per database, so writes queue on an asyncio.Lock in the event loop
instead of spinning in SQLite's busy handler (which sleeps in 1-100 ms steps), and write
transactions start with BEGIN IMMEDIATE. PostgreSQL needs no lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Executable
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.domain import (
    ChatRef,
    ChatSettings,
    ChatState,
    NewAssistantMessage,
    NewUserMessage,
    StoredMessage,
    UsageRecord,
    UsageSummary,
)
from core.errors import ConfigError, InfrastructureError
from core.ports import ChatStore, Clock
from core.storage import queries as q
from core.storage.engine import SQLITE_BEGIN

P = ParamSpec("P")
T = TypeVar("T")
Method = Callable[Concatenate["SqlChatStore", P], Coroutine[Any, Any, T]]


def _translated(method: Method[P, T]) -> Method[P, T]:
    """Turn driver and SQLAlchemy failures into InfrastructureError (no SQL, no values)."""

    @functools.wraps(method)
    async def wrapper(self: SqlChatStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except (SQLAlchemyError, OSError) as exc:
            raise InfrastructureError(
                f"database error in {method.__name__} ({type(exc).__name__})"
            ) from exc

    return wrapper


class SqlChatStore:
    """ChatStore on an AsyncEngine made by ``core.storage.engine.create_engine``."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ConfigError(f"DATABASE_URL: the {dialect!r} database is not supported")
        self._clock = clock
        self._sql = q.DialectStatements(dialect)
        # _transactional: several statements in one transaction. _single: one statement that is
        # its own transaction (no BEGIN/COMMIT round trips); on SQLite a writing statement takes
        # the write lock when it starts, just as BEGIN IMMEDIATE would.
        self._write_lock: asyncio.Lock | AbstractAsyncContextManager[None] = nullcontext()
        if dialect == "sqlite":
            self._write_lock = asyncio.Lock()
            self._transactional = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            self._single = engine.execution_options(**{SQLITE_BEGIN: None})
        else:
            self._transactional = engine
            self._single = engine.execution_options(isolation_level="AUTOCOMMIT")

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (queued behind the process's other writers on SQLite)."""
        async with self._write_lock, self._transactional.begin() as connection:
            yield connection

    async def _write(self, statement: Executable, params: Mapping[str, Any]) -> Any:
        """Run one write statement on its own; return its scalar result (or None)."""
        async with self._write_lock, self._single.connect() as connection:
            result = await connection.execute(statement, params)
            value = result.scalar_one_or_none() if result.returns_rows else None
            await connection.commit()
        return value

    async def _read(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[q.AnyRow]:
        async with self._single.connect() as connection:
            return (await connection.execute(statement, params)).all()

    def _now(self) -> datetime:
        return self._clock.now()

    # ------------------------------------------------------------------ chats

    @_translated
    async def load_chat(self, ref: ChatRef) -> ChatState:
        key = q.chat_key(ref)
        rows = await self._read(q.SELECT_CHAT, key)
        if rows and rows[0].active_conversation_id is not None:
            return q.chat_state(ref, rows[0], rows[0].active_conversation_id)
        now = self._now()
        async with self._transaction() as connection:
            await connection.execute(self._sql.insert_chat, q.new_chat(key, now))
            row = (await connection.execute(q.SELECT_CHAT_FOR_UPDATE, key)).one()
            conversation_id = row.active_conversation_id
            if conversation_id is None:
                conversation_id = await self._open_conversation(connection, row.id, now)
        return q.chat_state(ref, row, conversation_id)

    @_translated
    async def save_settings(self, chat_id: int, settings: ChatSettings) -> None:
        await self._write(q.UPDATE_CHAT, q.settings_params(chat_id, settings, self._now()))

    @_translated
    async def start_conversation(self, chat_id: int) -> int:
        async with self._transaction() as connection:
            return await self._open_conversation(connection, chat_id, self._now())

    @staticmethod
    async def _open_conversation(connection: AsyncConnection, chat_id: int, now: datetime) -> int:
        params = {"chat_id": chat_id, "started_at": now}
        result = await connection.execute(q.INSERT_CONVERSATION, params)
        conversation_id: int = result.scalar_one()
        await connection.execute(
            q.UPDATE_CHAT,
            {"b_id": chat_id, "active_conversation_id": conversation_id, "updated_at": now},
        )
        return conversation_id

    # ------------------------------------------------------------------ messages

    @_translated
    async def add_user_message(self, message: NewUserMessage) -> int | None:
        params = q.user_message_params(message, self._now())
        message_id: int | None = await self._write(self._sql.insert_user_message, params)
        return message_id

    @_translated
    async def save_answer(self, message: NewAssistantMessage, usage: UsageRecord) -> int:
        now = self._now()
        async with self._transaction() as connection:
            params = q.assistant_message_params(message, now)
            message_id: int = (await connection.execute(q.INSERT_MESSAGE, params)).scalar_one()
            await connection.execute(q.INSERT_USAGE, q.usage_params(usage, message_id, now))
        return message_id

    @_translated
    async def recent_messages(
        self, conversation_id: int, *, limit: int, before_id: int | None = None
    ) -> list[StoredMessage]:
        if limit <= 0:
            return []
        params = {"conversation_id": conversation_id, "limit": limit, "before_id": before_id}
        statement = q.RECENT_MESSAGES if before_id is None else q.RECENT_MESSAGES_BEFORE
        return [q.stored_message(row) for row in await self._read(statement, params)]

    @_translated
    async def last_assistant_message(self, conversation_id: int) -> StoredMessage | None:
        rows = await self._read(q.LAST_ASSISTANT_MESSAGE, {"conversation_id": conversation_id})
        return q.stored_message(rows[0]) if rows else None

    @_translated
    async def set_platform_reply_ids(self, message_id: int, platform_ids: Sequence[str]) -> None:
        await self._write(
            q.UPDATE_MESSAGE, {"b_id": message_id, "platform_reply_ids": list(platform_ids)}
        )

    # ------------------------------------------------------------------ usage

    @_translated
    async def record_usage(self, record: UsageRecord) -> None:
        await self._write(q.INSERT_USAGE, q.usage_params(record, None, self._now()))

    @_translated
    async def last_usage(self, chat_id: int) -> UsageRecord | None:
        rows = await self._read(q.LAST_USAGE, {"chat_id": chat_id})
        return q.usage_record(rows[0]) if rows else None

    @_translated
    async def usage_summary(self, chat_id: int) -> UsageSummary:
        return q.usage_summary(await self._read(q.USAGE_BY_MODEL, {"chat_id": chat_id}))


if TYPE_CHECKING:

    def _conforms(store: SqlChatStore) -> ChatStore:  # mypy checks the class against the port
        return store
