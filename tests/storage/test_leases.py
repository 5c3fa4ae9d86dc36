"""Named leases on SQLite and PostgreSQL, and the leadership built on them: one holder at a
time, renewed while it lives, taken over once it lapses or is given up."""

from __future__ import annotations

import asyncio

from core.leases import Leadership
from core.storage.leases import SqlLeases
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock


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


async def test_a_lease_given_up_is_taken_at_once(store: SqlChatStore, clock: FakeClock) -> None:
    leases = SqlLeases(store.database, clock)
    assert await leases.lease_take("polling", "a", 30)
    await leases.lease_release("polling", "b")  # not b's: nothing happens
    assert not await leases.lease_take("polling", "b", 30)
    await leases.lease_release("polling", "a")
    assert await leases.lease_take("polling", "b", 30)


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
