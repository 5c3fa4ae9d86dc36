"""Two replicas (two ModelLimits) on one shared store: in memory (one store object), on
PostgreSQL and on Redis. The windows, the queue order, cool-downs and the free daily quota are
those of both together; a dead replica's ticket lapses; a store that fails leaves each replica
its own limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core.domain import KeyInfo
from core.errors import DailyQuotaError, RateLimitedError
from core.llm.fallback import FallbackPlan
from core.llm.limits import FREE_WINDOW_SECONDS, LimitSettings, ModelLimits
from core.llm.redis_limits import RedisLimitStore
from core.llm.shared import TICKET_TIMEOUT_SECONDS, LimitStore, MemoryLimitStore, Ticket, WindowRule
from core.llm.shared_window import REFRESH_SECONDS
from core.storage.database import database_for
from core.storage.engine import create_engine
from core.storage.limits import SqlLimitStore
from tests.support.clock import FakeClock
from tests.support.databases import temporary_database
from tests.support.redis import delete_prefixed, redis_prefix, redis_url, require_redis

from .helpers import CHAIN

FREE = CHAIN[0]
PAID = "openai/gpt-5"
SETTLE_SECONDS = 10.0  # real time allowed for the stores' I/O to finish a step


class StepClock(FakeClock):
    """Time moves only when the test says; sleepers wake once it passed their time."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def parked(self) -> int:
        return sum(not wake.done() for _, wake in self._sleepers)

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.elapsed + seconds, wake))
        await wake

    def step(self, seconds: float) -> None:
        self.elapsed += seconds
        for at, wake in self._sleepers:
            if at <= self.elapsed + 1e-9 and not wake.done():
                wake.set_result(None)
        self._sleepers = [entry for entry in self._sleepers if not entry[1].done()]


async def until(condition: Callable[[], bool]) -> None:
    """Wait (for the stores' I/O, not for a time) until ``condition`` holds."""
    async with asyncio.timeout(SETTLE_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.001)


async def run_until_done(
    clock: StepClock, tasks: dict[ModelLimits, list[asyncio.Task[None]]], step: float = 1.0
) -> None:
    """Step the clock, each time letting every replica with waiters ask the store and sleep."""

    def busy() -> int:
        return sum(any(not task.done() for task in queued) for queued in tasks.values())

    for _ in range(2000):
        if not busy():
            return
        await until(lambda: clock.parked >= busy())
        clock.step(step)
    raise AssertionError("the waiters were never all granted")


@dataclass
class Replicas:
    stores: list[LimitStore]  # what each replica uses

    def make(self, clock: FakeClock, **settings: object) -> tuple[ModelLimits, ModelLimits]:
        limit_settings = LimitSettings(**settings)  # type: ignore[arg-type]
        a = ModelLimits(limit_settings, clock, self.stores[0])
        b = ModelLimits(limit_settings, clock, self.stores[1])
        return a, b


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
async def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Replicas]:
    if request.param == "memory":
        store = MemoryLimitStore()
        yield Replicas([store, store])
    elif request.param == "postgres":
        async with temporary_database("postgres", tmp_path, migrated=True) as url:
            engines = [create_engine(url), create_engine(url)]
            try:
                yield Replicas([SqlLimitStore(database_for(engine)) for engine in engines])
            finally:
                for engine in engines:
                    await engine.dispose()
    else:
        require_redis()
        prefix = redis_prefix()
        clients = [Redis.from_url(redis_url()), Redis.from_url(redis_url())]
        try:
            yield Replicas([RedisLimitStore(client, prefix) for client in clients])
        finally:
            await delete_prefixed(clients[0], prefix)
            for client in clients:
                await client.aclose()


async def queued(store: LimitStore, clock: FakeClock, rule: WindowRule) -> int:
    state = await store.read([rule], clock.now().date(), clock.now().timestamp())
    return len(state.windows[rule.key].queue)


def free_rule(requests: int) -> WindowRule:
    return WindowRule("free", requests, 0, FREE_WINDOW_SECONDS)


async def test_the_21st_free_request_of_two_replicas_waits_for_the_window(
    replicas: Replicas,
) -> None:
    clock = FakeClock()
    a, b = replicas.make(clock)
    for number in range(20):
        await (a if number % 2 else b).admit(FREE, 0)
    await a.refresh(max_age=0)
    assert a.check(FREE, 0) == pytest.approx(FREE_WINDOW_SECONDS, abs=1e-3)
    assert a.check(PAID, 0) == 0.0
    await a.admit(FREE, 0)  # the clock moves only while it waits
    assert clock.monotonic() == pytest.approx(FREE_WINDOW_SECONDS, abs=1e-3)


