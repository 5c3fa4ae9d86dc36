"""How the store runs its SQL: a unit of work is a plain function of a (sync) Connection.

SQLite: every unit of work runs whole on one dedicated worker thread, on SQLAlchemy's sync engine
over sqlite3 (with the same PRAGMAs as the async engine). One thread hop per store call instead
of several per statement, measured at about a quarter of the event loop's CPU per call; writes
are naturally serialised (SQLite has one writer) without an asyncio lock whose holder waits on a
busy event loop; and the loop itself never blocks. This is aiosqlite's model (one thread per
connection) with the unit of work, not the statement, as the thing handed over.

PostgreSQL: the unit of work runs through AsyncConnection.run_sync on asyncpg.

Write units run in one transaction (BEGIN IMMEDIATE on SQLite); read units run without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.engine import SQLITE_BEGIN, is_memory_sqlite
from core.storage.sqlite import open_connection

T = TypeVar("T")
Work = Callable[[Connection], T]


class Database(Protocol):
    dialect: str

    async def read(self, work: Work[T]) -> T: ...

    async def write(self, work: Work[T]) -> T: ...

    async def aclose(self) -> None: ...


class AsyncEngineDatabase:
    """Units of work on an AsyncEngine (PostgreSQL/asyncpg) via ``run_sync``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":  # in-memory SQLite: one connection, handed out in turn
            self._reader = engine.execution_options(**{SQLITE_BEGIN: None})
            self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        else:
            self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._writer = engine

    async def read(self, work: Work[T]) -> T:
        async with self._reader.connect() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        async with self._writer.begin() as connection:
            return await connection.run_sync(work)

    async def aclose(self) -> None:
        return None  # the engine belongs to whoever created it


class SqliteWorkerDatabase:
    """Units of work on one worker thread that owns the SQLite connection."""

    dialect = "sqlite"

    def __init__(self, url: URL) -> None:
        self._engine = _sync_sqlite_engine(url)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._connection: Connection | None = None  # opened and used on the worker thread only
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The sync engine the worker thread uses (for event listeners in tests)."""
        return self._engine

    async def read(self, work: Work[T]) -> T:
        return await self._submit(partial(self._read_now, work))

    async def write(self, work: Work[T]) -> T:
        return await self._submit(partial(self._write_now, work))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):  # already shut down by the interpreter
            await self._submit(self._close_now)
        self._executor.shutdown(wait=False)

    async def _submit(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _open(self, begin: str | None) -> Connection:
        """The worker's one connection (checked out once and kept: a checkout per call costs
        more than the statement), with the BEGIN mode for the next transaction."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = self._engine.connect()
        connection.execution_options(**{SQLITE_BEGIN: begin})
        return connection

    def _read_now(self, work: Work[T]) -> T:
        connection = self._open(begin=None)
        try:
            return work(connection)
        finally:
            connection.rollback()  # ends SQLAlchemy's bookkeeping; no transaction was begun

    def _write_now(self, work: Work[T]) -> T:
        connection = self._open(begin="IMMEDIATE")
        with connection.begin():
            return work(connection)

    def _close_now(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _sync_sqlite_engine(url: URL) -> Engine:
    """SQLAlchemy's sync engine on sqlite3, for use on one thread only."""
    sync_url = url.set(drivername="sqlite")
    args: Any
    args, kwargs = sync_url.get_dialect()().create_connect_args(sync_url)
    kwargs = {**kwargs, "check_same_thread": False, "isolation_level": None}
    creator = partial(open_connection, partial(sqlite3.connect, *args, **kwargs))
    engine = create_engine(sync_url, creator=creator, pool_size=1, max_overflow=0)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode is not None:
            connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def database_for(engine: AsyncEngine) -> Database:
    """The runner for the store: a worker thread for SQLite files, run_sync otherwise.

    In-memory SQLite lives inside its one async connection, so it keeps using the engine.
    """
    if engine.dialect.name == "sqlite" and not is_memory_sqlite(engine.url):
        return SqliteWorkerDatabase(engine.url)
    return AsyncEngineDatabase(engine)
