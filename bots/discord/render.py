"""Markdown answers as Discord messages: the answer as written, split to fit, in a few containers.

Discord renders Markdown itself, so nothing is converted. This module only makes answers fit:

* ``content`` holds at most 2,000 characters, counted as code points (``len`` of a Python
  ``str``, exactly as the fake Discord's ``check_message`` measures it); an emoji with a skin
  tone counts two, a family emoji seven;
* long answers are cut greedily, each message as full as possible, at the best boundary that
  still fills it: a blank line (or the edge of a code block), a line break, a sentence end
  (``. ! ?`` and the CJK ``。！？``), a space, and only then anywhere, never inside a grapheme
  (emoji sequences, flags, combining marks);
* a fenced code block that has to be cut is closed with a fence at the end of one message and
  reopened with its language at the start of the next, at a line break when the block has one;
  the added fences count towards the limit. A block that fits a message, inline code,
  bold/underline/strikethrough/spoiler spans, links, URLs and ``<...>`` mentions are moved whole
  to the next message rather than cut, unless that would leave the message too empty;
* a notice is an italic first line, reasoning a spoiler after a bold label (or, when long, a
  ``reasoning.md`` attachment), and drafts end with a "still writing" marker.

Pure CPU, no I/O, and no discord.py: the sink turns ``DiscordMessage`` into API calls.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from bots.textcut import NOTHING_BLOCKED, Blocked, grapheme_start
from core.text import clean_text, repair_surrogates

__all__ = [
    "MAX_CONTENT",
    "REASONING_FILENAME",
    "WRITING_MARKER",
    "Attachment",
    "DiscordMessage",
    "DiscordRenderer",
    "escape_markdown",
    "split_markdown",
]

MAX_CONTENT = 2000
MAX_EMBED_DESCRIPTION = 4096  # code points of message content
WRITING_MARKER = " ▌"  # appended to drafts while the answer is still being written
REASONING_FILENAME = "reasoning.md"
ATTACHED = "📎"  # on the label line of reasoning sent as a file (no words: any language)
MIN_RENDERER_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to upload with a message."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """One message to send: Markdown content (never empty) and the files to upload with it."""

    content: str
    files: tuple[Attachment, ...] = ()
    embed: bool = False  # the content goes in an embed's description (up to 4,096 characters)


# --------------------------------------------------------------------------- escaping

_MARKDOWN_CHARS = re.compile(r"([\\`*_~|\[\]<>])")
_LINE_MARKERS = re.compile(r"^([ \t]*)([#>+-]|\d+(?=\.))", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """``text`` shown literally by Discord: Markdown punctuation backslash-escaped (so no
    ``||`` ends a spoiler, no backtick opens code, no ``<@id>`` pings) and line starts that
    would make a heading, quote or list escaped too."""
    text = _MARKDOWN_CHARS.sub(r"\\\1", text)
    return _LINE_MARKERS.sub(_escape_line_marker, text)


def _escape_line_marker(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():  # "1." starts an ordered list: "1\."
        return f"{indent}{marker}\\"
    return f"{indent}\\{marker}"


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line, whitespace collapsed, clipped to ``limit`` characters."""
    line = " ".join(clean_text(text).split())
    if len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


# --------------------------------------------------------------------------- structure


@dataclass(frozen=True, slots=True)
class _Fence:
    """A fenced code block: ``text[start:end]``, opening line to closing line (inclusive of
    its line break). Cuts inside it are valid only between ``first`` and ``last`` (its first
    and last visible content), so no part is an empty block."""

    start: int
    end: int
    first: int
    last: int
    opener: str  # "```python", as it reopens the block
    closer: str  # "```", as many backticks as the opener
    closed: bool


_FENCE_OPEN = re.compile(r"[ \t]*(`{3,})([^`\n]*)")  # indented too: in list items
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,})[ \t]*")


