"""Markdown answers as Telegram messages: plain text plus ``MessageEntity`` lists, split to fit.

telegramify-markdown turns the Markdown into text and entities (never a MarkdownV2 string, so
nothing is ever escaped by hand). This module then makes the result what Telegram will store:

* the text is cleaned as Telegram cleans it (control characters become spaces; ``\\r``, bidi
  controls and a few combining marks go; U+2028/U+2029 become line breaks) and trimmed, with
  every entity offset moved along; all lengths are UTF-16 code units;
* entities Telegram would refuse or silently mangle are dropped: links it cannot read, nested
  blockquotes, anything inside ``pre``/``code``, links and code inside links;
* the model never mentions or links a Telegram user: ``text_mention`` and custom emoji entities
  are never sent, and only ``http(s)`` links become links (``tg://user?id=``, other ``tg:`` and
  ``ton:`` links show as their text);
* Telegram keeps only the first 100 entities of a message (``MAX_ENTITIES``) and silently drops
  the rest, so a message ends before its 100th entity, counting generously the URLs, mentions
  and hashtags Telegram finds by itself;
* long texts are cut greedily into messages of at most ``limit`` units, at the best boundary
  that still fills the message: a blank line, a line break, a sentence end (``. ! ?`` and the
  CJK ``。！？``), a space, and only then anywhere, never inside a surrogate pair or a grapheme.
  No cut falls inside an entity, except inside a ``pre`` block or a blockquote that is longer
  than a whole message (it continues, same language, in the next message) or an entity that
  alone does not fit (it is clipped into both).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from itertools import accumulate
from typing import NamedTuple
from urllib.parse import urlsplit

import pyromark
import telegram
import telegramify_markdown
from telegramify_markdown import RenderConfig
from telegramify_markdown.converter import STANDARD_OPTIONS as MD_OPTIONS

from bots.textcut import NOTHING_BLOCKED, Blocked, grapheme_start
from core.text import repair_surrogates

__all__ = ["Renderer", "TelegramText", "render_markdown", "split_plain", "split_text", "utf16_len"]

MAX_LENGTH = 4096
MAX_ENTITIES = 100  # Telegram keeps the first 100 entities of a message and drops the rest


@dataclass(frozen=True, slots=True)
class TelegramText:
    """One message as Telegram stores it: text and entities (UTF-16 offsets)."""

    text: str
    entities: tuple[telegram.MessageEntity, ...] = ()

    def plain(self) -> TelegramText:
        return TelegramText(self.text)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------- rendering

_DEFAULT_CONFIG = RenderConfig.isolated()  # never the library's shared global config


def render_markdown(markdown: str, config: RenderConfig | None = None) -> TelegramText:
    """The whole answer as one (possibly too long) message."""
    return _rendered(markdown, config or _DEFAULT_CONFIG).whole()


def _rendered(markdown: str, config: RenderConfig, notice: str = "") -> _Layout:
    """The rendered answer, after ``notice`` (plain text, in italics) when there is one."""
    text, entities = _convert(_literal_html(repair_surrogates(markdown)), config)
    ranged = [(e.offset, e.offset + e.length, _Kind.of(e)) for e in entities]
    if notice := _stored(notice):
        shift = utf16_len(notice) + 2
        ranged = [(0, shift - 2, _Kind("italic"))] + [
            (a + shift, b + shift, k) for a, b, k in ranged
        ]
        text = f"{notice}\n\n{text}"
    return _Layout(text, ranged)


def _literal_html(markdown: str) -> str:
    """Raw HTML in an answer (``/model <id>``, ``Vec<T>``, ``<br>``) is text to show, but
    telegramify drops it; a backslash before each ``<`` the parser would take as HTML keeps it.
    Code spans and blocks are never touched (the parser reports no HTML inside them)."""
    for _ in range(8):  # escaping a block can reveal inline HTML inside it: parse again
        if "<" not in markdown:
            return markdown
        data = markdown.encode()
        cuts = sorted(
            {
                at
                for payload, span in pyromark.events_with_range(markdown, options=MD_OPTIONS)
                if isinstance(payload, dict) and ("InlineHtml" in payload or "Html" in payload)
                for at in range(span["start"], span["end"])
                if data[at] == ord("<") and (at == 0 or data[at - 1] != ord("\\"))
            }
        )
        if not cuts:
            return markdown
        pieces, previous = [], 0
        for at in cuts:
            pieces += [data[previous:at], b"\\"]
            previous = at
        markdown = (b"".join(pieces) + data[previous:]).decode()
    return markdown


def _convert(
    markdown: str, config: RenderConfig
) -> tuple[str, list[telegramify_markdown.MessageEntity]]:
    """telegramify's conversion. Its LaTeX pass (``\\(..\\)``, ``\\[..\\]`` to Unicode) also
    rewrites code blocks and code spans; when it did, the answer is converted without it."""
    text, entities = telegramify_markdown.convert(markdown, config=config)
    if "\\(" not in markdown and "\\[" not in markdown:
        return text, entities
    literal = telegramify_markdown.convert(markdown, latex_escape=False, config=config)
    code = iter(_code_of(text, entities))
    if all(verbatim in code for verbatim in _code_of(*literal)):  # kept in order: nothing lost
        return text, entities
    return literal


def _code_of(text: str, entities: list[telegramify_markdown.MessageEntity]) -> list[bytes]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[2 * e.offset : 2 * (e.offset + e.length)] for e in entities if e.type in _CODE]


class _Kind(NamedTuple):
    """What an entity is, apart from where: telegram.MessageEntity is slow to build, so
    entities become Telegram objects only in the chunks handed out."""

    type: str
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user: telegram.User | None = None
    date_time_format: str | None = None
    unix_time: datetime | None = None

    @classmethod
    def of(cls, entity: telegram.MessageEntity | telegramify_markdown.MessageEntity) -> _Kind:
        if isinstance(entity, telegramify_markdown.MessageEntity):  # its user is a bare dict
            return cls(entity.type, entity.url, entity.language, entity.custom_emoji_id)
        return cls(
            entity.type,
            entity.url,
            entity.language,
            entity.custom_emoji_id,
            entity.user,
            entity.date_time_format,
            entity.unix_time,
        )

    def at(self, offset: int, length: int) -> telegram.MessageEntity:
        return telegram.MessageEntity(
            self.type,
            offset,
            length,
            url=self.url,
            user=self.user,
            language=self.language,
            custom_emoji_id=self.custom_emoji_id,
            date_time_format=self.date_time_format,
            unix_time=self.unix_time,
        )


def _moved(entity: telegram.MessageEntity, offset: int, length: int) -> telegram.MessageEntity:
    return _Kind.of(entity).at(offset, length)


_Ranged = tuple[int, int, _Kind]  # an entity as (start, end) in UTF-16 units


# --------------------------------------------------------------------------- Telegram's cleaning

_NEWLINES = str.maketrans({"\u2028": "\n", "\u2029": "\n"})
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f]")  # become spaces (tabs too)
_REMOVED = re.compile("[\r\u202a-\u202e\u0333\u033f\u030a]")  # Telegram drops these


def _clean(text: str, entities: Sequence[_Ranged]) -> tuple[str, list[_Ranged]]:
    """The text Telegram keeps, and the entities' UTF-16 ranges moved along."""
    if not text.isascii():
        text = repair_surrogates(text).translate(_NEWLINES)  # same UTF-16 length
    text = _CONTROL.sub(" ", text)
    removed: list[int] = []  # UTF-16 positions of the dropped characters (all one unit wide)
    position, last = 0, 0
    for match in _REMOVED.finditer(text):
        position += utf16_len(text[last : match.start()])
        removed.append(position)
        position, last = position + 1, match.end()
    if not removed:
        return text, list(entities)

    def moved(unit: int) -> int:
        return unit - bisect_left(removed, unit)

    return _REMOVED.sub("", text), [
        (moved(start), moved(end), kind) for start, end, kind in entities
    ]


