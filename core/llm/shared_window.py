"""A window of request starts shared by every replica through a ``LimitStore``.

Each process keeps its own FIFO queue of waiters; every waiter puts a ticket in the store when
it arrives (in this process's order: one store call per window at a time), and only the local
head asks the store again, until the store grants it: the store grants the oldest ticket of all
replicas while the window has room, so requests are served first come first served across
replicas. The head asks again when the window should have room (at least every
``REFRESH_SECONDS``, which also keeps this process's tickets alive) or, behind another
replica's ticket, every ``POLL_SECONDS`` or so. A cancelled waiter takes its ticket back at once.

When the store fails (database or Redis down, or slower than ``STORE_TIMEOUT_SECONDS``), the
window falls back to this process's own window (``SlidingWindow``, which also counts every
start granted here through the store): the limits then hold per replica, not in total, so N
replicas may start up to N times the limit for a short while (a short over-limit burst), and
OpenRouter may answer some of those with 429s. ``StoreHealth`` logs one WARNING per outage and
tries the store again every ``RETRY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import date
from typing import Any, TypeVar

from core.errors import InfrastructureError
from core.llm.shared import (
    FREE_COOLING_KEY,
    FreeDay,
    LimitStore,
    SharedState,
    Ticket,
    WindowRule,
    WindowState,
)
from core.llm.window import SlidingWindow, Start, capped_tokens, earliest_start, queue_start
from core.ports import Clock

log = logging.getLogger("chatrelay.llm")
T = TypeVar("T")

REFRESH_SECONDS = 5.0  # the longest a waiting head sleeps between two asks
POLL_SECONDS = 0.5  # the shortest, when another replica's ticket is ahead
STORE_TIMEOUT_SECONDS = 2.0
RETRY_SECONDS = 5.0  # after a failure, the store is left alone this long
SHARED_CACHE_SECONDS = 1.0  # how old the shared cool-downs and quota may be when used


def wall(clock: Clock) -> float:
    return clock.now().timestamp()


class StoreHealth:
    """Whether the shared store answers. Runs every store call: a failure is logged once per
    outage (WARNING) and the caller gets None, so it uses this process's own limits."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._retry_at: float | None = None  # monotonic; None = the store works

    @property
    def down(self) -> bool:
        return self._retry_at is not None

    def usable(self) -> bool:
        return self._retry_at is None or self._clock.monotonic() >= self._retry_at

    async def run(self, call: Callable[[], Awaitable[T]]) -> T | None:
        if not self.usable():
            return None
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                result = await call()
        except (InfrastructureError, TimeoutError) as exc:
            if self._retry_at is None:
                log.warning(
                    "shared limits unavailable: each replica keeps its own limits until the "
                    "store answers again",
                    extra={"error_kind": type(exc).__name__, "detail": str(exc)[:200]},
                )
            self._retry_at = self._clock.monotonic() + RETRY_SECONDS
            return None
        if self._retry_at is not None:
            log.info("shared limits available again")
            self._retry_at = None
        return result


