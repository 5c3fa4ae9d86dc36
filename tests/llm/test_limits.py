"""Limits that fit each model: free models share OpenRouter's free limits, paid models are not
throttled, a model in cool-down is passed over, the queue is fair and bounded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.domain import Queued
from core.errors import DailyQuotaError, QueueFullError
from core.llm.limits import (
    FREE_WINDOW_SECONDS,
    FreeDailyQuota,
    LimitSettings,
    ModelLimits,
    is_free_model,
)
from core.llm.window import SlidingWindow
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter

from .conftest import ClientFactory
from .helpers import CHAIN, FakeClock, collect, completion_of, make_request

PAID = "openai/gpt-5"
FREE = CHAIN[0]


def test_which_models_are_free() -> None:
    assert is_free_model("tencent/hy3-preview:free")
    assert is_free_model("openrouter/free")
    assert not is_free_model("openai/gpt-5")
    assert not is_free_model("openrouter/auto")


# ------------------------------------------------------------------ the window


async def test_window_grants_in_arrival_order_at_the_rate() -> None:
    clock = FakeClock()
    window = SlidingWindow(2, 0, clock)
    started: list[tuple[int, float]] = []

    async def request(number: int) -> None:
        await window.acquire(0)
        started.append((number, clock.monotonic()))

    await asyncio.gather(*(request(n) for n in range(5)))
    assert started == [(0, 0.0), (1, 0.0), (2, 60.0), (3, 60.0), (4, 120.0)]


class ManualClock(FakeClock):
    """Time moves only when the test says: a sleeper wakes once ``advance`` passes its time."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.elapsed + seconds, wake))
        await wake

    async def run_for(self, seconds: float) -> None:
        self.elapsed += seconds
        for at, wake in list(self._sleepers):
            if at <= self.elapsed and not wake.done():
                wake.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)


async def test_expected_wait_counts_everyone_ahead() -> None:
    clock = ManualClock()
    window = SlidingWindow(2, 0, clock)
    await window.acquire(0)
    await window.acquire(0)
    assert window.expected_wait(0) == 60.0
    waiters = [asyncio.create_task(window.acquire(0)) for _ in range(3)]
    await asyncio.sleep(0)
    assert window.waiting == 3
    assert window.expected_wait(0) == 120.0  # the queue starts at 60, 60 and 120; then 120
    await clock.run_for(60)
    assert window.waiting == 1
    assert window.expected_wait(0) == 60.0
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert window.waiting == 0


async def test_a_cancelled_waiter_frees_its_place() -> None:
    clock = ManualClock()
    window = SlidingWindow(1, 0, clock)
    await window.acquire(0)
    first = asyncio.create_task(window.acquire(0))
    second = asyncio.create_task(window.acquire(0))
    await asyncio.sleep(0)
    assert window.waiting == 2
    assert window.expected_wait(0) == 180.0
    first.cancel()  # e.g. shutdown, while at the head of the queue
    await asyncio.gather(first, return_exceptions=True)
    assert window.waiting == 1
    assert window.expected_wait(0) == 120.0  # only the second is ahead now
    await clock.run_for(60)
    await second
    assert second.done()


async def test_token_window_waits_for_room() -> None:
    clock = FakeClock()
    window = SlidingWindow(0, 1000, clock)
    await window.acquire(600)
    assert window.expected_wait(300) == 0.0
    await window.acquire(300)
    assert window.expected_wait(200) == 60.0
    assert window.expected_wait(50_000) == 60.0  # larger than the limit: waits for an empty one


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        SlidingWindow(-1, 0, FakeClock())


# ------------------------------------------------------------------ the daily quota


