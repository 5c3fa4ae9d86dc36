"""Starting and stopping: a refused token, a missing intent, answers in flight at shutdown."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from tests.fakes.discord import FakeDiscord, RateLimits
from tests.fakes.openrouter import Answer, FakeOpenRouter

from .conftest import BotFactory, World


@pytest.fixture
async def fake(limits: RateLimits, request: pytest.FixtureRequest) -> object:
    options = getattr(request, "param", {})
    async with FakeDiscord(rate_limits=limits, **options) as server:
        yield server


@pytest.mark.parametrize("fake", [{"privileged_intents": 0}], indirect=True)
async def test_a_missing_message_content_intent_is_explained(running_bot: BotFactory) -> None:
    with pytest.raises(ConfigError, match="Message Content"):
        async with running_bot():
            pass


async def test_a_refused_token_names_the_variable(running_bot: BotFactory) -> None:
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        async with running_bot(discord_bot_token="not-the-token"):
            pass


async def test_an_answer_in_flight_finishes_at_shutdown(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    openrouter.enqueue(Answer(content="slow but sure", first_token_delay=0.5))
    async with running_bot():
        await fake.user_says(dm, world.alice, "take your time")
        await fake.wait_for(lambda: len(openrouter.chat_requests) == 1)
    assert [m.content for m in fake.sent[dm.id]] == ["slow but sure"]
