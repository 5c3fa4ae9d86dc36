"""Markdown answers become messages the fake Discord (``check_message``) accepts as sent."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable

import pytest

from bots.discord.render import (
    MAX_CONTENT,
    WRITING_MARKER,
    Attachment,
    DiscordMessage,
    DiscordRenderer,
    split_markdown,
)
from tests.fakes.discord.validate import MAX_CONTENT as FAKE_MAX_CONTENT
from tests.fakes.discord.validate import check_message
from tests.fakes.openrouter import Answer, FakeOpenRouter

from .conftest import BotFactory, World

FENCE_LINE = re.compile(r"^[ \t]*`{3,}[^`\n]*$", re.MULTILINE)
FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # seven code points, one picture


def accepted(content: str, files: int = 0, *, edit: bool = False) -> None:
    """Discord (the fake's rules) takes ``content`` as a message or an edit."""
    check_message({"content": content}, files=files, edit=edit)
    assert content.strip()


def all_accepted(messages: list[DiscordMessage]) -> None:
    assert messages
    for message in messages:
        accepted(message.content, len(message.files))


def chunks_ok(chunks: list[str], limit: int = MAX_CONTENT) -> None:
    """Every chunk fits, is trimmed, and opens no code block it does not close."""
    assert chunks
    for chunk in chunks:
        accepted(chunk)
        assert len(chunk) <= limit
        assert chunk == chunk.strip("\n")
        assert chunk.strip() == chunk.strip("\n").rstrip()
        assert len(FENCE_LINE.findall(chunk)) % 2 == 0, chunk


def ink(text: str) -> str:
    """The visible characters of ``text``, fence lines (added or not) left out."""
    return re.sub(r"\s+", "", FENCE_LINE.sub("", text))


def nothing_lost(text: str, chunks: list[str]) -> None:
    assert "".join(map(ink, chunks)) == ink(text)


def paragraph(size: int, seed: int) -> str:
    """A paragraph of words, exactly ``size`` characters long, ending with a period."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(map(len, words)) + len(words) < size:
        words.append(rng.choice(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]))
    text = " ".join(words)[: size - 1].rstrip()
    return text + "x" * (size - 1 - len(text)) + "."


def answer(size: int, seed: int = 1) -> str:
    """Markdown paragraphs of varied length with styles, links and code, about ``size`` long."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "**bold words**", "`code`", "[link](https://x.io/a)", "δ"]
    result: list[str] = []
    while sum(map(len, result)) + 2 * len(result) < size:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(5, 15))).capitalize() + "."
            for _ in range(rng.randint(1, 6))
        ]
        result.append(" ".join(sentences))
    return "\n\n".join(result)


def code_block(lines: int, language: str = "python") -> str:
    body = "\n".join(f"    value_{i} = compute({i}) * factor + offset  # {i}" for i in range(lines))
    return f"```{language}\n{body}\n```"


# --------------------------------------------------------------------------- the fake's rule


