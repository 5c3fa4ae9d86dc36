"""Entities as TDLib keeps them: types, their order, UTF-16 lengths, links, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Telegram keeps the first 100 entities of a text (in its order, those it found by itself
# included) and silently drops the rest: the message is sent, formatting past them is lost.
# Undocumented; python-telegram-bot's ``MessageLimit.MESSAGE_ENTITIES``, TelegramBots#854.
MAX_ENTITIES = 100


class TextError(Exception):
    """A 400 whose description is ``Bad Request: <description>``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def u16len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram counts)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- entities

# TDLib's type priorities: the order of entities that start together with the same length.
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
    "text_mention": 49, "mention": 50, "hashtag": 50, "cashtag": 50, "bot_command": 50,
    "url": 50, "email": 50, "phone_number": 50, "bank_card_number": 50, "date_time": 50,
    "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93, "spoiler": 94,
    "custom_emoji": 99,
}  # fmt: skip
ENTITY_TYPES = frozenset(_PRIORITY)
BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
# TDLib's names, used in "Can't find end of X entity" messages
TD_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "pre_code": "PreCode",
    "text_link": "TextUrl", "custom_emoji": "CustomEmoji", "blockquote": "BlockQuote",
}  # fmt: skip


@dataclass(slots=True)
class Entity:
    type: str
    offset: int
    length: int
    extra: Json = field(default_factory=dict)

    def to_json(self) -> Json:
        return {"offset": self.offset, "length": self.length, "type": self.type, **self.extra}


def sort_entities(entities: list[Entity]) -> None:
    entities.sort(key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))


@dataclass(frozen=True, slots=True)
class FormattedText:
    text: str
    entities: list[Json]


# --------------------------------------------------------------------------- links

USER_LINK = re.compile(r"tg:(?://)?user\?id=(\d+)", re.IGNORECASE)
EMOJI_LINK = re.compile(r"tg:(?://)?emoji\?id=(\d+)", re.IGNORECASE)


def checked_link(url: str) -> str:
    """TDLib's ``LinkManager::get_checked_link``, simplified: "" when the link is not valid."""
    url = url.strip()
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return ""
    lower = url.lower()
    if lower.startswith(("tg:", "ton:")):
        return url if len(url) > 4 else ""
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.netloc.lower()
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme.lower()}://{host}{path}{query}{fragment}"


def link_entity(offset: int, length: int, url: str, users: Mapping[int, Any]) -> Entity | None:
    match = USER_LINK.fullmatch(url.strip())
    if match:
        user_id = int(match.group(1))
        known = users.get(user_id)
        user = known.to_json() if known is not None and hasattr(known, "to_json") else known
        user = user or {"id": user_id, "is_bot": False, "first_name": ""}
        return Entity("text_mention", offset, length, {"user": user})
    checked = checked_link(url)
    if not checked:
        return None
    return Entity("text_link", offset, length, {"url": checked})
