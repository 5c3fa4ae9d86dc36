"""What a Telegram message means for the bot: is it addressed to us, who wrote it, where the
answer goes, and what kind of content it carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telegram import Chat, Message, MessageEntity, User

from bots.telegram.sink import Destination
from core.access import TELEGRAM, Party
from core.commands import COMMAND_NAMES
from core.domain import Author, ChatRef

PLATFORM = TELEGRAM
# Commands that are ours when written bare in a group: the menu. A bare /start (every bot has
# one) and unknown commands belong to other bots there; "/start@ourbot" is ours.
BARE_COMMANDS = frozenset(COMMAND_NAMES) - {"start"}


class Content(Enum):
    TEXT = "text"
    PHOTO = "photo"
    STICKER = "sticker"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    POLL = "poll"
    OTHER = "other"
    SERVICE = "service"  # joins, pins, title changes…: never answered


_KINDS: tuple[tuple[str, Content], ...] = (
    ("sticker", Content.STICKER),
    ("voice", Content.VOICE),
    ("video_note", Content.VIDEO),
    ("audio", Content.AUDIO),
    ("video", Content.VIDEO),
    ("animation", Content.VIDEO),
    ("document", Content.DOCUMENT),
    ("venue", Content.LOCATION),
    ("location", Content.LOCATION),
    ("contact", Content.CONTACT),
    ("poll", Content.POLL),
    ("dice", Content.OTHER),
    ("game", Content.OTHER),
    ("story", Content.OTHER),
    ("paid_media", Content.OTHER),
)


def content_of(message: Message) -> Content:
    if message.photo:
        return Content.PHOTO
    for attribute, kind in _KINDS:
        if getattr(message, attribute, None):
            return kind
    if message.text is not None:
        return Content.TEXT
    return Content.SERVICE


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: int
    username: str

    @classmethod
    def of(cls, user: User) -> BotIdentity:
        return cls(user.id, (user.username or "").lower())


def is_shared(chat: Chat) -> bool:
    return chat.type != Chat.PRIVATE


def chat_ref(message: Message) -> ChatRef:
    """One history per private chat, per group, and per forum topic."""
    thread = ""
    if message.chat.is_forum and message.message_thread_id is not None:
        thread = str(message.message_thread_id)
    return ChatRef(PLATFORM, str(message.chat.id), thread)


def author_of(user: User, *, is_admin: bool = False) -> Author:
    name = user.full_name or (f"@{user.username}" if user.username else str(user.id))
    return Author(str(user.id), name, user.language_code, is_admin=is_admin)


def party_of_user(user: User) -> Party:
    return Party(str(user.id), user.username)


def party_of_chat(chat: Chat) -> Party:
    return Party(str(chat.id), chat.username)


def destination(message: Message) -> Destination:
    """Answers in groups reply to the message that asked; in forum topics they stay there."""
    thread = message.message_thread_id if message.chat.is_forum else None
    reply_to = message.message_id if is_shared(message.chat) else None
    return Destination(message.chat.id, thread, reply_to)


def body(message: Message) -> tuple[str, tuple[MessageEntity, ...]]:
    if message.text is not None:
        return message.text, tuple(message.entities)
    return message.caption or "", tuple(message.caption_entities)


def _entity_text(text: str, entity: MessageEntity) -> str:
    """The entity's text: offsets are in UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    start = entity.offset * 2
    return encoded[start : start + entity.length * 2].decode("utf-16-le", "replace")


@dataclass(frozen=True, slots=True)
class Addressing:
    """Whether a message is for the bot, and its text with the bot's @mention taken out."""

    for_bot: bool
    text: str


def addressing(message: Message, bot: BotIdentity) -> Addressing:
    """Private chats: everything. Groups: an @mention of the bot, a reply to one of its
    messages, or a command for it ("/cmd@bot", or one of its menu commands with no addressee).
    A command for another bot ("/cmd@other", a bare "/start" or "/foo") is never ours."""
    text, entities = body(message)
    if not is_shared(message.chat):
        return Addressing(True, text)
    mentioned = False
    cuts: list[MessageEntity] = []
    for entity in entities:
        if entity.type == MessageEntity.MENTION:
            if _entity_text(text, entity).lstrip("@").lower() == bot.username:
                mentioned = True
                cuts.append(entity)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            mentioned = True
        elif entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            if not _command_is_ours(_entity_text(text, entity), bot):
                return Addressing(False, text)  # a command for another bot
            mentioned = True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        mentioned = True
    if not mentioned:
        return Addressing(False, text)
    return Addressing(True, _without(text, cuts))


def _command_is_ours(command: str, bot: BotIdentity) -> bool:
    name, _, addressee = command.lstrip("/").partition("@")
    if addressee:
        return addressee.lower() == bot.username
    return name.lower() in BARE_COMMANDS


def _without(text: str, cuts: list[MessageEntity]) -> str:
    """Remove the bot's @mentions (UTF-16 offsets) and tidy the spaces they leave."""
    if not cuts:
        return text
    encoded = text.encode("utf-16-le")
    kept = bytearray()
    position = 0
    for entity in sorted(cuts, key=lambda e: e.offset):
        kept += encoded[position : entity.offset * 2]
        position = (entity.offset + entity.length) * 2
    kept += encoded[position:]
    cleaned = kept.decode("utf-16-le", "replace")
    return " ".join(part for part in cleaned.split(" ") if part).strip(" ,:")
