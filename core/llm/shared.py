"""The limits' state that several processes (replicas of the bot) share: the port, and its
in-memory implementation (several ``ModelLimits`` in one process, as in the tests and benches).

The state is what ``core.llm.limits`` keeps for one API key, made common to every replica:

- **Windows** (``WindowRule``: at most ``requests`` starts and ``tokens`` tokens in any
  ``seconds``): the starts granted by any replica, and the tickets of the requests waiting for
  a place. The store grants a place to the oldest ticket only (first come first served across
  replicas: tickets are numbered by the store as they arrive) and only while the window has
  room. A replica refreshes its tickets each time it asks; a ticket not refreshed for
  ``TICKET_TIMEOUT_SECONDS`` belonged to a replica that died and is dropped.
- **Cool-downs**: a model (or every free model) may not be tried before a time.
- **The free daily quota**: today's (UTC) count of free-model requests, the limit learned from
  ``GET /key`` and whether a "per-day" 429 said it is used up.

Times are wall-clock seconds since the epoch (``Clock.now()``), the only clock replicas share;
their clocks are assumed to agree within a fraction of a second (NTP). Every implementation
keeps its tables bounded: starts older than their window, stale tickets, past cool-downs and
days before yesterday are deleted as it goes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from core.llm.window import Start, capped_tokens, earliest_start

TICKET_TIMEOUT_SECONDS = 30.0  # a ticket not refreshed for this long is dropped
FREE_COOLING_KEY = "*free*"  # the cool-down of every free model ("free-models-per-min")
DAYS_KEPT = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class WindowRule:
    key: str  # "free", "every", "model:<id>"
    requests: int  # 0 = no limit of that kind
    tokens: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request waiting for a place in a window: made by the replica ``owner``."""

    id: str
    owner: str
    tokens: int


@dataclass(frozen=True, slots=True)
class WindowState:
    starts: tuple[Start, ...] = ()  # (wall time, capped tokens), ascending
    queue: tuple[Ticket, ...] = ()  # the waiting tickets, oldest first


@dataclass(frozen=True, slots=True)
class Take:
    granted: bool
    state: WindowState  # after the grant, if any


@dataclass(frozen=True, slots=True)
class FreeDay:
    day: date
    used: int = 0
    limit: int | None = None  # as GET /key said (None: not read yet)
    exhausted: bool = False


@dataclass(frozen=True, slots=True)
class SharedState:
    cooling: Mapping[str, float] = field(default_factory=dict)  # key -> wall time it ends
    free: FreeDay | None = None
    windows: Mapping[str, WindowState] = field(default_factory=dict)


