"""While Discord's REST API is down the final answer waits (backoff with jitter, on the bot's
clock) and arrives once, complete and in order, when Discord is back; past the retry bound it is
given up with one ERROR line and a counter, and the next message is answered as usual.

Time runs 200x faster here: the default bound of an hour would take 18 s, a minute's outage
takes 0.3 s. The outages answer 503 (discord.py passes it on at once; 500/502/504 it first
retries itself for 16 real seconds) or drop the connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bots.discord.app import DiscordBot
from core.app import Core, build_core
from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.support.clock import ScaledClock

from .conftest import BotFactory, World, bot_settings, core_settings

CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]

CREATE = "POST /channels/{channel_id}/messages"
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
ORIGINAL = "PATCH /webhooks/{application_id}/{token}/messages/@original"
PARAGRAPH = "Line of the long answer, number {i:03d}, with some words to fill it up nicely."
LONG = "\n\n".join(PARAGRAPH.format(i=i) for i in range(40))  # about 3,200 characters: 2 parts


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=200)


async def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (bounded) until ``predicate()`` holds, for what the fake can't signal."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - log records have no event
            await asyncio.sleep(0.01)


@pytest.fixture
def running_core(
    fake: FakeDiscord, openrouter: FakeOpenRouter, clock: ScaledClock, tmp_path: Path
) -> CoreFactory:
    """As ``running_bot``, giving the core (for its metrics)."""

    @asynccontextmanager
    async def run(**overrides: object) -> AsyncIterator[Core]:
        settings = core_settings(openrouter, tmp_path)
        discord_settings = bot_settings(fake, **overrides)
        async with build_core(settings, clock=clock) as core:
            bot = DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01)
            await bot.start()
            try:
                yield core
            finally:
                await bot.stop()

    return run


def failures(core: Core) -> float:
    value = core.metrics.registry.get_sample_value(
        "chatrelay_deliveries_failed_total", {"platform": "discord"}
    )
    return value or 0.0


def gave_up(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "chatrelay.discord"
    ]


async def test_an_answer_written_while_discord_answers_503_arrives_whole_when_it_is_back(
    world: World,
    openrouter: FakeOpenRouter,
    running_core: CoreFactory,
    clock: ScaledClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The default bound (an hour); Discord refuses new messages for two minutes."""
    fake, general = world.fake, world.general
    openrouter.enqueue(Answer(content=LONG))
    fake.break_route(CREATE, 503)
    async with running_core() as core:
        await fake.user_says(general, world.alice, "tell me a lot", mentions_bot=True)
        await fake.wait_for(lambda: any(c.route == CREATE for c in fake.calls))
        await clock.sleep(120)
        fake.repair_route(CREATE)
        sent = await fake.wait_for_sent(general, 2)
        await clock.sleep(5)  # nothing more follows
    assert len(fake.sent[general.id]) == 2
    assert "\n\n".join(m.content for m in sent) == LONG
    assert sent[0].reference is not None  # still a reply to the question
    assert failures(core) == 0
    assert not gave_up(caplog)


async def test_a_streamed_message_whose_edits_drop_their_connection_gets_its_final_text(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory, clock: ScaledClock
) -> None:
    """Edits whose connection drops mid-request (they may or may not have been applied) are
    retried: an edit to the same text twice is still one message."""
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    chunks = [f"word{i} " for i in range(20)]
    openrouter.enqueue(Answer(content=chunks, chunk_delay=0.02))
    async with running_bot():
        await fake.user_says(dm, world.alice, "count for me")
        await fake.wait_for_sent(dm, 1)  # the streamed message exists
        fake.break_route(EDIT, disconnect=True)
        await clock.sleep(150)
        fake.repair_route(EDIT)
        await fake.wait_for(lambda: fake.sent[dm.id][0].content == "".join(chunks).strip())
    assert len(fake.sent[dm.id]) == 1
    assert any(c.route == EDIT and c.status == 0 for c in fake.calls)


