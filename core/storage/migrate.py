"""Run the Alembic migrations (top-level ``migrations/``) from inside the application.

Alembic's commands are synchronous; they run here on an async connection through
``AsyncConnection.run_sync`` (the connection is handed to ``migrations/env.py`` in
``config.attributes["connection"]``), so this works inside a running event loop.

Every upgrade is one transaction that also serialises concurrent starters: BEGIN IMMEDIATE on
SQLite, a transaction-scoped advisory lock on PostgreSQL. The second starter then finds the
schema current and does nothing. On SQLite foreign keys are off while migrating (batch
migrations copy and drop tables) and checked with ``PRAGMA foreign_key_check`` before commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from core.errors import ConfigError, InfrastructureError
from core.storage.engine import SQLITE_BEGIN, build_engine, describe_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "migrations"
# The newest revision in migrations/versions (a test keeps it equal to Alembic's head). A
# database already there is not handed to Alembic at all, so a normal start never imports it
# (about 11 MB of memory for the life of the process).
HEAD_REVISION: Final = "0006"
_ADVISORY_LOCK_KEY: Final = 0x63686174_72656C61  # "chatrela"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic Config for the project's migrations, optionally pinned to a URL."""
    from alembic.config import Config

    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ConfigError(f"the migrations directory is missing: {MIGRATIONS_DIR}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade_to_head(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema; a no-op when it is current.

    A database that can't be opened or reached raises InfrastructureError naming DATABASE_URL
    (password hidden), so start-up ends with one readable line.
    """
    try:
        engine = build_engine(database_url, poolclass=NullPool)
        try:
            if await _revision_of(engine) == HEAD_REVISION:
                return
            await upgrade_engine(engine, alembic_config(database_url))
        finally:
            await engine.dispose()
    except (OSError, SQLAlchemyError) as exc:
        where = describe_url(database_url)
        raise InfrastructureError(
            f"cannot open the database at DATABASE_URL={where}: {type(exc).__name__}: {exc}"
        ) from exc


async def upgrade_engine(engine: AsyncEngine, config: Config | None = None) -> None:
    """``upgrade_to_head`` on an existing engine (for example a ``:memory:`` SQLite one)."""
    config = config or alembic_config()
    async with migration_connection(engine) as connection:
        await connection.run_sync(_run_upgrade, config)


async def _revision_of(engine: AsyncEngine) -> str | None:
    """The stamped revision, read without Alembic; None when there is none (yet)."""
    async with engine.connect() as connection:
        has_table = await connection.run_sync(
            lambda sync: sync.dialect.has_table(sync, "alembic_version")
        )
        if not has_table:
            return None
        rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    return str(rows[0][0]) if len(rows) == 1 else None


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = build_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


@asynccontextmanager
async def migration_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside the migration transaction, committed on success (see module doc)."""
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            await _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            await connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            await connection.begin()
            if not sqlite:
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await connection.execute(lock, {"key": _ADVISORY_LOCK_KEY})
            yield connection
            if sqlite:
                await _check_foreign_keys(connection)
            await connection.commit()
        finally:
            if sqlite and not connection.invalidated:
                await connection.rollback()
                await _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


async def _sqlite_pragma(connection: AsyncConnection, pragma: str) -> None:
    """PRAGMAs like foreign_keys only take effect outside a transaction."""
    await connection.execution_options(**{SQLITE_BEGIN: None})
    await connection.exec_driver_sql(pragma)
    await connection.commit()


async def _check_foreign_keys(connection: AsyncConnection) -> None:
    violations = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
    if violations:
        tables = sorted({str(row[0]) for row in violations})
        raise InfrastructureError(
            f"migration left rows with broken foreign keys in {', '.join(tables)}; rolled back"
        )


def _run_upgrade(connection: Connection, config: Config) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
