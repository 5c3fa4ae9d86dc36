"""Text rules through the real client: HTML, MarkdownV2, entities, UTF-16 lengths, edits."""

from __future__ import annotations

import pytest
from telegram import Bot, MessageEntity
from telegram.error import BadRequest

from tests.fakes.telegram import FakeTelegram

from .helpers import ptb_message

CHAT = 42


@pytest.fixture
def chat(tg: FakeTelegram) -> int:
    tg.private_chat(CHAT, "Alice")
    return CHAT


async def rejected(tg: FakeTelegram, bot: Bot, text: str, **options: object) -> str:
    """Send, expect a BadRequest; return Telegram's description (checked against PTB's)."""
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHAT, text, **options)  # type: ignore[arg-type]
    description = tg.calls[-1].description
    assert description is not None
    assert tg.calls[-1].status == 400
    assert caught.value.message == ptb_message(description)
    return description


def shape(entities: tuple[MessageEntity, ...]) -> list[tuple[str, int, int]]:
    return [(e.type, e.offset, e.length) for e in entities]


@pytest.mark.usefixtures("chat")
async def test_html_entities_and_escapes(bot: Bot) -> None:
    message = await bot.send_message(
        CHAT,
        "<b>bold <i>both</i></b> <s>x</s> <u>u</u> <tg-spoiler>s</tg-spoiler> 1 &lt; 2 &amp;&#33; "
        '<a href="https://example.com/a?b=1&amp;c=2">link</a> <code>c</code> '
        '<span class="tg-spoiler">p</span>',
        parse_mode="HTML",
    )
    assert message.text == "bold both x u s 1 < 2 &! link c p"
    assert shape(message.entities) == [
        ("bold", 0, 9), ("italic", 5, 4), ("strikethrough", 10, 1), ("underline", 12, 1),
        ("spoiler", 14, 1), ("text_link", 25, 4), ("code", 30, 1), ("spoiler", 32, 1),
    ]  # fmt: skip
    assert message.entities[5].url == "https://example.com/a?b=1&c=2"


@pytest.mark.usefixtures("chat")
async def test_html_pre_with_language_blockquotes_and_utf16_offsets(bot: Bot) -> None:
    message = await bot.send_message(
        CHAT,
        '😀 <pre><code class="language-python">print("hi")</code></pre>\n'
        "<blockquote>quoted</blockquote><blockquote expandable>thinking…</blockquote>",
        parse_mode="HTML",
    )
    assert message.text == '😀 print("hi")\nquotedthinking…'
    pre, quote, expandable = message.entities
    assert (pre.type, pre.offset, pre.length, pre.language) == ("pre", 3, 11, "python")
    assert (quote.type, quote.offset, quote.length) == ("blockquote", 15, 6)
    assert (expandable.type, expandable.offset, expandable.length) == (
        "expandable_blockquote",
        21,
        9,
    )


@pytest.mark.usefixtures("chat")
@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<x>no</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("é <br> line", 'Unsupported start tag "br" at byte offset 3'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
    ],
)
async def test_html_rejections(tg: FakeTelegram, bot: Bot, html: str, description: str) -> None:
    got = await rejected(tg, bot, html, parse_mode="HTML")
    assert got == f"Bad Request: can't parse entities: {description}"


@pytest.mark.usefixtures("chat")
async def test_markdown_v2_entities(bot: Bot) -> None:
    message = await bot.send_message(
        CHAT,
        "*bold _both_* __under__ ~gone~ ||secret|| `x\\`y` [site](https://example.com/\\)) "
        "end\\.\n```python\nprint(1)\n```",
        parse_mode="MarkdownV2",
    )
    assert message.text == "bold both under gone secret x`y site end.\nprint(1)"  # trimmed
    assert shape(message.entities) == [
        ("bold", 0, 9), ("italic", 5, 4), ("underline", 10, 5), ("strikethrough", 16, 4),
        ("spoiler", 21, 6), ("code", 28, 3), ("text_link", 32, 4), ("pre", 42, 8),
    ]  # fmt: skip
    assert message.entities[6].url == "https://example.com/)"
    assert message.entities[7].language == "python"


@pytest.mark.usefixtures("chat")
async def test_markdown_v2_blockquotes(bot: Bot) -> None:
    plain = await bot.send_message(CHAT, ">quote line\n>second\nafter", parse_mode="MarkdownV2")
    assert plain.text == "quote line\nsecond\nafter"
    assert shape(plain.entities) == [("blockquote", 0, 18)]
    expandable = await bot.send_message(
        CHAT, "**>thinking\n>more thoughts||\nanswer", parse_mode="MarkdownV2"
    )
    assert expandable.text == "thinking\nmore thoughts\nanswer"
    assert shape(expandable.entities) == [("expandable_blockquote", 0, 23)]


