"""People talking to the bot in DMs, server channels and threads, through the real discord.py."""

from __future__ import annotations

import pytest

from tests.fakes.discord import RateLimits
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter

from .conftest import BotFactory, World


async def test_a_dm_is_answered_by_one_message_edited_as_it_streams(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    openrouter.enqueue(Answer(content=["Hello ", "there, ", "**Alice**!"], chunk_delay=0.1))
    async with running_bot(discord_edit_interval=0.2):
        await fake.user_says(dm, world.alice, "hi")
        await fake.wait_for(
            lambda: fake.sent[dm.id] and fake.sent[dm.id][-1].content == "Hello there, **Alice**!"
        )
    [message] = fake.sent[dm.id]
    assert len(message.texts) >= 2, "it grew by edits"
    assert any("▌" in text for text in message.texts[:-1]), "drafts show a writing marker"
    assert "▌" not in message.content
    assert message.reference is None  # DMs need no reply


async def test_in_a_server_the_bot_answers_mentions_and_replies_only(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake, general = world.fake, world.general
    async with running_bot():
        await fake.user_says(general, world.alice, "talking among ourselves")
        await fake.user_says(general, world.alice, "what is 2+2?", mentions_bot=True)
        [first] = await fake.wait_for_sent(general, 1)
        await fake.user_says(general, world.bob, "and 3+3?", reference=first)
        sent = await fake.wait_for_sent(general, 2)
    assert first.content == "Echo: Alice: what is 2+2?"
    assert sent[1].content == "Echo: Bob: and 3+3?"
    assert first.reference is not None  # a reply to the question
    assert len(openrouter.chat_requests) == 2
    users = [
        m["content"] for m in openrouter.chat_requests[1].body["messages"] if m["role"] == "user"
    ]
    assert users == ["Alice: what is 2+2?", "Bob: and 3+3?"]


async def test_a_thread_has_its_own_history(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    thread = fake.thread(world.general, "side topic")
    async with running_bot():
        await fake.user_says(world.general, world.alice, "in the channel", mentions_bot=True)
        await fake.wait_for_sent(world.general, 1)
        await fake.user_says(thread, world.alice, "in the thread", mentions_bot=True)
        await fake.wait_for_sent(thread, 1)
    second = openrouter.chat_requests[1].body["messages"]
    assert [m["content"] for m in second] == ["Alice: in the thread"]


@pytest.mark.parametrize("limits", [RateLimits.off()])  # 12 messages at 5 per 5 s: too slow
async def test_a_long_streamed_answer_arrives_complete_within_discord_limits(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    body = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet. " * 30 for i in range(25))
    body += "\n\n```python\n" + "\n".join(f"print({i})" for i in range(400)) + "\n```"
    assert len(body) > 20_000
    openrouter.enqueue(Answer(content=body, chunks=60, chunk_delay=0.01))
    async with running_bot(discord_edit_interval=0.2):
        await fake.user_says(dm, world.alice, "essay")
        await fake.wait_for(
            lambda: "print(399)" in "".join(m.content for m in fake.sent[dm.id]), timeout=30
        )
    contents = [m.content for m in fake.sent[dm.id]]
    assert all(len(c) <= 2000 for c in contents)
    joined = "\n".join(contents)
    for i in range(25):
        assert f"Paragraph {i}:" in joined
    assert joined.count("lorem ipsum dolor sit amet.") == 25 * 30
    for i in range(400):
        assert f"print({i})" in joined
    assert all(c.count("```") % 2 == 0 for c in contents), "every code block is closed"


async def test_history_survives_a_restart(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    async with running_bot():
        await fake.user_says(dm, world.alice, "my name is Alice")
        await fake.wait_for_sent(dm, 1)
    async with running_bot():
        await fake.user_says(dm, world.alice, "what is my name?")
        await fake.wait_for_sent(dm, 2)
    users = [
        m["content"] for m in openrouter.chat_requests[-1].body["messages"] if m["role"] == "user"
    ]
    assert users == ["my name is Alice", "what is my name?"]


async def test_a_failure_is_explained_and_the_next_message_works(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    openrouter.set_model_behaviour("openai/gpt-5", ErrorReply.unavailable())
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await fake.user_says(dm, world.alice, "hello?")
        [failure] = await fake.wait_for_sent(dm, 1)
        openrouter.set_model_behaviour("openai/gpt-5", None)
        await fake.user_says(dm, world.alice, "again")
        sent = await fake.wait_for_sent(dm, 2)
    assert "unavailable right now" in failure.content
    assert sent[1].content == "Echo: again"


async def test_a_stranger_is_refused_once_and_costs_nothing(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm_alice, dm_bob = fake.dm_channel(world.alice), fake.dm_channel(world.bob)
    async with running_bot(discord_allowed_users=str(world.alice.id)):
        await fake.user_says(dm_bob, world.bob, "hi")
        await fake.user_says(dm_bob, world.bob, "hello?")
        await fake.user_says(dm_alice, world.alice, "hi")
        await fake.wait_for_sent(dm_alice, 1)
        [refusal] = await fake.wait_for_sent(dm_bob, 1)
    assert "private" in refusal.content
    assert len(fake.sent[dm_bob.id]) == 1
    assert len(openrouter.chat_requests) == 1


async def test_attachments_text_files_are_read_and_others_get_a_short_reply(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    note = {"filename": "notes.txt", "content_type": "text/plain", "data": "remember the milk"}
    movie = {"filename": "movie.mp4", "content_type": "video/mp4", "data": "xx"}
    async with running_bot():
        await fake.user_says(dm, world.alice, "summarise", attachments=[note])
        await fake.wait_for_sent(dm, 1)
        await fake.user_says(dm, world.alice, "watch this", attachments=[movie])
        sent = await fake.wait_for_sent(dm, 2)
    prompt = openrouter.chat_requests[0].body["messages"][-1]["content"]
    assert "summarise" in prompt
    assert "remember the milk" in prompt
    assert "files" in sent[1].content
    assert len(openrouter.chat_requests) == 1


async def test_under_rate_limits_drafts_are_skipped_and_the_final_answer_is_whole(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    words = [f"word{i} " for i in range(40)]
    openrouter.enqueue(Answer(content=words, chunk_delay=0.05))
    async with running_bot(discord_edit_interval=0.2):  # asks for more edits than Discord allows
        await fake.user_says(dm, world.alice, "count")
        expected = "".join(words).strip()
        await fake.wait_for(
            lambda: fake.sent[dm.id] and fake.sent[dm.id][-1].content == expected, timeout=20
        )
    [message] = fake.sent[dm.id]
    assert 2 <= len(message.texts) <= 8


async def test_an_image_goes_to_a_model_that_sees_images(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    picture = {"filename": "cat.png", "content_type": "image/png", "data": png}
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await fake.user_says(dm, world.alice, "what is this?", attachments=[picture])
        await fake.wait_for_sent(dm, 1)
    [image] = openrouter.chat_requests[0].image_urls
    assert image.startswith("data:image/png;base64,iVBORw0KGgo")


async def test_an_attachment_that_cannot_be_downloaded_gets_a_short_reply(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    gone = {
        "filename": "cat.png",
        "content_type": "image/png",
        "url": f"{fake.base_url}/attachments/0/0/gone.png",  # the CDN answers 404
    }
    async with running_bot(core={"openrouter_models": "openai/gpt-5"}):
        await fake.user_says(dm, world.alice, "what is this?", attachments=[gone])
        [reply] = await fake.wait_for_sent(dm, 1)
    assert "couldn't download" in reply.content
    assert openrouter.chat_requests == []