def _scan_fences(text: str) -> list[_Fence]:
    fences: list[_Fence] = []
    opened: tuple[int, int, str, str] | None = None  # start, body, opener, backticks
    position = 0
    for line in text.split("\n"):
        line_start, position = position, min(position + len(line) + 1, len(text))
        if opened is None:
            if match := _FENCE_OPEN.fullmatch(line):
                ticks = match.group(1)
                opened = (line_start, position, ticks + match.group(2).strip(), ticks)
        elif (match := _FENCE_CLOSE.fullmatch(line)) and len(match.group(1)) >= len(opened[3]):
            fences.append(_fence(text, *opened, close=line_start, end=position))
            opened = None
    if opened is not None:
        fences.append(_fence(text, *opened, close=len(text), end=len(text)))
    return fences


def _fence(
    text: str, start: int, body: int, opener: str, ticks: str, close: int, end: int
) -> _Fence:
    content = text[body:close]
    stripped = content.strip()
    first = body + len(content) - len(content.lstrip()) if stripped else body
    last = body + len(content.rstrip()) if stripped else body
    return _Fence(start, end, first, last, opener, ticks, closed=close < len(text))


# Spans a cut should not fall inside, none across a blank line; what they enclose has no
# character of their markers, which keeps the search linear (and misses rare nested spans).
_LINE_GOES_ON = r"\n(?![ \t]*\n)"
_INLINE_CODE = re.compile(rf"(?<!`)(`+)(?!`)(?:[^`\n]|{_LINE_GOES_ON})+`+")
_KEPT_WHOLE = (
    *(  # bold, underline, strikethrough, spoiler
        re.compile(rf"{m}{m}(?=[^\s{m}])(?:[^{m}\n]|{_LINE_GOES_ON})*?[^\s{m}]{m}{m}")
        for m in (r"\*", "_", "~", r"\|")
    ),
    re.compile(r"!?\[[^\[\]\n]*\]\((?:[^()\s]|\([^()\s]*\))*(?:[ \t]+\"[^\"\n]*\")?\)"),  # links
    re.compile(r"https?://[^\s<>]+"),
    re.compile(r"<[^\s<>]{1,200}>"),  # <https://...>, <@id>, <#id>, <:emoji:id>, <t:0:R>
)

# Natural cut points, best first; a cut falls right after the match.
_CUT_KINDS = (
    re.compile(r"\n[ \t]*\n"),  # a blank line
    re.compile(r"\n"),
    re.compile(r"[.!?][\"'”’)\]*_]* |[。！？][」』”’）]*"),  # a sentence end
    re.compile(r"[ \t]"),
)
_IN_CODE_TOO = 2  # the first kinds (line breaks) also cut code blocks; the others do not
# Where to look for a cut, in order, as (the chunk fills at least this many thirds of the
# room, a hard cut may do, spans that fit a message stay whole): a natural cut in the last
# third, then in the last two thirds; a hard cut in the last third; any cut before a span
# that must stay whole; and only then a cut inside a span.
_ATTEMPTS = ((2, False, True), (1, False, True), (2, True, True), (0, True, True), (2, True, False))
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


