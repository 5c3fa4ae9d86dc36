"""Telegram's parse modes, following TDLib's ``parse_html``, ``parse_markdown_v2`` and
``parse_markdown`` (td/telegram/MessageEntity.cpp) step by step: the same input is accepted or
rejected with the same description ("Unsupported start tag \\"x\\" at byte offset N", "Character
'.' is reserved and must be escaped with the preceding '\\'", ...). Byte offsets are UTF-8 offsets
into the input; entity offsets and lengths are UTF-16 code units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .entities import (
    BLOCKQUOTES,
    EMOJI_LINK,
    TD_NAMES,
    Entity,
    Json,
    TextError,
    byte_offset,
    link_entity,
    sort_entities,
    u16len,
)

_SPACES = frozenset(" \t\r\n\0\v\f")  # td::is_space, which counts the end of the string too

# --------------------------------------------------------------------------- HTML

_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
     "span", "pre", "code", "blockquote"}
)  # fmt: skip
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_SIMPLE = {
    "i": "italic", "em": "italic", "b": "bold", "strong": "bold", "s": "strikethrough",
    "strike": "strikethrough", "del": "strikethrough", "u": "underline", "ins": "underline",
    "tg-spoiler": "spoiler",
}  # fmt: skip


def _decode_html_entity(s: str, pos: int) -> tuple[int, int]:
    """(code point or 0, position after the entity); ``s[pos] == "&"``."""
    n = len(s)
    end = pos + 1
    code = 0
    if end < n and s[end] == "#":
        end += 1
        if end < n and s[end] == "x":
            end += 1
            while end < n and s[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(s[end], 16)
                end += 1
        else:
            while end < n and "0" <= s[end] <= "9":
                code = code * 10 + ord(s[end]) - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while end < n and s[end].isascii() and s[end].isalpha():
            end += 1
        code = {"lt": 60, "gt": 62, "amp": 38, "quot": 34}.get(s[pos + 1 : end], 0)
        if not code:
            return 0, pos
    if end < n and s[end] == ";":
        end += 1
    return code, end


def _is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    offset: int
    out_index: int


def parse_html(s: str, users: Mapping[int, Any] | None = None) -> tuple[str, list[Entity]]:
    """TDLib's ``parse_html``: (plain text, entities) or TextError("Can't parse entities: …")."""
    try:
        return _parse_html(s, users or {})
    except TextError as exc:
        raise TextError(f"can't parse entities: {exc.description}") from None


def _parse_html(s: str, users: Mapping[int, Any]) -> tuple[str, list[Entity]]:
    n = len(s)

    def at(k: int) -> str:
        return s[k] if k < n else "\0"

    out: list[str] = []
    u16 = 0
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    surrogate = False
    i = 0
    while i < n:
        match = _HTML_SPECIAL.search(s, i)
        j = match.start() if match else n
        if j > i:
            run = s[i:j]
            out.append(run)
            u16 += u16len(run)
            i = j
            if i >= n:
                break
        if s[i] == "&":
            code, after = _decode_html_entity(s, i)
            if code:
                surrogate = surrogate or 0xD800 <= code <= 0xDFFF
                out.append(chr(code))
                u16 += 2 if code > 0xFFFF else 1
                i = after
            else:
                out.append("&")
                u16 += 1
                i += 1
            continue
        begin = i
        i += 1
        if at(i) != "/":
            i = _html_start_tag(s, begin, at, stack, u16, len(out))
        else:
            if not stack:
                raise TextError(f"Unexpected end tag at byte offset {byte_offset(s, begin)}")
            while at(i) not in _SPACES and at(i) != ">":
                i += 1
            end_name = s[begin + 2 : i].lower()
            while at(i) in _SPACES and at(i) != "\0":
                i += 1
            if at(i) != ">":
                raise TextError(f"Unclosed end tag at byte offset {byte_offset(s, begin)}")
            tag = stack[-1]
            if end_name and end_name != tag.name:
                raise TextError(
                    f"Unmatched end tag at byte offset {byte_offset(s, begin)}, "
                    f'expected "</{tag.name}>", found "</{end_name}>"'
                )
            if u16 > tag.offset:
                _close_html_tag(
                    tag, u16 - tag.offset, "".join(out[tag.out_index :]), entities, users
                )
            stack.pop()
        i += 1  # past ">"
    if stack:
        raise TextError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity.type == "code":
            entity.extra.clear()
    sort_entities(entities)
    text = "".join(out)
    if surrogate:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise TextError(
                "Text contains invalid Unicode characters after decoding HTML entities, check for "
                "unmatched surrogate code units"
            ) from None
    return text, entities


