"""Typed errors. Each user-facing error names a catalogue key; adapters never see raw exceptions."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Any, Concatenate, ParamSpec, TypeVar


class ErrorKind(StrEnum):
    """Stable names for failures, stored in usage rows and used as catalogue keys."""

    AUTH = "auth"  # 401: bad API key
    NO_CREDITS = "no_credits"  # 402
    MODERATION = "moderation"  # 403 (moderation or guardrail)
    CONTEXT_TOO_LONG = "context_too_long"
    RATE_LIMITED = "rate_limited"  # 429
    DAILY_QUOTA = "daily_quota"  # 429 "free-models-per-day": the key's free requests for today
    UNAVAILABLE = "unavailable"  # 502/503/5xx, no provider
    TIMEOUT = "timeout"
    MALFORMED = "malformed"  # the response could not be understood
    MODEL_NOT_FOUND = "model_not_found"  # 404, free_variant_ended, model_deprecated
    BAD_REQUEST = "bad_request"  # 400 that is not one of the above
    QUEUE_FULL = "queue_full"  # the client-side queue wait would exceed LLM_QUEUE_MAX_SECONDS


class BotError(Exception):
    """Base of every error chatrelay raises on purpose."""


class UserFacingError(BotError):
    """A failure the user caused or met; ``key`` names the catalogue message shown to them."""

    def __init__(self, key: str, **params: str | int | float) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class InfrastructureError(BotError):
    """Something in the deployment is broken (database, configuration)."""


class LeaseLost(InfrastructureError):
    """Another process took over a message this one was handling (its lease lapsed while it
    worked, e.g. a replica starved of CPU): this one must not deliver it too."""


class ConfigError(InfrastructureError):
    """A setting is missing or invalid; the message names the variable, never its value."""


RETRYABLE_KINDS = frozenset(
    {ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT, ErrorKind.MALFORMED}
)


class LLMError(BotError):
    """A request to the model failed.

    ``retryable`` means another attempt (same or next model) may succeed; ``retry_after`` is the
    server's hint in seconds. ``message`` is the provider's text: logged, never shown verbatim.
    """

    kind: ErrorKind = ErrorKind.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.status = status
        self.retryable = self.kind in RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after = retry_after

    def message_params(self) -> dict[str, str | int | float]:
        """Fields for the user's message (``error.<kind>`` in the catalogue)."""
        return {}


class AuthError(LLMError):
    kind = ErrorKind.AUTH


class NoCreditsError(LLMError):
    kind = ErrorKind.NO_CREDITS


class ModerationError(LLMError):
    kind = ErrorKind.MODERATION

    def __init__(
        self,
        message: str,
        *,
        reasons: tuple[str, ...] = (),
        model: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, model=model, status=status)
        self.reasons = reasons


class ContextTooLongError(LLMError):
    kind = ErrorKind.CONTEXT_TOO_LONG


class RateLimitedError(LLMError):
    kind = ErrorKind.RATE_LIMITED


class DailyQuotaError(LLMError):
    """The key's free-model requests for today are used up (resets at 00:00 UTC). Another free
    model will not help, a paid one may: the chain moves on, the same model is not retried."""

    kind = ErrorKind.DAILY_QUOTA

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, model=model, status=status, retryable=True, retry_after=retry_after
        )
        self.resets_in: float | None = None  # seconds to 00:00 UTC, set by the client

    def message_params(self) -> dict[str, str | int | float]:
        minutes = math.ceil((self.resets_in or 0) / 60)
        return {"hours": minutes // 60, "minutes": minutes % 60}


class QueueFullError(LLMError):
    """The request would wait in the client-side queue longer than the bound (or until the free
    quota resets with no paid model to answer); nothing was sent. ``retry_after``: the wait."""

    kind = ErrorKind.QUEUE_FULL

    def __init__(self, message: str, *, model: str | None = None, retry_after: float) -> None:
        super().__init__(message, model=model, retryable=False, retry_after=retry_after)

    def message_params(self) -> dict[str, str | int | float]:
        return {"minutes": max(1, math.ceil((self.retry_after or 0) / 60))}


class UpstreamUnavailableError(LLMError):
    kind = ErrorKind.UNAVAILABLE


class LLMTimeoutError(LLMError):
    kind = ErrorKind.TIMEOUT


class MalformedResponseError(LLMError):
    kind = ErrorKind.MALFORMED


class ModelNotFoundError(LLMError):
    kind = ErrorKind.MODEL_NOT_FOUND


class BadRequestError(LLMError):
    kind = ErrorKind.BAD_REQUEST


S = TypeVar("S")
P = ParamSpec("P")
T = TypeVar("T")
Method = Callable[Concatenate[S, P], Coroutine[Any, Any, T]]


def translating(
    errors: tuple[type[BaseException], ...], source: str
) -> Callable[[Method[S, P, T]], Method[S, P, T]]:
    """A decorator for a store's async methods: ``errors`` (a driver's, the network's) become
    InfrastructureError naming ``source`` and the method, never its SQL, keys or values."""

    def translated(method: Method[S, P, T]) -> Method[S, P, T]:
        @functools.wraps(method)
        async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(self, *args, **kwargs)
            except errors as exc:
                raise InfrastructureError(
                    f"{source} error in {method.__name__} ({type(exc).__name__})"
                ) from exc

        return wrapper

    return translated
