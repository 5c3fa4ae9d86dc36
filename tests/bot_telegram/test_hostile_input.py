"""Odd input as Telegram can deliver it (text of at most 4096 UTF-16 code units): right-to-left
text, joiners, control characters, a message full of emoji. The model receives it clean, the
answer arrives whole, and the next message works."""

from __future__ import annotations

import pytest

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram, u16len

from .conftest import BotFactory

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 11 UTF-16 code units
RTL = "مرحبا بالعالم، كيف حالك؟ שלום עולם \u202eabc\u202c"
JOINERS = (
    "a\u200db \u200c \u200f\u200e "
    + FAMILY
    + " \U0001f44d\U0001f3fd \U0001f3f3\ufe0f\u200d\U0001f308"
)


def user_text(openrouter: FakeOpenRouter, request: int = -1) -> str:
    content = openrouter.chat_requests[request].body["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize("text", [RTL, JOINERS], ids=["rtl", "joiners"])
async def test_rtl_and_joiners_reach_the_model_and_come_back_intact(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory, text: str
) -> None:
    chat = tg.private_chat(3001, "Rana")
    async with running_bot():
        await tg.user_says(chat, None, text)
        [answer] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "next")
        await tg.wait_for_sent(chat, 2)
    assert user_text(openrouter, 0) == text
    # Telegram drops the bidi embedding and override controls (U+202A-U+202E) from what it
    # shows, and so does the bot's renderer; right-to-left marks and joiners stay.
    shown = text.replace("\u202e", "").replace("\u202c", "")
    assert answer.text == f"Echo: {shown}"
    assert tg.sent[chat][1].text == "Echo: next"


async def test_control_characters_are_dropped_before_the_model(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(3002, "Ctl")
    async with running_bot():
        await tg.user_says(chat, None, "bell\x07 esc\x1b[1m nul\x00 del\x7f c1\x9b\r\nline")
        [answer] = await tg.wait_for_sent(chat, 1)
        await tg.user_says(chat, None, "\x01\x02\x03")
        [_, empty] = await tg.wait_for_sent(chat, 2)
        await tg.user_says(chat, None, "next")
        await tg.wait_for_sent(chat, 3)
    assert user_text(openrouter, 0) == "bell esc[1m nul del c1\nline"
    assert answer.text == "Echo: bell esc[1m nul del c1\nline"
    assert empty.text == "Your message has no text I can send to the model."
    assert len(openrouter.chat_requests) == 2
    assert tg.sent[chat][2].text == "Echo: next"


async def test_a_full_message_of_emoji_is_answered_whole_in_valid_pieces(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    text = FAMILY * 372 + "\U0001f600" * 2
    assert u16len(text) == 4096  # as long as Telegram lets a message be
    chat = tg.private_chat(3003, "Emo")
    async with running_bot():
        await tg.user_says(chat, None, text)
        await tg.wait_for(lambda: "".join(m.text for m in tg.sent[chat]).endswith("\U0001f600"))
        count = len(tg.sent[chat])
        await tg.user_says(chat, None, "next")
        await tg.wait_for_sent(chat, count + 1)
    assert user_text(openrouter, 0) == text
    pieces = [m.text for m in tg.sent[chat][:count]]
    assert count == 2  # "Echo: " and 4096 units don't fit in one message
    assert all(u16len(piece) <= 4096 for piece in pieces)
    assert "".join(pieces).replace("\n", "") == f"Echo: {text}"
    for piece in pieces:  # no family cut in half: every piece holds whole glyphs
        assert piece.replace(FAMILY, "").strip("\U0001f600 \nEcho:") == ""
    assert tg.sent[chat][count].text == "Echo: next"


async def test_an_unknown_model_id_cannot_make_the_bot_post_a_link(
    tg: FakeTelegram, running_bot: BotFactory
) -> None:
    chat = tg.private_chat(3004, "Eve")
    async with running_bot():
        await tg.user_says(chat, None, "/model x`[Log_in_again](http://evil.example/login)`")
        [reply] = await tg.wait_for_sent(chat, 1)
    assert "no model" in reply.text
    assert all(entity["type"] != "text_link" for entity in reply.entities)
