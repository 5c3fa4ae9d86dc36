"""Named leases in the ``leases`` table (see core.leases): one statement takes a lease that is
free, lapsed or already ours, and says whether we hold it.

SQLite is used by one process only, so a lease held by another owner there was left by a process
that is gone (killed, or crashed): it is taken over at once, as the inbox's leases are, instead
of after it lapses."""

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
    if dialect == "sqlite":  # one process: whatever holds it is gone
        insert = sqlite.insert(leases)
        return insert.on_conflict_do_update(
            index_elements=("name",),
            set_={"owner": insert.excluded.owner, "until": insert.excluded.until},
        ).returning(leases.c.acquired_at)
    shared = postgresql.insert(leases)
    ours = leases.c.owner == shared.excluded.owner
    return shared.on_conflict_do_update(
        index_elements=("name",),
        set_={"owner": shared.excluded.owner, "until": shared.excluded.until},
        where=or_(ours, leases.c.until < bindparam("b_now")),
    ).returning(leases.c.acquired_at)


class SqlLeases:
    """core.ports.LeaseStore on the store's ``Database``."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._take = _take(database.dialect)
        self._shared = database.dialect != "sqlite"  # other processes may hold its leases

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
            params = {"b_now": now} if self._shared else {}
            row = connection.execute(self._take.values(values), params).one_or_none()
            return row is not None

        return await self._db.write(take)

    @translated
    async def lease_release(self, name: str, owner: str) -> None:
        params = {"b_name": name, "b_owner": owner}
        await self._db.write(lambda c: c.execute(RELEASE, params))
