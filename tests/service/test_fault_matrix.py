"""The fault matrix: every way OpenRouter fails, on the first model only and on every model.

On the first model, another model of the chain answers (with a notice when the broken stream
had already shown text); on every model, the user gets the message for that kind of fault. In
every cell the time stays bounded, the usage row names the fault (``/stats``), the user's
message stays in the conversation and the next message is answered.

The matrix runs with the settings a deployment gets (the free default chain, the default limits,
attempts and retry waits), except for the timeouts: they are shortened, as in the other service
tests. The client's deadlines run on event-loop time, not on the injected clock, so a timeout of
0.5 s really takes 0.5 s while the ScaledClock counts 50 s for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime

import pytest

from core.domain import Author, ChatRef
from core.llm.limits import DEFAULT_COOLDOWN_SECONDS
from core.settings import DEFAULT_MODELS
from tests.fakes.openrouter import (
    Answer,
    Disconnect,
    ErrorReply,
    FakeOpenRouter,
    Hang,
    MidStreamError,
    RawReply,
    Scenario,
)
from tests.service.conftest import API_KEY, Conversation, CoreFactory
from tests.support.clock import ScaledClock
from tests.support.sinks import RecordingSink

SPEED = 100  # the service tests' ScaledClock
FIRST_TOKEN_TIMEOUT = 0.5  # real seconds (default 120)
IDLE_TIMEOUT = 0.5  # real seconds (default 60)
TOTAL_TIMEOUT = 10.0  # real seconds (default 600)
BACKOFF = 1.0  # the pause before the chain starts over, without Retry-After (clock seconds)
RETRY_AFTER = 5  # what the 429s with a Retry-After ask for (clock seconds)
PAID_CHAIN = ("openai/gpt-5", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro")
FIRST, SECOND = DEFAULT_MODELS[0], DEFAULT_MODELS[1]
QUEUED = re.compile(r"queued and will be answered in about \d+ (s|min)")
HANGS = 60.0  # a hang lasts longer than any test
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
_CUT_CHUNK = {
    "id": "gen-cut",
    "model": FIRST,
    "choices": [{"index": 0, "delta": {"content": "The beginning of an answer"}}],
}
TRUNCATED_STREAM = f"data: {json.dumps(_CUT_CHUNK)}\n\n"  # then the body ends


@dataclass(frozen=True)
class Fault:
    name: str
    scenario: Callable[[], Scenario]
    kind: str  # the usage row's error kind when every model fails
    english: str  # what the user reads then
    retry_wait: float = BACKOFF  # the most the client pauses (clock seconds) before starting over
    shows_text: bool = False  # the stream breaks after the user saw text: a restart notice
    server_fallback: bool = False  # OpenRouter's own `models` fallback serves the second model


FAULTS = [
    Fault(
        "429 with Retry-After",
        lambda: ErrorReply.rate_limited(retry_after=RETRY_AFTER),
        "rate_limited",
        "The model is rate limited right now",
        retry_wait=RETRY_AFTER,
        server_fallback=True,
    ),
    Fault(
        "429 without Retry-After",
        lambda: ErrorReply.rate_limited(retry_after=None),
        "rate_limited",
        "The model is rate limited right now",
        retry_wait=DEFAULT_COOLDOWN_SECONDS,  # the cool-down of a 429 without Retry-After
        server_fallback=True,
    ),
    Fault(
        "402",
        ErrorReply.no_credits,
        "no_credits",
        "The OpenRouter account is out of credits",
        server_fallback=True,
    ),
    Fault(
        "403 moderation",
        lambda: ErrorReply.moderation(reasons=("violence",)),
        "moderation",
        "refused this message (content policy: violence). Please rephrase.",
        server_fallback=True,
    ),
    Fault(
        "502",
        ErrorReply.bad_gateway,
        "unavailable",
        "The model and its fallbacks are unavailable right now",
        server_fallback=True,
    ),
    Fault(
        "503",
        ErrorReply.unavailable,
        "unavailable",
        "The model and its fallbacks are unavailable right now",
        server_fallback=True,
    ),
    Fault(
        "hang before the headers",
        lambda: Hang(seconds=HANGS),
        "timeout",
        "The model took too long to answer",
    ),
    Fault(
        "hang mid-stream",
        lambda: Hang(seconds=HANGS, after_chunks=4),  # 3 reasoning chunks, 1 of the answer
        "timeout",
        "The model took too long to answer",
        shows_text=True,
    ),
    Fault(
        "connection reset before the headers",
        lambda: Disconnect(before_headers=True),
        "unavailable",
        "The model and its fallbacks are unavailable right now",
    ),
    Fault(
        "connection dropped after the headers",
        lambda: Disconnect(after_chunks=0),
        "unavailable",
        "The model and its fallbacks are unavailable right now",
    ),
    Fault(
        "mid-stream error chunk",
        lambda: MidStreamError(after_chunks=4, code=502, message="Provider disconnected"),
        "unavailable",
        "The model and its fallbacks are unavailable right now",
        shows_text=True,
    ),
    Fault(
        "hang with keep-alives only",
        lambda: Hang(seconds=HANGS, keepalive_every=0.05),  # ": OPENROUTER PROCESSING"
        "timeout",
        "The model took too long to answer",
    ),
    Fault(
        "mid-stream error chunk with a string code",
        lambda: MidStreamError(after_chunks=4, code="server_error", error_type=None),
        "unavailable",
        "The model and its fallbacks are unavailable right now",
        shows_text=True,
    ),
    Fault(
        "502 with an HTML body",  # from the edge in front of OpenRouter, not OpenRouter itself
        lambda: RawReply(HTML_502, status=502, content_type="text/html"),
        "unavailable",
        "The model and its fallbacks are unavailable right now",
    ),
    Fault(
        "200 with an HTML body",
        lambda: RawReply("<html><body>Please sign in</body></html>", content_type="text/html"),
        "malformed",
        "The model sent an answer I couldn't read",
    ),
    Fault(
        "stream cut without finish or [DONE]",
        lambda: RawReply(TRUNCATED_STREAM),
        "malformed",
        "The model sent an answer I couldn't read",
        shows_text=True,
    ),
    Fault(
        "malformed JSON",
        lambda: RawReply('data: {"id":"gen-1","choices":[{"delta":{"content":"Hi\n\n'),
        "malformed",
        "The model sent an answer I couldn't read",
    ),
    Fault(
        "empty answer",
        lambda: Answer(content="", reasoning=""),
        "empty_answer",
        "The model returned an empty answer",
    ),
]


@pytest.fixture
async def talk(core_for: CoreFactory) -> AsyncIterator[Conversation]:
    async with core_for(
        openrouter_first_token_timeout=FIRST_TOKEN_TIMEOUT,
        openrouter_idle_timeout=IDLE_TIMEOUT,
        openrouter_total_timeout=TOTAL_TIMEOUT,
    ) as core:
        yield Conversation(core, ChatRef("test", "faults"), Author("u1", "Ann", "en"))


def bound(fault: Fault) -> float:
    """The longest a failing message may take, in clock seconds: the total timeout (real
    seconds, see the module doc) plus the pauses of the retry round."""
    return TOTAL_TIMEOUT * SPEED + fault.retry_wait


async def send_timed(
    talk: Conversation, clock: ScaledClock, text: str
) -> tuple[RecordingSink, float]:
    started = clock.monotonic()
    sink = await talk.send(text)
    return sink, clock.monotonic() - started


def answers(sink: RecordingSink) -> list[str]:
    return [text for text in sink.texts if not QUEUED.search(text)]


async def assert_kept_and_next_answered(
    talk: Conversation, fake: FakeOpenRouter, *before: str
) -> None:
    """The turns ``before`` (the user's message, and the answer if any) are in the next
    request, and it is answered."""
    fake.reset()
    sink = await talk.send("are you back?")
    assert answers(sink) == ["Echo: are you back?"]
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents[-len(before) - 1 :] == [*before, "are you back?"]


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
async def test_a_fault_on_the_first_model_is_answered_by_the_next(
    talk: Conversation, fake: FakeOpenRouter, clock: ScaledClock, fault: Fault
) -> None:
    fake.set_model_behaviour(FIRST, fault.scenario())
    sink, elapsed = await send_timed(talk, clock, "hello?")
    print(f"\n{fault.name} on the first model: {elapsed:.1f} clock s")
    assert elapsed < bound(fault)
    assert answers(sink) == ["Echo: hello?"]
    # OpenRouter's fallback answers within the one request; otherwise the bot asks the next model
    assert len(fake.chat_requests) == (1 if fault.server_fallback else 2)
    if fault.shows_text:
        assert sink.last.notice is not None
        assert f"{FIRST} stopped mid-answer; {SECOND} answered from the start" in sink.last.notice
    else:
        assert sink.last.notice is None
    stats = await talk.say("/stats")
    assert f"Model: `{SECOND}` (fallback from `{FIRST}`)" in stats
    await assert_kept_and_next_answered(talk, fake, "hello?", "Echo: hello?")


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
async def test_a_fault_on_every_model_is_explained(
    talk: Conversation, fake: FakeOpenRouter, clock: ScaledClock, fault: Fault
) -> None:
    for model in DEFAULT_MODELS:
        fake.set_model_behaviour(model, fault.scenario())
    sink, elapsed = await send_timed(talk, clock, "hello?")
    print(f"\n{fault.name} on every model: {elapsed:.1f} clock s")
    assert elapsed < bound(fault)
    assert fault.english in sink.last.text
    assert sink.last.is_error
    assert "Your message is saved in this conversation" in sink.last.text
    assert f"failed: {fault.kind} (model `{FIRST}`)" in await talk.say("/stats")
    await assert_kept_and_next_answered(talk, fake, "hello?")


@pytest.mark.parametrize(
    ("fault", "chinese"),
    [
        (Hang(seconds=HANGS), "模型响应超时。请重试。"),
        (ErrorReply.bad_gateway(), "模型及其备用模型暂时不可用。请稍后再试。"),
    ],
    ids=["timeout", "unavailable"],
)
async def test_the_message_is_in_the_users_language(
    talk: Conversation, fake: FakeOpenRouter, fault: Scenario, chinese: str
) -> None:
    await talk.say("/lang zh")
    for model in DEFAULT_MODELS:
        fake.set_model_behaviour(model, fault)
    sink = await talk.send("你好？")
    assert chinese in sink.last.text
    assert "你的消息已保存在本对话中" in sink.last.text
    await assert_kept_and_next_answered(talk, fake, "你好？")


async def test_openrouter_unreachable_is_explained_and_the_bot_recovers(
    talk: Conversation, fake: FakeOpenRouter, clock: ScaledClock
) -> None:
    """Connection refused: OpenRouter is one address, so it is refused for every model."""
    port = int(fake.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    await fake.stop()
    sink, elapsed = await send_timed(talk, clock, "hello?")
    print(f"\nconnection refused on every model: {elapsed:.1f} clock s")
    assert elapsed < TOTAL_TIMEOUT * SPEED + BACKOFF
    assert "The model and its fallbacks are unavailable right now" in sink.last.text
    assert "Your message is saved in this conversation" in sink.last.text
    assert f"failed: unavailable (model `{FIRST}`)" in await talk.say("/stats")
    async with FakeOpenRouter(api_key=API_KEY, port=port, clock=clock.monotonic) as back:
        await assert_kept_and_next_answered(talk, back, "hello?")


@pytest.mark.parametrize(
    "retry_after",
    [lambda clock: "30", lambda clock: format_datetime(clock.now() + timedelta(seconds=30))],
    ids=["seconds", "HTTP date"],
)
async def test_a_rate_limited_model_is_skipped_until_its_retry_after_passes(
    core_for: CoreFactory,
    fake: FakeOpenRouter,
    clock: ScaledClock,
    retry_after: Callable[[ScaledClock], str],
) -> None:
    """On a paid chain (no free-model limits): the model that answered 429 is not asked
    again by the next message, which the next model answers at once; after its Retry-After
    it answers again."""
    async with core_for(openrouter_models=PAID_CHAIN) as core:
        talk = Conversation(core, ChatRef("test", "busy"), Author("u1", "Ann", "en"))
        fake.enqueue(ErrorReply.rate_limited(retry_after=retry_after(clock)))
        assert (await talk.send("one")).texts == ["Echo: one"]
        cooled_at = clock.monotonic()
        assert [r.body["model"] for r in fake.chat_requests] == list(PAID_CHAIN[:2])
        assert (await talk.send("two")).texts == ["Echo: two"]  # no wait, no queue notice
        assert fake.chat_requests[-1].body["model"] == PAID_CHAIN[1]
        assert f"Model: `{PAID_CHAIN[1]}` (fallback from `{PAID_CHAIN[0]}`)" in await talk.say(
            "/stats"
        )
        await clock.sleep(cooled_at + 31 - clock.monotonic())
        assert (await talk.send("three")).texts == ["Echo: three"]
        assert fake.chat_requests[-1].body["model"] == PAID_CHAIN[0]
        assert len(fake.chat_requests) == 4


async def test_a_free_model_that_answered_429_is_skipped_by_the_next_message(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    """The default free chain: the first model's cool-down sends the next message to the
    second model straight away."""
    fake.enqueue(ErrorReply.rate_limited(retry_after=RETRY_AFTER * 10))
    assert (await talk.send("one")).texts == ["Echo: one"]
    assert (await talk.send("two")).texts == ["Echo: two"]
    assert [r.body["model"] for r in fake.chat_requests] == [FIRST, SECOND, SECOND]