def _html_start_tag(
    s: str, begin: int, at: Any, stack: list[_OpenTag], u16: int, out_index: int
) -> int:
    """Parse the start tag at ``begin``; push it; return the index of its ">"."""
    i = begin + 1
    while at(i) not in _SPACES and at(i) != ">":
        i += 1
    offset = byte_offset(s, begin)
    if at(i) == "\0":
        raise TextError(f"Unclosed start tag at byte offset {offset}")
    name = s[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise TextError(f'Unsupported start tag "{name}" at byte offset {offset}')
    argument = ""
    while at(i) != ">":
        while at(i) != "\0" and at(i) in _SPACES:
            i += 1
        if at(i) == ">":
            break
        attr_begin = i
        while at(i) not in _SPACES and at(i) not in "=>/\"'":
            i += 1
        attr = s[attr_begin:i]
        if not attr:
            raise TextError(f'Empty attribute name in the tag "{name}" at byte offset {offset}')
        while at(i) != "\0" and at(i) in _SPACES:
            i += 1
        if at(i) != "=":
            if at(i) == "\0":
                raise TextError(f'Unclosed start tag "{name}" at byte offset {offset}')
            if name == "blockquote" and attr == "expandable":
                argument = "1"
            continue
        i += 1
        while at(i) != "\0" and at(i) in _SPACES:
            i += 1
        if at(i) == "\0":
            raise TextError(f'Unclosed start tag "{name}" at byte offset {offset}')
        if at(i) not in "'\"":
            token_begin = i
            while _is_ascii_alnum(at(i)) or at(i) in ".-":
                i += 1
            value = s[token_begin:i].lower()
            if at(i) not in _SPACES and at(i) != ">":
                raise TextError(
                    f"Unexpected end of name token at byte offset {byte_offset(s, token_begin)}"
                )
        else:
            quote = s[i]
            i += 1
            chars: list[str] = []
            while at(i) != quote and at(i) != "\0":
                if s[i] == "&":
                    code, after = _decode_html_entity(s, i)
                    if code:
                        chars.append(chr(code))
                        i = after
                        continue
                chars.append(s[i])
                i += 1
            if at(i) == quote:
                i += 1
            value = "".join(chars)
        if at(i) == "\0":
            raise TextError(f"Unclosed start tag at byte offset {offset}")
        if name == "a" and attr == "href":
            argument = value
        elif name == "code" and attr == "class" and value.startswith("language-"):
            argument = value[9:]
        elif name == "span" and attr == "class" and value.startswith("tg-"):
            argument = value[3:]
        elif name == "tg-emoji" and attr == "emoji-id":
            argument = value
        elif name == "blockquote" and attr == "expandable":
            argument = "1"
    if name == "span" and argument != "spoiler":
        raise TextError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    stack.append(_OpenTag(name, argument, u16, out_index))
    return i


def _close_html_tag(
    tag: _OpenTag, length: int, inner: str, entities: list[Entity], users: Mapping[int, Any]
) -> None:
    offset, name = tag.offset, tag.name
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == offset and last.length == length
    if name in _HTML_SIMPLE or name == "span":
        entities.append(Entity(_HTML_SIMPLE.get(name, "spoiler"), offset, length))
    elif name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise TextError("Invalid custom emoji identifier specified")
        entities.append(Entity("custom_emoji", offset, length, {"custom_emoji_id": tag.argument}))
    elif name == "a":
        link = link_entity(offset, length, tag.argument or inner, users)
        if link is not None:
            entities.append(link)
    elif name == "pre":
        if same_span and last is not None and last.type == "code" and last.extra.get("language"):
            last.type = "pre"
        else:
            entities.append(Entity("pre", offset, length))
    elif name == "code":
        if same_span and last is not None and last.type == "pre" and tag.argument:
            last.extra["language"] = tag.argument
        else:
            extra = {"language": tag.argument} if tag.argument else {}
            entities.append(Entity("code", offset, length, extra))
    else:  # blockquote
        kind = "expandable_blockquote" if tag.argument else "blockquote"
        entities.append(Entity(kind, offset, length))


# --------------------------------------------------------------------------- MarkdownV2

_MD_RESERVED = "_*[]()~`>#+-=|{}.!\n"
_MD_STOP = re.compile(r"[\\_*\[\]()~`>#+\-=|{}.!\n]")
_MD_CODE_STOP = re.compile(r"[\\`]")
_CODE_TYPES = frozenset({"code", "pre", "pre_code"})


@dataclass(slots=True)
class _OpenMd:
    type: str
    argument: str
    offset: int
    index: int  # where it starts in the input
    out_index: int


def parse_markdown_v2(s: str, users: Mapping[int, Any] | None = None) -> tuple[str, list[Entity]]:
    """TDLib's ``parse_markdown_v2``: (plain text, entities) or TextError."""
    try:
        return _parse_markdown_v2(s, users or {})
    except TextError as exc:
        raise TextError(f"can't parse entities: {exc.description}") from None


def _reserved(c: str) -> TextError:
    return TextError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")


def _md_url(s: str, i: int, at: Any) -> tuple[str, int]:
    """Read a URL up to ")" starting at ``i``; return (url, index of ")")."""
    chars: list[str] = []
    n = len(s)
    while i < n and s[i] != ")":
        if s[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
            chars.append(s[i + 1])
            i += 2
            continue
        chars.append(s[i])
        i += 1
    return "".join(chars), i


def _parse_markdown_v2(s: str, users: Mapping[int, Any]) -> tuple[str, list[Entity]]:
    n = len(s)

    def at(k: int) -> str:
        return s[k] if k < n else "\0"

    def unfinished(entry: _OpenMd) -> TextError:
        name = TD_NAMES.get(entry.type, entry.type)
        return TextError(
            f"Can't find end of {name} entity at byte offset {byte_offset(s, entry.index)}"
        )

    out: list[str] = []
    u16 = 0
    stack: list[_OpenMd] = []
    entities: list[Entity] = []
    have_quote = False
    can_start_quote = True
    i = 0
    while i < n:
        c = s[i]
        if c == "\\" and 0 < ord(at(i + 1)) <= 126:
            i += 1
            u16 += 1
            out.append(s[i])
            if s[i] != "\r":
                can_start_quote = s[i] == "\n"
            i += 1
            continue
        in_code = bool(stack) and stack[-1].type in _CODE_TYPES
        if c not in ("`" if in_code else _MD_RESERVED):
            match = (_MD_CODE_STOP if in_code else _MD_STOP).search(s, i + 1)
            j = match.start() if match else n
            run = s[i:j]
            out.append(run)
            u16 += u16len(run)
            if run.strip("\r"):
                can_start_quote = False
            i = j
            continue

        is_end = False
        if stack:
            top = stack[-1].type
            nxt = at(i + 1)
            if have_quote and c == "\n" and (i + 1 == n or nxt != ">"):
                is_end = True
            elif top == "bold":
                is_end = c == "*"
            elif top == "italic":
                is_end = c == "_" and nxt != "_"
            elif top == "code":
                is_end = c == "`"
            elif top in ("pre", "pre_code"):
                is_end = c == "`" and nxt == "`" and at(i + 2) == "`"
            elif top in ("text_link", "custom_emoji"):
                is_end = c == "]"
            elif top == "underline":
                is_end = c == "_" and nxt == "_"
            elif top == "strikethrough":
                is_end = c == "~"
            elif top == "spoiler":
                is_end = c == "|" and nxt == "|"

        if not is_end:
            start = i
            kind = ""
            argument = ""
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    end = i
                    while at(end) not in _SPACES and at(end) != "`":
                        end += 1
                    if i != end and end < n and at(end) != "`":
                        kind = "pre_code"
                        argument = s[i:end]
                        i = end
                    if at(i) in "\n\r":
                        i += 2 if at(i + 1) in "\n\r" and at(i) != at(i + 1) else 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == "\n":
                u16 += 1
                out.append("\n")
                can_start_quote = True
            elif c == ">":
                if not can_start_quote:
                    raise _reserved(c)
                if not have_quote:
                    kind = "blockquote"
                    have_quote = True
            else:
                raise _reserved(c)
            if kind:
                stack.append(_OpenMd(kind, argument, u16, start, len(out)))
            i += 1
            continue

        # the end of an entity
        entry = stack[-1]
        kind = entry.type
        if c == "\n" and kind != "blockquote":
            last_is_cr = bool(out) and out[-1].endswith("\r")
            if kind != "spoiler" or not (
                entry.index == i - 2 or (entry.index == i - 3 and last_is_cr)
            ):
                raise unfinished(entry)
            stack.pop()
            entry = stack[-1]
            if entry.type != "blockquote":
                raise unfinished(entry)
            kind = "expandable_blockquote"
        argument = entry.argument
        extra: Json = {}
        skip = u16 == entry.offset
        link: Entity | None = None
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[entry.out_index :])
            else:
                url_begin = i + 2
                url, i = _md_url(s, url_begin, at)
                if at(i) != ")":
                    raise TextError(
                        f"Can't find end of a URL at byte offset {byte_offset(s, url_begin)}"
                    )
            link = link_entity(entry.offset, u16 - entry.offset, url, users)
            skip = skip or link is None
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise TextError("Custom emoji entity must contain a tg://emoji URL")
            url_begin = i + 2
            url, i = _md_url(s, url_begin, at)
            if at(i) != ")":
                raise TextError(
                    f"Can't find end of a custom emoji URL at byte offset "
                    f"{byte_offset(s, url_begin)}"
                )
            match = EMOJI_LINK.fullmatch(url)
            if not match or int(match.group(1)) == 0:
                raise TextError("Invalid custom emoji identifier specified")
            extra = {"custom_emoji_id": match.group(1)}
        elif kind in BLOCKQUOTES:
            have_quote = False
            out.append(c)
            can_start_quote = True
            u16 += 1
            skip = False
        if not skip:
            if link is not None:
                entities.append(link)
            elif kind == "pre_code":
                entities.append(
                    Entity("pre", entry.offset, u16 - entry.offset, {"language": argument})
                )
            else:
                entities.append(Entity(kind, entry.offset, u16 - entry.offset, extra))
        stack.pop()
        i += 1

    if have_quote:
        kind = "blockquote"
        if stack[-1].type == "spoiler" and stack[-1].index == n - 2:
            stack.pop()
            kind = "expandable_blockquote"
        if stack[-1].type == "blockquote":
            if u16 != stack[-1].offset:
                entities.append(Entity(kind, stack[-1].offset, u16 - stack[-1].offset))
            stack.pop()
    if stack:
        raise unfinished(stack[-1])
    sort_entities(entities)
    return "".join(out), entities


def parse_markdown_v1(s: str, users: Mapping[int, Any] | None = None) -> tuple[str, list[Entity]]:
    """TDLib's legacy ``parse_markdown`` (parse_mode "Markdown")."""
    n = len(s)
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    i = 0
    while i < n:
        c = s[i]
        nxt = s[i + 1] if i + 1 < n else "\0"
        if c == "\\" and nxt in "_*`[":
            out.append(nxt)
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        i += 1
        is_pre = False
        language = ""
        if c == "`" and s[i : i + 2] == "``":
            i += 2
            is_pre = True
            end = i
            while end < n and s[end] not in _SPACES and s[end] != "`":
                end += 1
            if i != end and end < n and s[end] != "`":
                language, i = s[i:end], end
            if i < n and s[i] in "\r\n":
                i += 2 if s[i + 1 : i + 2] in ("\r", "\n") and s[i] != s[i + 1] else 1
        offset = u16
        inner: list[str] = []
        while i < n and (s[i] != end_char or (is_pre and s[i + 1 : i + 3] != "``")):
            inner.append(s[i])
            u16 += 2 if ord(s[i]) > 0xFFFF else 1
            i += 1
        if i >= n:
            raise TextError(
                "can't parse entities: Can't find end of the entity starting at byte offset "
                f"{byte_offset(s, begin)}"
            )
        out.extend(inner)
        if u16 != offset:
            length = u16 - offset
            if c == "_":
                entities.append(Entity("italic", offset, length))
            elif c == "*":
                entities.append(Entity("bold", offset, length))
            elif c == "[":
                url = "".join(inner)
                if i + 1 < n and s[i + 1] == "(":
                    close = s.find(")", i + 2)
                    close = n if close < 0 else close
                    url, i = s[i + 2 : close], close
                link = link_entity(offset, length, url, users or {})
                if link is not None:
                    entities.append(link)
            elif is_pre:
                extra = {"language": language} if language else {}
                entities.append(Entity("pre", offset, length, extra))
            else:
                entities.append(Entity("code", offset, length))
        if is_pre:
            i += 2
        i += 1
    sort_entities(entities)
    return "".join(out), entities
