"""The client against the fake OpenRouter: errors, timeouts, fallback, restarts, queueing."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import format_datetime

import pytest

from core.domain import ContentDelta, Queued, ReasoningDelta, Restarted
from core.errors import (
    AuthError,
    BadRequestError,
    ContextTooLongError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    ModelNotFoundError,
    ModerationError,
    NoCreditsError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from tests.fakes.openrouter import (
    Answer,
    Disconnect,
    ErrorReply,
    FakeOpenRouter,
    Hang,
    MidStreamError,
    RawReply,
)

from .conftest import ClientFactory
from .helpers import API_KEY, CHAIN, FakeClock, collect, completion_of, make_request

ONE = (CHAIN[0],)
PAID = "anthropic/claude-sonnet-4.5"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (ErrorReply.unauthorized(), AuthError),
        (ErrorReply.no_credits(), NoCreditsError),
        (ErrorReply.moderation(), ModerationError),
        (ErrorReply.context_length(), ContextTooLongError),
        (ErrorReply.model_not_found(CHAIN[0]), ModelNotFoundError),
        (ErrorReply.free_variant_ended(CHAIN[0]), ModelNotFoundError),
        (ErrorReply(408, "Request timed out"), LLMTimeoutError),
        (ErrorReply.rate_limited(retry_after=None), RateLimitedError),
        (ErrorReply.bad_gateway(), UpstreamUnavailableError),
        (ErrorReply.unavailable(), UpstreamUnavailableError),
        (ErrorReply(524, "A timeout occurred"), UpstreamUnavailableError),
        (ErrorReply(529, "Overloaded"), UpstreamUnavailableError),
        (ErrorReply(400, "temperature must be at most 2"), BadRequestError),
    ],
)
async def test_each_error_reply_raises_its_typed_error(
    fake: FakeOpenRouter, make_client: ClientFactory, reply: ErrorReply, kind: type[LLMError]
) -> None:
    fake.enqueue(reply)
    with pytest.raises(kind) as caught:
        await collect(make_client(max_attempts=1), make_request(models=ONE))
    assert type(caught.value) is kind
    assert caught.value.status == reply.status
    assert caught.value.model == CHAIN[0]
    assert caught.value.message == reply.message


async def test_moderation_reasons_reach_the_error(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(ErrorReply.moderation(reasons=["self-harm", "violence"]))
    with pytest.raises(ModerationError) as caught:
        await collect(make_client(), make_request(models=ONE))
    assert caught.value.reasons == ("self-harm", "violence")


async def test_wrong_api_key_is_an_auth_error_without_retries(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    from pydantic import SecretStr

    with pytest.raises(AuthError):
        await collect(make_client(api_key=SecretStr("wrong")), make_request())
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply.moderation(),
        ErrorReply.context_length(),
        ErrorReply(400, "bad parameter"),
        ErrorReply.no_credits(),
    ],
)
async def test_non_retryable_errors_are_raised_at_once(
    fake: FakeOpenRouter, make_client: ClientFactory, reply: ErrorReply
) -> None:
    fake.enqueue(reply)
    with pytest.raises(LLMError):
        await collect(make_client(), make_request(models=(PAID, *CHAIN)))
    assert len(fake.chat_requests) == 1


async def test_retry_after_is_honoured_on_the_clock(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(ErrorReply.rate_limited(retry_after=7), Answer(content="later"))
    done = completion_of(await collect(make_client(), make_request(models=ONE)))
    assert clock.sleeps == [7.0]
    assert done.content == "later"
    assert done.fallback_used
    assert done.latency_ms >= 7000  # the pause is part of the latency


async def test_retry_after_as_http_date(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=12), usegmt=True)
    fake.enqueue(ErrorReply.rate_limited(retry_after=when), Answer())
    completion_of(await collect(make_client(), make_request(models=ONE)))
    assert len(clock.sleeps) == 1
    assert 10 <= clock.sleeps[0] <= 12


async def test_retry_after_from_availability(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    availability = {"code": "capacity_exhausted", "retryable": True, "retry_after": 4}
    fake.enqueue(ErrorReply(429, "Model at capacity", availability=availability), Answer())
    completion_of(await collect(make_client(), make_request(models=ONE)))
    assert clock.sleeps == [4]


async def test_too_long_a_retry_after_raises_with_the_hint(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(ErrorReply.rate_limited(retry_after=120))
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_client(max_retry_wait=30), make_request(models=ONE))
    assert caught.value.retry_after == 120
    assert clock.sleeps == []


async def test_client_side_fallback_to_the_next_model(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(ErrorReply.bad_gateway())
    events = await collect(make_client(), make_request())
    done = completion_of(events)
    assert not any(isinstance(e, Restarted) for e in events)  # nothing was shown: silent
    assert done.model_served == CHAIN[1]
    assert done.model_requested == CHAIN[0]
    assert done.fallback_used
    bodies = [r.body for r in fake.chat_requests]
    assert [b["model"] for b in bodies] == [CHAIN[0], CHAIN[1]]
    assert bodies[1]["models"] == list(CHAIN[1:])
    assert clock.sleeps == []


async def test_model_not_found_skips_to_the_next_model(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(ErrorReply.free_variant_ended(CHAIN[0]))
    done = completion_of(await collect(make_client(), make_request()))
    assert done.model_served == CHAIN[1]


async def test_402_on_a_free_model_moves_on_but_never_retries_it(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(ErrorReply.no_credits())
    done = completion_of(await collect(make_client(), make_request(models=CHAIN[:2])))
    assert done.model_served == CHAIN[1]
    fake.enqueue(ErrorReply.no_credits(), Answer())
    with pytest.raises(NoCreditsError):
        await collect(make_client(), make_request(models=ONE))
    assert clock.sleeps == []


async def test_server_side_models_fallback(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.set_model_behaviour(CHAIN[0], ErrorReply.rate_limited())
    done = completion_of(await collect(make_client(), make_request()))
    assert len(fake.chat_requests) == 1
    assert fake.chat_requests[0].body["models"] == list(CHAIN)
    assert done.model_served == CHAIN[1]
    assert done.fallback_used


async def test_all_models_failing_raises_the_last_error(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(
        ErrorReply.bad_gateway(),
        ErrorReply.unavailable(),
        ErrorReply.rate_limited(retry_after=300),
    )
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_client(), make_request())
    assert caught.value.model == CHAIN[2]
    assert len(fake.chat_requests) == 3
    assert clock.sleeps == []


async def test_attempts_are_bounded_and_rounds_back_off(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    fake.enqueue(*[ErrorReply.bad_gateway()] * 10)
    with pytest.raises(UpstreamUnavailableError):
        await collect(make_client(max_attempts=5), make_request(models=CHAIN[:2]))
    assert len(fake.chat_requests) == 5
    assert clock.sleeps == [1.0, 2.0]  # after each full round of the chain


async def test_mid_stream_error_after_content_restarts_with_the_next_model(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    partial = Answer(content=["Half ", "an ", "answer"], reasoning="")
    fake.enqueue(
        MidStreamError(after_chunks=2, code="server_error", answer=partial),
        Answer(content="Whole answer.", reasoning=""),
    )
    events = await collect(make_client(), make_request())
    restart = next(e for e in events if isinstance(e, Restarted))
    assert restart == Restarted(failed_model=CHAIN[0], model=CHAIN[1], error_kind="unavailable")
    position = events.index(restart)
    assert [e for e in events[:position] if isinstance(e, ContentDelta)] == [
        ContentDelta("Half "),
        ContentDelta("an "),
    ]
    after = "".join(e.text for e in events[position:] if isinstance(e, ContentDelta))
    assert after == "Whole answer."
    done = completion_of(events)
    assert done.content == "Whole answer."
    assert done.model_served == CHAIN[1]
    assert done.fallback_used


async def test_mid_stream_error_before_any_delta_is_silent(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(MidStreamError(after_chunks=0, code=429, error_type="rate_limit_exceeded"))
    events = await collect(make_client(), make_request())
    assert not any(isinstance(e, Restarted) for e in events)
    assert completion_of(events).model_served == CHAIN[1]


async def test_disconnect_mid_stream_restarts(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Disconnect(after_chunks=2))
    events = await collect(make_client(), make_request())
    restart = next(e for e in events if isinstance(e, Restarted))
    assert restart.error_kind == "unavailable"
    assert completion_of(events).content == "Echo: hello there"


async def test_non_streaming_error_choice_is_a_failure(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(MidStreamError(after_chunks=1, code=502))
    events = await collect(make_client(stream=False), make_request())
    assert not any(isinstance(e, Restarted) for e in events)
    assert completion_of(events).model_served == CHAIN[1]
    assert len(fake.chat_requests) == 2


async def test_hang_before_headers_times_out_and_falls_back(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Hang(seconds=30))
    done = completion_of(
        await collect(make_client(first_token_timeout=0.2), make_request(models=CHAIN[:2]))
    )
    assert done.model_served == CHAIN[1]


async def test_hang_with_one_model_raises_timeout(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Hang(seconds=30))
    with pytest.raises(LLMTimeoutError, match="first token"):
        await collect(make_client(first_token_timeout=0.2, max_attempts=1), make_request())


async def test_keepalives_do_not_count_as_a_first_token(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Hang(seconds=30, keepalive_every=0.02))
    client = make_client(first_token_timeout=0.3, idle_timeout=0.1, max_attempts=1)
    with pytest.raises(LLMTimeoutError, match="first token"):
        await collect(client, make_request())


async def test_idle_timeout_after_content_restarts(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Hang(seconds=30, after_chunks=2))
    events = await collect(make_client(idle_timeout=0.2), make_request())
    restart = next(e for e in events if isinstance(e, Restarted))
    assert restart.error_kind == "timeout"
    assert any(isinstance(e, ReasoningDelta) for e in events[: events.index(restart)])
    assert completion_of(events).model_served == CHAIN[1]


async def test_total_timeout_stops_the_fallback(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Hang(seconds=30))
    with pytest.raises(LLMTimeoutError, match="total"):
        await collect(make_client(total_timeout=0.2), make_request())
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("data: {not json\n\n", 200),
        ('data: {"id":"gen-1","choices":[{"index":0,"delta":{"content":"cut"}}]}\n\n', 200),
        ("data: [1, 2]\n\ndata: [DONE]\n\n", 200),
    ],
)
async def test_malformed_streams(
    fake: FakeOpenRouter, make_client: ClientFactory, body: str, status: int
) -> None:
    fake.enqueue(RawReply(body, status=status))
    with pytest.raises(MalformedResponseError):
        await collect(make_client(max_attempts=1), make_request())


async def test_malformed_non_streamed_body(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(RawReply('{"choices": []}', content_type="application/json"))
    with pytest.raises(MalformedResponseError):
        await collect(make_client(stream=False, max_attempts=1), make_request())


async def test_html_error_page_is_unavailability(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(RawReply("<html>Bad gateway</html>", status=502, content_type="text/html"))
    with pytest.raises(UpstreamUnavailableError):
        await collect(make_client(max_attempts=1), make_request())


async def test_limiter_queues_instead_of_failing(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(rpm=1)
    first = await collect(client, make_request("one"))
    second = await collect(client, make_request("two"))
    assert not any(isinstance(e, Queued) for e in first)
    assert second[0] == Queued(60.0)
    assert clock.sleeps == [60.0]
    assert completion_of(second).content == "Echo: two"
    assert completion_of(second).latency_ms < 60_000  # queueing is not latency


async def test_every_attempt_takes_a_limiter_slot(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(rpm=2)
    fake.enqueue(ErrorReply.bad_gateway())
    completion_of(await collect(client, make_request()))
    events = await collect(client, make_request())
    assert isinstance(events[0], Queued)
    assert events[0].wait_seconds == pytest.approx(60.0)


async def test_token_limit_uses_the_estimate(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client(tpm=1000)
    await collect(client, make_request(estimated_prompt_tokens=700, max_tokens=200))
    events = await collect(client, make_request(estimated_prompt_tokens=100, max_tokens=100))
    assert events[0] == Queued(60.0)


async def test_logs_carry_fields_but_never_the_key(
    fake: FakeOpenRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chatrelay.llm")
    fake.enqueue(ErrorReply.bad_gateway())
    await collect(make_client(), make_request("a secret prompt"))
    records = [r for r in caplog.records if r.name == "chatrelay.llm"]
    failed = next(r for r in records if r.levelno == logging.WARNING)
    answered = next(r for r in records if r.levelno == logging.INFO)
    assert (failed.model, failed.status, failed.error_kind) == (CHAIN[0], 502, "unavailable")
    assert (answered.model_served, answered.fallback) == (CHAIN[1], True)
    for record in records:
        text = repr(record.__dict__)
        assert API_KEY not in text
        assert "a secret prompt" not in text
