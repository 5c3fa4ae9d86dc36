"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database per test.

PostgreSQL is the server at ``CHATRELAY_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each ``temporary_database("postgres")``
creates a uniquely named database next to it and drops it (WITH FORCE) afterwards. When no
server answers, the test is skipped with the reason, or fails when ``CHATRELAY_REQUIRE_POSTGRES=1``
(CI sets it when a server is up, so a broken setup cannot pass as "skipped").

    async with temporary_database("postgres", tmp_path, migrated=True) as url:
        engine = create_engine(url)
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.errors import ConfigError
from core.storage.engine import describe_url, parse_database_url
from core.storage.migrate import upgrade_to_head

DatabaseKind = Literal["sqlite", "postgres"]
DATABASE_KINDS: tuple[DatabaseKind, ...] = ("sqlite", "postgres")
POSTGRES_URL_ENV = "CHATRELAY_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "CHATRELAY_REQUIRE_POSTGRES"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_SECONDS = 2.0
DATABASE_PREFIX = "chatrelay_test_"


def postgres_url() -> URL:
    return parse_database_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)


@functools.cache
def postgres_available() -> str | None:
    """None when the test server answers (and may create databases), else why not. Cached."""
    try:
        url = postgres_url()
    except ConfigError as exc:
        return f"{POSTGRES_URL_ENV} is not usable: {exc}"
    with ThreadPoolExecutor(max_workers=1) as pool:  # works inside a running event loop too
        return pool.submit(asyncio.run, _probe(url)).result()


async def _probe(url: URL) -> str | None:
    where = f"PostgreSQL at {describe_url(url)} (set {POSTGRES_URL_ENV} to use another server)"
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS}
    )
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS * 2), engine.connect() as connection:
            query = "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            may_create = (await connection.execute(text(query))).scalar()
    except Exception as exc:  # every failure (refused, auth, timeout, ...) means "not available"
        return f"{where} is not reachable: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        await engine.dispose()
    if not may_create:
        return f"{where}: the user may not CREATE DATABASE"
    return None


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unavailable (fail instead if it is required)."""
    reason = postgres_available()
    if reason is None:
        return
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {reason}")
    pytest.skip(reason)


@asynccontextmanager
async def temporary_database(
    kind: DatabaseKind, tmp_path: Path, *, migrated: bool = False
) -> AsyncIterator[str]:
    """An empty database's URL (password included), removed afterwards.

    ``migrated=True`` runs the Alembic migrations first.
    """
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{(tmp_path / 'db' / 'chatrelay.db').resolve()}"
        if migrated:
            await upgrade_to_head(url)
        yield url
        return
    require_postgres()
    async with postgres_database(postgres_url()) as url:
        if migrated:
            await upgrade_to_head(url)
        yield url


@asynccontextmanager
async def postgres_database(server: URL, prefix: str = DATABASE_PREFIX) -> AsyncIterator[str]:
    """A new, empty database on ``server``'s PostgreSQL (named ``prefix`` + a random part):
    its URL, password included; dropped WITH FORCE afterwards. Benchmarks use it too."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()
