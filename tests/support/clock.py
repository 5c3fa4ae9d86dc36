"""A clock the test controls: sleeping advances time at once, and every sleep is recorded."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += max(seconds, 0.0)
        await asyncio.sleep(0)


class ScaledClock:
    """Real time, sped up: every task's sleep really waits, ``speed`` times shorter.

    For tests of the whole core, where background loops ("typing" every few seconds) run next
    to the work: time passes for everyone alike, so a one-minute rate-limit window takes 0.6 s
    at speed 100 and nothing spins.
    """

    def __init__(self, speed: float = 100.0, start: datetime | None = None) -> None:
        self._speed = speed
        self._start = start or datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) * self._speed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self._speed)
