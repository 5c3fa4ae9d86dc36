"""Photos are checked for size before they are downloaded, and downloads stop at the limit even
when Telegram's reported size is wrong or missing."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.fake import JPEG

from .conftest import BotFactory

VISION = {"openrouter_models": "openai/gpt-5"}
MIB = 1024 * 1024
BIG = JPEG[:-2] + bytes(11 * MIB) + b"\xff\xd9"  # 11 MiB, over the 10 MiB limit


async def test_a_photo_said_to_be_too_large_is_refused_without_downloading_it(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2001, "Ann")
    async with running_bot(core=VISION):
        await tg.user_sends_photo(chat, caption="look", reported_size=12 * MIB)
        [reply] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "and now in words")
        await tg.wait_for_sent(chat, 2)
    assert "too large" in reply.text
    assert "12 MB" in reply.text
    assert "the limit is 10 MB" in reply.text
    assert not [call for call in tg.calls if call.method == "getFile"]
    assert tg.downloads == []
    assert len(openrouter.chat_requests) == 1  # only the words


async def test_a_photo_larger_than_it_said_is_cut_off_while_downloading(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2002, "Bo")
    async with running_bot(core=VISION):
        await tg.user_sends_photo(chat, caption="look", data=BIG, reported_size=2000, chunked=True)
        [reply] = await tg.wait_for_sent(chat, 1, timeout=15)
    assert "too large" in reply.text
    assert "(10.1 MB; the limit is 10 MB)" in reply.text  # stopped just past the limit
    assert len(tg.downloads) == 1
    assert openrouter.chat_requests == []


async def test_a_photo_without_a_reported_size_is_capped_too(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(2003, "Cy")
    async with running_bot(core=VISION):
        await tg.user_sends_photo(chat, caption="huge", data=BIG, reported_size=None, chunked=True)
        [reply] = await tg.wait_for_sent(chat, 1, timeout=15)
        await tg.user_sends_photo(chat, caption="small", reported_size=None, chunked=True)
        sent = await tg.wait_for_sent(chat, 2, timeout=15)
    assert "too large" in reply.text
    [request] = openrouter.chat_requests
    [image] = request.image_urls
    assert image.startswith("data:image/jpeg;base64,/9j/")
    assert "small" in sent[1].text
