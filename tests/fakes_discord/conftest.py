"""The fake Discord on a real socket, with the real discord.py client pointed at it.

Fast startup: discord.py fires ``on_ready`` ``guild_ready_timeout`` seconds (default 2 s) after
the last GUILD_CREATE; ``Client(guild_ready_timeout=0.01)`` (a documented Client option) makes it
immediate. Without the members intent discord.py does not chunk, so no op 8 round-trip either.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

# discord.py imports the stdlib ``audioop`` (voice), deprecated in 3.11-3.12; pytest runs with
# filterwarnings=error, so import it once here with that one warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from tests.fakes.discord import Channel, FakeDiscord, Guild, RateLimits, User
from tests.support.clock import FakeClock


@dataclass
class World:
    fake: FakeDiscord
    guild: Guild
    general: Channel
    alice: User


@pytest.fixture
def clock() -> FakeClock:
    """The fake's clock (interaction deadlines); tests advance it, nothing sleeps."""
    return FakeClock()


@pytest.fixture
def limits() -> RateLimits:
    """Rate limits for the ``fake`` fixture; rate-limit tests override this."""
    return RateLimits.off()


@pytest.fixture
async def fake(clock: FakeClock, limits: RateLimits) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(rate_limits=limits, clock=clock.monotonic) as f:
        yield f


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.guild("Test Guild")
    general = fake.text_channel(guild, "general")
    fake.text_channel(guild, "random")
    return World(fake, guild, general, fake.user("alice"))
