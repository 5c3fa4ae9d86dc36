"""Slash commands with the real ``app_commands.CommandTree``: sync, defer, followups, edits,
double acknowledgement and the 3-second deadline."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands

from tests.fakes.discord import FakeDiscord
from tests.support.clock import FakeClock

from .conftest import World
from .helpers import make_client, running


def bot_with_tree() -> tuple[discord.Client, app_commands.CommandTree[discord.Client]]:
    client = make_client()
    return client, app_commands.CommandTree(client)


async def test_tree_sync_to_guild_records_commands(world: World) -> None:
    fake = world.fake
    client, tree = bot_with_tree()

    @tree.command(name="ask", description="Ask the model")
    async def ask(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.send_message(prompt)

    @tree.command(name="reset", description="Forget the conversation")
    async def reset(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    async with running(fake, client):
        guild = discord.Object(world.guild.id)
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        assert sorted(c.name for c in synced) == ["ask", "reset"]
        fetched = await tree.fetch_commands(guild=guild)
    stored = fake.commands[world.guild.id]
    assert [c["name"] for c in stored] == ["ask", "reset"]
    assert stored[0]["options"][0]["name"] == "prompt"
    assert {c.id for c in fetched} == {int(c["id"]) for c in stored}
    assert None not in fake.commands  # only the guild was synced
    assert fake.calls_to("PUT /applications/{application_id}/guilds/{guild_id}/commands")


async def test_invalid_command_names_are_refused(world: World) -> None:
    fake = world.fake
    async with running(fake, make_client()) as client:
        route = discord.http.Route(
            "PUT", "/applications/{application_id}/commands", application_id=fake.application_id
        )
        for bad in (
            {"name": "Ask", "description": "x"},
            {"name": "a" * 33, "description": "x"},
            {"name": "ask", "description": ""},
            {"name": "ask", "description": "d" * 101},
        ):
            with pytest.raises(discord.HTTPException) as caught:
                await client.http.request(route, json=[bad])
            assert caught.value.code == 50035
        with pytest.raises(discord.HTTPException):
            await client.http.request(
                route, json=[{"name": f"c{i}", "description": "d"} for i in range(101)]
            )


async def test_defer_followup_and_edit_original(world: World) -> None:
    fake = world.fake
    client, tree = bot_with_tree()
    done = asyncio.Event()

    @tree.command(name="ask", description="Ask the model")
    async def ask(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content=f"answer to {prompt}")
        await interaction.followup.send("a followup")
        original = await interaction.original_response()
        assert original.content == f"answer to {prompt}"
        done.set()

    async with running(fake, client):
        interaction = await fake.user_runs_command(
            world.general, world.alice, "ask", {"prompt": "why?"}
        )
        await asyncio.wait_for(done.wait(), 5)
    assert interaction.response_type == 5
    assert interaction.deferred
    original = interaction.original
    assert original is not None
    assert original.texts == ["", "answer to why?"]
    assert not original.flags & (1 << 7)  # no longer loading
    [followup] = interaction.followups
    assert followup.content == "a followup"
    assert [m.content for m in fake.sent[world.general.id]] == ["answer to why?", "a followup"]
    assert fake.calls_to("POST /interactions/{interaction_id}/{token}/callback")[0].query == {
        "with_response": "1"
    }


async def test_send_message_response_and_double_acknowledgement(world: World) -> None:
    fake = world.fake
    client, tree = bot_with_tree()
    errors: asyncio.Queue[BaseException | None] = asyncio.Queue()

    @tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)
        # discord.py guards response.* itself; go around it, as a second process would
        adapter = discord.webhook.async_.async_context.get()
        try:
            await adapter.create_interaction_response(
                interaction.id,
                interaction.token,
                session=interaction._session,
                params=discord.http.handle_message_parameters("again"),
            )
        except discord.HTTPException as exc:
            errors.put_nowait(exc)
        else:
            errors.put_nowait(None)

    async with running(fake, client):
        interaction = await fake.user_runs_command(world.general, world.alice, "ping")
        error = await asyncio.wait_for(errors.get(), 5)
    assert isinstance(error, discord.HTTPException)
    assert error.status == 400
    assert error.code == 40060
    assert interaction.original is not None
    assert interaction.original.content == "pong"
    assert interaction.original.flags & (1 << 6)  # ephemeral
    assert len(interaction.responses) == 1


async def test_response_after_three_seconds_is_unknown_interaction(
    world: World, clock: FakeClock
) -> None:
    fake = world.fake
    client, tree = bot_with_tree()
    release = asyncio.Event()
    errors: asyncio.Queue[BaseException] = asyncio.Queue()

    @tree.command(name="slow", description="Slow")
    async def slow(interaction: discord.Interaction) -> None:
        await release.wait()
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            errors.put_nowait(exc)

    async with running(fake, client):
        interaction = await fake.user_runs_command(world.general, world.alice, "slow")
        clock.advance(3.01)
        release.set()
        error = await asyncio.wait_for(errors.get(), 5)
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062
    assert not interaction.acknowledged


async def test_followup_after_fifteen_minutes_is_refused(world: World, clock: FakeClock) -> None:
    fake = world.fake
    client, tree = bot_with_tree()
    later = asyncio.Event()
    errors: asyncio.Queue[BaseException] = asyncio.Queue()

    @tree.command(name="long", description="Long")
    async def long(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await later.wait()
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as exc:
            errors.put_nowait(exc)

    async with running(fake, client):
        interaction = await fake.user_runs_command(world.general, world.alice, "long")
        await fake.wait_for_response(interaction)
        clock.advance(15 * 60 + 1)
        later.set()
        error = await asyncio.wait_for(errors.get(), 5)
    assert isinstance(error, discord.HTTPException)
    assert error.code == 50027


async def test_command_in_dm_has_user_not_member(fake: FakeDiscord) -> None:
    alice = fake.user("alice")
    client, tree = bot_with_tree()
    seen: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    @tree.command(name="hi", description="Hi")
    async def hi(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hello")
        seen.put_nowait(interaction)

    async with running(fake, client):
        await fake.user_runs_command(fake.dm_channel(alice), alice, "hi")
        interaction = await asyncio.wait_for(seen.get(), 5)
    assert interaction.guild_id is None
    assert isinstance(interaction.user, discord.User)
    assert interaction.user.id == alice.id