# --------------------------------------------------------------------------- valid entities

_QUOTES = frozenset({"blockquote", "expandable_blockquote"})
_CODE = frozenset({"pre", "code"})
_STYLES = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
_BLOCKS = _QUOTES | {"pre"}  # may be cut inside when longer than a whole message


_RANKS = dict.fromkeys(_QUOTES, 0) | dict.fromkeys(_CODE, 2) | dict.fromkeys(_STYLES, 3)


def _rank(kind: str) -> int:
    """Nesting order for entities over the same range, TDLib's: quote > link > code > style
    (so a style over exactly a code span counts as inside it, which Telegram does not allow)."""
    return _RANKS.get(kind, 1)


class _Span(NamedTuple):
    start: int  # Python string indices
    end: int
    kind: _Kind

    def key(self) -> tuple[int, int, int]:
        return self.start, -self.end, _rank(self.kind.type)


def _valid(spans: Iterable[_Span]) -> list[_Span]:
    """Sorted spans Telegram accepts as they are: non-empty, readable links, blockquotes never
    nested, nothing inside pre/code, no link or code inside a link, no crossing ranges."""
    kept: list[_Span] = []
    enclosing: list[_Span] = []  # the kept non-style spans around the current position
    for span in sorted(spans, key=_Span.key):
        if span.end <= span.start or not _has_target(span.kind):
            continue
        if enclosing:
            enclosing = [outer for outer in enclosing if outer.end > span.start]
            if enclosing and not _may_nest(span, enclosing):
                continue
        kept.append(span)
        if span.kind.type not in _STYLES:
            enclosing.append(span)
    return kept


