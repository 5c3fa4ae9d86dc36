"""What a default deployment does under load: paid models never queue, free models start at
most 20 a minute with a notice and every message is answered, the queue is fair across chats
and bounded."""

from __future__ import annotations

import asyncio
import re

import pytest

from core.app import Core
from core.domain import Author, ChatRef
from core.llm.limits import FREE_WINDOW_SECONDS
from tests.fakes.openrouter import FakeOpenRouter
from tests.service.conftest import Conversation, CoreFactory
from tests.support.clock import ScaledClock
from tests.support.sinks import RecordingSink

QUEUED = re.compile(r"queued and will be answered in about (\d+) (s|min)")


@pytest.fixture
def clock() -> ScaledClock:
    """25 times real time: minutes of queueing take seconds, and the two seconds the bot keeps
    to spare between its free-model window and OpenRouter's stay wider (80 ms) than the
    scheduling jitter of a loaded two-core machine."""
    return ScaledClock(speed=25)


def chats(core: Core, count: int, prefix: str = "chat") -> list[Conversation]:
    return [
        Conversation(core, ChatRef("test", f"{prefix}-{n}"), Author(f"u{n}", f"User {n}", "en"))
        for n in range(count)
    ]


async def converse(chat: Conversation, messages: int) -> None:
    for number in range(messages):
        await chat.send(f"{chat.chat.chat_id} message {number}")


def answers(chat: Conversation) -> list[str]:
    return [
        reply.text for sink in chat.sinks for reply in sink.replies if not QUEUED.search(reply.text)
    ]


def notices(chat: Conversation) -> list[str]:
    return [
        reply.text for sink in chat.sinks for reply in sink.replies if QUEUED.search(reply.text)
    ]


def most_in_a_minute(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for other in times if start <= other < start + 60) for start in times)


async def test_a_paid_model_answers_100_messages_from_20_chats_without_queueing(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for(openrouter_models=("openai/gpt-5",)) as core:
        people = chats(core, 20)
        await asyncio.gather(*(converse(chat, 5) for chat in people))
    assert len(fake.chat_requests) == 100
    for chat in people:
        assert notices(chat) == []
        assert answers(chat) == [f"Echo: {chat.chat.chat_id} message {n}" for n in range(5)]


async def test_a_free_model_starts_at_most_20_a_minute_and_answers_everyone(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.key_data = {"is_free_tier": False}
    fake.free_daily_limit = 1000  # an account that bought credits: 1,000 free requests a day
    async with core_for() as core:  # the default chain: free models only
        people = chats(core, 20)
        await asyncio.gather(*(converse(chat, 5) for chat in people))
    requests = fake.chat_requests
    assert len(requests) == 100  # nothing refused by OpenRouter: the bot kept within its limits
    assert most_in_a_minute([request.at for request in requests]) <= 20
    assert requests[-1].at >= 4 * 60  # 100 requests at 20 a minute
    for chat in people:
        assert answers(chat) == [f"Echo: {chat.chat.chat_id} message {n}" for n in range(5)]
    told = [notice for chat in people for notice in notices(chat)]
    assert len(told) >= 60  # the messages that waited were told how long
    for notice in told:  # with one message waiting per chat, nobody waits over a minute
        match = QUEUED.search(notice)
        assert match is not None
        assert match.group(2) == "s"
        assert int(match.group(1)) <= FREE_WINDOW_SECONDS


async def test_a_chat_with_a_backlog_does_not_hold_up_the_others(
    core: Core, fake: FakeOpenRouter
) -> None:
    fake.free_daily_limit = 1000
    busy = Conversation(core, ChatRef("test", "busy"), Author("b", "Busy", "en"))
    await converse(busy, 20)  # the busy chat has used up the minute
    backlog = asyncio.create_task(converse(busy, 10))  # and has ten more to say
    others = chats(core, 10, prefix="other")
    await asyncio.gather(backlog, *(converse(chat, 1) for chat in others))
    assert len(fake.chat_requests) == 40
    order = [_chat_of(request.body) for request in fake.chat_requests]
    after = order[20:]
    first_others = [n for n, chat in enumerate(after) if chat.startswith("other")]
    assert len(first_others) == 10
    assert max(first_others) <= 11  # at most one of the busy chat's requests went between
    assert answers(busy)[-1] == "Echo: busy message 9"


def _chat_of(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return str(messages[-1]["content"]).split(" ", 1)[0]


async def test_a_message_that_would_wait_too_long_is_told_and_kept(
    core: Core, fake: FakeOpenRouter
) -> None:
    fake.free_daily_limit = 1000
    people = chats(core, 70)
    await asyncio.gather(*(chat.send(f"{chat.chat.chat_id} hi") for chat in people))
    refused = [chat for chat in people if "very busy" in chat.sinks[0].last.text]
    answered = [chat for chat in people if chat.sinks[0].last.text.startswith("Echo:")]
    assert len(refused) + len(answered) == 70
    assert 10 <= len(refused) <= 30  # those that would have waited more than two minutes
    for chat in refused:
        assert "would wait about" in chat.sinks[0].last.text
        assert "Your message is saved" in chat.sinks[0].last.text
    # A refused message stays in the conversation: the next answer sees it.
    fake.reset()
    later = refused[0]
    sink: RecordingSink = await later.send("again")
    assert sink.texts[-1] == "Echo: again"
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents[-2:] == [f"{later.chat.chat_id} hi", "again"]
