"""Discord messages and slash commands in, through the inbox and the core, answers out.

Receipt (``on_message``, ``on_command``, ``on_ask``) decides whether a message is for the bot,
checks access where Discord needs an answer at once (a slash command is refused or deferred
within its 3 seconds), and stores the message in the inbox with everything needed to answer it
later: its text, author, channel, attachments' URLs, and the access decisions. The inbox hands
it back (``process``) in order per chat, in this process or after a restart.

A slash command's live ``Interaction`` is kept in memory while the process runs; one taken up
after a restart has no token any more and is answered in the channel, mentioning the user.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import discord

from bots.discord.inbound import (
    PLATFORM,
    AttachmentKind,
    StoredAttachment,
    addressing,
    author_from_json,
    author_json,
    author_of,
    chat_ref,
    kind_of,
    places_of,
    quoted_file,
    role_ids,
    user_party,
)
from bots.discord.render import DiscordRenderer
from bots.discord.sink import ChannelSink, InteractionSink
from bots.download import Downloader, DownloadError, TooLarge, check_declared, mebibytes
from bots.refusals import RecentRefusals
from bots.retry import DeliveryRetry
from core.access import AccessPolicy
from core.commands import parse_command
from core.domain import (
    Author,
    ChatRef,
    Envelope,
    ImageInput,
    InboxEntry,
    IncomingMessage,
    JsonObject,
    Language,
)
from core.errors import InfrastructureError
from core.i18n import Translator
from core.inbox import Journal
from core.ordering import LocalChatLocks
from core.ports import Clock, Reply, ReplySink
from core.service import ChatService

log = logging.getLogger("chatrelay.discord")

THREAD_NAME_MAX = 90


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    edit_interval: float = 1.0
    ask_threads: bool = True
    text_file_max_bytes: int = 100 * 1024
    image_max_bytes: int = 10 * 1024 * 1024


Accept = Callable[[Envelope], Awaitable[bool]]


class DiscordHandler:
    """Turns Discord events into inbox entries, and inbox entries into answers."""

    def __init__(
        self,
        *,
        service: ChatService,
        translator: Translator,
        default_language: Language,
        access: AccessPolicy,
        renderer: DiscordRenderer,
        clock: Clock,
        options: DiscordOptions,
        downloader: Downloader,
        accept: Accept,
        delivery: DeliveryRetry | None = None,
    ) -> None:
        self._service = service
        self._accept = accept
        self._delivery = delivery or DeliveryRetry()
        self._t = translator
        self._default_language = default_language
        self._access = access
        self._renderer = renderer
        self._clock = clock
        self._options = options
        self._downloader = downloader
        self._receipts = LocalChatLocks()  # a channel's messages reach the inbox in order
        self._refusals = RecentRefusals(clock)
        self._interactions: dict[str, discord.Interaction] = {}  # deferred, not yet answered
        self._closing = False

    # ---- lifecycle

    def close(self) -> None:
        """Take no new messages or commands."""
        self._closing = True

    # ---- receipt

    async def on_message(self, message: discord.Message, bot: discord.ClientUser) -> None:
        """A gateway message (or one read back by the catch-up): stored in the inbox when it
        is for the bot."""
        if (
            self._closing
            or message.author.bot
            or message.type not in (discord.MessageType.default, discord.MessageType.reply)
        ):
            return
        addressed = addressing(message, bot)
        if not addressed.for_bot:
            return
        ref = chat_ref(message.channel)
        user = message.author
        payload: JsonObject = {
            "kind": "message",
            "channel_id": message.channel.id,
            "guild_id": message.guild.id if message.guild is not None else None,
            "reply_to": message.id if message.guild is not None else None,
            "author": author_json(self._author(user)),
            "text": addressed.text,
            "shared": message.guild is not None,
            "allowed": self._allowed(user, message.channel, message.guild),
            "may_change_settings": self._access.may_change_settings(
                user_party(user), shared=message.guild is not None
            ),
            "attachments": [StoredAttachment.of(a).to_json() for a in message.attachments],
        }
        async with self._receipts.hold(ref):
            await self._accept(Envelope(ref, str(message.id), payload, message.id))

    async def on_command(self, interaction: discord.Interaction, text: str) -> None:
        """A slash command, given as the text command it stands for ("/model x"): refused at
        once (only the user sees it), or deferred and stored."""
        if self._closing:
            return
        lang = Language.from_code(str(interaction.locale)) or self._default_language
        user = interaction.user
        if not self._allowed(user, interaction.channel, interaction.guild):
            await interaction.response.send_message(self._t(lang, "access.denied"), ephemeral=True)
            return
        shared = interaction.guild is not None
        command = parse_command(text)
        if (
            command is not None
            and command.changes_settings()
            and not self._access.may_change_settings(user_party(user), shared=shared)
        ):
            refusal = self._t(lang, "access.admin_only", name=command.name)
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        if await self._store_command(interaction, chat_ref(interaction.channel), text, lang):
            await interaction.response.defer(thinking=True)

    async def on_ask(self, interaction: discord.Interaction, prompt: str) -> None:
        """``/ask``: in a server channel, a new thread (a fresh conversation) holds the answer;
        elsewhere (DMs, threads, or with threads off) it is answered in place."""
        channel = interaction.channel
        if not (
            self._options.ask_threads
            and isinstance(channel, discord.TextChannel)
            and not self._closing
            and self._allowed(interaction.user, channel, interaction.guild)
        ):
            await self.on_command(interaction, prompt)
            return
        await interaction.response.defer(thinking=True)
        name = " ".join(prompt.split())[:THREAD_NAME_MAX] or "chat"
        try:
            thread = await channel.create_thread(
                name=name, type=discord.ChannelType.public_thread, auto_archive_duration=1440
            )
        except discord.HTTPException as error:  # no permission to create threads here
            log.warning("cannot open a thread; answering in place", extra={"reason": error.text})
            await self._store_command(interaction, chat_ref(channel), prompt, None)
            return
        await interaction.edit_original_response(content=thread.mention)
        author = self._author(interaction.user, str(interaction.locale))
        payload: JsonObject = {
            "kind": "message",
            "channel_id": thread.id,
            "guild_id": thread.guild.id,
            "reply_to": None,
            "author": author_json(author),
            "text": prompt,
            "shared": True,
            "allowed": True,
            "may_change_settings": True,
            "attachments": [],
        }
        ref = chat_ref(thread)
        await self._accept(Envelope(ref, f"interaction:{interaction.id}", payload, interaction.id))

    async def _store_command(
        self, interaction: discord.Interaction, ref: ChatRef, text: str, lang: Language | None
    ) -> bool:
        """Store a slash command; False when the database can't take it (the user is told,
        only them, when the command was not answered yet: ``lang``)."""
        author = self._author(interaction.user, str(interaction.locale))
        payload: JsonObject = {
            "kind": "command",
            "channel_id": interaction.channel_id,
            "guild_id": interaction.guild_id,
            "author": author_json(author),
            "user_id": interaction.user.id,
            "text": text,
            "shared": interaction.guild is not None,
        }
        message_id = f"interaction:{interaction.id}"
        try:
            async with self._receipts.hold(ref):
                await self._accept(Envelope(ref, message_id, payload, interaction.id))
        except InfrastructureError:
            log.exception("a slash command could not be stored")
            if lang is not None:
                refusal = self._t(lang, "error.not_stored")
                await interaction.response.send_message(refusal, ephemeral=True)
            return False
        self._interactions[message_id] = interaction  # before its turn can come (no await)
        return True

    # ---- answering (from the inbox)

    async def process(self, entry: InboxEntry, journal: Journal, client: discord.Client) -> None:
        payload = entry.payload
        channel = self._channel(client, payload)
        if payload.get("kind") == "command":
            interaction = self._interactions.pop(entry.message_id, None)
            sink: ChannelSink | InteractionSink = self._interaction_sink(
                interaction, channel, payload, journal
            )
        else:
            sink = self._channel_sink(channel, payload, journal)
        if journal.reply is not None:
            await self._service.redeliver(journal, sink, PLATFORM)
            return
        incoming = IncomingMessage(
            chat=entry.chat,
            author=author_from_json(_object(payload.get("author"))),
            text=str(payload.get("text") or ""),
            message_id=entry.message_id,
            shared=payload.get("shared") is True,
        )
        if payload.get("kind") == "command":
            await self._service.handle(incoming, sink, journal)
            return
        await self._answer_message(incoming, payload, sink, journal)

    async def _answer_message(
        self, incoming: IncomingMessage, payload: JsonObject, sink: ReplySink, journal: Journal
    ) -> None:
        if payload.get("allowed") is not True:
            await self._refuse_message(incoming, sink)
            return
        attachments = [
            StoredAttachment.from_json(_object(item)) for item in _list(payload.get("attachments"))
        ]
        complete = await self._with_attachments(incoming, attachments, sink, journal)
        if complete is None:
            return
        may_change = payload.get("may_change_settings") is True
        if await self._settings_refused(complete, may_change, sink, journal):
            return
        await self._service.handle(complete, sink, journal)

    def _channel(self, client: discord.Client, payload: JsonObject) -> discord.abc.Messageable:
        channel_id = _int(payload.get("channel_id"))
        cached = client.get_channel(channel_id)
        if isinstance(cached, discord.abc.Messageable):
            return cached
        guild_id = payload.get("guild_id")
        return client.get_partial_messageable(
            channel_id, guild_id=guild_id if isinstance(guild_id, int) else None
        )

    def _channel_sink(
        self, channel: discord.abc.Messageable, payload: JsonObject, journal: Journal
    ) -> ChannelSink:
        reply_to = payload.get("reply_to")
        reference = None
        if isinstance(reply_to, int) and isinstance(
            channel, discord.TextChannel | discord.Thread | discord.PartialMessageable
        ):
            reference = channel.get_partial_message(reply_to)
        return ChannelSink(
            channel=channel,
            reply_to=reference,
            renderer=self._renderer,
            clock=self._clock,
            interval=self._options.edit_interval,
            delivery=self._delivery,
            posts=journal,
        )

    def _interaction_sink(
        self,
        interaction: discord.Interaction | None,
        channel: discord.abc.Messageable,
        payload: JsonObject,
        journal: Journal,
    ) -> InteractionSink:
        return InteractionSink(
            interaction=interaction,
            channel=channel,
            user_id=_int(payload.get("user_id")),
            renderer=self._renderer,
            clock=self._clock,
            interval=self._options.edit_interval,
            delivery=self._delivery,
            posts=journal,
        )

    async def _with_attachments(
        self,
        incoming: IncomingMessage,
        attachments: list[StoredAttachment],
        sink: ReplySink,
        journal: Journal,
    ) -> IncomingMessage | None:
        """Images go to the model, text files are read into the message, anything else gets a
        short reply (None: nothing more to do)."""
        images: list[ImageInput] = []
        texts: list[str] = []
        for attachment in attachments:
            kind = kind_of(attachment)
            if kind is AttachmentKind.OTHER:
                await self._service.tell(
                    incoming, sink, "input.unsupported", what="document", journal=journal
                )
                return None
            data = await self._read(attachment, kind, incoming, sink, journal)
            if data is None:
                return None
            if kind is AttachmentKind.IMAGE:
                images.append(ImageInput(data, attachment.content_type or "image/png"))
            else:
                texts.append(quoted_file(attachment.filename, data))
        if not images and not texts:
            return incoming
        text = "\n\n".join([incoming.text, *texts]).strip() if texts else incoming.text
        return replace(incoming, text=text, images=tuple(images))

    async def _read(
        self,
        attachment: StoredAttachment,
        kind: AttachmentKind,
        incoming: IncomingMessage,
        sink: ReplySink,
        journal: Journal,
    ) -> bytes | None:
        """An attachment's bytes from the CDN, refused before downloading when its size is
        over the limit and stopped while streaming when it is larger than it said (None: the
        user was told why)."""
        image = kind is AttachmentKind.IMAGE
        limit = self._options.image_max_bytes if image else self._options.text_file_max_bytes
        try:
            check_declared(attachment.size, limit)
            return await self._downloader.fetch(attachment.url, limit)
        except TooLarge as error:
            log.info("attachment too large", extra={"size": error.size, "limit": limit})
            if image:
                size, most = mebibytes(error.size), mebibytes(limit)
                await self._service.tell(
                    incoming, sink, "input.image_too_large", size=size, limit=most, journal=journal
                )
            else:  # a text file too long to read into the message
                kib = math.ceil(error.size / 1024), math.ceil(limit / 1024)
                await self._service.tell(
                    incoming,
                    sink,
                    "input.file_too_large",
                    size=kib[0],
                    limit=kib[1],
                    journal=journal,
                )
        except DownloadError as error:
            log.warning("attachment download failed", extra={"reason": str(error)})
            await self._service.tell(incoming, sink, "input.download_failed", journal=journal)
        return None

    async def _refuse_message(self, incoming: IncomingMessage, sink: ReplySink) -> None:
        if not self._refusals.first(_int(incoming.chat.chat_id), _int(incoming.author.id)):
            return
        lang = self._default_language
        await sink.deliver(Reply(self._t(lang, "access.denied"), is_error=True))

    # ---- rules

    def _author(self, user: discord.abc.User, locale: str | None = None) -> Author:
        """The author as the core sees it, an admin when ``ADMIN_USERS`` names them."""
        return author_of(user, locale, is_admin=self._access.is_admin(user_party(user)))

    def _allowed(
        self, user: discord.abc.User, channel: object, guild: discord.Guild | None
    ) -> bool:
        return self._access.allows(
            user_party(user), *places_of(channel, guild), roles=role_ids(user)
        )

    async def _settings_refused(
        self, incoming: IncomingMessage, may_change: bool, sink: ReplySink, journal: Journal
    ) -> bool:
        command = parse_command(incoming.text)
        if command is None or not command.changes_settings() or may_change:
            return False
        await self._service.tell(
            incoming, sink, "access.admin_only", name=command.name, journal=journal
        )
        return True


def _object(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value or 0))
