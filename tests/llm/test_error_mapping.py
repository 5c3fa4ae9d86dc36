from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from core.domain import JsonObject
from core.errors import (
    AuthError,
    BadRequestError,
    ContextTooLongError,
    DailyQuotaError,
    ErrorKind,
    LLMError,
    LLMTimeoutError,
    ModelNotFoundError,
    ModerationError,
    NoCreditsError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from core.llm.errors import (
    can_fall_back,
    can_retry_model,
    error_from_payload,
    error_from_response,
    error_from_transport,
    parse_retry_after,
)

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
MODEL = "vendor/model"


def response_error(
    status: int, error: JsonObject | None, headers: dict[str, str] | None = None, model: str = MODEL
) -> LLMError:
    body = json.dumps({"error": error}).encode() if error is not None else b"<html>oops</html>"
    return error_from_response(status, body, headers or {}, model=model, now=NOW)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthError),
        (402, NoCreditsError),
        (403, ModerationError),
        (404, ModelNotFoundError),
        (408, LLMTimeoutError),
        (413, ContextTooLongError),
        (422, BadRequestError),
        (429, RateLimitedError),
        (500, UpstreamUnavailableError),
        (502, UpstreamUnavailableError),
        (503, UpstreamUnavailableError),
        (504, UpstreamUnavailableError),
        (524, UpstreamUnavailableError),
        (529, UpstreamUnavailableError),
        (418, BadRequestError),
    ],
)
def test_status_maps_to_its_typed_error(status: int, kind: type[LLMError]) -> None:
    error = response_error(status, {"code": status, "message": "provider text"})
    assert type(error) is kind
    assert error.status == status
    assert error.model == MODEL
    assert error.message == "provider text"


def test_non_json_error_body_is_classified_by_status() -> None:
    error = response_error(502, None)
    assert isinstance(error, UpstreamUnavailableError)
    assert "oops" in error.message


def test_context_length_from_error_type_or_message() -> None:
    typed = response_error(
        400, {"code": 400, "message": "x", "metadata": {"error_type": "context_length_exceeded"}}
    )
    worded = response_error(
        400, {"code": 400, "message": "This endpoint's maximum context length is 8192 tokens."}
    )
    assert isinstance(typed, ContextTooLongError)
    assert isinstance(worded, ContextTooLongError)
    assert not typed.retryable


def test_the_free_daily_quota_is_its_own_error() -> None:
    message = (
        "Rate limit exceeded: free-models-per-day. "
        "Add 10 credits to unlock 1000 free model requests per day"
    )
    error = response_error(429, {"code": 429, "message": message})
    assert isinstance(error, DailyQuotaError)
    assert error.kind is ErrorKind.DAILY_QUOTA
    assert can_fall_back(error)  # a paid model further down the chain may still answer
    assert not can_retry_model(error)  # waiting a few seconds does not bring it back
    per_minute = response_error(
        429, {"code": 429, "message": "Rate limit exceeded: free-models-per-min."}
    )
    assert type(per_minute) is RateLimitedError


def test_402_is_retryable_only_on_free_models() -> None:
    error = {"code": 402, "message": "Insufficient credits"}
    assert response_error(402, error, model="a/b:free").retryable
    assert not response_error(402, error, model="a/b").retryable


def test_moderation_keeps_reasons() -> None:
    error = response_error(
        403,
        {
            "code": 403,
            "message": "Input was flagged",
            "metadata": {"reasons": ["violence", "hate"], "flagged_input": "…"},
        },
    )
    assert isinstance(error, ModerationError)
    assert error.reasons == ("violence", "hate")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "model_not_found", ModelNotFoundError),
        (404, "no_endpoints", ModelNotFoundError),
        (404, "model_deprecated", ModelNotFoundError),
        (404, "free_variant_ended", ModelNotFoundError),
        (429, "capacity_exhausted", RateLimitedError),
        (503, "temporarily_unavailable", UpstreamUnavailableError),
    ],
)
def test_availability_codes(status: int, code: str, kind: type[LLMError]) -> None:
    availability: JsonObject = {"code": code, "retryable": code in {"capacity_exhausted"}}
    error = response_error(status, {"code": status, "message": "m", "availability": availability})
    assert type(error) is kind


def test_retry_after_header_seconds_and_date() -> None:
    in_seconds = response_error(429, {"code": 429, "message": "m"}, {"retry-after": "7"})
    date = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    as_date = response_error(429, {"code": 429, "message": "m"}, {"retry-after": date})
    assert in_seconds.retry_after == 7
    assert as_date.retry_after == pytest.approx(42)


def test_retry_after_from_availability_then_rate_limit_reset() -> None:
    availability: JsonObject = {"code": "capacity_exhausted", "retryable": True, "retry_after": 12}
    hinted = response_error(429, {"code": 429, "message": "m", "availability": availability})
    reset = str(int((NOW.timestamp() + 30) * 1000))
    platform = response_error(429, {"code": 429, "message": "m"}, {"x-ratelimit-reset": reset})
    assert hinted.retry_after == 12
    assert platform.retry_after == pytest.approx(30)


def test_header_wins_over_availability_hint() -> None:
    availability: JsonObject = {"code": "capacity_exhausted", "retry_after": 12}
    error = response_error(
        429, {"code": 429, "message": "m", "availability": availability}, {"retry-after": "3"}
    )
    assert error.retry_after == 3


@pytest.mark.parametrize("value", ["", "soon", "nan", "Mon, 99 Foo 2026"])
def test_unusable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


def test_past_retry_after_date_is_zero() -> None:
    past = format_datetime(NOW - timedelta(seconds=5), usegmt=True)
    assert parse_retry_after(past, NOW) == 0


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (502, UpstreamUnavailableError),
        ("server_error", UpstreamUnavailableError),
        (429, RateLimitedError),
        ("rate_limit_exceeded", RateLimitedError),
        ("something_new", UpstreamUnavailableError),
    ],
)
def test_stream_error_chunk_code_may_be_int_or_string(code: int | str, kind: type) -> None:
    error = error_from_payload({"code": code, "message": "Provider disconnected"}, model=MODEL)
    assert type(error) is kind
    assert error.retryable
    assert error.status == (code if isinstance(code, int) else None)


def test_error_type_wins_over_status() -> None:
    payload: JsonObject = {"code": 502, "message": "m", "metadata": {"error_type": "timeout"}}
    assert isinstance(error_from_payload(payload, model=MODEL), LLMTimeoutError)


def test_transport_errors() -> None:
    request = httpx.Request("POST", "http://x")
    timeout = error_from_transport(httpx.ConnectTimeout("slow", request=request), model=MODEL)
    refused = error_from_transport(httpx.ConnectError("refused", request=request), model=MODEL)
    dropped = error_from_transport(httpx.RemoteProtocolError("peer closed"), model=MODEL)
    assert isinstance(timeout, LLMTimeoutError)
    assert isinstance(refused, UpstreamUnavailableError)
    assert isinstance(dropped, UpstreamUnavailableError)


def test_which_errors_move_on_and_which_retry_the_same_model() -> None:
    gone = ModelNotFoundError("gone")
    free_credits = NoCreditsError("none", retryable=True)
    busy = RateLimitedError("busy")
    banned = AuthError("bad key")
    assert can_fall_back(gone)
    assert not can_retry_model(gone)
    assert can_fall_back(free_credits)
    assert not can_retry_model(free_credits)
    assert can_fall_back(busy)
    assert can_retry_model(busy)
    assert not can_fall_back(banned)
    assert busy.kind is ErrorKind.RATE_LIMITED
