"""Catch-up: what was addressed to the bot while it was down is answered, in order, once it is
back; nothing is answered twice, and nothing older than DISCORD_CATCH_UP_MINUTES."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.bot_discord.conftest import BotFactory, World
from tests.fakes.discord import FakeDiscord, RateLimits
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock


@pytest.fixture
async def fake(limits: RateLimits, clock: ScaledClock) -> AsyncIterator[FakeDiscord]:
    """Discord's clock (its snowflakes) is the bot's clock, so "the last N minutes" agree."""
    async with FakeDiscord(
        rate_limits=limits, wall_clock=lambda: clock.now().timestamp()
    ) as server:
        yield server


async def test_messages_sent_while_the_bot_was_down_are_answered_in_order(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, dm, general = world.fake, world.fake.dm_channel(world.alice), world.general
    video = {"filename": "movie.mp4", "content_type": "video/mp4", "data": "xx"}
    async with running_bot():
        await fake.user_says(dm, world.alice, "before")
        await fake.wait_for_sent(dm, 1)
        await fake.user_says(dm, world.alice, "watch this", attachments=[video])
        await fake.wait_for_sent(dm, 2)
        await fake.user_says(general, world.bob, "hello bot", mentions_bot=True)
        await fake.wait_for_sent(general, 1)
    # The bot is down (a deploy, a crash): people keep writing.
    await fake.user_says(dm, world.alice, "first while away")
    await fake.user_says(general, world.bob, "second while away", mentions_bot=True)
    await fake.user_says(general, world.alice, "just chatting, not for the bot")
    await fake.user_says(dm, world.alice, "third while away")
    asked_before = len(openrouter.chat_requests)
    async with running_bot():
        in_dm = await fake.wait_for_sent(dm, 4, timeout=10)
        in_general = await fake.wait_for_sent(general, 2, timeout=10)
        await fake.user_says(dm, world.alice, "and now live")
        in_dm = await fake.wait_for_sent(dm, 5, timeout=10)
    assert [m.content for m in in_dm[2:]] == [
        "Echo: first while away",
        "Echo: third while away",
        "Echo: and now live",
    ]
    assert in_general[1].content == "Echo: Bob: second while away"  # not the chatter after it
    assert len(openrouter.chat_requests) == asked_before + 4  # nothing answered twice
    assert sum("movie.mp4" in m.content or "files" in m.content for m in in_dm) == 1
    # In order: the DM's second message while away saw the first one and its answer.
    third = next(
        r
        for r in openrouter.chat_requests
        if r.body["messages"][-1]["content"] == "third while away"
    )
    contents = [m["content"] for m in third.body["messages"]]
    assert contents[-3:] == ["first while away", "Echo: first while away", "third while away"]


async def test_nothing_older_than_the_catch_up_window_is_answered(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory, clock: ScaledClock
) -> None:
    fake, dm = world.fake, world.fake.dm_channel(world.alice)
    async with running_bot():
        await fake.user_says(dm, world.alice, "before")
        await fake.wait_for_sent(dm, 1)
    await fake.user_says(dm, world.alice, "long ago")
    await clock.sleep(90)  # a minute and a half goes by
    await fake.user_says(dm, world.alice, "just now")
    async with running_bot(discord_catch_up_minutes=1):
        sent = await fake.wait_for_sent(dm, 2, timeout=10)
        await fake.user_says(dm, world.alice, "live")
        sent = await fake.wait_for_sent(dm, 3, timeout=10)
    assert [m.content for m in sent] == ["Echo: before", "Echo: just now", "Echo: live"]


async def test_catch_up_can_be_turned_off(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, dm = world.fake, world.fake.dm_channel(world.alice)
    async with running_bot():
        await fake.user_says(dm, world.alice, "before")
        await fake.wait_for_sent(dm, 1)
    await fake.user_says(dm, world.alice, "while away")
    async with running_bot(discord_catch_up_minutes=0):
        await fake.user_says(dm, world.alice, "live")
        sent = await fake.wait_for_sent(dm, 2, timeout=10)
    assert [m.content for m in sent] == ["Echo: before", "Echo: live"]


async def test_a_channel_discord_keeps_rate_limiting_is_read_back_once_it_lets_up(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    """A busy restart: reading the DM back is refused with 429s longer than discord.py retries
    (5 tries). The catch-up waits and reads on, so the message written while away is answered."""
    fake, dm = world.fake, world.fake.dm_channel(world.alice)
    async with running_bot():
        await fake.user_says(dm, world.alice, "before")
        await fake.wait_for_sent(dm, 1)
    await fake.user_says(dm, world.alice, "while away")
    fake.rate_limit("GET /channels/{channel_id}/messages", retry_after=0.05, times=8)
    async with running_bot():
        in_dm = await fake.wait_for_sent(dm, 2, timeout=20)
    assert [m.content for m in in_dm] == ["Echo: before", "Echo: while away"]
    refused = [
        c
        for c in fake.calls
        if c.route == "GET /channels/{channel_id}/messages" and c.status == 429
    ]
    assert len(refused) == 8
