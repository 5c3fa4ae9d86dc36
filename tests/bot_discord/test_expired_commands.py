"""A slash command's answer that outlives its 15-minute token is posted in the channel as a
normal message that mentions the user; nothing is lost and nothing is sent twice."""

from __future__ import annotations

from tests.bot_discord.conftest import BotFactory, World
from tests.fakes.openrouter import Answer, FakeOpenRouter


async def test_an_answer_that_outlives_the_token_goes_to_the_channel(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    fake.interaction_token_ttl = 0.3  # the token dies while the model is still thinking
    openrouter.enqueue(Answer(content="Paris is the capital.", reasoning="", first_token_delay=0.6))
    async with running_bot():  # /think answers in place, through the command's token
        interaction = await fake.user_runs_command(
            general, world.alice, "think", {"prompt": "capital of France?"}
        )
        await fake.wait_for(
            lambda: any("Paris" in m.content for m in fake.sent[general.id]), timeout=10
        )
    [message] = [m for m in fake.sent[general.id] if "Paris" in m.content]
    assert interaction.deferred
    assert message.content == f"<@{world.alice.id}> Paris is the capital."
    assert message.interaction_metadata is None  # a normal message, not the command's
    [post] = [c for c in fake.calls if c.route == "POST /channels/{channel_id}/messages"]
    allowed = post.body["allowed_mentions"]
    assert allowed["parse"] == []  # it pings the user who asked, and nobody else
    assert [str(user) for user in allowed["users"]] == [str(world.alice.id)]
    assert not allowed.get("roles")
    assert interaction.original is None or "Paris" not in interaction.original.content
    assert len(openrouter.chat_requests) == 1