async def test_requests_of_two_replicas_are_granted_in_arrival_order(
    replicas: Replicas,
) -> None:
    clock = StepClock()
    a, b = replicas.make(clock, free_requests_per_minute=1)
    await a.admit(FREE, 0)
    granted: list[tuple[str, float]] = []

    async def request(limits: ModelLimits, name: str) -> None:
        await limits.admit(FREE, 0)
        granted.append((name, clock.monotonic()))

    tasks: dict[ModelLimits, list[asyncio.Task[None]]] = {a: [], b: []}
    for number, (limits, name) in enumerate([(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2")]):
        tasks[limits].append(asyncio.create_task(request(limits, name)))
        await until_async(lambda: queued(replicas.stores[0], clock, free_rule(1)), number + 1)
    await run_until_done(clock, tasks)
    assert [name for name, _ in granted] == ["a1", "b1", "a2", "b2"]
    assert granted[-1][1] >= 4 * FREE_WINDOW_SECONDS - 1e-3  # one a window, the first at 0


async def until_async(count: Callable[[], Awaitable[int]], expected: int) -> None:
    async with asyncio.timeout(SETTLE_SECONDS):
        while True:
            if await count() == expected:
                return
            await asyncio.sleep(0.001)


async def test_a_cancelled_waiter_frees_its_place_for_the_other_replica(
    replicas: Replicas,
) -> None:
    clock = StepClock()
    a, b = replicas.make(clock, free_requests_per_minute=1)
    store = replicas.stores[0]
    await a.admit(FREE, 0)
    first = asyncio.create_task(a.admit(FREE, 0))
    await until_async(lambda: queued(store, clock, free_rule(1)), 1)
    second = asyncio.create_task(b.admit(FREE, 0))
    await until_async(lambda: queued(store, clock, free_rule(1)), 2)
    first.cancel()  # at the head of the shared queue
    await asyncio.gather(first, return_exceptions=True)
    assert await queued(store, clock, free_rule(1)) == 1  # taken back at once
    await run_until_done(clock, {b: [second]})
    assert clock.monotonic() < FREE_WINDOW_SECONDS + REFRESH_SECONDS + 1


async def test_a_cool_down_from_a_429_on_one_replica_makes_the_other_skip_the_model(
    replicas: Replicas,
) -> None:
    clock = FakeClock()
    a, b = replicas.make(clock)
    a.note_failure(PAID, RateLimitedError("rate limited", model=PAID, retry_after=30))
    await a.flush()
    await b.refresh(max_age=0)
    assert b.wait_for(PAID) == pytest.approx(30.0, abs=1e-3)
    chain = (PAID, "anthropic/claude-sonnet-4.5")
    plan = FallbackPlan(
        2, max_attempts=4, max_retry_wait=30, wait_for=lambda i: b.wait_for(chain[i])
    )
    assert plan.start().index == 1  # the cooling model is passed over
    clock.advance(30)
    await b.refresh(max_age=0)
    assert b.wait_for(PAID) == 0.0


async def test_the_free_quota_used_up_on_one_replica_is_refused_on_the_other(
    replicas: Replicas,
) -> None:
    clock = FakeClock()  # noon UTC
    a, b = replicas.make(clock, free_requests_per_day=3)
    await b.admit(FREE, 0)
    await a.admit(FREE, 0)
    await a.admit(FREE, 0)
    await b.refresh(max_age=0)
    with pytest.raises(DailyQuotaError) as raised:
        b.check(FREE, 0)
    assert raised.value.resets_in == 12 * 3600
    assert b.check(PAID, 0) == 0.0


async def test_what_get_key_says_on_one_replica_holds_on_the_other(replicas: Replicas) -> None:
    clock = FakeClock()
    a, b = replicas.make(clock)
    key = KeyInfo(None, None, None, None, None, False, 1000, 0)
    a.quota.learn(key)
    await a.flush()
    await b.refresh(max_age=0)
    assert b.quota.limit == 1000
    assert b.quota.exhausted()
    assert b.wait_for(FREE) == float("inf")


async def test_a_dead_replicas_ticket_is_dropped_after_its_timeout(replicas: Replicas) -> None:
    clock = StepClock()
    _, b = replicas.make(clock, free_requests_per_minute=1)
    store = replicas.stores[0]
    rule = free_rule(1)
    await b.admit(FREE, 0)  # the window is full until 62 s
    clock.elapsed = 50.0
    dead = await store.take(rule, Ticket("dead-ticket", "dead-replica", 0), clock.now().timestamp())
    assert not dead.granted  # it waits, and its replica dies: nobody refreshes it
    waiter = asyncio.create_task(b.admit(FREE, 0))
    await until_async(lambda: queued(store, clock, rule), 2)
    await run_until_done(clock, {b: [waiter]})
    dropped_at = 50.0 + TICKET_TIMEOUT_SECONDS
    assert dropped_at < clock.monotonic() <= dropped_at + REFRESH_SECONDS + 1
    assert await queued(store, clock, rule) == 0


async def test_a_store_that_fails_leaves_each_replica_its_own_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        clock = FakeClock()
        limits = ModelLimits(
            LimitSettings(free_requests_per_minute=1), clock, RedisLimitStore(client, "x:")
        )
        with caplog.at_level(logging.WARNING, logger="chatrelay.llm"):
            await limits.admit(FREE, 0)
            await limits.admit(FREE, 0)  # the local window still holds
            limits.note_failure(PAID, RateLimitedError("rate limited", model=PAID, retry_after=5))
            await limits.aclose()
        assert clock.monotonic() == pytest.approx(FREE_WINDOW_SECONDS)
        assert limits.wait_for(PAID) == pytest.approx(5.0)  # this replica's own cool-down
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "shared limits unavailable" in warnings[0].getMessage()
    finally:
        await client.aclose()