class Background:
    """Store writes that sync callers start (``note_failure``, ``learn``...); awaited at close."""

    def __init__(self, health: StoreHealth) -> None:
        self._health = health
        self._tasks: set[asyncio.Task[object]] = set()

    def spawn(self, call: Callable[[], Awaitable[object]]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self._health.run(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class _Waiter:
    __slots__ = ("ticket", "turn")

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        self.turn = asyncio.Event()  # set when it is at the head of the local queue


class SharedWindow:
    """``SlidingWindow``'s interface over a ``LimitStore`` (see the module doc)."""

    def __init__(
        self,
        local: SlidingWindow,
        key: str,
        store: LimitStore,
        health: StoreHealth,
        background: Background,
        owner: str,
        clock: Clock,
    ) -> None:
        self.rule = WindowRule(key, local.requests, local.tokens, local.seconds)
        self._local = local
        self._store = store
        self._health = health
        self._background = background
        self._owner = owner
        self._clock = clock
        self._waiters: deque[_Waiter] = deque()
        self._calls = asyncio.Lock()  # tickets reach the store in this process's order
        self._state: WindowState | None = None  # the latest the store said
        self._booked: dict[Start, list[str]] = {}  # granted start -> its tickets, for release

    @property
    def limited(self) -> bool:
        return self._local.limited

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def adopt(self, state: WindowState) -> None:
        self._state = state

    def expected_wait(self, tokens: int) -> float:
        """From the latest state the store gave: other replicas' starts and queue, and ours."""
        if not self.limited:
            return 0.0
        state = self._state
        if state is None or self._health.down:
            return self._local.expected_wait(tokens)
        now = wall(self._clock)
        queued = [ticket.tokens for ticket in state.queue if ticket.owner != self._owner]
        queued += [waiter.ticket.tokens for waiter in self._waiters]
        rule = self.rule
        start = queue_start(
            state.starts, now, queued, tokens, rule.requests, rule.tokens, rule.seconds
        )
        return start - now

    async def acquire(self, tokens: int) -> Start | None:
        if not self.limited:
            return None
        waiter = _Waiter(Ticket(uuid.uuid4().hex, self._owner, tokens))
        self._waiters.append(waiter)
        try:
            return await self._acquire(waiter)
        finally:
            self._leave(waiter)

    def record(self, tokens: int = 0) -> None:
        if not self.limited:
            return
        self._local.record(tokens)
        rule, ticket, now = self.rule, uuid.uuid4().hex, wall(self._clock)
        self._background.spawn(lambda: self._store.record(rule, ticket, tokens, now))

    def release(self, start: Start) -> None:
        tickets = self._booked.get(start)
        if not tickets:
            return
        ticket = tickets.pop()
        self._background.spawn(lambda: self._store.release(self.rule, ticket))

    async def _acquire(self, waiter: _Waiter) -> Start | None:
        ticket = waiter.ticket
        try:
            while True:
                async with self._calls:
                    take = await self._health.run(
                        lambda: self._store.take(self.rule, ticket, wall(self._clock))
                    )
                if take is None:
                    break
                self._state = take.state
                if take.granted:
                    return self._granted(ticket)
                if self._waiters[0] is not waiter:
                    await waiter.turn.wait()
                else:
                    await self._clock.sleep(self._pause(take.state, ticket))
        except BaseException:
            await self._health.run(lambda: self._store.withdraw(self.rule, ticket.id))
            raise
        if self._waiters[0] is not waiter:  # the store is down: this process's window
            await waiter.turn.wait()
        return await self._local.acquire(ticket.tokens)

    def _granted(self, ticket: Ticket) -> Start:
        self._local.record(ticket.tokens)  # the fallback knows what this process started
        now = wall(self._clock)
        start = (now, capped_tokens(ticket.tokens, self.rule.tokens))
        for booked in [at for at in self._booked if at[0] <= now - self.rule.seconds]:
            del self._booked[booked]
        self._booked.setdefault(start, []).append(ticket.id)
        return start

    def _pause(self, state: WindowState, ticket: Ticket) -> float:
        """How long the head sleeps before asking again."""
        rule, now = self.rule, wall(self._clock)
        ids = [waiting.id for waiting in state.queue]
        if ids and ids[0] == ticket.id:  # the oldest: until the window has room
            tokens = capped_tokens(ticket.tokens, self.rule.tokens)
            start = earliest_start(
                state.starts, now, tokens, rule.requests, rule.tokens, rule.seconds
            )
            return min(max(start - now, 0.001), REFRESH_SECONDS)
        ahead = state.queue[: ids.index(ticket.id)] if ticket.id in ids else state.queue
        start = queue_start(
            state.starts,
            now,
            [waiting.tokens for waiting in ahead],
            ticket.tokens,
            rule.requests,
            rule.tokens,
            rule.seconds,
        )
        return min(max(start - now, POLL_SECONDS), REFRESH_SECONDS)

    def _leave(self, waiter: _Waiter) -> None:
        was_head = bool(self._waiters) and self._waiters[0] is waiter
        self._waiters.remove(waiter)
        if was_head and self._waiters:
            self._waiters[0].turn.set()


class SharedView:
    """What ModelLimits keeps of the store: the cached cool-downs, the writes in flight."""

    def __init__(self, store: LimitStore, clock: Clock) -> None:
        self.store = store
        self.owner = uuid.uuid4().hex  # this replica
        self.health = StoreHealth(clock)
        self.background = Background(self.health)
        self._clock = clock
        self._cooling: Mapping[str, float] = {}  # key -> wall time it ends
        self._read_at = float("-inf")  # monotonic
        self._refreshing: asyncio.Task[None] | None = None

    def stale(self, max_age: float) -> bool:
        return self._clock.monotonic() - self._read_at >= max_age

    async def read(self, rules: list[WindowRule], day: date) -> SharedState | None:
        self._read_at = self._clock.monotonic()  # one read a second, even when it fails
        now = wall(self._clock)
        state = await self.health.run(lambda: self.store.read(rules, day, now))
        if state is not None:
            self._cooling = state.cooling
        return state

    def refresh_soon(self, refresh: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """From sync code: refresh in the background when the cache is old."""
        running = self._refreshing is not None and not self._refreshing.done()
        if running or not self.stale(SHARED_CACHE_SECONDS):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to refresh for
            self._refreshing = asyncio.get_running_loop().create_task(refresh())

    async def aclose(self) -> None:
        """Wait for the refresh and the writes in flight."""
        refreshing = self._refreshing
        if refreshing is not None:
            await asyncio.gather(refreshing, return_exceptions=True)
        await self.background.drain()

    def cooling_left(self, model: str, *, free: bool) -> float:
        until = self._cooling.get(model, float("-inf"))
        if free:
            until = max(until, self._cooling.get(FREE_COOLING_KEY, float("-inf")))
        return until - wall(self._clock)

    def cool(self, key: str, seconds: float) -> None:
        now = wall(self._clock)
        self._cooling = {**self._cooling, key: max(self._cooling.get(key, now), now + seconds)}
        self.background.spawn(lambda: self.store.cool(key, now + seconds, now))

    async def count(self, day: date) -> FreeDay | None:
        return await self.health.run(lambda: self.store.count_free(day))

    def count_soon(self, day: date, adopt: Callable[[FreeDay], None]) -> None:
        async def count() -> None:
            counted = await self.store.count_free(day)
            adopt(counted)

        self.background.spawn(count)

    def publish(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None:
        def write() -> Awaitable[None]:
            return self.store.set_free(day, used=used, limit=limit, exhausted=exhausted)

        self.background.spawn(write)
