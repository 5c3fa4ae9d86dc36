"""What a Discord message means for the bot: is it addressed to us, where its history lives,
who wrote it, and what its attachments are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import discord

from core.access import DISCORD, Party
from core.domain import Author, ChatRef, JsonObject

PLATFORM = DISCORD
TEXT_SUFFIXES = (
    ".txt", ".md", ".markdown", ".py", ".js", ".ts", ".json", ".yaml", ".yml", ".toml", ".csv",
    ".log", ".ini", ".cfg", ".html", ".css", ".xml", ".sql", ".sh", ".c", ".h", ".cpp", ".rs",
    ".go", ".java", ".kt", ".rb", ".php", ".swift",
)  # fmt: skip


def chat_ref(channel: object) -> ChatRef:
    """One history per DM, per channel, and per thread (under its parent channel)."""
    if isinstance(channel, discord.Thread):
        return ChatRef(PLATFORM, str(channel.parent_id), str(channel.id))
    return ChatRef(PLATFORM, str(getattr(channel, "id", "")))


def author_of(
    user: discord.abc.User, locale: str | None = None, *, is_admin: bool = False
) -> Author:
    return Author(str(user.id), user.display_name, locale, is_admin=is_admin)


def author_json(author: Author) -> JsonObject:
    return {
        "id": author.id,
        "name": author.name,
        "language_code": author.language_code,
        "is_admin": author.is_admin,
    }


def author_from_json(data: JsonObject) -> Author:
    code = data.get("language_code")
    return Author(
        id=str(data.get("id") or ""),
        name=str(data.get("name") or ""),
        language_code=code if isinstance(code, str) else None,
        is_admin=data.get("is_admin") is True,
    )


def user_party(user: discord.abc.User) -> Party:
    return Party(str(user.id), user.name)


def places_of(channel: object, guild: discord.Guild | None) -> tuple[Party, ...]:
    """The channel, its parent for a thread, and the server: any of them may be allowed."""
    places = [Party(str(getattr(channel, "id", "")))]
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        places.append(Party(str(channel.parent_id)))
    if guild is not None:
        places.append(Party(str(guild.id)))
    return tuple(places)


def role_ids(user: discord.abc.User) -> tuple[str, ...]:
    """The ids of a member's roles. Never their names: anyone can create a role called
    "admin" in a server of their own."""
    if isinstance(user, discord.Member):
        return tuple(str(role.id) for role in user.roles)
    return ()


@dataclass(frozen=True, slots=True)
class Addressing:
    for_bot: bool
    text: str


def addressing(message: discord.Message, bot: discord.ClientUser) -> Addressing:
    """DMs: everything. Servers: an @mention of the bot, a reply to one of its messages, or
    anything in a thread the bot started (its conversations from /ask)."""
    text = message.content
    if message.guild is None:
        return Addressing(True, text)
    mentioned = any(user.id == bot.id for user in message.mentions)
    replied = message.reference is not None and isinstance(
        message.reference.resolved, discord.Message
    )
    if replied and isinstance(message.reference, discord.MessageReference):
        resolved = message.reference.resolved
        replied = isinstance(resolved, discord.Message) and resolved.author.id == bot.id
    in_own_thread = isinstance(message.channel, discord.Thread) and (
        message.channel.owner_id == bot.id
    )
    if not (mentioned or replied or in_own_thread):
        return Addressing(False, text)
    return Addressing(True, without_mention(text, bot.id))


def without_mention(text: str, bot_id: int) -> str:
    cleaned = re.sub(rf"<@!?{bot_id}>", " ", text)
    return " ".join(part for part in cleaned.split(" ") if part).strip(" ,:")


class AttachmentKind(Enum):
    IMAGE = "image"
    TEXT = "text"
    OTHER = "other"


class Attached(Protocol):
    @property
    def content_type(self) -> str | None: ...

    @property
    def filename(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """An attachment as the inbox keeps it: where to download it, and what it says it is."""

    url: str
    size: int
    content_type: str | None
    filename: str

    @classmethod
    def of(cls, attachment: discord.Attachment) -> StoredAttachment:
        return cls(attachment.url, attachment.size, attachment.content_type, attachment.filename)

    def to_json(self) -> JsonObject:
        return {
            "url": self.url,
            "size": self.size,
            "content_type": self.content_type,
            "filename": self.filename,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> StoredAttachment:
        content_type = data.get("content_type")
        size = data.get("size")
        return cls(
            url=str(data.get("url") or ""),
            size=size if isinstance(size, int) else 0,
            content_type=content_type if isinstance(content_type, str) else None,
            filename=str(data.get("filename") or "file"),
        )


def kind_of(attachment: Attached) -> AttachmentKind:
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        return AttachmentKind.IMAGE
    name = attachment.filename.lower()
    if content_type.startswith("text/") or name.endswith(TEXT_SUFFIXES):
        return AttachmentKind.TEXT
    return AttachmentKind.OTHER


def quoted_file(name: str, data: bytes) -> str:
    """A text attachment as the model reads it: its name and a fenced block."""
    body = data.decode("utf-8", errors="replace")
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{name}:\n{fence}\n{body}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