def _may_nest(span: _Span, enclosing: list[_Span]) -> bool:
    kind = span.kind.type
    outer = {o.kind.type for o in enclosing}
    if outer & _CODE or (kind in _QUOTES and outer & _QUOTES):
        return False
    if kind in _STYLES:
        return True
    return (kind in _QUOTES or not outer - _QUOTES) and all(o.end >= span.end for o in enclosing)


def _has_target(kind: _Kind) -> bool:
    """Whether the entity may be sent: never a mention of a user (``text_mention``, or a
    ``tg://user?id=`` link, which Telegram turns into one) and never any other ``tg:`` or
    ``ton:`` link or custom emoji: a model's answer links only to the web. The text stays."""
    if kind.type == "text_link":
        return _readable_link(kind.url or "")
    return kind.type not in _NEVER_SENT


_NEVER_SENT = frozenset({"text_mention", "custom_emoji"})


@lru_cache(maxsize=1024)
def _readable_link(url: str) -> bool:
    """Whether ``url`` is a web link Telegram takes for a text link (it refuses relative links
    and spaces; ``tg:`` and ``ton:`` links it would take are refused here)."""
    url = url.strip()
    if not url or _SPACE_OR_CONTROL.search(url):
        return False
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return False  # tg:, ton:, mailto:, javascript:, ... ("host:8080" is a port)
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")

# --------------------------------------------------------------------------- splitting

# Where Telegram may find an entity by itself (URLs, domains, e-mails, mentions, hashtags,
# cashtags, bot commands, phone numbers): a generous guess, counted against MAX_ENTITIES.
# Every alternative starts only where a run of its characters starts, which keeps it linear.
_FOUND_BY_TELEGRAM = re.compile(
    r"(?<![A-Za-z])[A-Za-z]+://\S*"
    r"|(?<![\w.+-])[\w.+-]*\w\.[^\W\d_]{2}"
    r"|(?<!\w)[@#$/][^\W_]"
    r"|(?<![\d+])\+?\d[\d ()-]{5,}\d"
)

# Natural cut points, best first; a cut falls right after the match.
_CUT_KINDS = (
    re.compile(r"\n[ \t]*\n"),  # a blank line
    re.compile(r"\n"),
    re.compile(r"[.!?][\"'”’)\]]* |[。！？][」』”’）]*"),  # a sentence end
    re.compile(r" "),
)
# Where to look for a cut, in order, as (the chunk fills at least this many thirds of the
# limit, a hard cut may do, entities that fit a message stay whole): a natural cut in the last
# third, then in the last two thirds; a hard cut in the last third; any cut before an entity
# that must stay whole; and only then a cut inside an entity too long for any message.
_ATTEMPTS = ((2, False, True), (1, False, True), (2, True, True), (0, True, True), (2, True, False))