async def test_503s_past_the_bound_give_up_with_one_error_line_and_the_next_message_works(
    world: World,
    openrouter: FakeOpenRouter,
    running_core: CoreFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, general = world.fake, world.general
    fake.break_route(CREATE, 503)
    async with running_core(discord_delivery_retry_seconds=60) as core:
        await fake.user_says(general, world.alice, "secret words", mentions_bot=True)
        await eventually(lambda: gave_up(caplog))
        attempts = fake.calls_to(CREATE)
        fake.repair_route(CREATE)
        await fake.user_says(general, world.bob, "again", mentions_bot=True)
        [sent] = await fake.wait_for_sent(general, 1)
    assert sent.content == "Echo: Bob: again"
    assert failures(core) == 1
    [line] = gave_up(caplog)
    assert line.chat == general.id  # type: ignore[attr-defined]
    assert 60 <= line.tried_seconds < 75  # type: ignore[attr-defined]
    assert "503" in line.error  # type: ignore[attr-defined]
    logged = line.getMessage() + repr(line.__dict__)
    assert "secret words" not in logged
    assert fake.token not in logged
    assert 4 <= len(attempts) <= 9, "backoff: a few attempts a minute, not a flood"


async def test_a_new_message_whose_connection_dropped_mid_request_is_sent_again_once(
    world: World,
    openrouter: FakeOpenRouter,
    running_core: CoreFactory,
    clock: ScaledClock,
) -> None:
    """The request went out and no answer came: sent again with the same nonce (Discord would
    return the message if the first had been made), so it arrives once."""
    fake, general = world.fake, world.general
    fake.break_route(CREATE, disconnect=True)
    async with running_core() as core:
        await fake.user_says(general, world.alice, "hello", mentions_bot=True)
        await eventually(lambda: any(c.status == 0 for c in fake.calls_to(CREATE)))
        fake.repair_route(CREATE)
        expected = "Echo: Alice: hello"
        await fake.wait_for(lambda: [m.content for m in fake.sent[general.id]] == [expected])
        await clock.sleep(5)  # nothing more follows
    finals = [c for c in fake.calls_to(CREATE) if "▌" not in (c.body or {}).get("content", "")]
    assert {c.body["nonce"] for c in finals} == {finals[0].body["nonce"]}
    assert len(fake.sent[general.id]) == 1
    assert failures(core) == 0


async def test_a_slash_command_answer_whose_edit_dropped_is_retried_as_the_same_edit(
    world: World, running_bot: BotFactory, clock: ScaledClock
) -> None:
    """A slash command's answer replaces its "thinking…" response (an edit): when that edit's
    connection drops, it is tried again as the same edit, never as a follow-up message."""
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    fake.break_route(ORIGINAL, disconnect=True)
    async with running_bot():
        interaction = await fake.user_runs_command(dm, world.alice, "ask", {"prompt": "hi"})
        await fake.wait_for(lambda: any(c.route == ORIGINAL for c in fake.calls))
        await clock.sleep(60)
        fake.repair_route(ORIGINAL)
        await fake.wait_for(lambda: interaction.original and interaction.original.content)
    assert interaction.original is not None
    assert interaction.original.content == "Echo: hi"
    assert interaction.followups == []


async def test_an_answer_discord_keeps_refusing_with_429s_arrives_once_the_limit_passes(
    world: World,
    openrouter: FakeOpenRouter,
    running_core: CoreFactory,
    clock: ScaledClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 429 that discord.py passes on (after its own retries, or one from Discord's edge) was
    not carried out: the answer is sent again once the limit has passed, once."""
    caplog.set_level(logging.INFO)
    fake, general = world.fake, world.general
    fake.break_route(CREATE, status=429, message="You are being rate limited.")
    async with running_core() as core:
        await fake.user_says(general, world.alice, "hello", mentions_bot=True)
        await eventually(lambda: len(fake.calls_to(CREATE)) >= 2)
        fake.repair_route(CREATE)
        [sent] = await fake.wait_for_sent(general, 1)
        await clock.sleep(5)  # nothing more follows
    assert sent.content == "Echo: Alice: hello"
    assert len(fake.sent[general.id]) == 1
    assert failures(core) == 0
    assert "the answer waits for Discord's rate limit" in caplog.text
