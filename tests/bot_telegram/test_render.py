"""Markdown answers become messages the fake Telegram server (TDLib's rules) accepts as sent."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

import pytest
import telegram

from bots.telegram.render import (
    Renderer,
    TelegramText,
    render_markdown,
    split_plain,
    split_text,
    utf16_len,
)
from tests.fakes.telegram.text import MAX_TEXT, format_text

BLOCKQUOTES = {"blockquote", "expandable_blockquote"}


def accepted(chunk: TelegramText, limit: int = MAX_TEXT) -> None:
    """Telegram takes ``chunk`` as it is: nothing trimmed, moved or refused, within ``limit``."""
    sent = [e.to_dict() for e in chunk.entities]
    stored = format_text(chunk.text, None, sent, find_new=False, limit=limit)
    assert stored.text == chunk.text
    assert utf16_len(chunk.text) <= limit
    assert sorted(map(placed, stored.entities)) == sorted(map(placed, sent))
    well_formed(chunk)


def placed(entity: Mapping[str, Any]) -> tuple[str, int, int, str | None]:
    return str(entity["type"]), entity["offset"], entity["length"], entity.get("language")


# TDLib's order of entities over the same range: the first one is the outer one.
OUTER_FIRST = {"blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20}


def _outer_first(entity: telegram.MessageEntity) -> int:
    return OUTER_FIRST.get(entity.type, 90 if entity.type in STYLES else 49)


STYLES = {"bold", "italic", "underline", "strikethrough", "spoiler"}


def well_formed(chunk: TelegramText) -> None:
    entities = chunk.entities
    assert [e.offset for e in entities] == sorted(e.offset for e in entities)
    for entity in entities:
        assert entity.length > 0
        end = entity.offset + entity.length
        for outer in entities:
            inside = outer.offset <= entity.offset and end <= outer.offset + outer.length
            same = outer.offset == entity.offset and outer.length == entity.length
            if (
                outer is entity
                or not inside
                or (same and _outer_first(outer) > _outer_first(entity))
            ):
                continue
            assert outer.type not in ("pre", "code") or entity.type == outer.type == "code"
            assert not (outer.type in BLOCKQUOTES and entity.type in BLOCKQUOTES)


def all_accepted(chunks: list[TelegramText], limit: int = MAX_TEXT) -> None:
    assert chunks
    for chunk in chunks:
        accepted(chunk, limit)


def covered(chunk: TelegramText, entity: telegram.MessageEntity) -> str:
    data = chunk.text.encode("utf-16-le")
    return data[2 * entity.offset : 2 * (entity.offset + entity.length)].decode("utf-16-le")


def of_type(chunk: TelegramText, kind: str) -> list[telegram.MessageEntity]:
    return [e for e in chunk.entities if e.type == kind]


def ink(text: str) -> str:
    """The non-whitespace characters of ``text``."""
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------------------- rendering


def test_markdown_becomes_text_and_entities() -> None:
    markdown = (
        "# Title\n\nSome **bold**, *italic*, `code` and a [link](https://example.com).\n\n"
        "- first item\n- second **item**\n\n1. one\n2. two\n\n> a quote\n> on two lines"
    )
    [chunk] = Renderer().reply(markdown)
    accepted(chunk)
    assert "**" not in chunk.text
    assert "](" not in chunk.text
    found = {str(e.type): covered(chunk, e) for e in chunk.entities}
    assert found["bold"] in ("bold", "item")
    assert found["italic"] == "italic"
    assert found["code"] == "code"
    assert found["text_link"] == "link"
    assert found["underline"] == "Title"  # a heading
    assert found["blockquote"] == "a quote\non two lines"
    assert [e.url for e in of_type(chunk, "text_link")] == ["https://example.com"]


def test_a_code_block_keeps_its_language() -> None:
    [chunk] = Renderer().reply("Run this:\n\n```python\nprint('hi')\nx = 1 * 2\n```")
    accepted(chunk)
    [pre] = of_type(chunk, "pre")
    assert pre.language == "python"
    assert covered(chunk, pre) == "print('hi')\nx = 1 * 2"


def test_markdown_that_breaks_naive_markdown_v2_escaping() -> None:
    markdown = "1. a_b*c [x](y) (parens) ! . - = | { } # + ~ > \\\\ and 2_000 * 3 = 6_000!"
    [chunk] = Renderer().reply(markdown)
    accepted(chunk)
    for char in "_*()!.-=|{}#+~>\\":
        assert char in chunk.text
    assert "a_b*c" in chunk.text


def test_entities_telegram_would_refuse_are_dropped() -> None:
    markdown = (
        "[relative](/path) [spaced](<a b>) [fine](https://example.com)\n\n"
        "> outer\n>> inner\n> outer again\n\n[`code`](https://example.org/x)"
    )
    [chunk] = Renderer().reply(markdown)
    accepted(chunk)
    assert [e.url for e in of_type(chunk, "text_link")] == [
        "https://example.com",
        "https://example.org/x",
    ]
    assert len(of_type(chunk, "blockquote")) == 1  # never nested
    assert "relative" in chunk.text
    assert "inner" in chunk.text


def test_latex_inside_code_is_kept_verbatim() -> None:
    markdown = 'Math \\( \\alpha + \\beta \\) and `re.compile(r"\\(\\alpha\\beta\\)")`'
    message = render_markdown(markdown)
    accepted(message)
    [code] = of_type(message, "code")
    assert covered(message, code) == 're.compile(r"\\(\\alpha\\beta\\)")'


def test_latex_in_prose_still_becomes_unicode() -> None:
    message = render_markdown("Euler: \\( \\alpha + \\beta = \\gamma \\)")
    assert "α + β = γ" in message.text


def test_what_telegram_removes_is_removed_before_measuring() -> None:
    message = render_markdown("**a\r\nb**\u2028c\td\u202ee\x01f\n\n")
    accepted(message)
    assert message.text == "a\nb\nc de f"
    [bold] = of_type(message, "bold")
    assert covered(message, bold) == "a\nb"


def test_offsets_count_utf16_units_after_astral_characters() -> None:
    [chunk] = Renderer().reply("😀👍🏽 𝔘𝔫𝔦 **bold** [link](https://example.com)")
    accepted(chunk)
    [bold] = of_type(chunk, "bold")
    assert bold.offset == utf16_len("😀👍🏽 𝔘𝔫𝔦 ")
    assert covered(chunk, bold) == "bold"


def test_a_notice_comes_first_in_italics() -> None:
    [chunk] = Renderer().reply("The **answer**.", notice="Switched to another model")
    accepted(chunk)
    assert chunk.text.startswith("Switched to another model\n\nThe answer.")
    [italic] = of_type(chunk, "italic")
    assert covered(chunk, italic) == "Switched to another model"


def test_blank_input_gives_no_messages() -> None:
    renderer = Renderer()
    assert renderer.reply("") == []
    assert renderer.reply(" \n\n ") == []
    assert renderer.reply("", notice=" ", reasoning="\n") == []
    assert renderer.draft("") == TelegramText("")
    assert split_plain("\n \n") == []
    assert render_markdown("") == TelegramText("")


def test_plain_drops_the_entities() -> None:
    message = render_markdown("**bold**")
    assert message.entities
    assert message.plain() == TelegramText("bold")


def test_utf16_len() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("中文") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("❤️") == 2
    assert utf16_len("👨‍👩‍👧") == 8


# --------------------------------------------------------------------------- splitting


def paragraphs(size: int, seed: int = 1) -> str:
    """Ordinary Markdown paragraphs, about ``size`` characters in all."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "**bold words**", "`code`", "[link](https://x.io)"]
    result: list[str] = []
    while sum(map(len, result)) < size:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(5, 15))).capitalize() + "."
            for _ in range(rng.randint(2, 6))
        ]
        result.append(" ".join(sentences))
    return "\n\n".join(result)


