"""The Discord adapter wired as in production: the real discord.py against the fake Discord
(REST + gateway), the real core against the fake OpenRouter, a SQLite file."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

with warnings.catch_warnings():  # discord.py imports the deprecated stdlib audioop (voice)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord.gateway
    import discord.http

from bots.discord.app import DiscordBot
from bots.discord.settings import DiscordSettings
from core.app import build_core
from core.settings import Settings
from tests.fakes.discord import Channel, FakeDiscord, Guild, RateLimits, User
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock

API_KEY = "sk-or-v1-test"


@dataclass
class World:
    fake: FakeDiscord
    guild: Guild
    general: Channel
    alice: User
    bob: User


BotFactory = Callable[..., AbstractAsyncContextManager[DiscordBot]]


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Iterator[None]:
    """The adapter points discord.py's class-level URLs at the fake; put them back."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=20)


@pytest.fixture
def limits() -> RateLimits:
    """Discord's rate limits are on unless a test says otherwise."""
    return RateLimits()


@pytest.fixture
async def fake(limits: RateLimits) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(rate_limits=limits) as server:
        yield server


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.guild("Test Guild")
    general = fake.text_channel(guild, "general")
    return World(fake, guild, general, fake.user("alice"), fake.user("bob"))


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter(api_key=API_KEY) as server:
        yield server


def core_settings(openrouter: FakeOpenRouter, tmp_path: Path, **overrides: object) -> Settings:
    """The core's settings for a bot test: the fake OpenRouter, a SQLite file, short timeouts."""
    values: dict[str, object] = {
        "openrouter_api_key": API_KEY,
        "openrouter_base_url": openrouter.base_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "openrouter_first_token_timeout": 5.0,
        "openrouter_idle_timeout": 5.0,
        "openrouter_total_timeout": 30.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def bot_settings(fake: FakeDiscord, **overrides: object) -> DiscordSettings:
    """Discord settings pointing the real discord.py at the fake."""
    values: dict[str, object] = {
        "discord_bot_token": fake.token,
        "discord_api_base_url": f"{fake.base_url}/api/v10",
        "discord_gateway_url": fake.gateway_url,
        **overrides,
    }
    return DiscordSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def running_bot(
    fake: FakeDiscord, openrouter: FakeOpenRouter, clock: ScaledClock, tmp_path: Path
) -> BotFactory:
    """``async with running_bot(**discord_overrides, core=dict(...)) as bot:`` — connected and
    ready until the block ends (then it stops as on SIGTERM)."""

    @asynccontextmanager
    async def run(
        core: dict[str, object] | None = None, **overrides: object
    ) -> AsyncIterator[DiscordBot]:
        settings = core_settings(openrouter, tmp_path, **(core or {}))
        discord_settings = bot_settings(fake, **overrides)
        async with build_core(settings, clock=clock) as built:
            bot = DiscordBot(discord_settings, built, clock, guild_ready_timeout=0.01)
            await bot.start()
            try:
                yield bot
            finally:
                await bot.stop()

    return run