def test_the_limit_is_the_fakes_and_counts_code_points() -> None:
    assert MAX_CONTENT == FAKE_MAX_CONTENT == 2000
    accepted(FAMILY * (2000 // 7))  # 1,995 code points, 2,850 UTF-16 units
    with pytest.raises(Exception, match="Invalid Form Body"):
        check_message({"content": "x" * 2001})


# --------------------------------------------------------------------------- splitting


def test_a_short_answer_is_one_message_as_written() -> None:
    text = "# Title\n\nSome **bold**, *italic*, `code` and a [link](https://x.io).\n\n- a\n- b"
    assert split_markdown(text) == [text]
    assert split_markdown("\n\n  \n" + text + "\n\n \n") == [text]


def test_paragraphs_are_cut_at_blank_lines_and_packed() -> None:
    paragraphs = [paragraph(487, seed) for seed in range(41)]  # 4 fit a message, 5 do not
    text = "\n\n".join(paragraphs)
    assert 20_000 <= len(text) <= 20_100
    chunks = split_markdown(text)
    chunks_ok(chunks)
    assert len(chunks) == 11
    assert chunks == ["\n\n".join(paragraphs[i : i + 4]) for i in range(0, 41, 4)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_20000_character_answer_is_packed_greedily_and_nothing_is_lost(seed: int) -> None:
    text = answer(20_000, seed)
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    assert len(chunks) <= math.ceil(len(text) / MAX_CONTENT) + 1  # 11 or 12, not 30
    assert all(len(chunk) > MAX_CONTENT * 2 // 3 for chunk in chunks[:-1])
    assert all(chunk.endswith(".") for chunk in chunks)  # at paragraph or sentence ends


def test_a_long_line_is_cut_at_sentence_ends_then_spaces() -> None:
    sentence = "This sentence is about forty characters. "
    chunks = split_markdown(sentence * 120)
    chunks_ok(chunks)
    assert all(chunk.endswith("characters.") for chunk in chunks)
    words = split_markdown("word " * 1000)
    chunks_ok(words)
    assert all(chunk.split(" ") == ["word"] * len(chunk.split(" ")) for chunk in words)


def test_a_code_block_split_across_messages_is_closed_and_reopened() -> None:
    text = "Here is the program:\n\n" + code_block(150) + "\n\nThat is all."
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    assert len(chunks) >= 3
    code_lines = set(text.splitlines())
    for i, chunk in enumerate(chunks):
        if i > 0:
            assert chunk.startswith("```python\n")  # reopened with its language
        if i < len(chunks) - 1:
            assert chunk.endswith("\n```")
        for line in chunk.splitlines():  # cut at line breaks only: every line whole
            assert line in code_lines or line == "```python" or line == "```"
    assert chunks[-1].endswith("That is all.")


def test_a_code_block_that_fits_a_message_is_moved_whole() -> None:
    text = paragraph(1500, 1) + "\n\n" + code_block(12, "rust") + "\n\nDone."
    chunks = split_markdown(text)
    chunks_ok(chunks)
    assert chunks[0] == paragraph(1500, 1)
    assert chunks[1].startswith("```rust\n")
    assert chunks[1].count("```") == 2


def test_a_code_line_longer_than_a_message_is_still_cut_into_valid_blocks() -> None:
    text = "```json\n" + '{"key": "value"}, ' * 400 + "\n```"
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    assert all(c.startswith("```json\n") and c.endswith("\n```") for c in chunks)


def test_an_indented_code_block_in_a_list_is_closed_and_reopened() -> None:
    code = "\n".join(f"      echo step {i} && run --flag value-{i}" for i in range(90))
    text = f"1. First:\n\n    ```bash\n{code}\n    ```\n2. Then done."
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    assert chunks[0].endswith("\n```")
    assert chunks[1].startswith("```bash\n      echo step")
    assert chunks[-1].endswith("```\n2. Then done.")


def test_fences_of_four_backticks_are_closed_with_four() -> None:
    inner = "```python\nprint('nested')\n```"
    text = "````markdown\n" + "\n".join([inner] * 120) + "\n````"
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    for chunk in chunks:
        assert chunk.startswith("````markdown\n")
        assert chunk.endswith("\n````")


def test_chinese_without_spaces_is_cut_after_sentence_ends() -> None:
    text = "这是一个没有空格的中文句子，用来测试消息的分割！还有问题吗？没有了。" * 200
    chunks = split_markdown(text)
    chunks_ok(chunks)
    assert "".join(chunks) == text
    assert all(chunk[-1] in "。！？" for chunk in chunks)
    assert all(len(chunk) > MAX_CONTENT * 2 // 3 for chunk in chunks[:-1])


@pytest.mark.parametrize("offset", range(7))
def test_emoji_are_never_cut_in_the_middle(offset: int) -> None:
    text = "a" * offset + FAMILY * 700  # no spaces: hard cuts, at any phase of the sequence
    chunks = split_markdown(text)
    chunks_ok(chunks)
    assert "".join(chunks) == text
    for chunk in chunks:
        rest = chunk.lstrip("a")
        assert rest == FAMILY * (len(rest) // 7)


@pytest.mark.parametrize("emoji", ["👍🏽", "🇨🇭", "❤️", "é", "1️⃣"])
def test_other_graphemes_survive_a_hard_cut(emoji: str) -> None:
    text = emoji * (3 * MAX_CONTENT // len(emoji))
    chunks = split_markdown(text)
    chunks_ok(chunks)
    assert "".join(chunks) == text
    assert all(chunk == emoji * (len(chunk) // len(emoji)) for chunk in chunks)


@pytest.mark.parametrize(
    "span",
    [
        "`inline code with several words in it`",
        "**a bold phrase that crosses the limit**",
        "[a link with words](https://example.com/some/path)",
        "||a spoiler that crosses the limit||",
    ],
)
def test_inline_spans_are_not_split(span: str) -> None:
    before = "word " * 394  # the span starts 30 characters before the limit
    text = before + span + " and then" + " more" * 500
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)
    assert sum(span in chunk for chunk in chunks) == 1
    assert chunks[0] == before.rstrip()


def test_a_span_longer_than_a_message_is_cut_anyway() -> None:
    text = "`" + "x " * 1500 + "`"
    chunks = split_markdown(text)
    chunks_ok(chunks)
    nothing_lost(text, chunks)


def test_small_limits() -> None:
    text = "Intro.\n\n" + code_block(20, "py") + "\n\nEnd " + FAMILY * 10
    for limit in (1, 7):  # too small for a fence and a line: fences are cut like text
        chunks = split_markdown(text, limit)
        assert all(0 < len(chunk) <= limit for chunk in chunks)
        assert re.sub(r"\s+", "", "".join(chunks)) == re.sub(r"\s+", "", text)
    for limit in (30, 80, 333):
        chunks = split_markdown(text, limit)
        chunks_ok(chunks, limit)
        nothing_lost(text, chunks)
    with pytest.raises(ValueError, match="limit"):
        split_markdown(text, 0)


@pytest.mark.parametrize("seed", range(30))
def test_random_markdown_always_fits_and_keeps_everything(seed: int) -> None:
    rng = random.Random(seed)
    pieces: list[Callable[[], str]] = [
        lambda: answer(rng.randint(10, 900), rng.randint(0, 99)),
        lambda: code_block(rng.randint(1, 90), rng.choice(["py", "", "c++", "js"])),
        lambda: "这是中文。" * rng.randint(1, 200),
        lambda: FAMILY * rng.randint(1, 80) + "🇨🇭" * rng.randint(0, 30),
        lambda: "- item **bold** `x`\n" * rng.randint(1, 60),
        lambda: "x" * rng.randint(1, 3000),
        lambda: "\n\n\n",
    ]
    text = "\n\n".join(rng.choice(pieces)() for _ in range(rng.randint(1, 12)))
    limit = rng.choice([MAX_CONTENT, MAX_CONTENT, 500, 120])
    chunks = split_markdown(text, limit)
    chunks_ok(chunks, limit)
    nothing_lost(text, chunks)


# --------------------------------------------------------------------------- replies


def test_blank_input_gives_no_messages() -> None:
    renderer = DiscordRenderer()
    assert split_markdown("") == []
    assert split_markdown(" \n\n \t\n") == []
    assert renderer.reply("") == []
    assert renderer.reply(" \n\n ") == []
    assert renderer.reply("", notice="Switched models", reasoning="some thought") == []
    assert renderer.draft("") == ""
    assert renderer.draft("\n \n") == ""


def test_a_reply_is_the_answer_as_written() -> None:
    [message] = DiscordRenderer().reply("The **answer** is `42`.")
    assert message == DiscordMessage("The **answer** is `42`.")
    all_accepted([message])


def test_a_long_reply_is_split_into_accepted_messages() -> None:
    text = answer(9000) + "\n\n" + code_block(80)
    messages = DiscordRenderer().reply(text)
    all_accepted(messages)
    assert len(messages) >= 5
    nothing_lost(text, [m.content for m in messages])
    assert all(m.files == () for m in messages)


def test_a_notice_comes_first_as_an_escaped_italic_line() -> None:
    [message] = DiscordRenderer().reply("The answer.", notice="Model *a_b* is `down`\nswitched")
    all_accepted([message])
    assert message.content == "*Model \\*a\\_b\\* is \\`down\\` switched*\n\nThe answer."


def test_a_notice_before_a_long_answer_still_fits() -> None:
    text = "\n\n".join(paragraph(487, seed) for seed in range(8))
    messages = DiscordRenderer().reply(text, notice="Answered by another model")
    all_accepted(messages)
    assert messages[0].content.startswith("*Answered by another model*\n\n")
    nothing_lost(text, [m.content.removeprefix("*Answered by another model*") for m in messages])


def test_short_reasoning_is_a_spoiler_after_a_bold_label() -> None:
    [message] = DiscordRenderer().reply(
        "The answer.", reasoning="I thought about it.", reasoning_label="Thinking"
    )
    all_accepted([message])
    assert message.content == "The answer.\n\n**Thinking**\n||I thought about it.||"
    assert message.files == ()


def test_reasoning_cannot_break_out_of_its_spoiler() -> None:
    reasoning = "a || b ||| c\n```python\ncode\n```\n# heading\n> quote\n- item\n<@123> **x** _y_"
    [message] = DiscordRenderer().reply("Answer.", reasoning=reasoning)
    all_accepted([message])
    label, spoiler = message.content.removeprefix("Answer.\n\n").split("\n", 1)
    assert label == "**Reasoning**"
    assert spoiler.startswith("||")
    assert spoiler.endswith("||")
    inner = spoiler[2:-2]
    assert re.search(r"(?<!\\)[|`*_<>]", inner) is None  # every markup character escaped
    assert re.search(r"^[#>-]", inner, re.MULTILINE) is None
    assert re.sub(r"\\(.)", r"\1", inner) == reasoning  # and shown as written


def test_reasoning_goes_to_its_own_message_when_the_last_one_is_full() -> None:
    text = paragraph(1990, 3)
    messages = DiscordRenderer().reply(text, reasoning="Short thought.")
    all_accepted(messages)
    assert [m.content for m in messages] == [text, "**Reasoning**\n||Short thought.||"]


def test_long_reasoning_is_attached_as_a_file() -> None:
    reasoning = "Step one: think hard. 思考！ " * 100 + "||`end`"
    messages = DiscordRenderer(reasoning_inline_max=1500).reply(
        "Answer.", reasoning=reasoning, reasoning_label="Reasoning"
    )
    all_accepted(messages)
    [message] = messages
    assert message.files == (Attachment("reasoning.md", reasoning.encode()),)
    assert message.content.startswith("Answer.\n\n**Reasoning**")
    assert "reasoning.md" in message.content
    assert "Step one" not in message.content


def test_reasoning_attached_to_the_last_of_several_messages() -> None:
    text = answer(6000, 5)
    messages = DiscordRenderer().reply(text, reasoning="why " * 1000)
    all_accepted(messages)
    assert all(m.files == () for m in messages[:-1])
    assert [f.filename for f in messages[-1].files] == ["reasoning.md"]


def test_reasoning_that_escapes_beyond_the_limit_is_attached() -> None:
    reasoning = "|" * 1400  # short enough to inline, but twice as long escaped
    [message] = DiscordRenderer().reply("Answer.", reasoning=reasoning)
    all_accepted([message])
    assert message.files == (Attachment("reasoning.md", reasoning.encode()),)


# --------------------------------------------------------------------------- drafts


def test_a_draft_ends_with_the_writing_marker() -> None:
    draft = DiscordRenderer().draft("The answer so far")
    assert draft == "The answer so far" + WRITING_MARKER
    accepted(draft, edit=True)


def test_a_draft_closes_an_unclosed_code_fence() -> None:
    draft = DiscordRenderer().draft("Here:\n\n```python\nprint('hi')\nfor i in")
    accepted(draft)
    assert draft == f"Here:\n\n```python\nprint('hi')\nfor i in\n```\n{WRITING_MARKER.strip()}"
    assert len(FENCE_LINE.findall(draft)) == 2


def test_a_draft_of_a_long_partial_answer_is_the_part_being_written() -> None:
    text = answer(10_000, 7)
    draft = DiscordRenderer().draft(text)
    accepted(draft)
    assert len(draft) <= MAX_CONTENT
    assert draft.endswith(WRITING_MARKER)
    assert text.endswith(draft.removesuffix(WRITING_MARKER))


@pytest.mark.parametrize("size", [1990, 1998, 1999, 2000, 2001, 10_000])
def test_a_draft_never_exceeds_the_limit_with_its_marker(size: int) -> None:
    renderer = DiscordRenderer()
    for text in ("x" * size, "```py\n" + "y" * size, FAMILY * (size // 7)):
        draft = renderer.draft(text)
        accepted(draft)
        assert draft.endswith(WRITING_MARKER.strip())


def test_a_draft_inside_a_long_code_block_reopens_and_closes_it() -> None:
    text = "Program:\n\n```python\n" + "\n".join(f"line_{i} = {i}" for i in range(1000))
    draft = DiscordRenderer().draft(text)
    accepted(draft)
    assert draft.startswith("```python\n")
    assert draft.endswith(f"line_999 = 999\n```\n{WRITING_MARKER.strip()}")


def test_the_renderer_rejects_unusable_limits() -> None:
    with pytest.raises(ValueError, match="limit"):
        DiscordRenderer(limit=10)
    with pytest.raises(ValueError, match="reasoning_inline_max"):
        DiscordRenderer(reasoning_inline_max=-1)


# --------------------------------------------------------------------------- no pings


async def test_nothing_an_answer_says_can_ping_anyone(
    world: World, openrouter: FakeOpenRouter, running_bot: BotFactory
) -> None:
    """The renderer leaves ``@everyone`` and ``<@id>`` as written; every message the sink sends
    or edits allows no mention at all, so Discord pings no one (nor the person answered)."""
    fake = world.fake
    pings = f"@everyone @here <@{world.bob.id}> <@!{world.bob.id}> <@&1234> " + "word " * 500
    openrouter.enqueue(Answer(content=[pings[:900], pings[900:]], chunk_delay=0.05))
    async with running_bot(discord_edit_interval=0.2):
        await fake.user_says(world.general, world.alice, "ping them", mentions_bot=True)
        await fake.wait_for(
            lambda: (
                "".join(m.content for m in fake.sent[world.general.id]).rstrip().endswith("word")
            )
        )
    calls = [
        c
        for c in fake.calls
        if c.route
        in (
            "POST /channels/{channel_id}/messages",
            "PATCH /channels/{channel_id}/messages/{message_id}",
        )
    ]
    assert len(calls) >= 2
    for call in calls:
        allowed = call.body["allowed_mentions"]
        assert allowed["parse"] == []
        assert not allowed.get("users")
        assert not allowed.get("roles")
        assert not allowed.get("replied_user", False)
    assert fake.sent[world.general.id][0].content.startswith("@everyone @here <@")
