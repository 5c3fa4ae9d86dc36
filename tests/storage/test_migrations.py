"""The Alembic migrations build exactly the schema of core.storage.models, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from core.domain import ChatRef
from core.storage.engine import build_engine
from core.storage.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    migration_connection,
    upgrade_engine,
    upgrade_to_head,
)
from core.storage.models import metadata
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock

HEAD = HEAD_REVISION
TABLES = {
    "alembic_version",
    "chats",
    "conversations",
    "inbox",
    "leases",
    "limit_cooldowns",
    "limit_days",
    "limit_starts",
    "limit_tickets",
    "messages",
    "usage_records",
}


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_there_is_one_head_and_the_code_knows_it() -> None:
    """upgrade_to_head skips Alembic for a database stamped HEAD_REVISION: keep it current."""
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_heads() == [HEAD_REVISION]


async def test_empty_database_has_no_revision(empty_database_url: str) -> None:
    assert await current_revision(empty_database_url) is None


async def test_upgrade_builds_the_models_schema(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)

    assert await current_revision(empty_database_url) == HEAD
    engine = build_engine(empty_database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(table_names) == TABLES
            assert await connection.run_sync(schema_differences) == []
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op_that_keeps_data(
    empty_database_url: str, clock: FakeClock
) -> None:
    await upgrade_to_head(empty_database_url)
    engine = build_engine(empty_database_url)
    try:
        chat = await SqlChatStore(engine, clock).load_chat(ChatRef("telegram", "1"))
        await upgrade_to_head(empty_database_url)
        assert await SqlChatStore(engine, clock).load_chat(ChatRef("telegram", "1")) == chat
    finally:
        await engine.dispose()
    assert await current_revision(empty_database_url) == HEAD


async def test_concurrent_upgrades_do_not_collide(empty_database_url: str) -> None:
    await asyncio.gather(*(upgrade_to_head(empty_database_url) for _ in range(3)))

    assert await current_revision(empty_database_url) == HEAD


async def test_downgrade_to_base_and_back(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    engine = build_engine(empty_database_url, poolclass=NullPool)
    config = alembic_config(empty_database_url)

    def downgrade(connection: Connection) -> set[str]:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        return table_names(connection)

    try:
        async with migration_connection(engine) as connection:
            assert await connection.run_sync(downgrade) == {"alembic_version"}
        await upgrade_engine(engine, config)
        async with engine.connect() as connection:
            assert await connection.run_sync(schema_differences) == []
    finally:
        await engine.dispose()


async def test_upgrade_engine_migrates_an_in_memory_database(clock: FakeClock) -> None:
    engine = build_engine("sqlite+aiosqlite:///:memory:")
    try:
        await upgrade_engine(engine)
        store = SqlChatStore(engine, clock)
        chat = await store.load_chat(ChatRef("console", "local"))
        async with engine.connect() as connection:
            assert await connection.run_sync(schema_differences) == []
        assert (await store.load_chat(ChatRef("console", "local"))) == chat
    finally:
        await engine.dispose()


async def test_0002_names_the_users_of_old_usage_rows_by_platform(empty_database_url: str) -> None:
    """Rows written before 0002 carry a bare user id; afterwards "platform:id", and back."""
    engine = build_engine(empty_database_url, poolclass=NullPool)
    config = alembic_config(empty_database_url)

    def migrate(connection: Connection, revision: str, down: bool = False) -> None:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    def user_ids(connection: Connection) -> list[str | None]:
        rows = connection.exec_driver_sql("SELECT user_id FROM usage_records ORDER BY id")
        return [row[0] for row in rows]

    def old_rows(connection: Connection) -> None:
        connection.exec_driver_sql(
            "INSERT INTO chats (id, platform, chat_id, thread_id, show_reasoning, created_at,"
            " updated_at) VALUES (1, 'telegram', '5', '', false, '2026-01-01', '2026-01-01')"
        )
        for user in ("42", None):
            connection.execute(
                text(
                    "INSERT INTO usage_records (chat_id, user_id, model_requested, prompt_tokens,"
                    " completion_tokens, reasoning_tokens, cached_tokens, total_tokens,"
                    " latency_ms, fallback_used, status, created_at) VALUES (1, :user, 'm', 1,"
                    " 1, 0, 0, 2, 5, false, 'ok', '2026-01-01')"
                ),
                {"user": user},
            )

    try:
        async with migration_connection(engine) as connection:
            await connection.run_sync(migrate, "0001")
            await connection.run_sync(old_rows)
            await connection.run_sync(migrate, "0002")
            assert await connection.run_sync(user_ids) == ["telegram:42", None]
            await connection.run_sync(migrate, "0001", True)
            assert await connection.run_sync(user_ids) == ["42", None]
    finally:
        await engine.dispose()
