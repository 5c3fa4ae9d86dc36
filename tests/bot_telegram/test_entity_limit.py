"""Telegram keeps the first 100 entities of a message and silently drops the rest (the message
is still sent; python-telegram-bot's ``MessageLimit.MESSAGE_ENTITIES``, TelegramBots#854). The
fake does the same, so heavily formatted answers must be split before 100 entities."""

from __future__ import annotations

import pytest
import telegram

from bots.telegram.render import MAX_ENTITIES, Renderer, TelegramText, split_text
from tests.fakes.openrouter import Answer, FakeOpenRouter
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram.text import MAX_ENTITIES as FAKE_MAX_ENTITIES
from tests.fakes.telegram.text import format_text

from .conftest import BotFactory
from .test_render import accepted, covered, of_type

WORDS = [f"w{i:03d}" for i in range(400)]
BOLD_ANSWER = "Here: " + " ".join(f"**{word}**" for word in WORDS) + " done."


def bold_words(chunks: list[TelegramText]) -> list[str]:
    return [covered(c, e) for c in chunks for e in of_type(c, "bold")]


def test_the_fake_keeps_the_first_100_entities_as_telegram_does() -> None:
    assert MAX_ENTITIES == FAKE_MAX_ENTITIES == 100
    text = " ".join(WORDS[:110])
    entities = [{"type": "bold", "offset": 5 * i, "length": 4} for i in range(110)]
    stored = format_text(text, None, entities)
    assert stored.text == text  # sent, not refused
    assert len(stored.entities) == 100
    assert stored.entities[-1]["offset"] == 5 * 99  # the first 100 kept, the rest dropped
    html = "".join(f"<b>{word}</b> " for word in WORDS[:110])
    assert len(format_text(html, "HTML").entities) == 100


def test_entities_telegram_finds_itself_count_too() -> None:
    text = " ".join(f"#t{i:02d}" for i in range(60))
    entities = [{"type": "bold", "offset": 5 * i, "length": 4} for i in range(60)]
    stored = format_text(text, None, entities)
    assert len(stored.entities) == 100  # 120 in all: a bold hashtag is two entities
    assert sum(e["type"] == "bold" for e in stored.entities) == 50


def test_400_bold_words_are_all_bold() -> None:
    chunks = Renderer().reply(BOLD_ANSWER)
    assert len(chunks) >= 4
    for chunk in chunks:
        accepted(chunk)
        assert len(chunk.entities) <= MAX_ENTITIES
    assert bold_words(chunks) == WORDS
    assert " ".join(c.text for c in chunks) == f"Here: {' '.join(WORDS)} done."


def test_messages_full_of_entities_are_still_well_filled() -> None:
    chunks = Renderer().reply(BOLD_ANSWER)
    assert all(len(c.entities) >= 66 for c in chunks[:-1])  # cut late, at a space


@pytest.mark.parametrize("limit", [300, 1000, 4096])
def test_mixed_formatting_in_long_answers_keeps_every_entity(limit: int) -> None:
    piece = (
        "Some **bold**, *italic*, `code` and [a link](https://example.com/{i}) with "
        "~~struck~~ text.\n\n> a **quoted** line {i}\n\n- item **{i}**\n"
    )
    markdown = "\n".join(piece.format(i=i) for i in range(120))
    chunks = Renderer(limit=limit).reply(markdown, notice="Switched model", reasoning="why " * 30)
    for chunk in chunks:
        accepted(chunk, limit)
        stored = format_text(chunk.text, None, [e.to_dict() for e in chunk.entities], limit=limit)
        assert len(stored.entities) == len(chunk.entities) + _found(chunk)  # none dropped
    links = [e.url for c in chunks for e in of_type(c, "text_link")]
    assert links == [f"https://example.com/{i}" for i in range(120)]
    assert len(of_type(chunks[0], "italic")) >= 1


def _found(chunk: TelegramText) -> int:
    """Entities Telegram (the fake) finds by itself in ``chunk``."""
    stored = format_text(chunk.text, None, [e.to_dict() for e in chunk.entities])
    return len(stored.entities) - len(chunk.entities)


def test_urls_telegram_links_itself_leave_room_for_the_entities() -> None:
    markdown = " ".join(
        f"**b{i}** see https://site{i}.example.org/p and @user{i}" for i in range(150)
    )
    chunks = Renderer().reply(markdown)
    for chunk in chunks:
        stored = format_text(chunk.text, None, [e.to_dict() for e in chunk.entities])
        assert len(stored.entities) <= MAX_ENTITIES
        kept = sum(e["type"] == "bold" for e in stored.entities)
        assert kept == len(of_type(chunk, "bold"))  # Telegram dropped no formatting
    assert len(bold_words(chunks)) == 150


def test_a_draft_carries_no_more_than_100_entities() -> None:
    draft = Renderer().draft(BOLD_ANSWER[:2500])
    accepted(draft)
    assert 0 < len(draft.entities) <= MAX_ENTITIES


def test_entities_that_all_start_in_one_place_are_capped() -> None:
    text = "x" * 50
    entities = tuple(telegram.MessageEntity("bold", 0, 1 + i % 40) for i in range(150))
    chunks = split_text(TelegramText(text, entities))
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.entities) <= MAX_ENTITIES for c in chunks)


# --------------------------------------------------------------------------- end to end


async def test_a_long_answer_with_400_bold_words_arrives_all_bold(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    openrouter.enqueue(Answer(content=BOLD_ANSWER, chunks=20, chunk_delay=0.01))
    chat = tg.private_chat(2001, "Eve")
    async with running_bot():
        await tg.user_says(chat, None, "list 400 bold words")
        await tg.wait_for(lambda: "done." in "".join(m.text for m in tg.sent[chat.id]), timeout=20)
    sent = tg.sent[chat.id]
    assert len(sent) >= 4
    bold = []
    for message in sent:
        assert len(message.entities) <= MAX_ENTITIES
        data = message.text.encode("utf-16-le")
        bold += [
            data[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
            for e in message.entities
            if e["type"] == "bold"
        ]
    assert bold == WORDS


async def test_a_model_cannot_mention_a_user(
    tg: FakeTelegram, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    openrouter.enqueue(
        Answer(
            content="Ask [Bob](tg://user?id=777) or [the admin](tg://resolve?domain=admin) "
            "or see <tg://user?id=778> and [docs](https://example.com)."
        )
    )
    chat = tg.private_chat(2002, "Fay")
    async with running_bot():
        await tg.user_says(chat, None, "who can help?")
        [message] = await tg.wait_for_sent(chat)
    assert message.text == "Ask Bob or the admin or see tg://user?id=778 and docs."
    assert message.entities == [
        {"type": "text_link", "offset": 49, "length": 4, "url": "https://example.com/"}
    ]
