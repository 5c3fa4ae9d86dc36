"""A sliding 60-second window of request starts, granted first come first served.

At most ``requests`` starts and ``tokens`` tokens fall in any 60 seconds (0 = no limit of that
kind; ``seconds`` may widen the window, to stay clear of a server that counts the same limit).
Waiters are served strictly in arrival order: a request never overtakes one that came before
it, so a chat with a backlog cannot starve the others (each chat has at most one request
waiting, since a chat's messages are answered one at a time). A waiter that is cancelled
(shutdown, a timeout) leaves the queue at once and the next one moves up; a granted start that
ends up unused can be handed back with ``release``.

``expected_wait`` tells a newcomer how long it would wait behind everyone already queued, so the
user can be told (or turned away when that is too long) before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from core.ports import Clock

WINDOW_SECONDS = 60.0
Start = tuple[float, int]  # (monotonic time, tokens)


class _Waiter:
    __slots__ = ("tokens", "turn")

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.turn = asyncio.Event()  # set when it is at the head of the queue


class SlidingWindow:
    __slots__ = ("_clock", "_requests", "_seconds", "_starts", "_tokens", "_waiters")

    def __init__(
        self, requests: int, tokens: int, clock: Clock, *, seconds: float = WINDOW_SECONDS
    ) -> None:
        if requests < 0 or tokens < 0:
            raise ValueError("limits must be >= 0 (0 = unlimited)")
        self._seconds = seconds
        self._requests = requests
        self._tokens = tokens
        self._clock = clock
        self._starts: deque[Start] = deque()  # ascending by time
        self._waiters: deque[_Waiter] = deque()

    @property
    def limited(self) -> bool:
        return bool(self._requests or self._tokens)

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def tokens(self) -> int:
        return self._tokens

    @property
    def seconds(self) -> float:
        return self._seconds

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def expected_wait(self, tokens: int) -> float:
        """Seconds a request of ``tokens`` arriving now would wait behind the queue."""
        if not self.limited:
            return 0.0
        now = self._clock.monotonic()
        self._forget(now)
        queued = [waiter.tokens for waiter in self._waiters]
        start = queue_start(
            self._starts, now, queued, tokens, self._requests, self._tokens, self._seconds
        )
        return start - now

    async def acquire(self, tokens: int) -> Start | None:
        """Wait for this request's turn and a free slot; return the start booked (for
        ``release``), or None when the window limits nothing."""
        if not self.limited:
            return None
        waiter = _Waiter(tokens)
        self._waiters.append(waiter)
        try:
            if self._waiters[0] is not waiter:
                await waiter.turn.wait()
            return await self._take(tokens)
        finally:
            self._leave(waiter)

    def record(self, tokens: int = 0) -> None:
        """Count a request that started without waiting its turn (it was sent for another
        model and served by one this window limits)."""
        if self.limited:
            self._starts.append((self._clock.monotonic(), self._capped(tokens)))

    def release(self, start: Start) -> None:
        """Hand back a start that was granted but never used."""
        try:
            self._starts.remove(start)
        except ValueError:
            return  # already outside the window

    async def _take(self, tokens: int) -> Start:
        while True:
            now = self._clock.monotonic()
            self._forget(now)
            start = self._earliest(list(self._starts), now, tokens)
            if start <= now:
                booked = (now, self._capped(tokens))
                self._starts.append(booked)
                return booked
            await self._clock.sleep(start - now)

    def _leave(self, waiter: _Waiter) -> None:
        was_head = bool(self._waiters) and self._waiters[0] is waiter
        self._waiters.remove(waiter)
        if was_head and self._waiters:
            self._waiters[0].turn.set()

    def _earliest(self, starts: Sequence[Start], after: float, tokens: int) -> float:
        """The earliest time from ``after`` at which a start of ``tokens`` fits the window."""
        return earliest_start(
            starts, after, self._capped(tokens), self._requests, self._tokens, self._seconds
        )

    def _capped(self, tokens: int) -> int:
        return capped_tokens(tokens, self._tokens)

    def _forget(self, now: float) -> None:
        while self._starts and self._starts[0][0] <= now - self._seconds:
            self._starts.popleft()


def earliest_start(
    starts: Sequence[Start], after: float, tokens: int, requests: int, limit: int, seconds: float
) -> float:
    """The earliest time from ``after`` at which a start of ``tokens`` (already capped) fits a
    window of ``requests`` starts and ``limit`` tokens per ``seconds`` (0 = no limit of that
    kind), given the ``starts`` booked so far (ascending by time)."""
    start = after
    if requests and len(starts) >= requests:
        start = max(start, starts[-requests][0] + seconds)
    if limit:
        total = tokens
        for booked_at, booked_tokens in reversed(starts):
            total += booked_tokens
            if total > limit:
                start = max(start, booked_at + seconds)
                break
    return start


def capped_tokens(tokens: int, limit: int) -> int:
    """A request larger than the token limit counts as the limit: it waits for an empty window
    instead of forever. Without a token limit, tokens are not counted at all."""
    return min(max(tokens, 0), limit) if limit else 0


def queue_start(
    starts: Sequence[Start],
    now: float,
    queued: Sequence[int],
    tokens: int,
    requests: int,
    limit: int,
    seconds: float,
) -> float:
    """When a request of ``tokens`` arriving now would start behind ``queued`` (their tokens,
    in order), each taking the earliest place that fits."""
    booked = [start for start in starts if start[0] > now - seconds]
    start = now
    for waiting in [*queued, tokens]:
        capped = capped_tokens(waiting, limit)
        start = earliest_start(booked, start, capped, requests, limit, seconds)
        booked.append((start, capped))
    return start
