"""SQLite connections for SQLAlchemy's aiosqlite dialect: set up once, one hop per statement.

aiosqlite runs each sqlite3 call on the connection's worker thread, and SQLAlchemy's adapter
makes four such calls per statement (open a cursor, execute, fetch all rows, close) plus one for
every COMMIT/ROLLBACK, even when no transaction is open. Each hop costs a thread wake-up and an
event-loop turn (~0.1 ms, far more on a busy loop), while the write lock is held.

``StatementCursor`` runs the whole statement in one hop and hands the rows back, and COMMIT or
ROLLBACK outside a transaction (single-statement reads and writes) cost nothing. The connection
is otherwise aiosqlite's own; SQLAlchemy's adapter drives it through ``async_creator``.

Every new connection gets its PRAGMAs on the worker thread, before SQLAlchemy sees it: WAL,
a 5 s busy timeout, enforced foreign keys, ``synchronous=NORMAL``. Switching a new database to
WAL needs an exclusive lock and fails at once (no busy handler) while another connection holds
any lock, so that one PRAGMA is retried, on the worker thread, for up to the busy timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeAlias, cast

import aiosqlite
from sqlalchemy.engine import URL

BUSY_TIMEOUT_MS = 5000
PRAGMAS = (
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
_RETRY_SLEEP_SECONDS = 0.005

Description: TypeAlias = tuple[tuple[Any, ...], ...] | None
_Outcome: TypeAlias = tuple[Description, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On the worker thread: execute, fetch everything, close."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class StatementCursor:
    """The aiosqlite cursor interface SQLAlchemy uses, one worker hop per execute."""

    def __init__(self, connection: FastConnection) -> None:
        self._connection = connection
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> StatementCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def execute(self, operation: str, parameters: Any = ()) -> StatementCursor:
        await self._run(operation, parameters, many=False)
        return self

    async def executemany(self, operation: str, parameters: Iterable[Any]) -> StatementCursor:
        await self._run(operation, parameters, many=True)
        return self

    async def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        outcome = await self._connection.run_on_worker(
            _run, self._connection.raw, operation, parameters, many
        )
        self.description, self.rowcount, self.lastrowid, self._rows = outcome

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class FastConnection(aiosqlite.Connection):
    @property
    def raw(self) -> sqlite3.Connection:
        return self._conn

    async def run_on_worker(self, function: Callable[..., _Outcome], *args: Any) -> _Outcome:
        return cast(_Outcome, await self._execute(function, *args))  # type: ignore[no-untyped-call]

    def cursor(self) -> StatementCursor:  # type: ignore[override]
        return StatementCursor(self)

    async def commit(self) -> None:
        if self.raw.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.raw.in_transaction:
            await super().rollback()


def open_connection(connect: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    """On the worker thread: connect and apply the PRAGMAs (see the module docstring)."""
    connection = connect()
    try:
        for pragma in PRAGMAS:
            connection.execute(pragma)
        _enable_wal(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _enable_wal(connection: sqlite3.Connection) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL").fetchall()
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(_RETRY_SLEEP_SECONDS)  # the worker thread's own wait, not the loop's
        else:
            return


def sqlite_connector(url: URL) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An ``async_creator`` for ``url``, with the connect arguments SQLAlchemy would use.

    ``isolation_level=None`` turns off the driver's implicit BEGIN (SQLAlchemy emits BEGIN, see
    core.storage.engine). ``check_same_thread`` is off: the connection is only used from its
    worker thread, except for reading ``in_transaction`` between statements.
    """
    args: Sequence[Any]
    args, kwargs = url.get_dialect()().create_connect_args(url)
    kwargs = {**kwargs, "check_same_thread": False, "isolation_level": None}
    connect = partial(open_connection, partial(sqlite3.connect, *args, **kwargs))

    async def create() -> aiosqlite.Connection:
        connection = FastConnection(connect, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never block interpreter exit
        return await connection

    return create