def test_a_long_answer_fills_few_messages_and_loses_nothing() -> None:
    markdown = paragraphs(30_000)
    rendered = render_markdown(markdown)
    assert 20_000 <= utf16_len(rendered.text) <= 22_000
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert ink("".join(c.text for c in chunks)) == ink(rendered.text)
    for chunk in chunks[:-1]:  # full: by length, or (here, mostly) by Telegram's 100 entities
        assert utf16_len(chunk.text) > 3000 or len(chunk.entities) > 66
        assert chunk.text.endswith(".")  # cut between paragraphs or sentences
    plain = Renderer().reply(markdown.replace("**", "").replace("`", ""))
    all_accepted(plain)
    assert len(plain) <= 6
    assert all(utf16_len(chunk.text) > 3000 for chunk in plain[:-1])


def test_long_paragraphs_are_cut_at_sentence_ends() -> None:
    sentence = "This sentence is about twenty words long, give or take a few of them here. "
    markdown = "\n\n".join([sentence * 40] * 6)  # paragraphs of ~3000 characters
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert len(chunks) <= 6
    assert all(chunk.text.endswith(".") for chunk in chunks)


def test_chinese_without_spaces_is_cut_after_full_stops() -> None:
    markdown = "这是一个很长的中文句子，里面没有任何空格但是有标点符号。" * 500
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert len(chunks) == 4
    assert all(chunk.text.endswith("。") for chunk in chunks)
    assert "".join(c.text for c in chunks) == markdown


