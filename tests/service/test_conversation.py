"""A person talks to the bot: answers, history, reasoning, order, duplicates, restarts."""

from __future__ import annotations

import asyncio

from core.domain import Author, ChatRef
from core.ports import SinkLimits
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.service.conftest import Conversation, CoreFactory
from tests.support.sinks import RecordingSink


async def test_a_message_is_answered_streamed_and_remembered(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await talk.send("What is 2+2?")
    assert sink.texts == ["Echo: What is 2+2?"]
    assert sink.drafts  # it streamed in
    assert sink.drafts[-1] == "Echo: What is 2+2?"
    assert sink.last.reasoning is None  # reasoning is shown only on request
    await talk.send("And 3+3?")
    sent = fake.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "What is 2+2?"
    assert sent[1]["content"] == "Echo: What is 2+2?"
    assert sent[2]["content"] == "And 3+3?"


async def test_reasoning_is_requested_and_reasoning_details_go_back_unchanged(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    details = [
        {
            "type": "reasoning.text",
            "text": "先想一想",
            "signature": "sig-1",
            "format": "anthropic-claude-v1",
            "index": 0,
        },
        {
            "type": "reasoning.encrypted",
            "data": "opaque==",
            "id": "r1",
            "format": "anthropic-claude-v1",
            "index": 1,
        },
    ]
    fake.enqueue(Answer(content="答案是四。", reasoning="先想一想", reasoning_details=details))
    await talk.send("2+2 等于几？")
    assert fake.chat_requests[0].body["reasoning"]["enabled"] is True
    await talk.send("为什么？")
    assistant = fake.chat_requests[-1].body["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["reasoning_details"] == details


async def test_three_quick_messages_are_answered_in_order_while_other_chats_proceed(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.chunk_delay = 0.02
    async with core_for() as core:
        talk = Conversation(core, ChatRef("test", "busy"), Author("u1", "Ann"))
        other = Conversation(core, ChatRef("test", "other"), Author("u2", "Bob"))
        await asyncio.gather(
            talk.send("one"), talk.send("two"), talk.send("three"), other.send("elsewhere")
        )
    assert [s.texts for s in talk.sinks] == [["Echo: one"], ["Echo: two"], ["Echo: three"]]
    prompts = [
        [m["content"] for m in r.body["messages"]]
        for r in fake.chat_requests
        if r.body["messages"][0]["content"] in ("one",)
    ]
    # each request of the busy chat saw every earlier turn: handled one at a time, in order
    assert prompts == [
        ["one"],
        ["one", "Echo: one", "two"],
        ["one", "Echo: one", "two", "Echo: two", "three"],
    ]
    assert other.sinks[0].texts == ["Echo: elsewhere"]


async def test_a_duplicate_delivery_is_answered_once(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    first = await talk.send("hello", message_id="tg-42")
    again = await talk.send("hello", message_id="tg-42")
    assert first.texts == ["Echo: hello"]
    assert again.replies == []
    assert len(fake.chat_requests) == 1


async def test_history_survives_a_restart(core_for: CoreFactory, fake: FakeOpenRouter) -> None:
    chat, ann = ChatRef("test", "persist"), Author("u1", "Ann")
    async with core_for() as core:
        await Conversation(core, chat, ann).send("remember the number 7")
    async with core_for() as core:
        await Conversation(core, chat, ann).send("which number?", message_id="later")
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents == ["remember the number 7", "Echo: remember the number 7", "which number?"]


async def test_group_turns_are_prefixed_with_the_speaker(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for() as core:
        group = ChatRef("test", "group")
        await Conversation(core, group, Author("1", "Ann"), shared=True).send("hi")
        await Conversation(core, group, Author("2", "李雷"), shared=True).send("你好", "x2")
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents == ["Ann: hi", "Echo: Ann: hi", "李雷: 你好"]


async def test_chats_are_separate(core_for: CoreFactory, fake: FakeOpenRouter) -> None:
    async with core_for() as core:
        await Conversation(core, ChatRef("test", "a"), Author("1", "Ann")).send("secret a")
        await Conversation(core, ChatRef("test", "a", thread_id="t1"), Author("1", "Ann")).send(
            "topic"
        )
    assert [m["content"] for m in fake.chat_requests[-1].body["messages"]] == ["topic"]


async def test_think_tags_never_reach_the_answer(talk: Conversation, fake: FakeOpenRouter) -> None:
    fake.enqueue(Answer(content="The answer.", reasoning="hidden musing", think_tags=True))
    sink = await talk.send("q")
    assert sink.texts == ["The answer."]
    think = await talk.say("/think")
    assert think.startswith("Reasoning behind the last answer")
    assert "hidden musing" in (talk.sinks[-1].last.reasoning or "")


async def test_a_throttled_flooded_sink_still_gets_the_whole_answer_at_once(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    long_answer = [f"part {i} " * 20 for i in range(40)]
    fake.enqueue(Answer(content=long_answer, chunk_delay=0.005))
    # drafts at most every 30 s, and the platform refuses the first one for 600 s
    sink = RecordingSink(SinkLimits(min_draft_interval=30.0), flood_waits=[600.0])
    async with asyncio.timeout(3):  # waiting out the flood pause would take 6 s (clock x100)
        await talk.core.service.handle(talk.message("long please"), sink)
    assert sink.texts == ["".join(long_answer)]  # complete, not held back by the throttle
    assert len(sink.drafts) <= 1  # intermediate updates were skipped, not queued