class _Layout:
    """A text cleaned as Telegram cleans it, its UTF-16 offset table, and its entities as
    valid spans over Python indices; cuts it into chunks."""

    def __init__(self, text: str, entities: Sequence[_Ranged] = ()) -> None:
        self.text, entities = _clean(text, entities)
        size = len(self.text)
        if self.text.isascii():  # one unit per character
            self.units: Sequence[int] = range(size + 1)
            spans = (_Span(max(a, 0), min(b, size), kind) for a, b, kind in entities)
        else:
            self.units = list(accumulate((2 if c > "\uffff" else 1 for c in self.text), initial=0))
            index = self.units
            spans = (
                _Span(bisect_left(index, max(a, 0)), bisect_left(index, b), kind)
                for a, b, kind in entities
            )
        self.spans = _valid(spans)

    @classmethod
    def of(cls, message: TelegramText) -> _Layout:
        return cls(
            message.text, [(e.offset, e.offset + e.length, _Kind.of(e)) for e in message.entities]
        )

    def whole(self) -> TelegramText:
        return self.chunk(0, len(self.text), None) or TelegramText("")

    def chunk(self, start: int, end: int, most: int | None = MAX_ENTITIES) -> TelegramText | None:
        """``text[start:end]`` trimmed as Telegram trims it, entities clipped and re-based,
        at most ``most`` of them (more only when that many start at one place)."""
        text, units = self.text, self.units
        while end > start and text[end - 1] in " \n":
            end -= 1
        spans = [
            _Span(max(s.start, start), min(s.end, end), s.kind)
            for s in self.spans
            if s.start < end and s.end > start
        ]
        first = min((s.start for s in spans), default=end)  # no trimming inside an entity
        while start < first and text[start] in " \n":
            start += 1
        if start >= end:
            return None
        base = units[start]
        entities = tuple(
            s.kind.at(units[s.start] - base, units[s.end] - units[s.start])
            for s in sorted(spans, key=_Span.key)[:most]
        )
        return TelegramText(text[start:end], entities)

    def split(self, limit: int) -> list[TelegramText]:
        chunks = (self.chunk(start, end) for start, end in self.bounds(limit))
        return [chunk for chunk in chunks if chunk is not None]

    def bounds(self, limit: int) -> list[tuple[int, int]]:
        """Greedy: each chunk ends at the best cut that keeps it as full as possible."""
        units, size = self.units, len(self.text)
        blocked = Blocked(
            (s.start, s.end)
            for s in self.spans
            if s.kind.type not in _BLOCKS or units[s.end] - units[s.start] <= limit
        )
        bounds: list[tuple[int, int]] = []
        start = 0
        while start < size:
            end = bisect_right(units, units[start] + limit) - 1  # the longest chunk that fits
            room = limit
            if (capped := self._entity_end(start, min(end, size))) is not None:
                end, room = capped, units[capped] - units[start]
            elif end >= size:
                bounds.append((start, size))
                break
            cut = self._cut(start, end, room, blocked)
            bounds.append((start, cut))
            start = cut
        return bounds

    def _entity_end(self, start: int, end: int) -> int | None:
        """Where a chunk from ``start`` must end, before ``end``, so that Telegram keeps all
        its entities (``MAX_ENTITIES``, those it finds by itself counted generously), or
        ``None`` when the entities do not limit it."""
        starts, ends = self._marks
        before = bisect_left(starts, start)  # all non-empty: those ending by start are before it
        carried = before - bisect_right(ends, start)
        i = before + MAX_ENTITIES - carried
        if i >= len(starts) or starts[i] >= end:
            return None
        return max(starts[i], start + 1)

    @cached_property
    def _marks(self) -> tuple[list[int], list[int]]:
        """Where the entities and the places Telegram may find one by itself start, and where
        they end (index ranges, each list sorted)."""
        found = [(m.start(), m.end()) for m in _FOUND_BY_TELEGRAM.finditer(self.text)]
        ranges = [*((s.start, s.end) for s in self.spans), *found]
        return sorted(a for a, _ in ranges), sorted(b for _, b in ranges)

    def _cut(self, start: int, end: int, limit: int, blocked: Blocked) -> int:
        base = self.units[start]
        for thirds, anywhere, keep_whole in _ATTEMPTS:
            low = bisect_left(self.units, base + limit * thirds // 3, start, end)
            cut = self._last_cut(
                max(low, start + 1), end, blocked if keep_whole else NOTHING_BLOCKED, anywhere
            )
            if cut is not None:
                return cut
        cut = grapheme_start(self.text, end, start + 1)  # anywhere, between graphemes
        return end if cut is None else cut  # a grapheme longer than a message: cut inside

    def _last_cut(self, low: int, high: int, blocked: Blocked, anywhere: bool) -> int | None:
        """The last cut in ``[low, high]`` of the best kind there, outside blocked ranges."""
        for positions in self._cut_points:
            i = bisect_right(positions, high)
            while i and positions[i - 1] >= low:
                position = positions[i - 1]
                free = blocked.free_before(position)
                if free == position:
                    return position
                i = bisect_right(positions, free)
        if not anywhere:
            return None
        cut = grapheme_start(self.text, blocked.free_before(high), low)
        return cut if cut is not None and cut >= low else None

    @cached_property
    def _cut_points(self) -> list[list[int]]:
        return [[m.end() for m in kind.finditer(self.text)] for kind in _CUT_KINDS]


def split_text(message: TelegramText, limit: int = MAX_LENGTH) -> list[TelegramText]:
    """``message`` as Telegram stores it, in chunks of at most ``limit`` UTF-16 units."""
    if limit < 2:
        raise ValueError("limit must leave room for a surrogate pair")
    return _Layout.of(message).split(limit)


def split_plain(text: str, limit: int = MAX_LENGTH) -> list[TelegramText]:
    """Raw text (no Markdown, no entities) in chunks, cut by the same rules."""
    return split_text(TelegramText(text), limit)


# --------------------------------------------------------------------------- messages


def _styled(text: str, kind: str) -> TelegramText:
    return TelegramText(text, (telegram.MessageEntity(kind, 0, utf16_len(text)),))


def _join(parts: Iterable[TelegramText], separator: str = "\n\n") -> TelegramText:
    texts: list[str] = []
    entities: list[telegram.MessageEntity] = []
    shift = 0
    for part in parts:
        if not part.text:
            continue
        if texts:
            shift += utf16_len(separator)
        entities += (_moved(e, e.offset + shift, e.length) for e in part.entities)
        texts.append(part.text)
        shift += utf16_len(part.text)
    return TelegramText(separator.join(texts), tuple(entities))


def _entity_load(message: TelegramText) -> int:
    """The entities of ``message`` and those Telegram may add (``_FOUND_BY_TELEGRAM``)."""
    return len(message.entities) + sum(1 for _ in _FOUND_BY_TELEGRAM.finditer(message.text))


def _stored(text: str) -> str:
    """Plain ``text`` as Telegram would store it (cleaned and trimmed)."""
    return _Layout(text).whole().text


class Renderer:
    """Renders answers into messages of at most ``limit`` UTF-16 units; pure CPU, no I/O."""

    def __init__(self, limit: int = MAX_LENGTH) -> None:
        if limit < 2:
            raise ValueError("limit must leave room for a surrogate pair")
        self.limit = limit
        self._config = RenderConfig.isolated()

    def reply(
        self,
        text: str,
        *,
        notice: str | None = None,
        reasoning: str | None = None,
        reasoning_label: str = "Reasoning",
    ) -> list[TelegramText]:
        """The answer (after an italic ``notice``) in messages, then the reasoning in
        expandable blockquotes: packed into the last message when it all fits there."""
        chunks = _rendered(text, self._config, notice or "").split(self.limit)
        if not reasoning or not reasoning.strip():
            return chunks
        blocks = self._reasoning(reasoning, reasoning_label)
        if len(blocks) == 1 and chunks:
            packed = _join([chunks[-1], blocks[0]])
            if utf16_len(packed.text) <= self.limit and _entity_load(packed) <= MAX_ENTITIES:
                return [*chunks[:-1], packed]
        return [*chunks, *blocks]

    def draft(self, text: str) -> TelegramText:
        """A preview of a partial answer: all of it, or the chunk still being written."""
        layout = _rendered(text, self._config)
        for start, end in reversed(layout.bounds(self.limit)):
            if chunk := layout.chunk(start, end):
                return chunk
        return TelegramText("")

    def _reasoning(self, reasoning: str, label: str) -> list[TelegramText]:
        """Each chunk of the reasoning its own expandable blockquote; the bold label only on
        the first (left out when it is absurdly long and could not share a message)."""
        label = _stored(label)
        if utf16_len(label) > self.limit // 2:
            label = ""
        room = self.limit - (utf16_len(label) + 1 if label else 0)
        blocks = [
            _styled(piece.text, "expandable_blockquote") for piece in split_plain(reasoning, room)
        ]
        if blocks and label:
            blocks[0] = _join([_styled(label, "bold"), blocks[0]], "\n")
        return blocks
