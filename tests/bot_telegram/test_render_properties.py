"""Properties of the Telegram renderer and splitter (and ``bots.textcut``) for any Markdown a
model could write: nested lists, unbalanced markers, code blocks of any size with and without a
language, tables, links, headings, quotes, and text in any script (CJK, right-to-left, emoji
with ZWJ sequences and skin tones, combining marks, lone surrogates).

For every answer and every limit, each message

* is at most ``limit`` UTF-16 code units and carries at most 100 entities;
* is stored by the fake Telegram (TDLib's checks, ``tests/fakes/telegram/text.py``) exactly as
  sent: no entity refused, trimmed or moved;
* ends between graphemes (no emoji, flag or accented letter cut in two), never links to or
  mentions a Telegram user;

and the text a user reads is the answer apart from formatting (``visible``): Markdown markers,
the renderer's decorations (list bullets, heading icons, task boxes, table rules), the numbers
of ordered list items (Markdown renumbers them), link targets, whitespace and the characters
Telegram itself removes may differ; every other character of the answer is shown once, in
order. Splitting the rendered answer loses and repeats nothing at all apart from whitespace.

Examples are derandomized and never stored, so CI sees the same ones on every run.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import telegram
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bots.telegram.render import (
    MAX_ENTITIES,
    Renderer,
    TelegramText,
    render_markdown,
    split_text,
    utf16_len,
)
from bots.textcut import Blocked, grapheme_start
from tests.fakes.telegram.text import format_text

from .test_render import accepted

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- what a model writes

SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # 14 UTF-16 units
# Single graphemes (what a reader sees as one character) from many scripts ...
CLUSTERS = [
    "a", "Z", "4", "é", "e\u0301", "Z\u0324\u0354\u0367\u0311", "中", "。", "！", "م", "بِ", "ש",
    "שָׁ", "\u200f", "\u202e", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇩🇪", "❤️", "1\ufe0f\u20e3",
    SCOTLAND, "𝔘", "कि", ".", ",", "?",
]  # fmt: skip
# ... and short words, right-to-left ones among them, and text that looks like HTML.
GRAPHEMES = [*CLUSTERS, "word", "42", "文字", "مرحبا", "שלום", "Vec<T>", "a<b", "snake_case"]
CODE_CHARS = [*"abcxyz019 {}()[]<>*_~`#|\\/\"'=+-.:;,\t中", "👍🏽"]  # whole graphemes
LANGUAGES = ["", "python", "js", "c++", "rust", "text"]
URLS = [
    "https://example.com/p",
    "https://x.io/a_b?q=1",
    "tg://user?id=123",
    "tg://resolve?domain=x",
]


@dataclass(frozen=True)
class Piece:
    """Markdown and the characters a reader should see of it."""

    markdown: str
    shown: str


words = st.lists(st.sampled_from(GRAPHEMES), min_size=1, max_size=4).map("".join)


def _wrapped(marker: str) -> st.SearchStrategy[Piece]:
    return words.map(lambda w: Piece(f"{marker}{w}{marker}", w))


inline_piece = st.one_of(
    words.map(lambda w: Piece(w, w)),
    _wrapped("**"),
    _wrapped("*"),
    _wrapped("_"),
    _wrapped("~~"),
    _wrapped("||"),
    _wrapped("`"),
    st.tuples(words, st.sampled_from(URLS)).map(lambda t: Piece(f"[{t[0]}]({t[1]})", t[0])),
    st.just(Piece("<https://example.org/x>", "https://example.org/x")),
    st.just(Piece("https://example.net/y", "https://example.net/y")),
)


def line_of(pieces: st.SearchStrategy[Piece]) -> st.SearchStrategy[Piece]:
    return st.lists(pieces, min_size=1, max_size=8).map(
        lambda ps: Piece(" ".join(p.markdown for p in ps), " ".join(p.shown for p in ps))
    )


line = line_of(inline_piece)


def _joined(pieces: list[Piece], separator: str) -> Piece:
    return Piece(
        separator.join(p.markdown for p in pieces), separator.join(p.shown for p in pieces)
    )


@st.composite
def code_block(draw: st.DrawFn, lines_between: tuple[int, int] = (1, 40)) -> Piece:
    language = draw(st.sampled_from(LANGUAGES))
    code_line = st.lists(st.sampled_from(CODE_CHARS), max_size=30).map("".join)
    least, most = lines_between
    lines = draw(st.lists(code_line, min_size=least, max_size=most))
    if least > 1 and draw(st.booleans()):  # and a line longer than any message
        lines.insert(draw(st.integers(0, len(lines))), "x = 'a long line' + " * 300)
    lines = [ln for ln in lines if not ln.lstrip().startswith("```")] or ["x"]
    body = "\n".join(lines)
    return Piece(f"```{language}\n{body}\n```", body)


@st.composite
def a_list(draw: st.DrawFn) -> Piece:
    items: list[Piece] = []
    numbers = [0, 0, 0]
    depth = 0
    for _ in range(draw(st.integers(1, 6))):
        depth = draw(st.integers(0, min(2, depth + 1) if items else 0))
        numbers[depth + 1 :] = [0] * (2 - depth)
        content = draw(line)
        if draw(st.booleans()):
            numbers[depth] += 1
            marker = f"{numbers[depth]}."
            shown = f"{marker} {content.shown}"
        else:
            marker = draw(st.sampled_from(["-", "*", "+", "- [ ]", "- [x]"]))
            shown = content.shown
        items.append(Piece(f"{'   ' * depth}{marker} {content.markdown}", shown))
    return _joined(items, "\n")


@st.composite
def a_table(draw: st.DrawFn) -> Piece:
    columns = draw(st.integers(1, 3))
    rows = draw(
        st.lists(st.lists(words, min_size=columns, max_size=columns), min_size=1, max_size=4)
    )
    lines = [f"| {' | '.join(r)} |" for r in rows]
    lines.insert(1, "|" + "---|" * columns)
    return Piece("\n".join(lines), " ".join(" ".join(r) for r in rows))


block = st.one_of(
    line_of(inline_piece),
    st.tuples(st.integers(1, 6), line).map(
        lambda t: Piece(f"{'#' * t[0]} {t[1].markdown}", t[1].shown)
    ),
    st.lists(line, min_size=1, max_size=3).map(
        lambda ls: Piece("\n".join(f"> {x.markdown}" for x in ls), " ".join(x.shown for x in ls))
    ),
    a_list(),
    a_table(),
    code_block(),
    st.just(Piece("---", "")),
)

answers = st.lists(block, min_size=1, max_size=8).map(lambda bs: _joined(bs, "\n\n"))
huge_code = st.tuples(line, code_block((150, 400)), line).map(lambda t: _joined(list(t), "\n\n"))
limits = st.one_of(st.integers(40, 700), st.just(4096))

# Markers that may be unbalanced, and text the Markdown parser may read in odd ways.
ODD = [
    "*", "**", "_", "__", "`", "``", "```", "~~", "||", "[", "]", "(", ")", "<", ">", "#", "\\",
    "\\(", "\\[", "$", "&amp;", "&", "!", "\n", "\n\n", "\n- ", "\n> ", "\n1. ", "    ",
]  # fmt: skip
hostile = st.lists(
    st.one_of(st.sampled_from(ODD), inline_piece.map(lambda p: p.markdown), st.text(max_size=5)),
    max_size=60,
).map("".join)
lone_surrogates = st.lists(
    st.one_of(
        st.sampled_from(["**b**", "`c`", " ", "中", "👍🏽"]), st.integers(0xD800, 0xDFFF).map(chr)
    ),
    max_size=30,
).map("".join)


# --------------------------------------------------------------------------- what a user reads

_NOT_TEXT = re.compile(
    r"[\s*_~`#>|\-+\[\]()!\\\ufe0f—⦁📌✏📚🔖☑✅🖼🔗\r\u2028-\u202e\u0333\u033f\u030a]"
)


_ITEM_NUMBER = re.compile(r"^[ \t]*\d{1,9}[.)](?:[ \t]|$)", re.MULTILINE)


def visible(text: str) -> str:
    """What is left to compare once formatting may differ: no whitespace, no Markdown marker
    characters (``* _ ~ ` # > | - + [ ] ( ) ! \\``), no numbers of ordered list items (Markdown
    renumbers them), none of telegramify's decorations (list bullet, heading icons, task boxes,
    rule, image and link icons, the emoji variation selector its ✏️ carries) and none of the
    characters Telegram removes."""
    return _NOT_TEXT.sub("", _ITEM_NUMBER.sub("", text))


def ink(text: str) -> str:
    return re.sub(r"\s+", "", text)


def kept_by_telegram(text: str) -> str:
    return re.sub("[\r\u202a-\u202e\u0333\u033f\u030a]", "", text)


def all_sent(chunks: list[TelegramText], limit: int) -> None:
    for chunk in chunks:
        accepted(chunk, limit)
        assert len(chunk.entities) <= MAX_ENTITIES


def cut_between_graphemes(chunks: list[TelegramText]) -> None:
    for i, chunk in enumerate(chunks[1:], 1):
        assert not splits_grapheme("".join(c.text for c in chunks[:i]), chunk.text)


def shown(chunks: list[TelegramText]) -> str:
    return "\n".join(c.text for c in chunks)


def no_user_links(chunks: list[TelegramText]) -> None:
    for chunk in chunks:
        for entity in chunk.entities:
            assert entity.type not in ("text_mention", "custom_emoji")
            if entity.type == "text_link":
                assert str(entity.url).startswith(("http://", "https://"))


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(answers, limits)
@example(Piece("[Bob](tg://user?id=1) **x**", "Bob x"), 4096)
@example(Piece("**`a`** and > `b`\n\n> `c`", "a and b c"), 4096)  # bold over code: dropped
@example(Piece("a\n\n1. a\n\n1. a", "a a a"), 4096)  # lists merge: renumbered
@example(Piece(f"aaa{SCOTLAND}", f"aaa{SCOTLAND}"), 16)  # 14 units: fits, never cut
@example(Piece("x" + "🇩🇪" * 3000, "x" + "🇩🇪" * 3000), 4096)  # flags are cut between flags
def test_every_message_is_accepted_and_shows_the_answer(answer: Piece, limit: int) -> None:
    chunks = Renderer(limit=limit).reply(answer.markdown)
    all_sent(chunks, limit)
    cut_between_graphemes(chunks)
    no_user_links(chunks)
    whole = render_markdown(answer.markdown).text
    assert visible(whole) == visible(answer.shown)  # rendering: only formatting differs
    assert ink(shown(chunks)) == ink(whole)  # splitting: only whitespace differs


@settings(PROPERTY, max_examples=15)
@given(huge_code, st.sampled_from([300, 1500, 4096]))
def test_huge_code_blocks_continue_in_the_next_messages(answer: Piece, limit: int) -> None:
    chunks = Renderer(limit=limit).reply(answer.markdown)
    all_sent(chunks, limit)
    cut_between_graphemes(chunks)
    whole = render_markdown(answer.markdown).text
    assert visible(whole) == visible(answer.shown)
    assert ink(shown(chunks)) == ink(whole)


@PROPERTY
@given(hostile, limits)
def test_unbalanced_and_odd_markdown_never_breaks_a_message(markdown: str, limit: int) -> None:
    renderer = Renderer(limit=limit)
    chunks = renderer.reply(markdown, notice="notice", reasoning=markdown)
    all_sent(chunks, limit)
    whole = render_markdown(markdown)
    assert ink(shown(renderer.reply(markdown))) == ink(whole.text)
    draft = renderer.draft(markdown)
    if draft.text:
        all_sent([draft], limit)


@settings(PROPERTY, max_examples=30)
@given(lone_surrogates, limits)
def test_lone_surrogates_do_not_crash(markdown: str, limit: int) -> None:
    chunks = Renderer(limit=limit).reply(markdown)
    all_sent(chunks, limit)
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in shown(chunks))


@PROPERTY
@given(
    st.lists(st.sampled_from([*GRAPHEMES, " ", "\n", "\n\n"]), min_size=1, max_size=200),
    st.data(),
)
def test_split_text_cuts_between_graphemes_and_keeps_every_entity(
    graphemes: list[str], data: st.DataObject
) -> None:
    text = "".join(graphemes)
    size = utf16_len(text)
    entities = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["bold", "italic", "code", "spoiler"]),
                st.integers(0, size),
                st.integers(1, 30),
            ),
            max_size=150,
        )
    )
    limit = data.draw(st.integers(16, 300))  # every grapheme fits a message (14 units at most)
    boundaries = _boundaries_utf16(graphemes)
    message_entities = tuple(
        telegram.MessageEntity(kind, offset, min(length, size - offset))
        for kind, offset, length in entities
        if offset < size
        and offset in boundaries
        and offset + min(length, size - offset) in boundaries
    )
    chunks = split_text(TelegramText(text, message_entities), limit)
    all_sent(chunks, limit)
    assert ink(shown(chunks)) == ink(kept_by_telegram(text))
    cut_between_graphemes(chunks)


def splits_grapheme(before: str, after: str) -> bool:
    """Whether ``before | after`` cuts what a reader sees as one character (for CLUSTERS)."""
    if not before or not after:
        return False
    first = after[0]
    if unicodedata.category(first).startswith("M") or first in "\u200d\ufe0f\u20e3":
        return True
    if before[-1] == "\u200d" or "\U0001f3fb" <= first <= "\U0001f3ff" or first >= "\U000e0000":
        return True
    flags = len(before) - len(before.rstrip(_REGIONAL))
    return flags % 2 == 1 and first in _REGIONAL


_REGIONAL = "".join(map(chr, range(0x1F1E6, 0x1F200)))


def _boundaries_utf16(graphemes: list[str]) -> set[int]:
    positions, at = {0}, 0
    for g in graphemes:
        at += utf16_len(g)
        positions.add(at)
    return positions


def test_what_the_fake_accepts_is_what_the_renderer_checks() -> None:
    """The strict fake refuses what ``accepted`` must catch: an entity in half a surrogate pair."""
    stored = format_text("👍 ok", None, [{"type": "bold", "offset": 0, "length": 2}])
    assert stored.entities == [{"type": "bold", "offset": 0, "length": 2}]


# --------------------------------------------------------------------------- textcut


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=12),
    st.integers(0, 90),
)
def test_blocked_moves_a_cut_to_the_start_of_what_it_is_inside(
    ranges: list[tuple[int, int]], position: int
) -> None:
    spans = [(a, a + n) for a, n in ranges]

    def free(at: int) -> bool:
        return not any(a < at < b for a, b in spans)

    moved = Blocked(spans).free_before(position)
    assert moved <= position
    assert free(moved)
    assert not any(free(at) for at in range(moved + 1, position + 1))


@PROPERTY
@given(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=30), st.integers(0), st.integers(0))
@example(["🇩🇪", "🇫🇷"], 3, 2)  # a cut between two flags is one
def test_grapheme_start_never_cuts_inside_a_grapheme(
    graphemes: list[str], position: int, low: int
) -> None:
    text = "".join(graphemes)
    boundaries = {0}
    for g in graphemes:
        boundaries.add(max(boundaries) + len(g))
    position %= len(text) + 1
    low %= position + 1
    cut = grapheme_start(text, position, low)
    if cut is None:  # no place to cut between graphemes there
        assert not any(low <= b <= position for b in boundaries)
    else:
        assert low <= cut <= position
        assert cut in boundaries  # the cut never splits what a reader sees as one character
