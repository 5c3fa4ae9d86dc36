from __future__ import annotations

from core.errors import (
    AuthError,
    ModelNotFoundError,
    NoCreditsError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from core.llm.fallback import FallbackPlan, Step


def plan(length: int = 3, attempts: int = 10, wait: float = 30.0) -> FallbackPlan:
    return FallbackPlan(length, max_attempts=attempts, max_retry_wait=wait)


def test_moves_along_the_chain_then_restarts_after_retry_after() -> None:
    p = plan()
    assert p.start() == Step(0)
    assert p.after_failure(0, UpstreamUnavailableError("x")) == Step(1)
    assert p.after_failure(1, RateLimitedError("x", retry_after=4)) == Step(2)
    assert p.after_failure(2, RateLimitedError("x", retry_after=5)) == Step(0, 5)
    assert p.attempts == 4


def test_default_backoff_doubles_each_round() -> None:
    p = plan(length=1)
    p.start()
    assert p.after_failure(0, UpstreamUnavailableError("x")) == Step(0, 1.0)
    assert p.after_failure(0, UpstreamUnavailableError("x")) == Step(0, 2.0)
    assert p.after_failure(0, UpstreamUnavailableError("x")) == Step(0, 4.0)


def test_too_long_a_wait_gives_up() -> None:
    p = plan(length=1, wait=30)
    p.start()
    assert p.after_failure(0, RateLimitedError("x", retry_after=31)) is None


def test_max_attempts_counts_every_attempt() -> None:
    p = plan(length=3, attempts=2)
    p.start()
    assert p.after_failure(0, UpstreamUnavailableError("x")) == Step(1)
    assert p.after_failure(1, UpstreamUnavailableError("x")) is None


def test_non_retryable_errors_stop_at_once() -> None:
    p = plan()
    p.start()
    assert p.after_failure(0, AuthError("x")) is None
    p = plan()
    p.start()
    assert p.after_failure(0, NoCreditsError("paid", retryable=False)) is None


def test_gone_models_are_skipped_and_never_retried() -> None:
    p = plan(length=2)
    p.start()
    assert p.after_failure(0, ModelNotFoundError("x")) == Step(1)
    assert p.after_failure(1, RateLimitedError("x", retry_after=2)) == Step(1, 2)


def test_no_restart_when_only_gone_or_broke_models_failed() -> None:
    p = plan(length=2)
    p.start()
    assert p.after_failure(0, NoCreditsError("free", retryable=True)) == Step(1)
    assert p.after_failure(1, ModelNotFoundError("x")) is None
