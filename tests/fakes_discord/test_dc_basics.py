"""Login, READY/GUILD_CREATE, on_message for guild messages and DMs, sending, editing, replies."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest

from tests.fakes.discord import GUILD_MEMBERS, FakeDiscord

from .conftest import World
from .helpers import intents, make_client, running


async def test_login_and_on_ready_with_guilds_and_channels(world: World) -> None:
    fake = world.fake
    thread = fake.thread(world.general, "old thread")
    client = make_client()
    readies: list[str] = []

    @client.event
    async def on_ready() -> None:
        readies.append("ready")

    async with running(fake, client):
        assert client.user is not None
        assert client.user.id == fake.bot.id
        assert client.application_id == fake.application_id
        guild = client.get_guild(world.guild.id)
        assert guild is not None
        assert guild.name == "Test Guild"
        assert sorted(c.name for c in guild.text_channels) == ["general", "random"]
        got_thread = guild.get_thread(thread.id)
        assert got_thread is not None
        assert got_thread.parent_id == world.general.id
        assert readies == ["ready"]
    [identify] = fake.identifies
    assert identify["intents"] == intents().value
    assert fake.heartbeats >= 1
    assert [c.route for c in fake.calls[:2]] == [
        "GET /users/@me",
        "GET /oauth2/applications/@me",
    ]
    seqs = [e.s or 0 for e in fake.gateway_log if e.direction == "out" and e.op == 0]
    assert seqs == sorted(seqs)
    assert seqs[0] == 1


async def test_bad_token_raises_login_failure(fake: FakeDiscord) -> None:
    client = make_client()
    with fake.patch_discord(), pytest.raises(discord.LoginFailure):
        await client.start("not-the-token")
    await client.close()
    assert fake.calls[-1].status == 401


async def test_patch_discord_restores(fake: FakeDiscord) -> None:
    before = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    with fake.patch_discord():
        assert f"{fake.base_url}/api/v10" == discord.http.Route.BASE
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_on_message_in_guild_and_dm(world: World) -> None:
    fake = world.fake
    client = make_client()
    seen: list[discord.Message] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            seen.append(message)
            await message.channel.send(f"echo: {message.content}")

    dm = fake.dm_channel(world.alice)
    async with running(fake, client):
        await fake.user_says(world.general, world.alice, "hello guild")
        await fake.user_says(dm, world.alice, "hello dm")
        [guild_reply] = await fake.wait_for_sent(world.general)
        [dm_reply] = await fake.wait_for_sent(dm)
    assert guild_reply.content == "echo: hello guild"
    assert dm_reply.content == "echo: hello dm"
    assert isinstance(seen[0].channel, discord.TextChannel)
    assert seen[0].guild is not None
    assert seen[0].guild.id == world.guild.id
    assert isinstance(seen[0].author, discord.Member)
    assert isinstance(seen[1].channel, discord.DMChannel)
    assert seen[1].guild is None


async def test_without_message_content_intent_guild_content_is_empty(world: World) -> None:
    fake = world.fake
    client = make_client(intents=intents(message_content=False))
    seen: asyncio.Queue[str] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.put_nowait(message.content)

    async with running(fake, client):
        await fake.user_says(world.general, world.alice, "secret")
        await fake.user_says(world.general, world.alice, "hey bot", mentions_bot=True)
        await fake.user_says(fake.dm_channel(world.alice), world.alice, "dm text")
        got = [await asyncio.wait_for(seen.get(), 5) for _ in range(3)]
    assert got == ["", f"<@{fake.bot.id}> hey bot", "dm text"]


async def test_reply_send_and_edit_history(world: World) -> None:
    fake = world.fake
    client = make_client()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author == client.user:
            return
        reply = await message.reply("thinking…")
        reply = await reply.edit(content="thinking… done")
        await reply.edit(content="final answer")

    async with running(fake, client):
        question = await fake.user_says(world.general, world.alice, "question?")
        await fake.wait_for(
            lambda: (
                fake.sent[world.general.id]
                and fake.sent[world.general.id][0].content == "final answer"
            )
        )
    [reply] = fake.sent[world.general.id]
    assert reply.texts == ["thinking…", "thinking… done", "final answer"]
    assert reply.type == 19
    assert reply.reference is not None
    assert reply.reference["message_id"] == str(question.id)
    assert reply.referenced is question
    assert reply.edited_timestamp is not None
    routes = [c.route for c in fake.calls if "messages" in c.route]
    assert routes == [
        "POST /channels/{channel_id}/messages",
        "PATCH /channels/{channel_id}/messages/{message_id}",
        "PATCH /channels/{channel_id}/messages/{message_id}",
    ]


async def test_user_reply_to_bot_message_reaches_bot(world: World) -> None:
    fake = world.fake
    client = make_client()
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author != client.user:
            seen.put_nowait(message)

    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("ask me")
        await fake.user_says(world.general, world.alice, "answer", reference=sent.id)
        msg = await asyncio.wait_for(seen.get(), 5)
    assert msg.type is discord.MessageType.reply
    assert msg.reference is not None
    assert msg.reference.message_id == sent.id
    assert isinstance(msg.reference.resolved, discord.Message)
    assert msg.reference.resolved.content == "ask me"
    assert client.user is not None
    assert client.user in msg.mentions


async def test_content_over_2000_raises_50035(world: World) -> None:
    fake = world.fake
    async with running(fake, make_client()) as client:
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert caught.value.status == 400
        assert caught.value.code == 50035
        assert "content" in caught.value.text
        ok = await channel.send("x" * 2000)
        with pytest.raises(discord.HTTPException) as empty:
            await channel.send(embeds=[])
        assert empty.value.code == 50006
        # discord.py refuses 11 embeds itself; send them raw
        route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
        with pytest.raises(discord.HTTPException) as too_many:
            await client.http.request(route, json={"embeds": [{"title": "t"}] * 11})
        assert too_many.value.code == 50035
        with pytest.raises(discord.HTTPException) as big:
            await channel.send(embed=discord.Embed(description="d" * 4097))
        assert big.value.code == 50035
        with pytest.raises(discord.NotFound) as unknown:
            await channel.get_partial_message(12345).edit(content="x")
        assert unknown.value.code == 10008
        with pytest.raises(discord.NotFound) as no_channel:
            await client.http.send_message(999, params=discord.http.handle_message_parameters("x"))
        assert no_channel.value.code == 10003
    assert [m.id for m in fake.sent[world.general.id]] == [ok.id]


async def test_typing_context_manager_records_typing(world: World) -> None:
    fake = world.fake
    client = make_client()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author == client.user:
            return
        async with message.channel.typing():
            await asyncio.sleep(0)
            await message.channel.send("typed")

    async with running(fake, client):
        await fake.user_says(world.general, world.alice, "hi")
        await fake.wait_for_sent(world.general)
    assert [t.channel_id for t in fake.typing] == [world.general.id]
    assert fake.calls_to("POST /channels/{channel_id}/typing")[0].status == 204


async def test_create_thread_from_message_and_channel(world: World) -> None:
    fake = world.fake
    async with running(fake, make_client()) as client:
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        starter = await channel.send("topic")
        thread = await starter.create_thread(name="discussion")
        assert thread.id == starter.id
        assert thread.parent_id == channel.id
        await thread.send("inside the thread")
        private = await channel.create_thread(
            name="secret", type=discord.ChannelType.private_thread
        )
        with pytest.raises(discord.HTTPException) as again:
            await starter.create_thread(name="again")
        assert again.value.code == 160004
        await fake.wait_for(lambda: client.get_channel(thread.id) is not None)
    assert fake.channels[thread.id].is_thread
    assert fake.channels[private.id].type == 12
    assert [m.content for m in fake.sent[thread.id]] == ["inside the thread"]
    route = "POST /channels/{channel_id}/messages/{message_id}/threads"
    [first, again_call] = fake.calls_to(route)
    assert first.body["name"] == "discussion"
    assert first.status == 200
    assert again_call.error_code == 160004


async def test_files_are_uploaded_as_attachments(world: World) -> None:
    fake = world.fake
    async with running(fake, make_client()) as client:
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(file=discord.File(io.BytesIO(b"hello"), "note.txt"))
        assert [a.filename for a in sent.attachments] == ["note.txt"]
    [message] = fake.sent[world.general.id]
    assert message.content == ""
    assert message.attachments[0]["size"] == 5


async def test_members_intent_gets_guild_members(world: World) -> None:
    fake = world.fake
    fake.privileged_intents |= GUILD_MEMBERS
    wanted = intents()
    wanted.members = True
    client = make_client(intents=wanted)
    async with running(fake, client):
        guild = client.get_guild(world.guild.id)
        assert guild is not None
        assert guild.chunked
        assert {m.id for m in guild.members} >= {fake.bot.id, fake.owner.id}
    # GUILD_CREATE lists every member, so discord.py needs no op 8 request
