"""Turn OpenRouter failures (HTTP status, error body, headers, error chunks) into typed errors.

Precedence: ``error.availability.code`` (model availability), then ``metadata.error_type`` (stable
names), then the HTTP status (or a numeric ``code``). A 402 is retryable -- on the next model only
-- when the failing model is a ``:free`` variant. ``retry_after`` comes from the ``Retry-After``
header (seconds or HTTP date), else ``error.availability.retry_after``, else
``X-RateLimit-Reset`` (epoch milliseconds) on a 429.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from core.domain import JsonObject
from core.errors import (
    AuthError,
    BadRequestError,
    ContextTooLongError,
    DailyQuotaError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    ModelNotFoundError,
    ModerationError,
    NoCreditsError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from core.llm.jsonvalues import as_object, get_list, get_object, get_str, load_json

NOT_FOUND_CODES = frozenset(
    {"model_not_found", "no_endpoints", "model_deprecated", "free_variant_ended"}
)
_AVAILABILITY_KINDS: dict[str, type[LLMError]] = {
    "capacity_exhausted": RateLimitedError,
    "temporarily_unavailable": UpstreamUnavailableError,
}
_ERROR_TYPES: dict[str, type[LLMError]] = {
    "context_length_exceeded": ContextTooLongError,
    "rate_limit_exceeded": RateLimitedError,
    "provider_overloaded": UpstreamUnavailableError,
    "provider_unavailable": UpstreamUnavailableError,
    "server": UpstreamUnavailableError,
    "server_error": UpstreamUnavailableError,
    "timeout": LLMTimeoutError,
    "payment_required": NoCreditsError,
    "content_policy_violation": ModerationError,
}
_STATUSES: dict[int, type[LLMError]] = {
    400: BadRequestError,
    401: AuthError,
    402: NoCreditsError,
    403: ModerationError,
    404: ModelNotFoundError,
    408: LLMTimeoutError,
    413: ContextTooLongError,
    422: BadRequestError,
    429: RateLimitedError,
}
_DAILY_QUOTA_WORDS = re.compile(r"per[- ]day", re.I)
_CONTEXT_WORDS = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long", re.I
)


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, model: str | None, now: datetime
) -> LLMError:
    """The typed error for a non-2xx response. A body that is not JSON is classified by status."""
    try:
        error = get_object(as_object(load_json(body)), "error")
    except ValueError:
        error = None
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after is None and status == 429:
        retry_after = _rate_limit_reset(headers.get("x-ratelimit-reset"), now)
    if error is None:
        text = body[:200].decode("utf-8", "replace").strip()
        return _build(_by_status(status), f"HTTP {status}: {text}", model, status, retry_after)
    return error_from_payload(error, model=model, status=status, retry_after=retry_after)


def error_from_payload(
    error: JsonObject,
    *,
    model: str | None,
    status: int | None = None,
    retry_after: float | None = None,
) -> LLMError:
    """The typed error for an ``error`` object (a response body, an error chunk, a choice)."""
    code = error.get("code")
    if status is None and isinstance(code, int) and not isinstance(code, bool):
        status = code
    metadata = get_object(error, "metadata")
    availability = get_object(error, "availability")
    error_type = get_str(metadata, "error_type") or (code if isinstance(code, str) else None)
    message = get_str(error, "message") or f"error {code if code is not None else status}"
    if retry_after is None:
        retry_after = _number(availability.get("retry_after")) if availability else None
    kind = _by_availability(availability) or _ERROR_TYPES.get(error_type or "")
    if kind is None:
        kind = _by_status(status) if status is not None else UpstreamUnavailableError
    if kind is BadRequestError and _CONTEXT_WORDS.search(message):
        kind = ContextTooLongError
    if kind is RateLimitedError and _DAILY_QUOTA_WORDS.search(message):
        return DailyQuotaError(message, model=model, status=status, retry_after=retry_after)
    if kind is ModerationError:
        reasons = get_list(metadata, "reasons") or []
        texts = tuple(reason for reason in reasons if isinstance(reason, str))
        return ModerationError(message, reasons=texts, model=model, status=status)
    return _build(kind, message, model, status, retry_after)


def error_from_transport(exc: httpx.HTTPError, *, model: str | None) -> LLMError:
    """A connection-level failure: timeouts become LLMTimeoutError, the rest unavailability."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return LLMTimeoutError(f"{name}: {exc}", model=model)
    return UpstreamUnavailableError(f"{name}: {exc}", model=model)


def malformed(message: str, *, model: str | None) -> MalformedResponseError:
    return MalformedResponseError(message, model=model)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: a number of seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    seconds = _number(value.strip())
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def can_fall_back(error: LLMError) -> bool:
    """Whether trying the next model of the chain may help."""
    return error.retryable or isinstance(error, ModelNotFoundError)


def can_retry_model(error: LLMError) -> bool:
    """Whether the same model may answer later (after a pause)."""
    return error.retryable and not isinstance(
        error, ModelNotFoundError | NoCreditsError | DailyQuotaError
    )


def _build(
    kind: type[LLMError],
    message: str,
    model: str | None,
    status: int | None,
    retry_after: float | None,
) -> LLMError:
    if kind is ModerationError:
        return ModerationError(message, model=model, status=status)
    if kind is NoCreditsError:
        free = model is not None and model.endswith(":free")
        return NoCreditsError(message, model=model, status=status, retryable=free)
    return kind(message, model=model, status=status, retry_after=retry_after)


def _by_status(status: int) -> type[LLMError]:
    known = _STATUSES.get(status)
    if known is not None:
        return known
    if status >= 500:
        return UpstreamUnavailableError
    return BadRequestError


def _by_availability(availability: JsonObject | None) -> type[LLMError] | None:
    code = get_str(availability, "code")
    if code is None:
        return None
    if code in NOT_FOUND_CODES:
        return ModelNotFoundError
    if code in _AVAILABILITY_KINDS:
        return _AVAILABILITY_KINDS[code]
    return UpstreamUnavailableError if availability and availability.get("retryable") else None


def _rate_limit_reset(value: str | None, now: datetime) -> float | None:
    millis = _number(value) if value else None
    if millis is None:
        return None
    return max(millis / 1000.0 - now.timestamp(), 0.0)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


__all__ = [
    "NOT_FOUND_CODES",
    "can_fall_back",
    "can_retry_model",
    "error_from_payload",
    "error_from_response",
    "error_from_transport",
    "malformed",
    "parse_retry_after",
]
