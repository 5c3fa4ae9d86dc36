"""What Telegram does to every text it stores (``fix_formatted_text`` in TDLib): parse the
markup (``markup.py``) or read and check an explicit ``entities`` array, turn control characters
into spaces, drop ``\\r`` and a few invisible characters, trim surrounding spaces and newlines,
measure the length in UTF-16 code units, find links, mentions, hashtags and bot commands, and
keep only the first ``MAX_ENTITIES`` entities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .entities import (
    BLOCKQUOTES,
    ENTITY_TYPES,
    MAX_CAPTION,
    MAX_ENTITIES,
    MAX_TEXT,
    Entity,
    FormattedText,
    Json,
    TextError,
    checked_link,
    sort_entities,
    u16len,
)
from .markup import parse_html, parse_markdown_v1, parse_markdown_v2

__all__ = [
    "MAX_CAPTION",
    "MAX_ENTITIES",
    "MAX_TEXT",
    "Entity",
    "FormattedText",
    "TextError",
    "find_entities",
    "format_text",
    "parse_entity_list",
    "parse_html",
    "parse_markdown_v1",
    "parse_markdown_v2",
    "sort_entities",
    "u16len",
]

# --------------------------------------------------------------------------- explicit entities

_REQUIRED_EXTRA = {
    "text_link": ("url", str),
    "text_mention": ("user", dict),
    "custom_emoji": ("custom_emoji_id", str),
    "date_time": ("unix_time", int),
}


def parse_entity_list(raw: Any) -> list[Entity]:
    """An ``entities`` array as the Bot API reads it (after JSON decoding)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TextError("can't parse entities JSON object")
    entities = []
    for item in raw:
        if not isinstance(item, dict):
            raise TextError("can't parse MessageEntity: expected an Object")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise TextError('can\'t parse MessageEntity: Field "type" must be of type String')
        if kind not in ENTITY_TYPES:
            raise TextError("can't parse MessageEntity: Unsupported type specified")
        values = []
        for name in ("offset", "length"):
            value = item.get(name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TextError(
                    f'can\'t parse MessageEntity: Field "{name}" must be of type Number'
                )
            values.append(value)
        extra: Json = {}
        if kind in _REQUIRED_EXTRA:
            name, typ = _REQUIRED_EXTRA[kind]
            if not isinstance(item.get(name), typ):
                kind_name = "String" if typ is str else "Object" if typ is dict else "Number"
                raise TextError(
                    f'can\'t parse MessageEntity: Field "{name}" must be of type {kind_name}'
                )
            extra[name] = item[name]
            if kind == "text_link":
                extra["url"] = checked_link(item["url"])
                if not extra["url"]:
                    raise TextError("can't parse MessageEntity: wrong URL specified")
            if kind == "date_time" and isinstance(item.get("date_time_format"), str):
                extra["date_time_format"] = item["date_time_format"]
        if kind == "pre" and isinstance(item.get("language"), str) and item["language"]:
            extra["language"] = item["language"]
        entities.append(Entity(kind, values[0], values[1], extra))
    return entities


def _check_bounds(text: str, entities: list[Entity]) -> None:
    """TDLib's checks in ``fix_formatted_text`` / ``clean_input_string_with_entities``."""
    for entity in entities:
        if not 0 <= entity.offset <= 1000000:
            raise TextError(f"Receive an entity with incorrect offset {entity.offset}")
        if not 0 <= entity.length <= 1000000:
            raise TextError(f"Receive an entity with incorrect length {entity.length}")
    entities[:] = [e for e in entities if e.length > 0]
    sort_entities(entities)
    size = u16len(text)
    halves: set[int] = set()
    if not text.isascii():
        position = 0
        for char in text:
            position += 1
            if ord(char) > 0xFFFF:
                halves.add(position)  # the middle of a surrogate pair
                position += 1
    for entity in entities:
        end = entity.offset + entity.length
        if entity.offset > size:
            raise TextError(
                f"Entity begins after the end of the text at UTF-16 offset {entity.offset}"
            )
        if end > size:
            raise TextError(
                f"Entity beginning at UTF-16 offset {entity.offset} ends after the end of the "
                f"text at UTF-16 offset {end}"
            )
        if entity.offset in halves:
            raise TextError(
                "Entity begins in a middle of a UTF-16 symbol at byte offset "
                f"{_byte_at(text, entity.offset + 1)}"
            )
        if end in halves:
            raise TextError(
                f"Entity beginning at UTF-16 offset {entity.offset} ends in a middle of a "
                f"UTF-16 symbol at byte offset {_byte_at(text, end + 1)}"
            )


def _byte_at(text: str, position: int) -> int:
    """The UTF-8 offset of the character that starts at UTF-16 ``position`` (TDLib's report)."""
    units = 0
    for index, char in enumerate(text):
        if units >= position:
            return len(text[:index].encode("utf-8"))
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text.encode("utf-8"))


# --------------------------------------------------------------------------- cleaning, trimming

# removed: \r, U+2028..U+202E (separators, bidi controls), some combining vertical lines
_REMOVED = re.compile("[\r\u2028-\u202e\u0333\u033f\u030a]")
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f]")


