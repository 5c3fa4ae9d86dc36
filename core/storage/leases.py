"""Named leases in the ``leases`` table (see core.leases): one statement takes a lease that is
free, lapsed or already ours, and says whether we hold it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, delete, or_
from sqlalchemy.dialects import postgresql, sqlite

from core.ports import Clock
from core.storage.database import Database
from core.storage.models import LeaseRow
from core.storage.store import translated

leases: Final = cast(Table, LeaseRow.__table__)
RELEASE: Final = delete(leases).where(
    leases.c.name == bindparam("b_name"), leases.c.owner == bindparam("b_owner")
)


def _take(dialect: str) -> Any:
    module = sqlite if dialect == "sqlite" else postgresql
    insert = module.insert(leases)
    ours = leases.c.owner == insert.excluded.owner
    return insert.on_conflict_do_update(
        index_elements=("name",),
        set_={"owner": insert.excluded.owner, "until": insert.excluded.until},
        where=or_(ours, leases.c.until < bindparam("b_now")),
    ).returning(leases.c.acquired_at)


class SqlLeases:
    """core.ports.LeaseStore on the store's ``Database``."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._take = _take(database.dialect)

    @translated
    async def lease_take(self, name: str, owner: str, seconds: float) -> bool:
        now = self._clock.now()
        values = {
            "name": name,
            "owner": owner,
            "until": now + timedelta(seconds=seconds),
            "acquired_at": now,
        }

        def take(connection: Connection) -> bool:
            row = connection.execute(self._take.values(values), {"b_now": now}).one_or_none()
            return row is not None

        return await self._db.write(take)

    @translated
    async def lease_release(self, name: str, owner: str) -> None:
        params = {"b_name": name, "b_owner": owner}
        await self._db.write(lambda c: c.execute(RELEASE, params))
