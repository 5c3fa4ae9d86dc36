"""Slash commands: registered on start-up, deferred within Discord's 3 seconds, completed with the
answer; /ask opens a thread; settings changes and strangers are refused ephemerally."""

from __future__ import annotations

from tests.fakes.discord.model import EPHEMERAL
from tests.fakes.openrouter import Answer, FakeOpenRouter

from .conftest import BotFactory, World

COMMANDS = {"ask", "think", "stats", "new", "model", "system", "help", "lang"}


async def test_commands_are_registered_globally_or_to_the_configured_guilds(
    world: World, running_bot: BotFactory
) -> None:
    fake = world.fake
    async with running_bot():
        assert {c["name"] for c in fake.commands[None]} == COMMANDS
    fake.commands.clear()
    async with running_bot(discord_guild_ids=str(world.guild.id)):
        assert {c["name"] for c in fake.commands[world.guild.id]} == COMMANDS
    model = next(c for c in fake.commands[world.guild.id] if c["name"] == "model")
    assert model["options"][0]["autocomplete"] is True
    stats = next(c for c in fake.commands[world.guild.id] if c["name"] == "stats")
    assert stats["description_localizations"]["zh-CN"] == "用量和费用"


async def test_a_command_is_deferred_then_answered(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    openrouter.enqueue(Answer(content="Paris.", reasoning="France's capital is Paris."))
    async with running_bot():
        interaction = await fake.user_runs_command(
            dm, world.alice, "think", {"prompt": "capital of France?"}
        )
        await fake.wait_for(
            lambda: interaction.original and "Paris." in interaction.original.content
        )
    assert interaction.deferred
    original = interaction.original
    assert original is not None
    assert original.content.startswith("Paris.")
    assert "||France's capital is Paris.||" in original.content  # reasoning as a spoiler


async def test_stats_help_and_model_answer_in_place(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot():
        help_ = await fake.user_runs_command(general, world.alice, "help")
        stats = await fake.user_runs_command(general, world.alice, "stats")
        model = await fake.user_runs_command(
            general, world.alice, "model", {"model": "openai/gpt-5"}
        )
        await fake.wait_for(
            lambda: all(
                i.original and (i.original.content or i.original.embeds)
                for i in (help_, stats, model)
            )
        )
    assert help_.original is not None
    assert "/think" in help_.original.content
    assert stats.original is not None
    [card] = stats.original.embeds  # /stats is an embed
    assert "No requests in this chat yet." in card["description"]
    assert not stats.original.content
    assert model.original is not None
    assert "openai/gpt-5" in model.original.content
    assert openrouter.chat_requests == []


async def test_ask_opens_a_thread_with_a_fresh_conversation(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot():
        await fake.user_says(general, world.alice, "earlier chatter", mentions_bot=True)
        await fake.wait_for_sent(general, 1)
        interaction = await fake.user_runs_command(
            general, world.bob, "ask", {"prompt": "a new topic"}
        )
        await fake.wait_for(
            lambda: any(c.is_thread and fake.sent[c.id] for c in fake.channels.values())
        )
        thread = next(c for c in fake.channels.values() if c.is_thread)
        [answer] = await fake.wait_for_sent(thread, 1)
        await fake.user_says(thread, world.bob, "follow-up without a mention")
        await fake.wait_for_sent(thread, 2)
    assert thread.name == "a new topic"
    assert answer.content == "Echo: Bob: a new topic"
    assert interaction.original is not None
    assert str(thread.id) in interaction.original.content
    last = openrouter.chat_requests[-1].body["messages"]
    assert [m["content"] for m in last if m["role"] == "user"] == [
        "Bob: a new topic",
        "Bob: follow-up without a mention",
    ]


async def test_strangers_and_non_admin_settings_changes_are_refused_ephemerally(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot(
        discord_allowed_guilds=str(world.guild.id), admin_users=str(world.alice.id)
    ):
        stranger_dm = fake.dm_channel(world.bob)
        refused = await fake.user_runs_command(stranger_dm, world.bob, "ask", {"prompt": "hi"})
        settings = await fake.user_runs_command(
            general, world.bob, "system", {"prompt": "be a pirate"}
        )
        allowed = await fake.user_runs_command(
            general, world.alice, "system", {"prompt": "be a pirate"}
        )
        await fake.wait_for(lambda: all(i.original for i in (refused, settings, allowed)))
    assert refused.original is not None
    assert "private" in refused.original.content
    assert refused.original.flags & EPHEMERAL
    assert settings.original is not None
    assert "admin" in settings.original.content
    assert settings.original.flags & EPHEMERAL
    assert allowed.original is not None
    assert "admin" not in allowed.original.content
    assert openrouter.chat_requests == []


async def test_model_ids_are_suggested_while_typing(world: World, running_bot: BotFactory) -> None:
    fake = world.fake
    async with running_bot():
        typing = await fake.user_runs_command(
            world.general, world.alice, "model", {"model": "gpt"}, typing_in="model"
        )
        await fake.wait_for(lambda: typing.responses)
    [response] = typing.responses
    assert response["type"] == 8
    choices = [c["value"] for c in response["data"]["choices"]]
    assert "openai/gpt-5" in choices
    assert all("gpt" in choice for choice in choices)


async def test_ask_answers_in_place_where_the_bot_may_not_open_threads(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    fake.fail("POST /channels/{channel_id}/threads", 403, 50013, "Missing Permissions")
    async with running_bot():
        interaction = await fake.user_runs_command(general, world.bob, "ask", {"prompt": "hi"})
        await fake.wait_for(lambda: interaction.original and "Echo" in interaction.original.content)
    assert interaction.original is not None
    assert interaction.original.content == "Echo: Bob: hi"
    assert not any(channel.is_thread for channel in fake.channels.values())
