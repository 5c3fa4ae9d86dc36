"""Async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), tuned for the store.

SQLite: WAL, a busy timeout, enforced foreign keys and ``synchronous=NORMAL`` on every
connection, and one worker-thread hop per statement (both in core.storage.sqlite). The
sqlite3 driver's own implicit BEGIN is off and SQLAlchemy emits BEGIN itself (the recipe in
SQLAlchemy's SQLite docs), so each transaction picks its mode with the ``SQLITE_BEGIN``
execution option: ``"DEFERRED"`` (the default); ``"IMMEDIATE"`` for write transactions (take
the write lock up front rather than fail to upgrade a read lock later); or ``None`` for single
statements, which are then their own transaction (no BEGIN/COMMIT at all). ``:memory:``
databases get a one-connection pool that hands the connection to one user at a time.

PostgreSQL: a pool whose idle connections are pinged before reuse (see _ping_idle_connections).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, Pool

from core.errors import ConfigError, InfrastructureError
from core.storage.sqlite import sqlite_connector

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
SQLITE_BEGIN: Final = "chatrelay_sqlite_begin"  # execution option, see the module docstring
CHECK_TIMEOUT_SECONDS: Final = 5.0
IDLE_PING_SECONDS: Final = 10.0  # PostgreSQL: ping pooled connections idle longer than this
_IDLE_SINCE: Final = "chatrelay_idle_since"

_DRIVER_ALIASES = {
    "sqlite": SQLITE_DRIVER,
    SQLITE_DRIVER: SQLITE_DRIVER,
    "postgres": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    POSTGRES_DRIVER: POSTGRES_DRIVER,
}
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def parse_database_url(database_url: str) -> URL:
    """Parse DATABASE_URL and pin the async driver (``postgresql://`` -> asyncpg, ...)."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            "DATABASE_URL is not a database URL; use sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user:password@host/dbname"
        ) from None
    driver = _DRIVER_ALIASES.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"DATABASE_URL uses the unsupported scheme {url.drivername!r}; "
            f"use {SQLITE_DRIVER}:///path/to/file.db or {POSTGRES_DRIVER}://user@host/dbname"
        )
    return url.set(drivername=driver)


def describe_url(url: URL | str) -> str:
    """The URL with its password hidden, for messages and logs."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database == "" or ":memory:" in database or url.query.get("mode") == "memory"
    )


def create_engine(database_url: str) -> AsyncEngine:
    """The application's engine for DATABASE_URL (SQLite file or memory, or PostgreSQL)."""
    return build_engine(database_url)


def build_engine(
    database_url: str,
    *,
    poolclass: type[Pool] | None = None,
    idle_ping_seconds: float = IDLE_PING_SECONDS,
) -> AsyncEngine:
    """``create_engine`` with a choice of pool (migrations and probes use ``NullPool``)."""
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, poolclass=poolclass)
    options: dict[str, Any] = {"connect_args": {"timeout": 10.0}}
    if poolclass is None:
        options.update(pool_size=10, max_overflow=20, pool_recycle=1800)
    else:
        options["poolclass"] = poolclass
    engine = create_async_engine(url, **options)
    _ping_idle_connections(engine, idle_ping_seconds)
    return engine


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """``pool_pre_ping``, but only for connections that sat unused for ``idle_seconds``.

    SQLAlchemy's own pre-ping costs asyncpg three round trips (BEGIN, ping, ROLLBACK) on every
    checkout, which doubled the cost of each store call. A connection in steady use has just
    proven itself; one that sat idle (through a server restart, a failover, a NAT timeout) is
    pinged first and, when dead, replaced transparently (DisconnectionError makes the pool
    retry with a new connection).
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine.pool, "checkin")
    def _idle_from(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine.pool, "checkout")
    def _ping_if_idle(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: object
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever failed, the pool retries with a new connection
            raise DisconnectionError("idle connection failed its ping") from exc


def _sqlite_engine(url: URL, *, poolclass: type[Pool] | None) -> AsyncEngine:
    options: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # One connection, handed to one user at a time: a ":memory:" database lives in its
        # connection, and SQLAlchemy's default StaticPool would let concurrent coroutines share
        # (and roll back) each other's transaction on it.
        options.update(poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
    else:
        if url.database and url.query.get("uri") is None:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if poolclass is None:
            options.update(pool_size=10, max_overflow=10)
        else:
            options["poolclass"] = poolclass
    engine = create_async_engine(url, async_creator=sqlite_connector(url), **options)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode is None:
            return
        if mode not in _BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN} must be one of {sorted(_BEGIN_MODES)} or None")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


async def check_database(engine: AsyncEngine) -> None:
    """Readiness probe: one ``SELECT 1`` within 5 s. Raises InfrastructureError (no password)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise InfrastructureError(
            f"database {describe_url(engine.url)} is not reachable ({type(exc).__name__})"
        ) from exc