def test_astral_characters_count_twice_at_the_boundary() -> None:
    text = "x" + "😀" * 3000  # 3001 characters, 6001 UTF-16 units
    chunks = split_plain(text)
    all_accepted(chunks)
    assert [utf16_len(c.text) for c in chunks] == [4095, 1906]
    assert "".join(c.text for c in chunks) == text


def test_an_emoji_and_its_variation_selector_stay_together() -> None:
    text = "x" + "❤️" * 3000
    chunks = split_plain(text)
    all_accepted(chunks)
    assert not chunks[1].text.startswith("\ufe0f")
    assert chunks[0].text.endswith("\ufe0f")
    families = "👨‍👩‍👧" * 1000
    chunks = split_plain(families)
    all_accepted(chunks)
    assert all(c.text.startswith("👨") and c.text.endswith("👧") for c in chunks)


@pytest.mark.parametrize("limit", [16, 20, 40])
def test_a_grapheme_that_fits_is_never_cut_even_near_the_end(limit: int) -> None:
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # 14 units
    chunks = split_plain("aaa" + scotland, limit)
    all_accepted(chunks, limit)
    assert scotland in [c.text for c in chunks] or chunks[0].text.endswith(scotland)


def test_flags_are_cut_between_flags() -> None:
    chunks = split_plain("x" + "🇩🇪🇫🇷" * 1500)  # regional indicators only: each flag is two
    all_accepted(chunks)
    assert all(len(c.text.lstrip("x")) % 2 == 0 for c in chunks)


def test_entities_after_many_emoji_keep_their_place() -> None:
    markdown = "😀" * 2040 + " **bold** and more text " + "🎉" * 10
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    bolds = [(c, e) for c in chunks for e in of_type(c, "bold")]
    assert [covered(c, e) for c, e in bolds] == ["bold"]


def test_a_long_code_block_continues_in_the_next_message() -> None:
    code = "\n".join(f"value_{i} = compute({i}) + offset  # step {i}" for i in range(250))
    assert len(code) > 10_000
    markdown = f"Here is the script:\n\n```python\n{code}\n```\n\nThat is all."
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert len(chunks) == 3
    pieces = []
    for chunk in chunks:
        [pre] = of_type(chunk, "pre")
        assert pre.language == "python"
        pieces.append(covered(chunk, pre))
    assert "\n".join(pieces) == code  # cut between lines, nothing lost
    assert chunks[0].text.startswith("Here is the script:")
    assert chunks[-1].text.endswith("That is all.")


