"""Reasoning switched off (OPENROUTER_REASONING=false) still makes a valid request for a model
whose reasoning is mandatory: never ``effort: none`` where the model rejects it."""

from __future__ import annotations

from core.domain import Author, ChatRef
from tests.fakes.openrouter import ErrorReply, FakeOpenRouter, model_entry
from tests.service.conftest import Conversation, CoreFactory

THINKER = "acme/always-thinks"
VAGUE = "acme/thinks-somehow"


def add_thinkers(fake: FakeOpenRouter) -> None:
    fake.models.append(
        model_entry(THINKER, reasoning_mandatory=True, efforts=("high", "medium", "low"))
    )
    fake.models.append(model_entry(VAGUE, reasoning_mandatory=True))


async def test_reasoning_off_on_a_mandatory_model_sends_its_lowest_effort(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    add_thinkers(fake)
    async with core_for(openrouter_reasoning=False, openrouter_models=(THINKER, VAGUE)) as core:
        talk = Conversation(core, ChatRef("test", "c"), Author("u", "Ann", "en"))
        assert await talk.say("think less") == "Echo: think less"
        assert fake.chat_requests[-1].body["reasoning"] == {"effort": "low"}
        await talk.say(f"/model {VAGUE}")
        assert await talk.say("and now?") == "Echo: and now?"
        assert "reasoning" not in fake.chat_requests[-1].body  # efforts unknown: left out
        await talk.say("/model tencent/hy3-preview:free")
        assert await talk.say("off") == "Echo: off"
        assert fake.chat_requests[-1].body["reasoning"] == {"effort": "none"}


async def test_an_effort_the_model_does_not_take_becomes_the_nearest(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    add_thinkers(fake)
    async with core_for(openrouter_reasoning_effort="xhigh", openrouter_models=(THINKER,)) as core:
        talk = Conversation(core, ChatRef("test", "c"), Author("u", "Ann", "en"))
        assert await talk.say("hard question") == "Echo: hard question"
    assert fake.chat_requests[-1].body["reasoning"] == {"enabled": True, "effort": "high"}


async def test_the_fake_refuses_what_openrouter_refuses(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    """Without the model list the bot can't know: the 400 is explained and nothing is lost."""
    add_thinkers(fake)
    fake.models_error = ErrorReply(503, "down")
    async with core_for(openrouter_reasoning=False, openrouter_models=(THINKER,)) as core:
        talk = Conversation(core, ChatRef("test", "c"), Author("u", "Ann", "en"))
        sink = await talk.send("think less")
    assert "rejected the request" in sink.last.text
    assert fake.chat_requests[-1].body["reasoning"] == {"effort": "none"}