def _clean(text: str, entities: list[Entity]) -> str:
    text = _CONTROL.sub(" ", text)
    if not _REMOVED.search(text):
        return text
    # map UTF-16 positions to positions after removal
    removed_before: list[int] = []
    removed = 0
    kept: list[str] = []
    for char in text:
        removed_before.append(removed)
        if _REMOVED.match(char):
            removed += 1
            continue
        kept.append(char)
        if ord(char) > 0xFFFF:
            removed_before.append(removed)
    removed_before.append(removed)
    for entity in entities:
        end = entity.offset + entity.length
        entity.offset -= removed_before[entity.offset]
        entity.length = end - removed_before[end] - entity.offset
    entities[:] = [e for e in entities if e.length > 0]
    return "".join(kept)


def _trim(text: str, entities: list[Entity]) -> str:
    stripped = text.rstrip(" \n")
    if len(stripped) != len(text):
        end = u16len(stripped)
        kept = []
        for entity in entities:
            if entity.offset >= end:
                continue
            entity.length = min(entity.length, end - entity.offset)
            kept.append(entity)
        entities[:] = kept
        text = stripped
    first = min((e.offset for e in entities), default=None)
    lead = len(text) - len(text.lstrip(" \n"))
    if first is not None:
        lead = min(lead, first)  # only whitespace before the first entity goes
    if lead:
        text = text[lead:]
        for entity in entities:
            entity.offset -= lead
    return text


# --------------------------------------------------------------------------- automatic entities

_AUTO = re.compile(
    r"(?P<bot_command>(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>]))"
    r"|(?P<email>(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"
    r"|(?P<mention>(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w))"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d_]\w*(?![\w#]))"
    r"|(?P<cashtag>(?<![\w$])\$[A-Z]{1,8}(?![\w$]))"
    r"|(?P<url>(?<![\w@/.-])(?:https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]"
    r"|(?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|ai|dev|app|me|ru|de|uk|co|info|xyz|gg)"
    r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)\]'}])?)(?![\w@]))"
)
_ATOMIC = frozenset(
    {"code", "pre", "text_link", "text_mention", "custom_emoji", "mention", "hashtag",
     "cashtag", "bot_command", "url", "email", "phone_number", "date_time"}
)  # fmt: skip


def find_entities(text: str) -> list[Entity]:
    """Mentions, hashtags, cashtags, bot commands, URLs and e-mails Telegram finds by itself."""
    if not any(c in text for c in "/@#$.") or not text:
        return []
    found = []
    ascii_text = text.isascii()
    for match in _AUTO.finditer(text):
        kind = match.lastgroup or "url"
        start, end = match.span()
        if ascii_text:
            offset, length = start, end - start
        else:
            offset = u16len(text[:start])
            length = u16len(match.group())
        found.append(Entity(kind, offset, length))
    return found


def _merge_found(entities: list[Entity], found: list[Entity]) -> None:
    blocking = [e for e in entities if e.type in _ATOMIC]
    quotes = [e for e in entities if e.type in BLOCKQUOTES]
    for new in found:
        end = new.offset + new.length
        if any(e.offset < end and new.offset < e.offset + e.length for e in blocking):
            continue
        if any(
            q.offset < end
            and new.offset < q.offset + q.length
            and not (q.offset <= new.offset and end <= q.offset + q.length)
            for q in quotes
        ):
            continue
        entities.append(new)
    sort_entities(entities)


# --------------------------------------------------------------------------- the pipeline


def format_text(
    text: str,
    parse_mode: str | None,
    entities: Any = None,
    *,
    limit: int = MAX_TEXT,
    allow_empty: bool = False,
    find_new: bool = True,
    too_long: str = "message is too long",
    empty: str = "message text is empty",
    users: Mapping[int, Any] | None = None,
) -> FormattedText:
    """The text and entities Telegram stores for ``text`` sent with ``parse_mode``/``entities``."""
    mode = (parse_mode or "").lower()
    if mode and mode != "none" and text:
        if mode == "html":
            text, parsed = parse_html(text, users)
        elif mode == "markdownv2":
            text, parsed = parse_markdown_v2(text, users)
        elif mode == "markdown":
            text, parsed = parse_markdown_v1(text, users)
        else:
            raise TextError("unsupported parse_mode")
    elif mode and mode not in ("html", "markdownv2", "markdown", "none"):
        raise TextError("unsupported parse_mode")
    else:
        parsed = parse_entity_list(entities)
        if parsed:
            try:
                _check_bounds(text, parsed)
            except TextError as exc:
                raise TextError(exc.description[0].lower() + exc.description[1:]) from None
    parsed = [e for e in parsed if e.length > 0]
    text = _clean(text, parsed)
    text = _trim(text, parsed)
    if not text:
        if allow_empty:
            return FormattedText("", [])
        raise TextError(empty)
    if u16len(text) > limit:
        raise TextError(too_long)
    if find_new:
        _merge_found(parsed, find_entities(text))
    else:
        sort_entities(parsed)
    return FormattedText(text, [e.to_json() for e in parsed[:MAX_ENTITIES]])
