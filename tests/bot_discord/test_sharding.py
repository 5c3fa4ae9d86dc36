"""Several replicas sharing one Discord bot: each runs some of the bot's shards
(DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT), all on one PostgreSQL database.

Discord sends a guild's messages and slash commands only to the shard
``(guild_id >> 22) % shard_count`` and DMs only to shard 0, so each is answered once, by the
replica running that shard; only the replica running shard 0 registers the slash commands; a
replica that restarts reads back only its own guilds' channels (and DMs only on shard 0)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bots.discord.app import DiscordBot
from bots.discord.settings import load_discord_settings
from core.app import Core, build_core
from core.errors import ConfigError
from tests.fakes.discord import Call, Channel, FakeDiscord, RateLimits, User
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock
from tests.support.databases import require_postgres, temporary_database

from .conftest import BotFactory, bot_settings, core_settings

# A paid model: the free ones' 20 requests a minute would add "queued" notices to the answers.
PAID: dict[str, object] = {"openrouter_models": "openai/gpt-5"}
COMMANDS_PUT = "PUT /applications/{application_id}/commands"
HISTORY = "GET /channels/{channel_id}/messages"


@dataclass
class Replica:
    bot: DiscordBot
    core: Core

    def received(self) -> float:
        """Messages this replica handled, as its /metrics count them."""
        value = self.core.metrics.registry.get_sample_value(
            "chatrelay_messages_received_total", {"platform": "discord"}
        )
        return value or 0.0


ReplicaFactory = Callable[..., AbstractAsyncContextManager[Replica]]


@dataclass
class Shards:
    """Two guilds, one on each shard of two, a channel in each, a DM, two users."""

    fake: FakeDiscord
    zero: Channel  # in a guild on shard 0
    one: Channel  # in a guild on shard 1
    dm: Channel
    alice: User
    bob: User


@pytest.fixture
async def fake(limits: RateLimits, clock: ScaledClock) -> AsyncIterator[FakeDiscord]:
    """Discord's clock (its snowflakes) is the bot's clock, so "the last N minutes" agree."""
    async with FakeDiscord(
        rate_limits=limits, wall_clock=lambda: clock.now().timestamp()
    ) as server:
        yield server


@pytest.fixture
def shards(fake: FakeDiscord) -> Shards:
    zero = fake.text_channel(fake.guild("Guild Zero", shard=(0, 2)), "zero")
    one = fake.text_channel(fake.guild("Guild One", shard=(1, 2)), "one")
    alice, bob = fake.user("alice"), fake.user("bob")
    return Shards(fake, zero, one, fake.dm_channel(alice), alice, bob)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    """One PostgreSQL database for every replica (an SQLite file belongs to one process)."""
    require_postgres()
    async with temporary_database("postgres", tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def replica(
    fake: FakeDiscord,
    openrouter: FakeOpenRouter,
    clock: ScaledClock,
    tmp_path: Path,
    database: str,
) -> ReplicaFactory:
    """``async with replica("1") as r:`` — a replica running shard 1 of 2, with its own core
    (inbox, lease owner, metrics) on the shared database, connected until the block ends."""

    @asynccontextmanager
    async def run(shard_ids: str, shard_count: int = 2) -> AsyncIterator[Replica]:
        settings = core_settings(openrouter, tmp_path, database_url=database, **PAID)
        discord_settings = bot_settings(
            fake, discord_shard_ids=shard_ids, discord_shard_count=shard_count
        )
        async with build_core(settings, clock=clock, migrate=False) as core:
            bot = DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01)
            await bot.start()
            try:
                yield Replica(bot, core)
            finally:
                await bot.stop()

    return run


async def settled(*replicas: Replica) -> None:
    """Wait until every message the replicas know of is finished (answered and delivered)."""
    async with asyncio.timeout(10):
        for each in replicas:
            await each.core.inbox.idle()


def history_reads(calls: list[Call]) -> set[int]:
    """The channels whose messages were read back (catch-up)."""
    return {int(c.path.split("/")[2]) for c in calls if c.route == HISTORY}


@pytest.mark.postgres
async def test_each_message_and_command_is_answered_once_by_the_replica_running_its_shard(
    shards: Shards, replica: ReplicaFactory
) -> None:
    fake = shards.fake
    async with replica("0") as first, replica("1") as second:
        await fake.user_says(shards.one, shards.bob, "hello shard one", mentions_bot=True)
        await fake.user_says(shards.zero, shards.alice, "hello shard zero", mentions_bot=True)
        await fake.user_says(shards.dm, shards.alice, "hello in private")
        in_one = await fake.wait_for_sent(shards.one, 1, timeout=10)
        in_zero = await fake.wait_for_sent(shards.zero, 1, timeout=10)
        in_dm = await fake.wait_for_sent(shards.dm, 1, timeout=10)
        on_one = await fake.user_runs_command(shards.one, shards.bob, "help")
        in_private = await fake.user_runs_command(shards.dm, shards.alice, "help")
        await fake.wait_for_response(on_one)
        await fake.wait_for_response(in_private)
        await settled(first, second)
        handled = (first.received(), second.received())
    assert [m.content for m in in_one] == ["Echo: Bob: hello shard one"]
    assert [m.content for m in in_zero] == ["Echo: Alice: hello shard zero"]
    assert [m.content for m in in_dm] == ["Echo: hello in private"]
    for channel in (shards.one, shards.dm):  # the answer, then the command's, and no more
        _answer, command = fake.sent[channel.id]
        assert command.content.startswith("**Commands**")
    assert len(on_one.responses) == len(in_private.responses) == 1
    # shard 0's replica: the message in its guild, the DM, /help in private; shard 1's: the rest
    assert handled == (3, 2)
    assert len(fake.calls_to(COMMANDS_PUT)) == 1  # the slash commands, registered once
    assert [identify["shard"] for identify in fake.identifies] == [[0, 2], [1, 2]]
    assert fake.calls_to("GET /gateway/bot") == []


@pytest.mark.postgres
async def test_a_restarted_replica_catches_up_only_on_its_own_shards(
    shards: Shards, replica: ReplicaFactory
) -> None:
    fake, alice, bob = shards.fake, shards.alice, shards.bob
    async with contextlib.AsyncExitStack() as running:
        first = await running.enter_async_context(replica("0"))
        async with replica("1"):
            await fake.user_says(shards.zero, alice, "zero, before", mentions_bot=True)
            await fake.user_says(shards.one, bob, "one, before", mentions_bot=True)
            await fake.user_says(shards.dm, alice, "dm, before")
            for channel in (shards.zero, shards.one, shards.dm):
                await fake.wait_for_sent(channel, 1, timeout=10)
        # shard 1's replica is down (a deploy): its guild waits, the rest is answered live
        await fake.user_says(shards.one, bob, "one, while down", mentions_bot=True)
        await fake.user_says(shards.zero, alice, "zero, live", mentions_bot=True)
        await fake.user_says(shards.dm, alice, "dm, live")
        await fake.wait_for_sent(shards.zero, 2, timeout=10)
        await fake.wait_for_sent(shards.dm, 2, timeout=10)
        await settled(first)
        assert len(fake.sent[shards.one.id]) == 1
        restarted = len(fake.calls)
        async with replica("1"):
            in_one = await fake.wait_for_sent(shards.one, 2, timeout=10)
        second_start = fake.calls[restarted:]
        await running.aclose()  # now shard 0's replica goes down, shard 1's comes back
        second = await running.enter_async_context(replica("1"))
        await fake.user_says(shards.dm, alice, "dm, while down")
        await fake.user_says(shards.one, bob, "one, live", mentions_bot=True)
        await fake.wait_for_sent(shards.one, 3, timeout=10)
        await settled(second)
        assert len(fake.sent[shards.dm.id]) == 2
        restarted = len(fake.calls)
        async with replica("0"):
            in_dm = await fake.wait_for_sent(shards.dm, 3, timeout=10)
        first_start = fake.calls[restarted:]
    assert [m.content for m in in_one] == [
        "Echo: Bob: one, before",
        "Echo: Bob: one, while down",
    ]
    assert [m.content for m in in_dm][-1] == "Echo: dm, while down"
    assert history_reads(second_start) == {shards.one.id}  # not the DM, not guild zero
    assert history_reads(first_start) == {shards.zero.id, shards.dm.id}
    for channel in (shards.zero, shards.one, shards.dm):  # nothing answered twice
        answers = [m.content for m in fake.sent[channel.id]]
        assert len(answers) == len(set(answers)), answers
    assert len(fake.calls_to(COMMANDS_PUT)) == 2  # at each start of shard 0's replica


async def test_without_a_shard_count_the_bot_connects_unsharded_as_before(
    shards: Shards, running_bot: BotFactory
) -> None:
    fake = shards.fake
    async with running_bot():
        await fake.user_says(shards.one, shards.bob, "hello", mentions_bot=True)
        await fake.user_says(shards.dm, shards.alice, "hello")
        await fake.wait_for_sent(shards.one, 1, timeout=10)
        await fake.wait_for_sent(shards.dm, 1, timeout=10)
    [identify] = fake.identifies
    assert "shard" not in identify  # one connection gets every guild and the DMs
    assert fake.calls_to("GET /gateway/bot") == []
    assert len(fake.calls_to(COMMANDS_PUT)) == 1


async def test_readiness_names_the_shard_whose_connection_is_down(
    fake: FakeDiscord,
    openrouter: FakeOpenRouter,
    clock: ScaledClock,
    tmp_path: Path,
) -> None:
    """One replica running both shards (SQLite: it is the only process): ready only while
    both are connected; a message sent while shard 1 was away is answered once it is back."""
    one = fake.text_channel(fake.guild("Guild One", shard=(1, 2)), "one")
    bob = fake.user("bob")
    settings = core_settings(openrouter, tmp_path, **PAID)
    discord_settings = bot_settings(fake, discord_shard_count=2)
    async with build_core(settings, clock=clock) as core:
        bot = DiscordBot(discord_settings, core, clock, guild_ready_timeout=0.01)
        await bot.start()
        try:
            ready_before = bot.readiness
            await fake.user_says(one, bob, "before", mentions_bot=True)
            await fake.wait_for_sent(one, 1, timeout=10)
            await fake.drop_gateway(shards=[1])
            await fake.wait_for(lambda: fake.gateway_refusals >= 1, timeout=10)
            not_ready = bot.readiness
            await fake.user_says(one, bob, "while shard 1 was away", mentions_bot=True)
            fake.restore_gateway()
            # discord.py starts a new session on shard 1 (after its 5 s pause between
            # IDENTIFYs), and that shard's catch-up finds the message
            sent = await fake.wait_for_sent(one, 2, timeout=30)
            ready_after = bot.readiness
        finally:
            await bot.stop()
    assert ready_before is None
    assert not_ready is not None
    assert not_ready.startswith("shard 1: gateway disconnected, reconnecting")
    assert "shard 0" not in not_ready
    assert [m.content for m in sent] == ["Echo: Bob: before", "Echo: Bob: while shard 1 was away"]
    assert ready_after is None
    assert [i["shard"] for i in fake.identifies] == [[0, 2], [1, 2], [1, 2]]


async def test_discord_refusing_the_shards_fails_the_start_with_a_clear_message(
    fake: FakeDiscord,
    openrouter: FakeOpenRouter,
    clock: ScaledClock,
    tmp_path: Path,
) -> None:
    """A bot in too many guilds for one connection (Discord closes with 4011)."""
    fake.max_guilds_per_shard = 1
    fake.guild("Guild Zero", shard=(0, 2))
    fake.guild("Guild One", shard=(1, 2))
    settings = core_settings(openrouter, tmp_path)
    async with build_core(settings, clock=clock) as core:
        bot = DiscordBot(bot_settings(fake), core, clock, guild_ready_timeout=0.01)
        with pytest.raises(ConfigError, match="DISCORD_SHARD_COUNT") as refused:
            await bot.start()
    assert "Sharding required" in str(refused.value)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"discord_shard_ids": "0,1"}, "DISCORD_SHARD_IDS: .*needs DISCORD_SHARD_COUNT"),
        (
            {"discord_shard_ids": "0,2", "discord_shard_count": "2"},
            r"DISCORD_SHARD_IDS: .*shard 2 is out of range for DISCORD_SHARD_COUNT=2 "
            r"\(shard ids run from 0 to 1\)",
        ),
        ({"discord_shard_ids": "-1", "discord_shard_count": "2"}, "shard -1 is out of range"),
        ({"discord_shard_ids": "1,1", "discord_shard_count": "2"}, "shard 1 is listed twice"),
        ({"discord_shard_ids": "one", "discord_shard_count": "2"}, "DISCORD_SHARD_IDS: "),
        ({"discord_shard_count": "-2"}, "DISCORD_SHARD_COUNT: "),
    ],
)
def test_invalid_shard_settings_are_refused_with_the_variable_named(
    values: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_discord_settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"discord_shard_count": "0"}, None),
        ({"discord_shard_count": "3"}, ((0, 1, 2), 3)),
        ({"discord_shard_count": "4", "discord_shard_ids": " 3 , 1"}, ((1, 3), 4)),
        ({"discord_shard_count": "2", "discord_shard_ids": "0"}, ((0,), 2)),
    ],
)
def test_shard_settings(values: dict[str, str], expected: tuple[tuple[int, ...], int]) -> None:
    sharding = load_discord_settings(_env_file=None, **values).sharding
    found = None if sharding is None else (sharding.ids, sharding.count)
    assert found == expected