class _Markdown:
    """An answer, its code blocks and the cut points that respect them; cuts it into chunks."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        # A fence whose own lines take a large part of a message is left as text.
        self.fences = [
            f for f in _scan_fences(text) if len(f.opener) + len(f.closer) + 2 <= limit // 2
        ]
        self._starts = [f.start for f in self.fences]
        self.forbidden = Blocked(
            (a, b) for f in self.fences for a, b in ((f.start, f.first + 1), (f.last - 1, f.end))
        )
        self.kept_whole = Blocked((a, b) for a, b in self._spans() if b - a <= limit)
        self.cut_points = self._natural_cuts()

    # ----------------------------------------------------------------- what is where

    def _fence_at(self, position: int) -> _Fence | None:
        """The code block ``position`` is strictly inside."""
        i = bisect_left(self._starts, position) - 1
        if i >= 0 and position < self.fences[i].end:
            return self.fences[i]
        return None

    def prefix(self, start: int) -> str:
        """What reopens the code block a chunk starting at ``start`` begins inside."""
        fence = self._fence_at(start)
        return f"{fence.opener}\n" if fence else ""

    def suffix(self, end: int) -> str:
        """What closes the code block a chunk ending at ``end`` stops inside (or leaves open:
        an unclosed block at the end of the answer is closed too)."""
        fence = self._fence_at(end)
        if fence is None and self.fences and end == len(self.text):
            last = self.fences[-1]
            if not last.closed and last.first < last.last and last.start < end:
                fence = last
        return f"\n{fence.closer}" if fence else ""

    def _spans(self) -> Iterable[tuple[int, int]]:
        masked = list(self.text)
        for fence in self.fences:
            yield fence.start, fence.end
            masked[fence.start : fence.end] = "\n" * (fence.end - fence.start)
        prose = "".join(masked)
        for match in _INLINE_CODE.finditer(prose):
            yield match.span()
            masked[match.start() : match.end()] = " " * (match.end() - match.start())
        prose = "".join(masked)
        for pattern in _KEPT_WHOLE:
            for match in pattern.finditer(prose):
                yield match.span()

    def _natural_cuts(self) -> list[list[int]]:
        cuts: list[list[int]] = []
        for rank, kind in enumerate(_CUT_KINDS):
            positions = (m.end() for m in kind.finditer(self.text))
            if rank < _IN_CODE_TOO:
                kept = [p for p in positions if self.forbidden.free_before(p) == p]
            else:
                kept = [p for p in positions if self._fence_at(p) is None]
            if rank == 0:  # the edges of code blocks are as good as blank lines
                edges = (p for f in self.fences for p in (f.start, f.end))
                kept = sorted({*kept, *edges})
            cuts.append(kept)
        return cuts

    # ----------------------------------------------------------------- chunks

    def chunk(self, start: int, end: int) -> str | None:
        """``text[start:end]`` as one message: blank lines trimmed, cut code blocks closed
        and reopened; ``None`` when nothing visible is left."""
        body = self.text[start:end]
        prefix = self.prefix(start)
        body = _LEADING_BLANK_LINES.sub("", body)
        if not prefix and start > 0 and self.text[start - 1] != "\n":
            body = body.lstrip(" \t")  # cut inside a line: no space to start with
        body = body.rstrip()
        if not body:
            return None
        return f"{prefix}{body}{self.suffix(end)}"

    def split(self, limit: int, first_limit: int) -> list[str]:
        """Greedy: each chunk ends at the best cut that keeps it as full as possible."""
        size = len(self.text)
        chunks: list[str] = []
        start, room = 0, first_limit
        while start < size:
            high = start + room - len(self.prefix(start))  # end + suffix may reach this
            fits = size + len(self.suffix(size)) <= high
            cut = size if fits else self._cut(start, high)
            if (chunk := self.chunk(start, cut)) is not None:
                chunks.append(chunk)
            start, room = cut, limit
        return chunks

    def _cut(self, start: int, high: int) -> int:
        room = high - start
        for thirds, anywhere, keep_whole in _ATTEMPTS:
            low = max(start + room * thirds // 3, start + 1)
            blocked = self.kept_whole if keep_whole else NOTHING_BLOCKED
            cut = self._last_cut(low, high, blocked, anywhere)
            if cut is not None:
                return cut
        # Only a code block's fence lines or blank content longer than a message get here:
        # cut anywhere that fits (still a valid length; the block renders oddly at worst).
        cut = min(high, len(self.text))
        while cut > start + 1 and cut + len(self.suffix(cut)) > high:
            cut -= 1
        return cut

    def _last_cut(self, low: int, high: int, blocked: Blocked, anywhere: bool) -> int | None:
        """The last cut in ``[low, high]`` of the best kind there, outside blocked ranges,
        leaving room for the fence that closes a cut code block."""
        for positions in self.cut_points:
            i = bisect_right(positions, high)
            while i and positions[i - 1] >= low:
                position = positions[i - 1]
                free = blocked.free_before(position)
                if free != position:
                    i = bisect_right(positions, free)
                elif position + len(self.suffix(position)) > high:
                    i -= 1
                else:
                    return position
        return self._hard_cut(low, high, blocked) if anywhere else None

    def _hard_cut(self, low: int, high: int, blocked: Blocked) -> int | None:
        """The last position in ``[low, high]`` a cut may fall at, whatever the text there."""
        position = min(high, len(self.text))
        while position >= low:
            moved = self.forbidden.free_before(blocked.free_before(position))
            extra = len(self.suffix(moved))
            if moved + extra > high:
                moved = high - extra
            if moved == position:
                outside = grapheme_start(self.text, position, low)
                if outside is None or outside == position:
                    return outside  # None: the rest of the range is inside one grapheme
                moved = outside
            position = moved
        return None


def _normalized(text: str) -> str:
    """The answer as sent: surrogates joined, line breaks ``\\n``, controls gone, blank lines
    and spaces around it trimmed."""
    return _LEADING_BLANK_LINES.sub("", clean_text(text)).rstrip()


def _split(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    first = limit if first_limit is None else max(1, min(first_limit, limit))
    text = _normalized(text)
    if not text:
        return []
    return _Markdown(text, first).split(limit, first)


def split_markdown(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """``text`` in chunks of at most ``limit`` code points, cut at the best boundaries; code
    blocks cut in two are closed and reopened (with their language) in the next chunk."""
    return _split(text, limit)


# --------------------------------------------------------------------------- messages


class DiscordRenderer:
    """Renders answers into messages of at most ``limit`` code points; pure CPU, no I/O."""

    def __init__(self, limit: int = MAX_CONTENT, reasoning_inline_max: int = 1500) -> None:
        if limit < MIN_RENDERER_LIMIT:
            raise ValueError(f"limit must be at least {MIN_RENDERER_LIMIT}")
        if reasoning_inline_max < 0:
            raise ValueError("reasoning_inline_max must not be negative")
        self.limit = limit
        self.reasoning_inline_max = reasoning_inline_max

    def reply(
        self,
        text: str,
        *,
        notice: str | None = None,
        reasoning: str | None = None,
        reasoning_label: str = "Reasoning",
    ) -> list[DiscordMessage]:
        """The answer in messages, after an italic ``notice`` line; then the reasoning, a
        spoiler after a bold label (a ``reasoning.md`` attachment on the last message when it
        is long), packed into the last message when it fits there. No answer, no messages."""
        line = self._notice(notice)
        room = self.limit - (len(line) + 2 if line else 0)
        chunks = _split(text, self.limit, room)
        if not chunks:
            return []
        if line:
            chunks[0] = f"{line}\n\n{chunks[0]}"
        messages = [DiscordMessage(chunk) for chunk in chunks]
        if reasoning is None or not reasoning.strip():
            return messages
        block, files = self._reasoning(reasoning, reasoning_label)
        last = messages[-1].content
        if len(last) + 2 + len(block) <= self.limit:
            messages[-1] = DiscordMessage(f"{last}\n\n{block}", files)
        else:
            messages.append(DiscordMessage(block, files))
        return messages

    def card(self, text: str) -> list[DiscordMessage]:
        """A summary (``/stats``) as one embed when it fits one, else as plain messages."""
        if text.strip() and len(text) <= MAX_EMBED_DESCRIPTION:
            return [DiscordMessage(text.strip(), embed=True)]
        return self.reply(text)

    def draft(self, text: str) -> str:
        """A preview of a partial answer with the "still writing" marker: all of it, or the
        chunk still being written; an open code block is closed first so it shows as code.
        Empty when there is nothing to show yet."""
        chunks = _split(text, self.limit - len(WRITING_MARKER))
        if not chunks:
            return ""
        last = chunks[-1]
        if last.rpartition("\n")[2].lstrip().startswith("```"):  # after a fence: own line
            return f"{last}\n{WRITING_MARKER.lstrip()}"
        return f"{last}{WRITING_MARKER}"

    def _notice(self, notice: str | None) -> str:
        line = _one_line(notice or "", self.limit // 4)
        return f"*{escape_markdown(line)}*" if line else ""

    def _reasoning(self, reasoning: str, label: str) -> tuple[str, tuple[Attachment, ...]]:
        """The label line and the reasoning as a spoiler, or the label line marking the
        attached file and the file."""
        heading = (
            f"**{escape_markdown(_one_line(label, min(100, self.limit // 8)) or 'Reasoning')}**"
        )
        shown = _normalized(reasoning)
        if len(shown) <= self.reasoning_inline_max:
            block = f"{heading}\n||{escape_markdown(shown)}||"
            if len(block) <= self.limit:
                return block, ()
        data = repair_surrogates(reasoning).encode()
        return f"{heading} {ATTACHED} `{REASONING_FILENAME}`", (
            Attachment(REASONING_FILENAME, data),
        )