def test_a_code_block_that_fits_a_message_is_not_cut() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(200))  # ~2400 characters
    markdown = paragraphs(3_000) + f"\n\n```sh\n{code}\n```"
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    pres = [(c, e) for c in chunks for e in of_type(c, "pre")]
    assert [covered(c, e) for c, e in pres] == [code]


def test_a_bold_run_across_the_boundary_is_not_cut() -> None:
    bold = "these words stay bold together " * 10
    markdown = "word " * 780 + f"**{bold.strip()}** " + "tail " * 100
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert len(chunks) == 2
    bolds = [(c, e) for c in chunks for e in of_type(c, "bold")]
    assert [covered(c, e) for c, e in bolds] == [bold.strip()]
    assert chunks[1].text.startswith("these words")


def test_an_entity_longer_than_a_message_is_clipped_into_both() -> None:
    markdown = "Intro.\n\n**" + ("long bold sentence. " * 300).strip() + "**"
    chunks = Renderer().reply(markdown)
    all_accepted(chunks)
    assert len(chunks) >= 2
    assert all(of_type(c, "bold") for c in chunks[1:])


def test_split_text_keeps_explicit_entities_valid() -> None:
    text = "quote " * 1000
    message = TelegramText(
        text,
        (
            telegram.MessageEntity("blockquote", 0, len(text)),
            telegram.MessageEntity("bold", 6, 5),
            telegram.MessageEntity("pre", 0, 3),  # crosses nothing, nested in the quote
        ),
    )
    chunks = split_text(message, 1000)
    all_accepted(chunks, 1000)
    assert all(of_type(c, "blockquote") for c in chunks)


@pytest.mark.parametrize("limit", [40, 97, 500, 4096])
def test_random_answers_at_any_limit(limit: int) -> None:
    rng = random.Random(limit)
    pieces = [
        "**bold**", "*it*", "`c`", "[l](https://e.com)", "😀", "中文。", "word", "a.", "\n",
        "\n\n", "> quote\n", "- item\n", "```js\nlet x = 1;\nlet y = 2;\n```\n", "é", "❤️",
    ]  # fmt: skip
    for _ in range(20):
        markdown = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 400)))
        rendered = render_markdown(markdown)
        chunks = split_text(rendered, limit)
        for chunk in chunks:
            accepted(chunk, limit)
        assert ink("".join(c.text for c in chunks)) == ink(rendered.text)


# --------------------------------------------------------------------------- reasoning


def test_short_reasoning_joins_the_answer() -> None:
    [chunk] = Renderer().reply("The answer.", reasoning="I *thought* about it.")
    accepted(chunk)
    assert chunk.text == "The answer.\n\nReasoning\nI *thought* about it."  # not Markdown
    [label] = of_type(chunk, "bold")
    [quote] = of_type(chunk, "expandable_blockquote")
    assert covered(chunk, label) == "Reasoning"
    assert covered(chunk, quote) == "I *thought* about it."


def test_long_reasoning_is_quoted_over_several_messages() -> None:
    reasoning = ("Let me think about this step by step. " * 270)[:10_000]
    chunks = Renderer().reply("The answer.", reasoning=reasoning, reasoning_label="思考")
    all_accepted(chunks)
    assert chunks[0].text == "The answer."
    quoted = chunks[1:]
    assert len(quoted) == 3
    assert covered(quoted[0], of_type(quoted[0], "bold")[0]) == "思考"
    assert all(not of_type(c, "bold") for c in quoted[1:])
    parts = []
    for chunk in quoted:
        [quote] = of_type(chunk, "expandable_blockquote")
        assert quote.offset + quote.length == utf16_len(chunk.text)
        parts.append(covered(chunk, quote))
    assert ink("".join(parts)) == ink(reasoning)


