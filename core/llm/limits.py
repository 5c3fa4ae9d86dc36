"""Client-side limits that fit each model, learned from OpenRouter.

- **Free variants** (``:free`` ids and the ``openrouter/free`` router) share one window per API
  key at OpenRouter's free limit (20 requests a minute), and count the free daily quota (50 a
  day, 1,000 once the account has bought credits; learned from ``GET /key``). When the quota is
  used up they are skipped, so a paid model of the chain answers; with none, the request fails
  at once with the time the quota resets (00:00 UTC).
- **Paid models** are not throttled by default. Optional windows: every model
  (``LLM_REQUESTS_PER_MINUTE``, ``LLM_TOKENS_PER_MINUTE``) and one model
  (``LLM_MODEL_REQUESTS_PER_MINUTE``).
- **Cool-downs**: a model that answered 429 is left alone for its ``Retry-After`` (10 s without
  one); OpenRouter's own "free-models-per-min" 429 cools every free model down. The fallback
  chain skips a cooling model while another can answer (``wait_for``).

A request waits in each window that applies to its model, first come first served. Before it
waits, ``expected_wait`` tells how long that will be; past ``queue_max_seconds`` the request is
refused instead (QueueFullError / DailyQuotaError), and nothing is sent.

**Several replicas**: given a ``LimitStore`` (core.llm.shared: PostgreSQL or Redis), the windows,
the cool-downs and the free daily quota are those of all replicas together (see
core.llm.shared_window for the windows). The cool-downs and the quota are read from the store
at most once a second (``refresh``: awaited by ``admit``, started in the background when
``wait_for`` finds them older); what this replica learns is written at once, in the background.
When the store fails, every replica keeps its own limits (a short over-limit burst is possible)
and one WARNING is logged per outage. Without a store (SQLite, one process) everything stays in
this process's memory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from core.domain import KeyInfo
from core.errors import DailyQuotaError, LLMError, QueueFullError, RateLimitedError
from core.llm.shared import FREE_COOLING_KEY, FreeDay, LimitStore
from core.llm.shared_window import SHARED_CACHE_SECONDS, SharedView, SharedWindow
from core.llm.window import SlidingWindow, Start
from core.ports import Clock

log = logging.getLogger("chatrelay.llm")

FREE_ROUTERS = frozenset({"openrouter/free"})
FREE_TIER_DAILY = 50  # accounts that never bought credits
PAID_TIER_DAILY = 1000  # accounts that bought at least 10 credits
DEFAULT_COOLDOWN_SECONDS = 10.0  # a 429 without Retry-After
QUOTA_REFRESH_SECONDS = 3600.0  # how often GET /key is read again for the free quota
# OpenRouter counts the free limit on its side of the network: a request granted exactly 60 s
# after the 20th before it may reach OpenRouter less than 60 s after that one did.
FREE_WINDOW_SECONDS = 62.0


def is_free_model(model_id: str) -> bool:
    return model_id.endswith(":free") or model_id in FREE_ROUTERS


@dataclass(frozen=True, slots=True)
class LimitSettings:
    free_requests_per_minute: int = 20
    free_requests_per_day: int | None = None  # None: learned from GET /key
    requests_per_minute: int = 0  # every model; 0 = no limit
    tokens_per_minute: int = 0  # every model; 0 = no limit
    model_requests_per_minute: Mapping[str, int] = field(default_factory=dict)
    queue_max_seconds: float = 120.0


class RequestWindow(Protocol):
    """SlidingWindow (this process) or SharedWindow (every replica)."""

    @property
    def limited(self) -> bool: ...

    def expected_wait(self, tokens: int) -> float: ...

    async def acquire(self, tokens: int) -> Start | None: ...

    def record(self, tokens: int = 0) -> None: ...

    def release(self, start: Start) -> None: ...


class QuotaPublisher(Protocol):
    """Where the quota tells what it learned, for the other replicas."""

    def publish(
        self, day: date, *, used: int | None, limit: int | None, exhausted: bool | None
    ) -> None: ...


class FreeDailyQuota:
    """The key's free-model requests today: the limit and use from ``GET /key``, counted on
    between reads; a "free-models-per-day" 429 marks it used up. Resets at 00:00 UTC.
    With replicas, ``adopt`` takes the day as the store counts it and ``publisher`` is told
    what ``learn`` and ``mark_exhausted`` found."""

    def __init__(
        self, clock: Clock, limit: int | None = None, publisher: QuotaPublisher | None = None
    ) -> None:
        self._clock = clock
        self._publisher = publisher
        self._configured = limit
        self._limit = limit
        self._used = 0
        self._day = clock.now().date()
        self._exhausted_on: date | None = None
        self._learned_at: float | None = None

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def remaining(self) -> int | None:
        self._roll()
        return None if self._limit is None else max(self._limit - self._used, 0)

    def stale(self) -> bool:
        """True when the key's figures were never read or were read over an hour ago."""
        return (
            self._learned_at is None
            or self._clock.monotonic() - self._learned_at >= QUOTA_REFRESH_SECONDS
        )

    def learn(self, key: KeyInfo) -> None:
        self._roll()
        self._learned_at = self._clock.monotonic()
        if key.free_daily_limit is not None:
            known = key.free_daily_limit
        else:
            known = FREE_TIER_DAILY if key.is_free_tier else PAID_TIER_DAILY
        self._limit = known if self._configured is None else min(self._configured, known)
        used: int | None = None
        if key.free_daily_remaining is not None:
            used = self._used = max(known - key.free_daily_remaining, 0)
            if key.free_daily_remaining > 0 and self._exhausted_on == self._day:
                self._exhausted_on = None  # OpenRouter says there is some left after all
        if self._publisher is not None:
            left = key.free_daily_remaining
            self._publisher.publish(
                self._day, used=used, limit=known, exhausted=None if not left else False
            )

    def adopt(self, shared: FreeDay) -> None:
        """Today as every replica counted it (the store is the reference)."""
        self._roll()
        if shared.day != self._day:
            return
        self._used = shared.used
        if shared.limit is not None:
            configured = self._configured
            self._limit = shared.limit if configured is None else min(configured, shared.limit)
        self._exhausted_on = self._day if shared.exhausted else None

    @property
    def day(self) -> date:
        self._roll()
        return self._day

    def count(self) -> None:
        self._roll()
        self._used += 1

    def mark_exhausted(self) -> None:
        self._roll()
        self._exhausted_on = self._day
        if self._publisher is not None:
            self._publisher.publish(self._day, used=None, limit=None, exhausted=True)

    def exhausted(self) -> bool:
        self._roll()
        if self._exhausted_on == self._day:
            return True
        return self._limit is not None and self._used >= self._limit

    def seconds_to_reset(self) -> float:
        now = self._clock.now()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return max((midnight - now).total_seconds(), 0.0)

    def _roll(self) -> None:
        today = self._clock.now().date()
        if today != self._day:
            self._day = today
            self._used = 0


