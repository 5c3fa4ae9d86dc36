"""The hot reads are index range scans with LIMIT on SQLite, never a scan of the history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Executable, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.domain import ChatRef, StoredMessage
from core.storage import queries
from core.storage.engine import create_engine
from core.storage.models import Message
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock
from tests.support.databases import temporary_database

CONTEXT_INDEX = "ix_messages_conversation_id_in_context_id"


@pytest.fixture(params=["fresh", "analyzed"])
async def sqlite_engine(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    """A migrated SQLite database with history in several conversations (+ ANALYZE stats)."""
    async with temporary_database("sqlite", tmp_path, migrated=True) as url:
        engine = create_engine(url)
        clock = FakeClock()
        store = SqlChatStore(engine, clock)
        chats = [await store.load_chat(ChatRef("t", str(n))) for n in range(3)]
        rows = [
            {
                "chat_id": chat.id,
                "conversation_id": chat.conversation_id,
                "role": "user" if n % 2 else "assistant",
                "is_command": n % 7 == 0,
                "in_context": n % 7 != 0,
                "content": f"message {n}",
                "token_estimate": 3,
                "platform_message_id": f"{chat.id}-{n}",
                "created_at": clock.now(),
            }
            for chat in chats
            for n in range(300)
        ]
        async with engine.begin() as connection:
            await connection.execute(insert(Message), rows)
            if request.param == "analyzed":
                await connection.exec_driver_sql("ANALYZE")
        yield engine
        await engine.dispose()


async def query_plan(engine: AsyncEngine, statement: Executable, **values: Any) -> str:
    compiled = statement.compile(dialect=engine.dialect)
    params = compiled.construct_params(values)
    positional = tuple(params[name] for name in compiled.positiontup or ())
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
        return "\n".join(str(row[-1]) for row in result)


@pytest.mark.parametrize(
    ("statement", "values"),
    [
        (queries.RECENT_MESSAGES, {"conversation_id": 2, "limit": 50}),
        (queries.RECENT_MESSAGES_BEFORE, {"conversation_id": 2, "limit": 50, "before_id": 400}),
        (queries.LAST_ASSISTANT_MESSAGE, {"conversation_id": 2}),
    ],
    ids=["recent", "recent-before", "last-assistant"],
)
async def test_context_window_uses_the_index(
    sqlite_engine: AsyncEngine, statement: Executable, values: dict[str, Any]
) -> None:
    plan = await query_plan(sqlite_engine, statement, **values)

    assert f"USING INDEX {CONTEXT_INDEX}" in plan or f"USING COVERING INDEX {CONTEXT_INDEX}" in plan
    assert "SCAN messages" not in plan
    assert "TEMP B-TREE" not in plan  # rows come out of the index already in order


async def test_last_usage_uses_the_index(sqlite_engine: AsyncEngine) -> None:
    plan = await query_plan(sqlite_engine, queries.LAST_USAGE, chat_id=1)

    assert "ix_usage_records_chat_id_id" in plan
    assert "SCAN usage_records" not in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("statement", "values", "index"),
    [
        (
            queries.USER_MESSAGE_TIMES,
            {"platform": "t", "author_id": "u1", "since": FakeClock().now(), "limit": 5},
            "ix_messages_author_id_created_at",
        ),
        (
            queries.USER_USAGE_SINCE,
            {"user_id": "t:u1", "since": FakeClock().now()},
            "ix_usage_records_user_id_created_at",
        ),
        (
            queries.CHAT_USAGE_SINCE,
            {"chat_id": 1, "since": FakeClock().now()},
            "ix_usage_records_chat_id_created_at",
        ),
    ],
    ids=["user-minute", "user-today", "chat-today"],
)
async def test_limit_checks_use_their_indexes(
    sqlite_engine: AsyncEngine, statement: Executable, values: dict[str, Any], index: str
) -> None:
    """Every message of a user with limits set runs these: never a scan of the history."""
    plan = await query_plan(sqlite_engine, statement, **values)

    assert index in plan
    assert "SCAN messages" not in plan
    assert "SCAN usage_records" not in plan


async def test_chat_cursors_probe_each_chat_by_index(sqlite_engine: AsyncEngine) -> None:
    plan = await query_plan(sqlite_engine, queries.CHAT_CURSORS, platform="t")

    assert "ix_messages_chat_id_id" in plan
    assert "SCAN messages" not in plan


async def test_chat_lookup_uses_the_unique_key(sqlite_engine: AsyncEngine) -> None:
    plan = await query_plan(
        sqlite_engine, queries.SELECT_CHAT, platform="t", chat_id="1", thread_id=""
    )

    assert "SEARCH chats USING INDEX" in plan  # the UNIQUE constraint's (auto)index
    assert "(platform=? AND chat_id=? AND thread_id=?)" in plan


def test_message_columns_match_stored_message_fields() -> None:
    """stored_message() builds StoredMessage positionally from these columns."""
    names = [column.name for column in queries.RECENT_MESSAGES.selected_columns]

    assert names == list(StoredMessage.__dataclass_fields__)
