"""Per-user message limits and daily budgets: a clear message saying when to write again, no
LLM call, counted from the database (a restart changes nothing), admins exempt; /stats shows
the user's use today and what is left."""

from __future__ import annotations

import re
from decimal import Decimal

from core.domain import Author, ChatRef
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.service.conftest import Conversation, CoreFactory
from tests.support.clock import ScaledClock

PAID = "openai/gpt-5"


async def test_messages_per_minute_per_user(
    core_for: CoreFactory, fake: FakeOpenRouter, clock: ScaledClock
) -> None:
    async with core_for(user_messages_per_minute=2) as core:
        ann = Conversation(core, ChatRef("test", "c1"), Author("u1", "Ann", "en"))
        assert await ann.say("one") == "Echo: one"
        assert await ann.say("two") == "Echo: two"
        refused = await ann.send("three")
        assert refused.last.is_error
        wait = re.search(r"\(2 a minute\)\. You can write again in (\d+) s\.", refused.last.text)
        assert wait is not None, refused.last.text
        assert 1 <= int(wait.group(1)) <= 60
        assert len(fake.chat_requests) == 2  # the refused message cost no LLM call
        # Another person is not held back by Ann's limit; nor is Ann in another chat... of the
        # same platform: the limit is per person, across chats.
        bob = Conversation(core, ChatRef("test", "c1"), Author("u2", "Bob", "en"))
        assert await bob.say("hi") == "Echo: hi"
        elsewhere = Conversation(core, ChatRef("test", "c2"), Author("u1", "Ann", "en"))
        assert "You can write again" in (await elsewhere.send("four")).last.text
        # Commands are not messages to the model: they still work.
        assert "Commands" in await ann.say("/help")
        await clock.sleep(int(wait.group(1)) + 1)  # time passes: the minute is over
        assert await ann.say("five") == "Echo: five"
    # The refused message was kept, out of the model's context.
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert "three" not in contents
    assert contents[-1] == "five"


async def test_admins_are_exempt(core_for: CoreFactory, fake: FakeOpenRouter) -> None:
    async with core_for(user_messages_per_minute=1, user_daily_tokens=1) as core:
        boss = Conversation(core, ChatRef("test", "c1"), Author("u1", "Boss", "en", is_admin=True))
        for text in ("one", "two", "three"):
            assert await boss.say(text) == f"Echo: {text}"


async def test_daily_token_budget_per_user_survives_a_restart(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Answer(usage={"total_tokens": 900, "prompt_tokens": 400}))
    async with core_for(user_daily_tokens=1000) as core:
        ann = Conversation(core, ChatRef("test", "c1"), Author("u1", "Ann", "en"))
        assert (await ann.say("first")).startswith("Echo: first")
        fake.enqueue(Answer(usage={"total_tokens": 150}))
        assert (await ann.say("second")).startswith("Echo: second")  # 900 < 1000: allowed
        refused = await ann.send("third")
    text = refused.last.text
    assert "You have used up your daily budget on this bot (1,050 of 1,000 tokens)" in text
    assert re.search(r"after 00:00 UTC, in 1[12] h \d+ min\.", text), text  # it is about noon
    asked = len(fake.chat_requests)
    async with core_for(user_daily_tokens=1000) as core:  # a restart: the budget is in the DB
        ann = Conversation(core, ChatRef("test", "c1"), Author("u1", "Ann", "en"))
        assert "daily budget" in (await ann.send("fourth", message_id="after-restart")).last.text
        assert len(fake.chat_requests) == asked
        stats = (await ann.send("/stats", message_id="stats-after-restart")).last.text
    assert "**You today**: requests 2, tokens 1050" in stats
    assert "daily budget: 0 tokens left of 1,000 tokens" in stats


async def test_a_group_budget_is_shared_by_its_members(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    chat = ChatRef("test", "group")
    async with core_for(openrouter_models=(PAID,), chat_daily_usd=Decimal("0.01")) as core:
        ann = Conversation(core, chat, Author("u1", "Ann", "en"), shared=True)
        bob = Conversation(core, chat, Author("u2", "Bob", "en"), shared=True)
        fake.enqueue(Answer(usage={"cost": 0.012}))
        assert (await ann.say("expensive")).startswith("Echo")
        refused = await bob.send("my turn?")
        assert "This chat has used up its daily budget ($0.012 of $0.01)" in refused.last.text
        assert "Everyone here can write again after 00:00 UTC" in refused.last.text
        # Another chat has its own budget.
        carl = Conversation(core, ChatRef("test", "other"), Author("u3", "Carl", "en"))
        assert (await carl.say("hello")).startswith("Echo")
        stats = await bob.say("/stats")
    assert "**This chat today**: requests 1" in stats
    assert "daily budget: $0 left of $0.01" in stats


async def test_stats_shows_the_key_only_to_admins_in_groups(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    chat = ChatRef("test", "group")
    async with core_for() as core:
        member = Conversation(core, chat, Author("u1", "Ann", "en"), shared=True)
        admin = Conversation(core, chat, Author("u9", "Root", "en", is_admin=True), shared=True)
        private = Conversation(core, ChatRef("test", "dm"), Author("u1", "Ann", "en"))
        assert "OpenRouter key" not in await member.say("/stats")
        assert "OpenRouter key" in await admin.say("/stats")
        assert "OpenRouter key" in await private.say("/stats")
        assert "**You today**: requests 0" in await member.say("/stats")
