"""SqlLimitStore: core.llm.shared.LimitStore on the database (meant for PostgreSQL, where
several replicas share it; it works on SQLite too).

Every change is one short transaction that first takes ``pg_advisory_xact_lock`` on its
limiter (a window, the cool-downs, the free quota): the replicas' changes to one limiter are
serialised, those to different limiters are not. The grant decision itself is the same Python
function the in-memory store uses (``core.llm.shared.grant``), run inside the lock. Old rows are
deleted in the same transactions (starts outside their window, stale tickets, past cool-downs,
days before yesterday), so the tables stay small.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Connection, Row, Table, delete, func, insert, select, update

from core.llm.shared import (
    DAYS_KEPT,
    TICKET_TIMEOUT_SECONDS,
    FreeDay,
    LimitStore,
    SharedState,
    Take,
    Ticket,
    WindowRule,
    WindowState,
    grant,
)
from core.storage.database import Database
from core.storage.models import LimitCooldownRow, LimitDayRow, LimitStartRow, LimitTicketRow
from core.storage.store import translated

starts: Final = cast(Table, LimitStartRow.__table__)
tickets: Final = cast(Table, LimitTicketRow.__table__)
cooldowns: Final = cast(Table, LimitCooldownRow.__table__)
days: Final = cast(Table, LimitDayRow.__table__)

LOCK_NAMESPACE: Final = 0x6C696D69  # "limi": the first key of pg_advisory_xact_lock(int, int)
COOLING_LOCK: Final = "cooling"
DAYS_LOCK: Final = "free-days"


class SqlLimitStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @translated
    async def take(self, rule: WindowRule, ticket: Ticket, now: float) -> Take:
        def work(connection: Connection) -> Take:
            _lock(connection, rule.key)
            _forget(connection, rule, now)
            connection.execute(
                update(tickets)
                .where(tickets.c.limiter == rule.key, tickets.c.owner == ticket.owner)
                .values(seen_at=now)
            )
            state = _window(connection, rule.key)
            if all(waiting.id != ticket.id for waiting in state.queue):
                connection.execute(
                    insert(tickets).values(
                        limiter=rule.key,
                        ticket=ticket.id,
                        owner=ticket.owner,
                        tokens=ticket.tokens,
                        seen_at=now,
                    )
                )
                state = WindowState(state.starts, (*state.queue, ticket))
            start = grant(rule, state, ticket.id, now)
            if start is None:
                return Take(False, state)
            connection.execute(
                delete(tickets).where(tickets.c.limiter == rule.key, tickets.c.ticket == ticket.id)
            )
            connection.execute(
                insert(starts).values(
                    limiter=rule.key, ticket=ticket.id, at=start[0], tokens=start[1]
                )
            )
            queue = tuple(waiting for waiting in state.queue if waiting.id != ticket.id)
            return Take(True, WindowState((*state.starts, start), queue))

        return await self._db.write(work)

    @translated
    async def withdraw(self, rule: WindowRule, ticket: str) -> None:
        def work(connection: Connection) -> None:
            connection.execute(
                delete(tickets).where(tickets.c.limiter == rule.key, tickets.c.ticket == ticket)
            )

        await self._db.write(work)

    @translated
    async def release(self, rule: WindowRule, ticket: str) -> None:
        def work(connection: Connection) -> None:
            connection.execute(
                delete(starts).where(starts.c.limiter == rule.key, starts.c.ticket == ticket)
            )

        await self._db.write(work)

    @translated
    async def record(self, rule: WindowRule, ticket: str, tokens: int, now: float) -> None:
        capped = min(max(tokens, 0), rule.tokens) if rule.tokens else 0

        def work(connection: Connection) -> None:
            _lock(connection, rule.key)
            values = {"limiter": rule.key, "ticket": ticket, "at": now, "tokens": capped}
            connection.execute(insert(starts).values(**values))

        await self._db.write(work)

    @translated
    async def cool(self, key: str, until: float, now: float) -> None:
        def work(connection: Connection) -> None:
            _lock(connection, COOLING_LOCK)
            connection.execute(delete(cooldowns).where(cooldowns.c.until <= now))
            current = connection.execute(
                select(cooldowns.c.until).where(cooldowns.c.name == key)
            ).scalar()
            if current is None:
                connection.execute(insert(cooldowns).values(name=key, until=until))
            elif current < until:
                connection.execute(
                    update(cooldowns).where(cooldowns.c.name == key).values(until=until)
                )

        await self._db.write(work)

    @translated
    async def count_free(self, day: date) -> FreeDay:
        def work(connection: Connection) -> FreeDay:
            current = _day(connection, day)
            before = current or FreeDay(day)
            counted = FreeDay(day, before.used + 1, before.limit, before.exhausted)
            _save_day(connection, counted, exists=current is not None)
            return counted

        return await self._db.write(work)

    @translated
    async def set_free(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None:
        def work(connection: Connection) -> None:
            current = _day(connection, day)
            before = current or FreeDay(day)
            changed = FreeDay(
                day,
                before.used if used is None else used,
                before.limit if limit is None else limit,
                before.exhausted if exhausted is None else exhausted,
            )
            _save_day(connection, changed, exists=current is not None)

        await self._db.write(work)

    @translated
    async def read(self, rules: Sequence[WindowRule], day: date, now: float) -> SharedState:
        def work(connection: Connection) -> SharedState:
            rows = connection.execute(
                select(cooldowns.c.name, cooldowns.c.until).where(cooldowns.c.until > now)
            )
            cooling = {row.name: row.until for row in rows}
            row = connection.execute(select(days).where(days.c.day == day)).one_or_none()
            free = FreeDay(day) if row is None else _free_day(row)
            windows = {rule.key: _window(connection, rule.key, rule, now) for rule in rules}
            return SharedState(cooling, free, windows)

        return await self._db.read(work)

    async def aclose(self) -> None:
        await self._db.aclose()


def _lock(connection: Connection, name: str) -> None:
    """Serialise the transactions on one limiter, until this transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, func.hashtext(name))))


