"""Persistence: SQLAlchemy models, async engines, SqlChatStore and Alembic migrations.

engine = create_engine(settings.database_url)
await upgrade_to_head(settings.database_url)   # at every start; a no-op when current
store = SqlChatStore(engine, clock)
...
await engine.dispose()
"""

from core.storage.engine import check_database, create_engine
from core.storage.migrate import current_revision, upgrade_engine, upgrade_to_head
from core.storage.store import SqlChatStore

__all__ = [
    "SqlChatStore",
    "check_database",
    "create_engine",
    "current_revision",
    "upgrade_engine",
    "upgrade_to_head",
]
