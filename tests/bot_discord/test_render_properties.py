"""Properties of the Discord splitter and renderer for any Markdown a model could write (the
answers of ``tests/bot_telegram/test_render_properties.py``: nested lists, unbalanced markers,
code blocks of any size, tables, links, headings, quotes, any script, lone surrogates).

Discord renders Markdown itself, so the answer is sent as written. For every answer and every
limit, each message is at most ``limit`` code points (as the fake Discord counts) and accepted by
the fake's ``check_message``; well-formed answers give messages that close every code block they
open. Apart from whitespace and the fence lines that close and reopen a code block cut in two,
the messages hold exactly the answer (after ``clean_text``): nothing lost, nothing repeated.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bots.discord.render import WRITING_MARKER, DiscordRenderer, split_markdown
from core.text import clean_text
from tests.bot_telegram.test_render_properties import (
    PROPERTY,
    Piece,
    answers,
    hostile,
    huge_code,
    lone_surrogates,
    splits_grapheme,
)

from .test_render import FENCE_LINE, accepted, ink

limits = st.one_of(st.integers(64, 700), st.just(2000))


def fits(chunks: list[str], limit: int) -> None:
    for chunk in chunks:
        accepted(chunk)
        assert len(chunk) <= limit


def closed(chunks: list[str], limit: int) -> None:
    """Each chunk fits and closes every code block it opens (its fence lines pair up)."""
    fits(chunks, limit)
    for chunk in chunks:
        assert len(FENCE_LINE.findall(chunk)) % 2 == 0, chunk
        assert chunk == chunk.rstrip()
        assert not re.match(r"[ \t]*\n", chunk)  # no blank line first


def kept(markdown: str, chunks: list[str]) -> None:
    assert "".join(map(ink, chunks)) == ink(clean_text(markdown))


@PROPERTY
@given(answers, limits)
@example(Piece("```py\n" + "x = 1\n" * 600 + "```", ""), 2000)
@example(Piece("🇩🇪" * 1500, ""), 2000)  # a flag is never cut in half
def test_every_chunk_fits_closes_its_code_and_keeps_the_answer(answer: Piece, limit: int) -> None:
    chunks = split_markdown(answer.markdown, limit)
    closed(chunks, limit)
    kept(answer.markdown, chunks)
    for before, after in itertools.pairwise(chunks):
        assert not splits_grapheme(before, after)


@settings(PROPERTY, max_examples=15)
@given(huge_code, limits)
def test_huge_code_blocks_are_closed_and_reopened(answer: Piece, limit: int) -> None:
    chunks = split_markdown(answer.markdown, limit)
    closed(chunks, limit)
    kept(answer.markdown, chunks)


@PROPERTY
@given(answers, limits)
def test_replies_and_drafts_fit(answer: Piece, limit: int) -> None:
    renderer = DiscordRenderer(limit=limit)
    messages = renderer.reply(answer.markdown, notice="Switched *model*", reasoning=answer.markdown)
    fits([m.content for m in messages], limit)
    draft = renderer.draft(answer.markdown)
    assert draft.endswith(WRITING_MARKER.lstrip())
    fits([draft], limit)


@PROPERTY
@given(hostile, limits)
def test_unbalanced_and_odd_markdown_is_split_without_loss(markdown: str, limit: int) -> None:
    chunks = split_markdown(markdown, limit)
    fits(chunks, limit)
    kept(markdown, chunks)
    fits(
        [m.content for m in DiscordRenderer(limit=limit).reply(markdown, reasoning=markdown)], limit
    )


@PROPERTY
@given(lone_surrogates, limits)
def test_lone_surrogates_do_not_crash(markdown: str, limit: int) -> None:
    chunks = split_markdown(markdown, limit)
    fits(chunks, limit)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for chunk in chunks for c in chunk)
