"""Fixtures for the store and migration tests; every database test runs on SQLite and PostgreSQL.

``db_kind``            "sqlite" | "postgres" (postgres is skipped with a reason when no server)
``empty_database_url`` an empty, unmigrated database of that kind
``database_url``       the same, migrated to head
``engine``             core.storage.engine.create_engine(database_url), disposed afterwards
``clock``              a FakeClock (aware UTC, microseconds)
``store``              SqlChatStore(engine, clock)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.engine import create_engine
from core.storage.migrate import upgrade_to_head
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock
from tests.support.databases import DatabaseKind, require_postgres, temporary_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> DatabaseKind:
    kind: DatabaseKind = request.param
    if kind == "postgres":
        require_postgres()
    return kind


@pytest.fixture
async def empty_database_url(db_kind: DatabaseKind, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    await upgrade_to_head(empty_database_url)
    return empty_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))


@pytest.fixture
async def store(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[SqlChatStore]:
    store = SqlChatStore(engine, clock)
    yield store
    await store.aclose()