class ModelLimits:
    """The limits of every model for one API key: this process's alone, or, given a
    ``LimitStore``, those of every replica (see the module doc). ``aclose`` when done."""

    def __init__(
        self, settings: LimitSettings, clock: Clock, shared: LimitStore | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._shared = SharedView(shared, clock) if shared is not None else None
        self.quota = FreeDailyQuota(clock, settings.free_requests_per_day, self._shared)
        free = SlidingWindow(
            settings.free_requests_per_minute, 0, clock, seconds=FREE_WINDOW_SECONDS
        )
        self._free = self._window("free", free)
        every = SlidingWindow(settings.requests_per_minute, settings.tokens_per_minute, clock)
        self._every = self._window("every", every)
        self._models = {
            model: self._window(f"model:{model}", SlidingWindow(count, 0, clock))
            for model, count in settings.model_requests_per_minute.items()
        }
        self._cooling: dict[str, float] = {}  # model -> monotonic time it may be tried again
        self._free_cooling = float("-inf")

    @property
    def queue_max_seconds(self) -> float:
        return self._settings.queue_max_seconds

    def wait_for(self, model: str) -> float:
        """Seconds before ``model`` may be tried at all (cool-down; ``inf``: free quota used
        up). The fallback chain prefers a model that can go now."""
        if self._shared is not None:
            self._shared.refresh_soon(self.refresh)
        if is_free_model(model) and self.quota.exhausted():
            return math.inf
        until = self._cooling.get(model, float("-inf"))
        if is_free_model(model):
            until = max(until, self._free_cooling)
        wait = until - self._clock.monotonic()
        if self._shared is not None:
            wait = max(wait, self._shared.cooling_left(model, free=is_free_model(model)))
        return max(wait, 0.0)

    def expected_wait(self, model: str, tokens: int) -> float:
        """Seconds a request for ``model`` starting now would wait in all (cool-down + queue)."""
        queued = max(window.expected_wait(tokens) for window in self._windows(model))
        return self.wait_for(model) + queued

    def check(self, model: str, tokens: int) -> float:
        """The expected wait, or the error that ends the request instead of waiting."""
        wait = self.expected_wait(model, tokens)
        if is_free_model(model) and self.quota.exhausted():
            error = DailyQuotaError("the free-model requests of today are used up", model=model)
            error.resets_in = self.quota.seconds_to_reset()
            raise error
        if wait > self._settings.queue_max_seconds:
            raise QueueFullError(
                f"the queue wait ({wait:.0f}s) exceeds LLM_QUEUE_MAX_SECONDS",
                model=model,
                retry_after=wait,
            )
        return wait

    async def refresh(self, max_age: float = SHARED_CACHE_SECONDS) -> None:
        """Read the replicas' cool-downs, quota and windows when what we have is older than
        ``max_age`` seconds (no-op without a store)."""
        shared = self._shared
        if shared is None or not shared.stale(max_age):
            return
        windows = [window for window in self._all_windows() if isinstance(window, SharedWindow)]
        state = await shared.read([window.rule for window in windows], self.quota.day)
        if state is None:
            return
        if state.free is not None:
            self.quota.adopt(state.free)
        for window in windows:
            window_state = state.windows.get(window.rule.key)
            if window_state is not None:
                window.adopt(window_state)

    async def admit(self, model: str, tokens: int) -> None:
        """Wait out the cool-down and take a place in every window of ``model``, in order.
        Cancelled, it gives back what it took."""
        await self.refresh()
        cooling = self.wait_for(model)
        if cooling > 0:
            await self._clock.sleep(cooling)
        taken: list[tuple[RequestWindow, Start]] = []
        try:
            for window in self._windows(model):
                start = await window.acquire(tokens)
                if start is not None:
                    taken.append((window, start))
        except BaseException:
            for window, start in taken:
                window.release(start)
            raise
        if is_free_model(model):
            await self._count_free()

    def note_failure(self, model: str, error: LLMError) -> None:
        """Learn from a failed attempt: 429s cool the model (or every free model) down; a
        "per-day" 429 means the free quota is used up."""
        if isinstance(error, DailyQuotaError):
            if is_free_model(model):
                self.quota.mark_exhausted()
            return
        if not isinstance(error, RateLimitedError):
            return
        seconds = error.retry_after if error.retry_after is not None else DEFAULT_COOLDOWN_SECONDS
        until = self._clock.monotonic() + seconds
        if is_free_model(model) and "free-models-per-min" in error.message:
            self._free_cooling = max(self._free_cooling, until)
            key = FREE_COOLING_KEY
        else:
            self._cooling[model] = max(self._cooling.get(model, float("-inf")), until)
            key = model
        if self._shared is not None:
            self._shared.cool(key, seconds)
        log.info("model cooling down", extra={"model": model, "seconds": round(seconds, 1)})

    def note_served(self, attempted: str, served: str) -> None:
        """OpenRouter's own fallback served a free model for a request sent to a paid one:
        it counts against the free limits all the same."""
        if is_free_model(served) and not is_free_model(attempted):
            self._free.record()
            self.quota.count()
            if self._shared is not None:
                self._shared.count_soon(self.quota.day, self.quota.adopt)

    async def flush(self) -> None:
        """Wait for the writes to the store started so far."""
        if self._shared is not None:
            await self._shared.background.drain()

    async def aclose(self) -> None:
        if self._shared is not None:
            await self._shared.aclose()

    async def _count_free(self) -> None:
        self.quota.count()
        if self._shared is not None:
            counted = await self._shared.count(self.quota.day)
            if counted is not None:
                self.quota.adopt(counted)

    def _window(self, key: str, local: SlidingWindow) -> RequestWindow:
        shared = self._shared
        if shared is None or not local.limited:
            return local
        return SharedWindow(
            local, key, shared.store, shared.health, shared.background, shared.owner, self._clock
        )

    def _all_windows(self) -> list[RequestWindow]:
        return [self._every, self._free, *self._models.values()]

    def _windows(self, model: str) -> list[RequestWindow]:
        windows = [self._every]
        if is_free_model(model):
            windows.append(self._free)
        own = self._models.get(model)
        if own is not None:
            windows.append(own)
        return windows
