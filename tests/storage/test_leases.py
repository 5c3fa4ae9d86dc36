"""Named leases on PostgreSQL (several processes: one holder at a time, renewed while it lives,
taken over once it lapses or is given up), on SQLite (one process: a lease left by a process
that died is taken over at once), and the leadership built on them."""

from __future__ import annotations

import asyncio

import pytest

from core.leases import Leadership
from core.storage.leases import SqlLeases
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock

POSTGRES_ONLY = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)
SQLITE_ONLY = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)


@POSTGRES_ONLY
async def test_one_owner_at_a_time_until_the_lease_lapses(
    store: SqlChatStore, clock: FakeClock
) -> None:
    leases = SqlLeases(store.database, clock)
    assert await leases.lease_take("polling", "a", 30)
    assert not await leases.lease_take("polling", "b", 30)
    assert await leases.lease_take("other", "b", 30)  # another name is another lease
    clock.advance(20)
    assert await leases.lease_take("polling", "a", 30)  # renewed: good until 50 s
    clock.advance(25)
    assert not await leases.lease_take("polling", "b", 30)
    clock.advance(10)  # "a" stopped renewing
    assert await leases.lease_take("polling", "b", 30)
    assert not await leases.lease_take("polling", "a", 30)  # "a" is back, and a standby now


@SQLITE_ONLY
async def test_on_sqlite_a_lease_left_by_a_dead_process_is_taken_at_once(
    store: SqlChatStore, clock: FakeClock
) -> None:
    """A restart after SIGKILL: the new process polls at once, not after the lease lapses."""
    leases = SqlLeases(store.database, clock)
    assert await leases.lease_take("polling", "killed", 30)
    clock.advance(1)
    assert await leases.lease_take("polling", "restarted", 30)


@POSTGRES_ONLY
async def test_a_lease_given_up_is_taken_at_once(store: SqlChatStore, clock: FakeClock) -> None:
    leases = SqlLeases(store.database, clock)
    assert await leases.lease_take("polling", "a", 30)
    await leases.lease_release("polling", "b")  # not b's: nothing happens
    assert not await leases.lease_take("polling", "b", 30)
    await leases.lease_release("polling", "a")
    assert await leases.lease_take("polling", "b", 30)


@POSTGRES_ONLY
async def test_leadership_passes_to_the_standby_when_the_leader_stops(
    store: SqlChatStore, clock: FakeClock
) -> None:
    leases = SqlLeases(store.database, clock)
    first = Leadership(leases, clock, name="polling", owner="a", seconds=30)
    second = Leadership(leases, clock, name="polling", owner="b", seconds=30)
    await first.start()
    await second.start()
    try:
        assert first.held
        assert not second.held
        await first.stop()
        assert not first.held
        # the standby tries again every third of the lease (FakeClock: its sleeps pass at once)
        await asyncio.wait_for(second.wait(), timeout=10)
        assert second.held
    finally:
        await first.stop()
        await second.stop()