def test_reasoning_that_does_not_fit_the_last_message_starts_a_new_one() -> None:
    answer = "word " * 700
    chunks = Renderer().reply(answer, reasoning="thinking " * 200)
    all_accepted(chunks)
    assert len(chunks) == 2
    assert not chunks[0].entities
    assert chunks[1].text.startswith("Reasoning\nthinking")


# --------------------------------------------------------------------------- fallbacks, drafts


def test_a_draft_of_an_unclosed_fence_is_a_code_block() -> None:
    draft = Renderer().draft("Here:\n\n```python\ndef f():\n    return 1")
    accepted(draft)
    [pre] = of_type(draft, "pre")
    assert pre.language == "python"
    assert covered(draft, pre) == "def f():\n    return 1"


def test_a_draft_of_unclosed_bold_does_not_fail() -> None:
    draft = Renderer().draft("Some **bold that is still being")
    accepted(draft)
    assert "bold that is still being" in draft.text


def test_a_long_draft_is_the_tail_still_being_written() -> None:
    markdown = paragraphs(12_000)[:10_000]
    draft = Renderer().draft(markdown)
    accepted(draft)
    rendered = render_markdown(markdown)
    assert utf16_len(rendered.text) > MAX_TEXT
    assert rendered.text.endswith(draft.text)
    assert draft == split_text(rendered)[-1]


def test_a_smaller_limit_is_respected_everywhere() -> None:
    renderer = Renderer(limit=300)
    chunks = renderer.reply(paragraphs(5_000), notice="n", reasoning="r " * 400)
    all_accepted(chunks, 300)
    accepted(renderer.draft(paragraphs(5_000)), 300)
    all_accepted(split_plain(paragraphs(5_000), 300), 300)


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("/model <id> switches the model", "/model <id> switches the model"),
        ("Use Vec<T> when a<b>c", "Use Vec<T> when a<b>c"),
        ("line one<br>line two", "line one<br>line two"),
        ("<div>\nhello\n</div>", "<div>\nhello\n</div>"),
        ("`List<int>` stays code", "List<int> stays code"),
    ],
)
def test_text_that_looks_like_html_is_shown_not_dropped(markdown: str, shown: str) -> None:
    assert render_markdown(markdown).text == shown


# --------------------------------------------------------------------------- links to users


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("Ask [Bob](tg://user?id=123) now", "Ask Bob now"),
        ("Ask [Bob](TG:user?id=123) now", "Ask Bob now"),
        ("Ask [Bob]( tg://user?id=123 ) now", "Ask Bob now"),
        ("See [the chat](tg://resolve?domain=x)", "See the chat"),
        ("Pay [here](ton://transfer/abc)", "Pay here"),
        ("Mail [me](mailto:a@b.co) or [run](javascript:alert(1))", "Mail me or run"),
        ("<tg://user?id=5>", "tg://user?id=5"),
        ("![👍](tg://emoji?id=5368324170671202286)", "👍"),
    ],
)
def test_a_model_never_mentions_or_links_into_telegram(markdown: str, shown: str) -> None:
    [chunk] = Renderer().reply(markdown)
    accepted(chunk)
    assert chunk.text == shown
    assert not chunk.entities


def test_explicit_mentions_and_custom_emoji_are_never_sent() -> None:
    user = telegram.User(123, "Bob", is_bot=False)
    message = TelegramText(
        "Bob 👍 link",
        (
            telegram.MessageEntity("text_mention", 0, 3, user=user),
            telegram.MessageEntity("custom_emoji", 4, 2, custom_emoji_id="536832"),
            telegram.MessageEntity("text_link", 7, 4, url="tg://user?id=123"),
        ),
    )
    [chunk] = split_text(message)
    assert chunk == TelegramText("Bob 👍 link")


def test_web_links_stay_links() -> None:
    [chunk] = Renderer().reply("[a](https://a.io/x) [b](b.io) [c](http://c.io:8080/p)")
    accepted(chunk)
    assert [e.url for e in of_type(chunk, "text_link")] == [
        "https://a.io/x",
        "b.io",
        "http://c.io:8080/p",
    ]
