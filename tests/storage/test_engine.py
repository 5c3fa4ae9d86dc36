"""Engine setup: URL handling, SQLite pragmas and transaction modes, readiness check."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from core.domain import (
    ChatRef,
    NewAssistantMessage,
    NewUserMessage,
    RequestStatus,
    Usage,
    UsageRecord,
)
from core.errors import ConfigError, InfrastructureError
from core.storage.database import SqliteWorkerDatabase
from core.storage.engine import build_engine, check_database, create_engine, parse_database_url
from core.storage.migrate import upgrade_engine
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock
from tests.support.databases import require_postgres, temporary_database


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with temporary_database("sqlite", tmp_path, migrated=True) as url:
        engine = create_engine(url)
        yield engine
        await engine.dispose()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///data/x.db", "sqlite+aiosqlite"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert parse_database_url(given).drivername == driver


@pytest.mark.parametrize(
    "url",
    ["mysql://admin:hunter2@db/chat", "postgresql+psycopg2://admin:hunter2@db/chat", "not a url"],
)
def test_unsupported_urls_are_config_errors_without_secrets(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL") as caught:
        create_engine(url)
    assert "hunter2" not in str(caught.value)


async def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "chat.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await check_database(engine)
    finally:
        await engine.dispose()
    assert path.is_file()


async def test_sqlite_pragmas_on_every_connection(sqlite_engine: AsyncEngine) -> None:
    async def pragma(name: str) -> Any:
        async with sqlite_engine.connect() as connection:
            return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()

    values = await asyncio.gather(
        *(pragma(name) for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous"))
    )
    assert values == ["wal", 5000, 1, 1]  # synchronous 1 = NORMAL


async def test_sqlite_writes_begin_immediate_and_reads_skip_begin(
    sqlite_engine: AsyncEngine,
) -> None:
    store = SqlChatStore(sqlite_engine, FakeClock())
    chat = await store.load_chat(ChatRef("telegram", "1"))
    statements: list[str] = []
    assert isinstance(store.database, SqliteWorkerDatabase)

    @event.listens_for(store.database.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        words = statement.split()
        statements.append(" ".join(words[:2]) if words[0] == "BEGIN" else words[0])

    question = await store.add_user_message(
        NewUserMessage(chat.id, chat.conversation_id, "u", "Ann", "hi", "m1", 1)
    )
    assert statements == ["BEGIN IMMEDIATE", "INSERT"]

    statements.clear()
    usage = UsageRecord(
        chat.id, "u", "m", "m", None, None, Usage(), 1, None, False, RequestStatus.OK
    )
    answer = NewAssistantMessage(
        chat.id, chat.conversation_id, "hello", None, None, "m", 1, question
    )
    await store.save_answer(answer, usage)
    assert statements == ["BEGIN IMMEDIATE", "INSERT", "INSERT"]

    statements.clear()
    await store.recent_messages(chat.conversation_id, limit=5)
    await store.load_chat(ChatRef("telegram", "1"))
    assert statements == ["SELECT", "SELECT"]  # reads: no transaction at all
    await store.aclose()


async def test_sqlite_store_calls_take_one_worker_thread_hop_each(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlChatStore(sqlite_engine, FakeClock())
    chat = await store.load_chat(ChatRef("telegram", "1"))
    hops = 0
    submit = SqliteWorkerDatabase._submit

    async def counting(self: SqliteWorkerDatabase, call: Any) -> Any:
        nonlocal hops
        hops += 1
        return await submit(self, call)

    monkeypatch.setattr(SqliteWorkerDatabase, "_submit", counting)
    message = NewUserMessage(chat.id, chat.conversation_id, "u", "Ann", "hi", "m1", 1)
    assert await store.add_user_message(message) is not None
    [stored] = await store.recent_messages(chat.conversation_id, limit=5)
    await store.aclose()

    assert stored.content == "hi"
    assert hops == 3  # two store calls, and closing


async def test_memory_database_is_safe_for_concurrent_coroutines() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        await upgrade_engine(engine)
        store = SqlChatStore(engine, FakeClock())
        chat = await store.load_chat(ChatRef("console", "me"))

        async def write_and_read(n: int) -> None:
            message = NewUserMessage(chat.id, chat.conversation_id, "u", "A", f"m{n}", str(n), 1)
            assert await store.add_user_message(message) is not None
            await store.recent_messages(chat.conversation_id, limit=3)

        await asyncio.gather(*(write_and_read(n) for n in range(30)))
        assert len(await store.recent_messages(chat.conversation_id, limit=100)) == 30
    finally:
        await engine.dispose()


async def test_check_database_passes(engine: AsyncEngine) -> None:
    await check_database(engine)


async def test_check_database_failure_hides_the_password() -> None:
    engine = create_engine("postgresql+asyncpg://bot:hunter2@127.0.0.1:9/chat")
    try:
        with pytest.raises(InfrastructureError, match="not reachable") as caught:
            await check_database(engine)
    finally:
        await engine.dispose()
    assert "hunter2" not in str(caught.value)
    assert "bot:***@127.0.0.1:9/chat" in str(caught.value)


@pytest.mark.postgres
async def test_idle_postgres_connections_are_pinged_and_replaced(tmp_path: Path) -> None:
    """A server restart kills pooled connections; the next call must still succeed."""
    require_postgres()
    async with temporary_database("postgres", tmp_path, migrated=True) as url:
        engine = build_engine(url, idle_ping_seconds=0.0)
        try:
            store = SqlChatStore(engine, FakeClock())
            chat = await store.load_chat(ChatRef("telegram", "1"))
            async with engine.connect() as connection:
                database = (await connection.exec_driver_sql("SELECT current_database()")).scalar()
            admin = build_engine(url, poolclass=NullPool)
            async with admin.connect() as connection:
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                )
            await admin.dispose()

            assert await store.load_chat(ChatRef("telegram", "1")) == chat
        finally:
            await engine.dispose()


async def test_a_new_database_switches_to_wal_even_while_another_connection_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    asyncio.get_running_loop().call_later(0.3, holder.commit)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
    finally:
        await engine.dispose()
        holder.close()
    assert mode == "wal"
