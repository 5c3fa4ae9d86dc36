"""A client-side limit on requests and tokens per minute, that queues instead of failing.

Sliding 60-second windows. Each ``reserve`` books a start time for its request at the earliest
moment the windows allow and after every earlier booking, so waiting requests start in arrival
order (FIFO) and nobody is starved. The caller learns the wait first (to tell the user it is
queued) and then sleeps it. A request larger than the token limit counts as exactly the limit, so
it waits for an empty window instead of forever. A limit of 0 means unlimited.
"""

from __future__ import annotations

from collections import deque

from core.ports import Clock

WINDOW_SECONDS = 60.0


class RequestLimiter:
    __slots__ = ("_booked", "_clock", "_requests", "_tokens")

    def __init__(self, requests_per_minute: int, tokens_per_minute: int, clock: Clock) -> None:
        if requests_per_minute < 0 or tokens_per_minute < 0:
            raise ValueError("limits must be >= 0 (0 = unlimited)")
        self._requests = requests_per_minute
        self._tokens = tokens_per_minute
        self._clock = clock
        self._booked: deque[tuple[float, int]] = deque()  # (start time, tokens), ascending

    @classmethod
    def unlimited(cls, clock: Clock) -> RequestLimiter:
        return cls(0, 0, clock)

    async def reserve(self, tokens: int) -> float:
        """Book a slot for one request of about ``tokens`` tokens; return the seconds to wait.

        The slot is booked at once: call ``wait(seconds)`` (or sleep on the clock) before sending.
        """
        if not self._requests and not self._tokens:
            return 0.0
        now = self._clock.monotonic()
        self._forget_before(now - WINDOW_SECONDS)
        tokens = min(max(tokens, 0), self._tokens) if self._tokens else 0
        start = self._earliest_start(now, tokens)
        self._booked.append((start, tokens))
        return max(start - now, 0.0)

    async def wait(self, seconds: float) -> None:
        if seconds > 0:
            await self._clock.sleep(seconds)

    async def acquire(self, tokens: int) -> float:
        """Reserve and wait; return the seconds waited."""
        seconds = await self.reserve(tokens)
        await self.wait(seconds)
        return seconds

    def _earliest_start(self, now: float, tokens: int) -> float:
        start = max(now, self._booked[-1][0]) if self._booked else now
        if self._requests and len(self._booked) >= self._requests:
            start = max(start, self._booked[-self._requests][0] + WINDOW_SECONDS)
        if self._tokens:
            total = tokens
            for booked_at, booked_tokens in reversed(self._booked):
                total += booked_tokens
                if total > self._tokens:
                    start = max(start, booked_at + WINDOW_SECONDS)
                    break
        return start

    def _forget_before(self, horizon: float) -> None:
        while self._booked and self._booked[0][0] <= horizon:
            self._booked.popleft()
