from __future__ import annotations

import pytest

from core.llm.limiter import RequestLimiter

from .helpers import FakeClock


async def test_unlimited_never_waits() -> None:
    limiter = RequestLimiter.unlimited(FakeClock())
    assert [await limiter.reserve(10**9) for _ in range(1000)] == [0.0] * 1000


async def test_requests_per_minute_queue_in_order() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(2, 0, clock)
    waits = [await limiter.reserve(0) for _ in range(5)]
    assert waits == [0.0, 0.0, 60.0, 60.0, 120.0]


async def test_window_slides_with_time() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(2, 0, clock)
    await limiter.reserve(0)
    clock.advance(30)
    await limiter.reserve(0)
    clock.advance(10)
    assert await limiter.reserve(0) == pytest.approx(20.0)  # the first slot leaves at t=60
    clock.advance(100)
    assert await limiter.reserve(0) == 0.0


async def test_tokens_per_minute() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(0, 1000, clock)
    assert await limiter.reserve(600) == 0.0
    assert await limiter.reserve(300) == 0.0
    assert await limiter.reserve(200) == 60.0  # 1100 > 1000: waits for the first to leave
    assert await limiter.reserve(50) == 60.0  # FIFO: never earlier than the one before


async def test_a_request_larger_than_the_token_limit_waits_for_an_empty_window() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(0, 1000, clock)
    assert await limiter.reserve(10) == 0.0
    assert await limiter.reserve(50_000) == 60.0
    assert await limiter.reserve(1) == 120.0


async def test_acquire_sleeps_on_the_clock() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(1, 0, clock)
    assert await limiter.acquire(0) == 0.0
    assert await limiter.acquire(0) == 60.0
    assert clock.sleeps == [60.0]


def test_negative_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="limits"):
        RequestLimiter(-1, 0, FakeClock())
