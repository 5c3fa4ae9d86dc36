"""How a finished answer is retried while a platform can't take it: the bound, the give-up
counter and the jittered exponential backoff, shared by the Telegram and Discord sinks."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import InfrastructureError
from core.ports import Clock

DEFAULT_DELIVERY_RETRY_SECONDS = 3600.0
FIRST_BACKOFF = 1.0  # seconds before the first retry of a failed final message; doubles after
MAX_BACKOFF = 60.0  # ... up to this


def _no_count() -> None:
    return None


@dataclass(frozen=True, slots=True)
class DeliveryRetry:
    """How long a final answer is retried while the platform can't take it (``seconds``), what
    counts a give-up (``failed``: the Prometheus counter) and the jitter source (0 <= x < 1)."""

    seconds: float = DEFAULT_DELIVERY_RETRY_SECONDS
    failed: Callable[[], None] = _no_count
    jitter: Callable[[], float] = field(
        default_factory=lambda: random.Random().random  # noqa: S311 - jitter, not a secret
    )


class Backoff:
    """The waits between attempts at one final answer: 1, 2, 4 … 60 s, each between half and
    all of that (jitter, so many chats don't retry in step), within ``retry.seconds`` of the
    first attempt."""

    def __init__(self, clock: Clock, retry: DeliveryRetry) -> None:
        self._clock = clock
        self._retry = retry
        self._start = clock.monotonic()
        self._failures = 0

    @property
    def elapsed(self) -> float:
        return self._clock.monotonic() - self._start

    @property
    def retrying(self) -> bool:
        """A retry has been waited for since the last success."""
        return self._failures > 0

    def succeeded(self) -> None:
        self._failures = 0

    async def wait(self, retry_after: float | None = None) -> bool:
        """Sleep until the next attempt (``retry_after`` when the platform named it); False,
        without sleeping, when that would pass the bound."""
        if retry_after is not None:
            delay = retry_after * (1 + 0.1 * self._retry.jitter())
        else:
            step = min(MAX_BACKOFF, FIRST_BACKOFF * 2**self._failures)
            delay = step * (0.5 + 0.5 * self._retry.jitter())
        self._failures += 1
        remaining = self._retry.seconds - self.elapsed
        if remaining <= 0 or (retry_after is not None and retry_after > remaining):
            return False
        await self._clock.sleep(min(delay, remaining))
        return True


class Undelivered(InfrastructureError):
    """A part of the final answer that did not arrive (or may not have): ``uncertain`` when
    its request may have been carried out."""

    def __init__(self, last: Exception, *, uncertain: bool = False) -> None:
        super().__init__(str(last))
        self.last = last
        self.uncertain = uncertain


def described(error: Exception) -> str:
    """The error for a log line: its class and the start of its message (never a request)."""
    return f"{error.__class__.__name__}: {str(error)[:200]}"


def report_undelivered(
    error: Undelivered,
    backoff: Backoff,
    retry: DeliveryRetry,
    *,
    chat: int | None,
    platform: str,
    log: logging.Logger,
) -> None:
    """The one ERROR line of a part given up (no text, no token), on the platform's logger,
    and the counter."""
    retry.failed()
    extra = {
        "chat": chat,
        "tried_seconds": round(backoff.elapsed, 1),
        "error": described(error.last),
    }
    if error.uncertain:
        log.error("answer part may not have arrived; not re-sent (a copy is worse)", extra=extra)
    else:
        log.error(f"answer not delivered: {platform} stayed unreachable", extra=extra)
