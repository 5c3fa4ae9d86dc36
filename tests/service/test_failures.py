"""Every failure ends in a readable message, the user's message stays, the next one works."""

from __future__ import annotations

import re

import pytest

from core.domain import Author, ChatRef
from core.settings import DEFAULT_MODELS
from tests.fakes.openrouter import (
    Answer,
    ErrorReply,
    FakeOpenRouter,
    Hang,
    MidStreamError,
    model_entry,
)
from tests.service.conftest import Conversation, CoreFactory


async def assert_next_message_works(talk: Conversation, fake: FakeOpenRouter, failed: str) -> None:
    """The failed message is still in the history and the next one gets an answer."""
    fake.reset()
    sink = await talk.send("are you back?")
    assert sink.texts == ["Echo: are you back?"]
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents[-2:] == [failed, "are you back?"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ErrorReply.unauthorized(), "API key was rejected"),
        (ErrorReply.moderation(reasons=("violence", "hate")), "content policy: violence, hate"),
        (ErrorReply.context_length(), "too long for the model"),
        (ErrorReply(400, "Invalid request", error_type="invalid_request"), "rejected the request"),
    ],
)
async def test_errors_that_no_fallback_can_fix_are_explained(
    talk: Conversation, fake: FakeOpenRouter, error: ErrorReply, expected: str
) -> None:
    fake.enqueue(error)
    sink = await talk.send("please fail")
    assert len(sink.replies) == 1
    assert sink.last.is_error
    assert expected in sink.last.text
    assert "Your message is saved" in sink.last.text
    await assert_next_message_works(talk, fake, "please fail")


async def test_every_model_unavailable(talk: Conversation, fake: FakeOpenRouter) -> None:
    for model in DEFAULT_MODELS:
        fake.set_model_behaviour(model, ErrorReply.unavailable())
    sink = await talk.send("anyone there?")
    assert "unavailable right now" in sink.last.text
    await assert_next_message_works(talk, fake, "anyone there?")


async def test_rate_limited_everywhere_after_retries(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    for model in DEFAULT_MODELS:
        fake.set_model_behaviour(model, ErrorReply.rate_limited(retry_after=120))
    sink = await talk.send("busy?")
    assert "rate limited" in sink.last.text
    fake.reset()
    # Every model asked for two minutes' rest: the next message waits for it, and says so.
    sink = await talk.send("are you back?")
    assert len(sink.texts) == 2
    wait = re.search(r"queued and will be answered in about (\d+) (s|min)", sink.texts[0])
    assert wait is not None, sink.texts[0]
    seconds = int(wait.group(1)) * (60 if wait.group(2) == "min" else 1)
    assert 100 <= seconds <= 120
    assert sink.texts[1] == "Echo: are you back?"
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents[-2:] == ["busy?", "are you back?"]


async def test_no_credits_on_a_paid_model(talk: Conversation, fake: FakeOpenRouter) -> None:
    await talk.say("/model openai/gpt-5")
    for model in ("openai/gpt-5", *DEFAULT_MODELS):
        fake.set_model_behaviour(model, ErrorReply.no_credits())
    sink = await talk.send("expensive question")
    assert "out of credits" in sink.last.text


async def test_a_free_model_that_ended_falls_back_silently(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.set_model_behaviour(DEFAULT_MODELS[0], ErrorReply.free_variant_ended(DEFAULT_MODELS[0]))
    sink = await talk.send("hi")
    assert sink.texts == ["Echo: hi"]
    assert sink.last.notice is None
    assert "fallback from" in await talk.say("/stats")


async def test_a_stream_that_breaks_midway_is_answered_again_by_the_next_model(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.enqueue(
        MidStreamError(after_chunks=2, code=502, message="Provider disconnected"),
        Answer(content="A complete answer.", model=DEFAULT_MODELS[1]),
    )
    sink = await talk.send("tell me")
    assert sink.texts == ["A complete answer."]
    assert sink.last.notice is not None
    assert "answered from the start instead" in sink.last.notice
    assert DEFAULT_MODELS[1] in sink.last.notice


async def test_a_hanging_model_times_out_and_the_next_answers(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Hang(seconds=30), Answer(content="I'm here."))
    async with core_for(openrouter_first_token_timeout=0.3) as core:
        sink = await Conversation(core, ChatRef("t", "hang"), Author("1", "Ann")).send("hello?")
    assert sink.texts == ["I'm here."]


async def test_a_timeout_on_every_attempt_is_explained(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.enqueue(*[Hang(seconds=30)] * 4)
    async with core_for(openrouter_first_token_timeout=0.2, openrouter_max_attempts=2) as core:
        sink = await Conversation(core, ChatRef("t", "slow"), Author("1", "Ann")).send("hello?")
    assert "took too long" in sink.last.text


async def test_input_too_long_for_the_model_gets_a_clear_message_and_no_request(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.models.append(model_entry("tiny/model", context_length=9000))
    await talk.say("/model tiny/model")
    sink = await talk.send(
        "word " * 4000
    )  # about 5,000 tokens against 9,000 - 8,192 for the answer
    assert "too long" in sink.last.text
    assert "808" in sink.last.text  # the limit that applies, in tokens
    assert fake.chat_requests == []
    sink = await talk.send("short one")
    assert sink.texts == ["Echo: short one"]
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents == ["short one"]  # the rejected text is kept, but never sent


async def test_input_over_the_configured_character_limit(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for(max_input_chars=100) as core:
        sink = await Conversation(core, ChatRef("t", "c"), Author("1", "Ann")).send("x" * 101)
    assert "101 characters, the limit is 100" in sink.last.text
    assert fake.chat_requests == []


@pytest.mark.parametrize(
    "text",
    ["\x00\x01\x02", "   ", "\ud800", "bad \udcff bytes", "\u202e\u200b", "a\x1b[2Jb", "🎉" * 50],
)
async def test_odd_input_never_crashes(talk: Conversation, fake: FakeOpenRouter, text: str) -> None:
    sink = await talk.send(text)
    assert len(sink.replies) == 1
    reply = sink.last.text
    assert reply.startswith("Echo:") or "no text I can send" in reply
    reply.encode("utf-8")
    assert (await talk.send("next")).texts == ["Echo: next"]


async def test_the_queue_is_announced_when_the_wait_is_long(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for(llm_requests_per_minute=1, llm_queue_notice_seconds=3) as core:
        talk = Conversation(core, ChatRef("t", "q"), Author("1", "Ann"))
        first = await talk.send("one")
        second = await talk.send("two")
    assert first.texts == ["Echo: one"]
    assert len(second.replies) == 2
    assert "queued" in second.replies[0].text
    wait = re.search(r"about (\d+) s", second.replies[0].text)
    assert wait is not None
    assert 3 <= int(wait.group(1)) <= 60
    assert second.replies[1].text == "Echo: two"


async def test_the_free_daily_quota_is_explained_and_a_paid_model_still_answers(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.free_daily_limit = 1
    assert (await talk.send("first")).texts == ["Echo: first"]
    sink = await talk.send("second")
    assert "free-model requests" in sink.last.text
    assert "00:00 UTC" in sink.last.text
    assert "rate limited" not in sink.last.text
    assert "now uses `openai/gpt-5`" in await talk.say("/model openai/gpt-5")
    assert (await talk.send("third")).texts == ["Echo: third"]
