"""Which model to try next after a failure, and whether to pause first.

The chain is tried in order. A failure that another model may not have (rate limit, outage,
timeout, garbled reply, a model that is gone, a ``:free`` model out of credits) moves on to the
next model; anything else (auth, moderation, bad request, context too long, a paid 402) ends the
request at once. When the whole chain has been tried and the latest failure that the same model
might get over (not "gone", not "no credits") allows it, the chain starts over after that
failure's ``retry_after`` (or an exponential default backoff), if that pause is at most
``max_retry_wait``. Models that are gone or out of credits are skipped in later rounds.
``max_attempts`` bounds the HTTP attempts in total.

Within a round, a model that can't be tried yet (``wait_for``: a cool-down after a 429, or a
free model when the free quota is used up) is passed over for the next one that can go now;
only when none can is the one free soonest taken (the client then waits for it, or refuses).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import DailyQuotaError, LLMError, ModelNotFoundError, NoCreditsError
from core.llm.errors import can_fall_back, can_retry_model

DEFAULT_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # position in the chain
    delay: float = 0.0  # seconds to pause before the attempt


class FallbackPlan:
    __slots__ = (
        "_attempts",
        "_backoff",
        "_excluded",
        "_length",
        "_max_attempts",
        "_max_wait",
        "_retryable",
        "_round",
        "_wait_for",
    )

    def __init__(
        self,
        chain_length: int,
        *,
        max_attempts: int,
        max_retry_wait: float,
        backoff: float = DEFAULT_BACKOFF_SECONDS,
        wait_for: Callable[[int], float] | None = None,
    ) -> None:
        self._length = chain_length
        self._max_attempts = max(max_attempts, 1)
        self._max_wait = max_retry_wait
        self._backoff = backoff
        self._attempts = 0
        self._round = 0
        self._excluded: set[int] = set()
        self._retryable: LLMError | None = None  # latest same-model-retryable error this round
        self._wait_for = wait_for or (lambda index: 0.0)

    @property
    def attempts(self) -> int:
        return self._attempts

    def start(self) -> Step:
        self._attempts = 1
        first = self._next_in_round(-1)
        return first if first is not None else Step(0)

    def after_failure(self, index: int, error: LLMError) -> Step | None:
        """The next step after ``chain[index]`` failed with ``error``; None = give up."""
        if not can_fall_back(error) or self._attempts >= self._max_attempts:
            return None
        if isinstance(error, ModelNotFoundError | NoCreditsError | DailyQuotaError):
            self._excluded.add(index)
        if can_retry_model(error):
            self._retryable = error
        step = self._next_in_round(index)
        if step is None:
            step = self._next_round()
        if step is not None:
            self._attempts += 1
        return step

    def _next_in_round(self, index: int) -> Step | None:
        """The first model after ``index`` that can go now, else the one that can go soonest."""
        candidates = [i for i in range(index + 1, self._length) if i not in self._excluded]
        if not candidates:
            return None
        waits = [self._wait_for(i) for i in candidates]
        soonest = min(range(len(candidates)), key=lambda n: (waits[n], n))
        if math.isinf(waits[soonest]):
            return Step(candidates[0])  # nothing can go before the quota resets
        return Step(candidates[soonest])

    def _next_round(self) -> Step | None:
        if self._retryable is None:
            return None
        delay = self._retryable.retry_after
        if delay is None:
            delay = self._backoff * 2**self._round
        first = self._next_in_round(-1)
        if delay > self._max_wait or first is None:
            return None
        self._round += 1
        self._retryable = None
        return Step(first.index, delay)