class LimitStore(Protocol):
    """Where the replicas' common limits live. Each call is atomic. Failures raise
    ``InfrastructureError``; callers then fall back to their own limits."""

    async def take(self, rule: WindowRule, ticket: Ticket, now: float) -> Take:
        """Add ``ticket`` to the queue (or refresh it, with every ticket of its owner); if it
        is the oldest and the window has room, book its start and remove it from the queue."""
        ...

    async def withdraw(self, rule: WindowRule, ticket: str) -> None:
        """Remove a waiting ticket (its request was cancelled)."""
        ...

    async def release(self, rule: WindowRule, ticket: str) -> None:
        """Remove the start granted to ``ticket`` (it was never used)."""
        ...

    async def record(self, rule: WindowRule, ticket: str, tokens: int, now: float) -> None:
        """Book a start that did not wait its turn."""
        ...

    async def cool(self, key: str, until: float, now: float) -> None:
        """``key`` (a model, or FREE_COOLING_KEY) may not be tried before ``until``."""
        ...

    async def count_free(self, day: date) -> FreeDay:
        """One more free-model request today; returns the day after it."""
        ...

    async def set_free(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None:
        """What GET /key or a per-day 429 said about today (None: leave as it is)."""
        ...

    async def read(self, rules: Sequence[WindowRule], day: date, now: float) -> SharedState:
        """The cool-downs in force, today's quota and the windows' starts and queues."""
        ...

    async def aclose(self) -> None: ...


def grant(rule: WindowRule, state: WindowState, ticket: str, now: float) -> Start | None:
    """The start to book for ``ticket`` now, or None: it is not the oldest ticket, or the
    window has no room. ``state`` holds the starts within the window and the live tickets."""
    if not state.queue or state.queue[0].id != ticket:
        return None
    tokens = capped_tokens(state.queue[0].tokens, rule.tokens)
    if earliest_start(state.starts, now, tokens, rule.requests, rule.tokens, rule.seconds) > now:
        return None
    return (now, tokens)


@dataclass(slots=True)
class _Waiting:
    seq: int
    ticket: Ticket
    seen: float


@dataclass(slots=True)
class _Window:
    starts: list[tuple[float, int, str]] = field(default_factory=list)  # (at, tokens, ticket)
    tickets: dict[str, _Waiting] = field(default_factory=dict)  # in arrival order

    def forget(self, rule: WindowRule, now: float, owner: str | None = None) -> None:
        self.starts = [start for start in self.starts if start[0] > now - rule.seconds]
        for key, waiting in list(self.tickets.items()):
            if waiting.ticket.owner == owner:
                waiting.seen = now
            elif waiting.seen < now - TICKET_TIMEOUT_SECONDS:
                del self.tickets[key]

    def state(self) -> WindowState:
        starts = tuple((at, tokens) for at, tokens, _ in self.starts)
        return WindowState(starts, tuple(waiting.ticket for waiting in self.tickets.values()))


class MemoryLimitStore:
    """The shared state in this process's memory: for several ``ModelLimits`` in one process
    (tests, benches). A single process needs no store at all (``ModelLimits(shared=None)``)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._cooling: dict[str, float] = {}
        self._days: dict[date, FreeDay] = {}
        self._seq = itertools.count()

    async def take(self, rule: WindowRule, ticket: Ticket, now: float) -> Take:
        window = self._windows.setdefault(rule.key, _Window())
        window.forget(rule, now, ticket.owner)
        if ticket.id not in window.tickets:
            window.tickets[ticket.id] = _Waiting(next(self._seq), ticket, now)
        start = grant(rule, window.state(), ticket.id, now)
        if start is not None:
            del window.tickets[ticket.id]
            window.starts.append((*start, ticket.id))
        return Take(start is not None, window.state())

    async def withdraw(self, rule: WindowRule, ticket: str) -> None:
        self._windows.setdefault(rule.key, _Window()).tickets.pop(ticket, None)

    async def release(self, rule: WindowRule, ticket: str) -> None:
        window = self._windows.setdefault(rule.key, _Window())
        window.starts = [start for start in window.starts if start[2] != ticket]

    async def record(self, rule: WindowRule, ticket: str, tokens: int, now: float) -> None:
        window = self._windows.setdefault(rule.key, _Window())
        window.starts.append((now, capped_tokens(tokens, rule.tokens), ticket))
        window.starts.sort()

    async def cool(self, key: str, until: float, now: float) -> None:
        self._cooling = {name: end for name, end in self._cooling.items() if end > now}
        self._cooling[key] = max(self._cooling.get(key, until), until)

    async def count_free(self, day: date) -> FreeDay:
        current = self._day(day)
        self._days[day] = replace(current, used=current.used + 1)
        return self._days[day]

    async def set_free(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None:
        current = self._day(day)
        self._days[day] = FreeDay(
            day,
            current.used if used is None else used,
            current.limit if limit is None else limit,
            current.exhausted if exhausted is None else exhausted,
        )

    async def read(self, rules: Sequence[WindowRule], day: date, now: float) -> SharedState:
        windows = {}
        for rule in rules:
            window = self._windows.setdefault(rule.key, _Window())
            window.forget(rule, now)
            windows[rule.key] = window.state()
        cooling = {key: until for key, until in self._cooling.items() if until > now}
        return SharedState(cooling, self._days.get(day, FreeDay(day)), windows)

    async def aclose(self) -> None:
        return None

    def _day(self, day: date) -> FreeDay:
        self._days = {kept: value for kept, value in self._days.items() if kept > day - DAYS_KEPT}
        return self._days.get(day, FreeDay(day))


if TYPE_CHECKING:

    def _conforms(store: MemoryLimitStore) -> LimitStore:  # mypy checks the class against the port
        return store
