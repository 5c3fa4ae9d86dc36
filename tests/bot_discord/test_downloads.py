"""Attachments are checked for size before they are downloaded, and downloads stop at the limit
even when the size Discord reports is wrong."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter

from .conftest import BotFactory, World

VISION = {"openrouter_models": "openai/gpt-5"}
MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


async def test_an_image_said_to_be_too_large_is_refused_without_downloading_it(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    big = {"filename": "big.png", "content_type": "image/png", "data": PNG, "size": 12 * MIB}
    async with running_bot(core=VISION):
        await fake.user_says(dm, world.alice, "what is this?", attachments=[big])
        [reply] = await fake.wait_for_sent(dm, 1)
    assert "too large" in reply.content
    assert "(12 MB; the limit is 10 MB)" in reply.content
    assert fake.downloads == []
    assert openrouter.chat_requests == []


async def test_an_image_larger_than_it_said_is_cut_off_while_downloading(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    liar = {
        "filename": "liar.png",
        "content_type": "image/png",
        "data": PNG + bytes(11 * MIB),
        "size": 2000,
        "chunked": True,  # no Content-Length either
    }
    async with running_bot(core=VISION):
        await fake.user_says(dm, world.alice, "what is this?", attachments=[liar])
        [reply] = await fake.wait_for_sent(dm, 1, timeout=15)
    assert "(10.1 MB; the limit is 10 MB)" in reply.content  # stopped just past the limit
    assert len(fake.downloads) == 1
    assert openrouter.chat_requests == []


async def test_a_text_file_larger_than_it_said_is_not_read_into_the_message(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    liar = {
        "filename": "notes.txt",
        "content_type": "text/plain",
        "data": "line of notes\n" * 1000,
        "size": 10,
        "chunked": True,
    }
    small = {"filename": "todo.txt", "content_type": "text/plain", "data": "buy milk", "size": 8}
    async with running_bot(discord_text_file_max_kb=4):
        await fake.user_says(dm, world.alice, "summarise", attachments=[liar])
        [reply] = await fake.wait_for_sent(dm, 1)
        await fake.user_says(dm, world.alice, "and this", attachments=[small])
        await fake.wait_for_sent(dm, 2)
    assert "That file is too large for me to read" in reply.content
    assert "the limit is 4 KB" in reply.content
    [request] = openrouter.chat_requests
    assert "buy milk" in request.body["messages"][-1]["content"]
    assert "line of notes" not in str(request.body["messages"])