def _forget(connection: Connection, rule: WindowRule, now: float) -> None:
    connection.execute(
        delete(starts).where(starts.c.limiter == rule.key, starts.c.at <= now - rule.seconds)
    )
    connection.execute(
        delete(tickets).where(
            tickets.c.limiter == rule.key, tickets.c.seen_at < now - TICKET_TIMEOUT_SECONDS
        )
    )


def _window(
    connection: Connection, key: str, rule: WindowRule | None = None, now: float = 0.0
) -> WindowState:
    """The starts and live tickets of one limiter (after ``_forget``, or, given ``rule``,
    filtered here the same way: a read does not delete)."""
    query = select(starts.c.at, starts.c.tokens).where(starts.c.limiter == key)
    waiting = select(tickets.c.ticket, tickets.c.owner, tickets.c.tokens).where(
        tickets.c.limiter == key
    )
    if rule is not None:
        query = query.where(starts.c.at > now - rule.seconds)
        waiting = waiting.where(tickets.c.seen_at >= now - TICKET_TIMEOUT_SECONDS)
    booked = tuple((row.at, row.tokens) for row in connection.execute(query.order_by(starts.c.at)))
    queue = tuple(
        Ticket(row.ticket, row.owner, row.tokens)
        for row in connection.execute(waiting.order_by(tickets.c.seq))
    )
    return WindowState(booked, queue)


def _day(connection: Connection, day: date) -> FreeDay | None:
    _lock(connection, DAYS_LOCK)
    connection.execute(delete(days).where(days.c.day <= day - DAYS_KEPT))
    row = connection.execute(select(days).where(days.c.day == day)).one_or_none()
    return None if row is None else _free_day(row)


def _free_day(row: Row[Any]) -> FreeDay:
    return FreeDay(row.day, row.used, row.daily_limit, row.exhausted)


def _save_day(connection: Connection, day: FreeDay, *, exists: bool) -> None:
    values = {"used": day.used, "daily_limit": day.limit, "exhausted": day.exhausted}
    if exists:
        connection.execute(update(days).where(days.c.day == day.day).values(**values))
    else:
        connection.execute(insert(days).values(day=day.day, **values))


if TYPE_CHECKING:

    def _conforms(store: SqlLimitStore) -> LimitStore:  # mypy checks the class against the port
        return store