def test_quota_resets_at_midnight_utc() -> None:
    clock = FakeClock(datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
    quota = FreeDailyQuota(clock, limit=2)
    quota.count()
    quota.count()
    assert quota.exhausted()
    assert quota.seconds_to_reset() == 3600
    clock.advance(3600)
    assert not quota.exhausted()
    assert quota.remaining == 2


# ------------------------------------------------------------------ through the client


async def test_paid_models_are_not_throttled(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    client = make_client()
    events = [await collect(client, make_request(models=(PAID,))) for _ in range(50)]
    assert not any(isinstance(e, Queued) for batch in events for e in batch)
    assert len(fake.chat_requests) == 50


async def test_free_models_share_twenty_a_minute(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.free_daily_limit = 1000
    client = make_client()
    for number in range(20):
        events = await collect(client, make_request(models=(CHAIN[number % 3],)))
        assert not any(isinstance(e, Queued) for e in events)
    events = await collect(client, make_request(models=(CHAIN[1],)))
    assert events[0] == Queued(FREE_WINDOW_SECONDS)  # a minute, and a little to spare
    assert completion_of(events).content == "Echo: hello there"
    assert fake.chat_requests[-1].body["model"] == CHAIN[1]
    assert clock.monotonic() == FREE_WINDOW_SECONDS


async def test_a_model_in_cool_down_is_passed_over(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client()
    fake.enqueue(ErrorReply.rate_limited(retry_after=30))  # the 429 reaches the client
    chain = (PAID, "anthropic/claude-sonnet-4.5")
    first = completion_of(await collect(client, make_request(models=chain)))
    assert first.model_served == "anthropic/claude-sonnet-4.5"
    asked = len(fake.chat_requests)
    second = completion_of(await collect(client, make_request(models=chain)))
    assert second.model_served == "anthropic/claude-sonnet-4.5"
    assert fake.chat_requests[asked].body["model"] == "anthropic/claude-sonnet-4.5"
    assert len(fake.chat_requests) == asked + 1  # the cooling model was not asked again
    clock.advance(30)
    third = completion_of(await collect(client, make_request(models=chain)))
    assert third.model_served == PAID  # cooled down: first in the chain again


async def test_a_lone_model_in_cool_down_waits_with_a_notice(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(max_retry_wait=5)
    fake.enqueue(ErrorReply.rate_limited(retry_after=40))
    with pytest.raises(Exception, match="rate"):
        await collect(client, make_request(models=(PAID,)))
    events = await collect(client, make_request(models=(PAID,)))
    assert isinstance(events[0], Queued)
    assert events[0].wait_seconds == pytest.approx(40.0)
    assert completion_of(events).model_served == PAID


async def test_used_up_free_quota_lets_a_paid_model_answer(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.free_daily_limit = 3
    fake.free_used_today = 3
    client = make_client()
    await client.key_info()  # the quota is read from GET /key at start
    done = completion_of(await collect(client, make_request(models=(FREE, PAID))))
    assert done.model_served == PAID
    assert fake.chat_requests[-1].body["model"] == PAID  # the free model was not even asked


async def test_used_up_free_quota_without_a_paid_model_says_when_it_resets(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.free_daily_limit = 3
    fake.free_used_today = 3
    client = make_client()
    await client.key_info()
    with pytest.raises(DailyQuotaError) as raised:
        await collect(client, make_request())
    assert fake.chat_requests == []
    assert raised.value.message_params() == {"hours": 12, "minutes": 0}  # the clock says noon


async def test_a_per_day_429_marks_the_quota_used_up(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.free_daily_limit = 1
    client = make_client()
    completion_of(await collect(client, make_request(models=(FREE,))))
    with pytest.raises(DailyQuotaError):
        await collect(client, make_request(models=(FREE,)))
    asked = len(fake.chat_requests)
    done = completion_of(await collect(client, make_request(models=(FREE, PAID))))
    assert done.model_served == PAID
    assert len(fake.chat_requests) == asked + 1


async def test_a_queue_longer_than_the_bound_is_refused_before_waiting() -> None:
    clock = ManualClock()
    limits = ModelLimits(LimitSettings(free_requests_per_minute=1, queue_max_seconds=90), clock)
    await limits.admit(FREE, 0)
    assert limits.check(FREE, 0) == FREE_WINDOW_SECONDS
    waiting = asyncio.create_task(limits.admit(FREE, 0))
    await asyncio.sleep(0)
    with pytest.raises(QueueFullError) as raised:
        limits.check(FREE, 0)  # would start after two windows
    assert raised.value.message_params() == {"minutes": 3}
    assert limits.check(PAID, 0) == 0.0  # paid models do not queue behind free ones
    await clock.run_for(FREE_WINDOW_SECONDS)
    await waiting


async def test_a_paid_limit_of_one_model_applies_to_that_model_only(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(limits=LimitSettings(model_requests_per_minute={PAID: 1}))
    await collect(client, make_request(models=(PAID,)))
    other = await collect(client, make_request(models=("anthropic/claude-sonnet-4.5",)))
    assert not any(isinstance(e, Queued) for e in other)
    again = await collect(client, make_request(models=(PAID,)))
    assert again[0] == Queued(60.0)


async def test_served_by_a_free_fallback_counts_as_free(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(limits=LimitSettings(free_requests_per_minute=1))
    fake.enqueue(Answer(model=FREE))  # OpenRouter's own fallback served the free model
    done = completion_of(await collect(client, make_request(models=(PAID, FREE))))
    assert done.model_served == FREE
    events = await collect(client, make_request(models=(FREE,)))
    assert events[0] == Queued(FREE_WINDOW_SECONDS)
