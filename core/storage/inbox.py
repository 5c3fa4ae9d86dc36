"""SqlInbox: core.ports.InboxStore on the store's database (SQLite or PostgreSQL).

Per-chat order lives in the rows: a chat's work is always its oldest unfinished row, and a row
is claimed with a lease (owner, until) in one UPDATE whose WHERE re-checks the lease, so two
workers (two processes on PostgreSQL) can't both hold one chat's next message. A lease is
renewed while its work runs and lapses when its process dies; then another worker (or the next
start) takes the row up again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.domain import ChatRef, Envelope, InboxEntry, InboxState
from core.ports import Clock
from core.storage.database import Database
from core.storage.models import InboxRow
from core.storage.store import translated

inbox: Final = cast(Table, InboxRow.__table__)
DONE: Final = InboxState.DELIVERED.value

_in_chat = (
    inbox.c.platform == bindparam("b_platform"),
    inbox.c.chat_id == bindparam("b_chat_id"),
    inbox.c.thread_id == bindparam("b_thread_id"),
)
_OLDEST_UNFINISHED: Final = (
    select(inbox.c.id)
    .where(*_in_chat, inbox.c.state != DONE)
    .order_by(inbox.c.position, inbox.c.id)
    .limit(1)
    .scalar_subquery()
)
_free = or_(
    inbox.c.lease_owner.is_(None),
    inbox.c.lease_owner == bindparam("b_owner"),
    inbox.c.lease_until < bindparam("b_now"),
)
_other = inbox.alias("other")
# Another process holds a live lease on a message of the chat (several processes on one
# PostgreSQL): the chat is theirs until that message is finished or the lease lapses, even when
# an older message of the chat arrived meanwhile at another process.
_HELD_ELSEWHERE: Final = (
    select(_other.c.id)
    .where(
        _other.c.platform == bindparam("b_platform"),
        _other.c.chat_id == bindparam("b_chat_id"),
        _other.c.thread_id == bindparam("b_thread_id"),
        _other.c.state != DONE,
        _other.c.lease_owner != bindparam("b_owner"),
        _other.c.lease_until >= bindparam("b_now"),
    )
    .exists()
)
CLAIM: Final = (
    update(inbox)
    .where(inbox.c.id == _OLDEST_UNFINISHED, inbox.c.state != DONE, _free, ~_HELD_ELSEWHERE)
    .values(
        lease_owner=bindparam("b_owner"),
        lease_until=bindparam("b_until"),
        attempts=inbox.c.attempts + 1,
        state=func.coalesce(
            func.nullif(inbox.c.state, InboxState.RECEIVED.value), InboxState.ANSWERING.value
        ),
        updated_at=bindparam("b_now"),
    )
    .returning(*inbox.c)
)
PENDING_CHATS: Final = (
    select(inbox.c.platform, inbox.c.chat_id, inbox.c.thread_id)
    .where(inbox.c.state != DONE, inbox.c.platform.in_(bindparam("platforms", expanding=True)))
    .group_by(inbox.c.platform, inbox.c.chat_id, inbox.c.thread_id)
    .order_by(func.min(inbox.c.id))
    .limit(bindparam("limit", type_=Integer))
)
FOLLOWING: Final = (
    select(*inbox.c)
    .where(*_in_chat, inbox.c.position > bindparam("after"), inbox.c.state != DONE)
    .order_by(inbox.c.position, inbox.c.id)
    .limit(bindparam("limit", type_=Integer))
)
CHAT_BUSY: Final = select(inbox.c.id).where(*_in_chat, inbox.c.state != DONE).limit(1)
CHAT_LOCK: Final = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("b_key", type_=String), 0))
)
UPDATE_ROW: Final = update(inbox).where(inbox.c.id == bindparam("b_id"))
UPDATE_HELD: Final = UPDATE_ROW.where(inbox.c.lease_owner == bindparam("b_owner"))
FINISH: Final = (
    update(inbox)
    .where(inbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(state=DONE, lease_owner=None, lease_until=None, updated_at=bindparam("b_now"))
)
RENEW: Final = (
    update(inbox)
    .where(inbox.c.lease_owner == bindparam("b_owner"), inbox.c.state != DONE)
    .values(lease_until=bindparam("b_until"))
)
RELEASE: Final = (
    update(inbox)
    .where(inbox.c.lease_owner == bindparam("b_owner"))
    .values(lease_owner=None, lease_until=None)
)
RELEASE_ALL: Final = (
    update(inbox)
    .where(inbox.c.lease_owner.is_not(None), inbox.c.state != DONE)
    .values(lease_owner=None, lease_until=None)
)
UNFINISHED: Final = select(func.count()).select_from(inbox).where(inbox.c.state != DONE)
PURGE: Final = delete(inbox).where(inbox.c.state == DONE, inbox.c.updated_at < bindparam("before"))


def _insert(dialect: str, *returning: Any) -> Any:
    module = sqlite if dialect == "sqlite" else postgresql
    return (
        module.insert(inbox)
        .on_conflict_do_nothing(index_elements=("platform", "chat_id", "thread_id", "message_id"))
        .returning(*returning)
    )


def _entry(row: Any) -> InboxEntry:
    return InboxEntry(
        id=row.id,
        chat=ChatRef(row.platform, row.chat_id, row.thread_id),
        message_id=row.message_id,
        payload=row.payload,
        position=row.position,
        state=InboxState(row.state),
        reply=row.reply,
        posted=tuple(row.posted or ()),
        attempts=row.attempts,
        received_at=row.received_at,
    )


def _new_row(envelope: Envelope, now: datetime) -> dict[str, Any]:
    """The columns of a message just received (unclaimed)."""
    chat = envelope.chat
    return {
        "platform": chat.platform,
        "chat_id": chat.chat_id,
        "thread_id": chat.thread_id,
        "message_id": envelope.message_id,
        "position": envelope.position,
        "payload": envelope.payload,
        "state": InboxState.RECEIVED.value,
        "attempts": 0,
        "received_at": now,
        "updated_at": now,
    }


def _chat(ref: ChatRef) -> dict[str, str]:
    return {"b_platform": ref.platform, "b_chat_id": ref.chat_id, "b_thread_id": ref.thread_id}


def _chat_key(ref: ChatRef) -> str:
    return f"inbox\x1f{ref.platform}\x1f{ref.chat_id}\x1f{ref.thread_id}"


class SqlInbox:
    """The inbox's rows, on the store's ``Database`` (one unit of work per call)."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._insert = _insert(database.dialect, inbox.c.id)
        self._insert_claimed = _insert(database.dialect, *inbox.c)

    @property
    def single_process(self) -> bool:
        """SQLite: one process owns the file, so leases left by a dead process can be taken at
        once on start instead of waiting for them to lapse."""
        return self._db.dialect == "sqlite"

    @translated
    async def inbox_add(self, envelope: Envelope) -> bool:
        now = self._clock.now()
        params = _new_row(envelope, now)

        def add(connection: Connection) -> bool:
            return connection.execute(self._insert, params).scalar_one_or_none() is not None

        return await self._db.write(add)

    @translated
    async def inbox_add_claimed(
        self, envelope: Envelope, owner: str, lease_seconds: float
    ) -> tuple[bool, InboxEntry | None]:
        """Store a received message, already claimed by ``owner`` when its chat has nothing
        else unfinished (one write instead of two): (stored, the claimed entry or None). For
        one process only (SQLite): the check and the insert are not atomic across processes
        on PostgreSQL."""
        now = self._clock.now()
        params = _new_row(envelope, now)
        claimed = {
            **params,
            "state": InboxState.ANSWERING.value,
            "attempts": 1,
            "lease_owner": owner,
            "lease_until": _after(now, lease_seconds),
        }

        def add(connection: Connection) -> tuple[bool, InboxEntry | None]:
            if connection.execute(CHAT_BUSY, _chat(envelope.chat)).first() is not None:
                row_id = connection.execute(self._insert, params).scalar_one_or_none()
                return row_id is not None, None
            row = connection.execute(self._insert_claimed, claimed).one_or_none()
            return (True, _entry(row)) if row is not None else (False, None)

        return await self._db.write(add)

    @translated
    async def inbox_claim(
        self, chat: ChatRef, owner: str, lease_seconds: float
    ) -> InboxEntry | None:
        now = self._clock.now()
        params = {
            **_chat(chat),
            "b_owner": owner,
            "b_now": now,
            "b_until": _after(now, lease_seconds),
        }

        def claim(connection: Connection) -> InboxEntry | None:
            if self._db.dialect == "postgresql":
                # Claims of one chat take turns: under READ COMMITTED two at once could each
                # miss the other's lease and take two messages of the chat.
                connection.execute(CHAT_LOCK, {"b_key": _chat_key(chat)})
            row = connection.execute(CLAIM, params).one_or_none()
            return None if row is None else _entry(row)

        return await self._db.write(claim)

    @translated
    async def inbox_pending_chats(self, platforms: Sequence[str], limit: int) -> list[ChatRef]:
        params = {"platforms": list(platforms), "limit": limit}
        rows = await self._db.read(lambda c: c.execute(PENDING_CHATS, params).all())
        return [ChatRef(row.platform, row.chat_id, row.thread_id) for row in rows]

    @translated
    async def inbox_following(self, entry: InboxEntry, limit: int) -> list[InboxEntry]:
        params = {**_chat(entry.chat), "after": entry.position, "limit": limit}
        rows = await self._db.read(lambda c: c.execute(FOLLOWING, params).all())
        return [_entry(row) for row in rows]

    @translated
    async def inbox_answered(
        self, entry_id: int, reply: dict[str, Any], owner: str | None = None
    ) -> bool:
        values = {"reply": reply, "state": InboxState.ANSWERED.value}
        return await self._update_held(entry_id, values, owner)

    @translated
    async def inbox_posted(
        self, entry_id: int, posted: Sequence[str], owner: str | None = None
    ) -> bool:
        return await self._update_held(entry_id, {"posted": list(posted)}, owner)

    async def _update_held(self, entry_id: int, values: dict[str, Any], owner: str | None) -> bool:
        statement = UPDATE_ROW if owner is None else UPDATE_HELD
        params = {"b_id": entry_id, "b_owner": owner, "updated_at": self._clock.now(), **values}

        def update_row(connection: Connection) -> bool:
            return bool(connection.execute(statement, params).rowcount)

        return await self._db.write(update_row)

    @translated
    async def inbox_finish(
        self, entry_ids: Sequence[int], posted: Sequence[str] | None = None
    ) -> None:
        now = self._clock.now()
        params = {"ids": list(entry_ids), "b_now": now}

        def finish(connection: Connection) -> None:
            if posted is not None and entry_ids:
                connection.execute(
                    UPDATE_ROW, {"b_id": entry_ids[0], "posted": list(posted), "updated_at": now}
                )
            connection.execute(FINISH, params)

        await self._db.write(finish)

    @translated
    async def inbox_renew(self, owner: str, lease_seconds: float) -> None:
        params = {"b_owner": owner, "b_until": _after(self._clock.now(), lease_seconds)}
        await self._db.write(lambda c: c.execute(RENEW, params))

    @translated
    async def inbox_release(self, owner: str | None) -> None:
        """Give up ``owner``'s leases (None: every lease, for a single-process start)."""
        if owner is None:
            await self._db.write(lambda c: c.execute(RELEASE_ALL))
        else:
            await self._db.write(lambda c: c.execute(RELEASE, {"b_owner": owner}))

    @translated
    async def inbox_unfinished(self) -> int:
        count: int = await self._db.read(lambda c: c.execute(UNFINISHED).scalar_one())
        return count

    @translated
    async def inbox_purge(self, before: datetime) -> int:
        def purge(connection: Connection) -> int:
            return connection.execute(PURGE, {"before": before}).rowcount

        return await self._db.write(purge)


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