@pytest.mark.usefixtures("chat")
@pytest.mark.parametrize(
    ("markdown", "description"),
    [
        ("Done.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("1+1=2", "Character '+' is reserved and must be escaped with the preceding '\\'"),
        ("a - b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
        ("(x)", "Character '(' is reserved and must be escaped with the preceding '\\'"),
        ("x > y", "Character '>' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("ü snake_case", "Can't find end of Italic entity at byte offset 8"),
        ("`code", "Can't find end of Code entity at byte offset 0"),
        ("```py\ncode", "Can't find end of PreCode entity at byte offset 0"),
        ("[a](http://x.com", "Can't find end of a URL at byte offset 4"),
    ],
)
async def test_markdown_v2_rejections(
    tg: FakeTelegram, bot: Bot, markdown: str, description: str
) -> None:
    got = await rejected(tg, bot, markdown, parse_mode="MarkdownV2")
    assert got == f"Bad Request: can't parse entities: {description}"


@pytest.mark.usefixtures("chat")
async def test_escaped_markdown_v2_from_ptb_helpers_is_accepted(bot: Bot) -> None:
    from telegram.helpers import escape_markdown

    raw = "Costs $5.00 (approx.) - see #1 | done! {a=b} [x] ~y~ `z` >q"
    message = await bot.send_message(CHAT, escape_markdown(raw, version=2), parse_mode="MarkdownV2")
    assert message.text == raw
    assert [e.type for e in message.entities] == []


@pytest.mark.usefixtures("chat")
async def test_lengths_are_utf16_code_units_after_parsing(tg: FakeTelegram, bot: Bot) -> None:
    assert (await bot.send_message(CHAT, "a" * 4096)).text == "a" * 4096
    assert (await bot.send_message(CHAT, "😀" * 2048)).text == "😀" * 2048
    assert await rejected(tg, bot, "a" * 4097) == "Bad Request: message is too long"
    assert await rejected(tg, bot, "😀" * 4096) == "Bad Request: message is too long"
    assert await rejected(tg, bot, "😀" * 2049) == "Bad Request: message is too long"
    # markup does not count, the parsed text does
    html = "<b>" + "a" * 4096 + "</b>"
    assert len((await bot.send_message(CHAT, html, parse_mode="HTML")).text or "") == 4096
    assert await rejected(tg, bot, "<b></b>", parse_mode="HTML") == (
        "Bad Request: message text is empty"
    )
    assert await rejected(tg, bot, " \n ") == "Bad Request: message text is empty"


@pytest.mark.usefixtures("chat")
async def test_plain_text_is_kept_but_trimmed_and_links_are_found(bot: Bot) -> None:
    message = await bot.send_message(CHAT, "  *not bold* <b>nor this</b> see https://t.me/x \n")
    assert message.text == "*not bold* <b>nor this</b> see https://t.me/x"
    assert shape(message.entities) == [("url", 31, 14)]


@pytest.mark.usefixtures("chat")
async def test_explicit_entities_are_validated(tg: FakeTelegram, bot: Bot) -> None:
    ok = await bot.send_message(
        CHAT, "😀 bold", entities=[MessageEntity("bold", offset=3, length=4)]
    )
    assert shape(ok.entities) == [("bold", 3, 4)]
    too_far = [MessageEntity("bold", offset=3, length=5)]
    assert await rejected(tg, bot, "😀 bold", entities=too_far) == (
        "Bad Request: entity beginning at UTF-16 offset 3 ends after the end of the text at "
        "UTF-16 offset 8"
    )
    halfway = [MessageEntity("italic", offset=1, length=2)]
    assert "in a middle of a UTF-16 symbol" in await rejected(tg, bot, "😀 bold", entities=halfway)
    unknown = [MessageEntity("shiny", offset=0, length=1)]
    assert await rejected(tg, bot, "x", entities=unknown) == (
        "Bad Request: can't parse MessageEntity: Unsupported type specified"
    )


@pytest.mark.usefixtures("chat")
async def test_unsupported_parse_mode(tg: FakeTelegram, bot: Bot) -> None:
    assert await rejected(tg, bot, "x", parse_mode="Markdown3") == (
        "Bad Request: unsupported parse_mode"
    )


@pytest.mark.usefixtures("chat")
async def test_edits_keep_a_history_and_identical_edits_are_rejected(
    tg: FakeTelegram, bot: Bot
) -> None:
    first = await bot.send_message(CHAT, "thinking")
    edited = await bot.edit_message_text("<b>answer</b>", CHAT, first.message_id, parse_mode="HTML")
    assert not isinstance(edited, bool)
    assert edited.text == "answer"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_text("*answer*", CHAT, first.message_id, parse_mode="MarkdownV2")
    assert tg.calls[-1].description == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    assert caught.value.message.startswith("Message is not modified")
    # the same text without the bold is a change
    await bot.edit_message_text("answer", CHAT, first.message_id)
    [sent] = tg.sent[CHAT]
    assert sent.history == ["thinking", "answer", "answer"]
    assert [v.entities for v in sent.versions] == [
        [],
        [{"offset": 0, "length": 6, "type": "bold"}],
        [],
    ]
    assert sent.edits[0].raw == "<b>answer</b>"
    assert sent.text == "answer"


@pytest.mark.usefixtures("chat")
async def test_editing_and_deleting_unknown_messages(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", CHAT, 99)
    chat = tg.chats[CHAT]
    await tg.user_says(chat, None, "mine")
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("x", CHAT, 1)
    sent = await bot.send_message(CHAT, "bye")
    assert await bot.delete_message(CHAT, sent.message_id) is True
    assert tg.sent[CHAT][0].deleted is True
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", CHAT, sent.message_id)


async def test_links_to_users_become_text_mentions(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_chat(CHAT, "Alice", username="alice")
    message = await bot.send_message(
        CHAT, '<a href="tg://user?id=42">Alice</a>, see [docs](example.com)', parse_mode="HTML"
    )
    mention = message.entities[0]
    assert mention.type == "text_mention"
    assert mention.user is not None
    assert mention.user.first_name == "Alice"
    assert message.text == "Alice, see [docs](example.com)"


@pytest.mark.usefixtures("chat")
async def test_legacy_markdown(tg: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(
        CHAT, "*bold* _it_ `code` [l](https://x.org)", parse_mode="Markdown"
    )
    assert message.text == "bold it code l"
    assert [e.type for e in message.entities] == ["bold", "italic", "code", "text_link"]
    assert await rejected(tg, bot, "*open", parse_mode="Markdown") == (
        "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 0"
    )
