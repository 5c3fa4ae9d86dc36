"""Discord messages and slash commands in, through the core, answers out."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, replace

import discord

from bots.discord.inbound import (
    AttachmentKind,
    addressing,
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
from core.domain import Author, ImageInput, IncomingMessage, Language
from core.i18n import Translator
from core.ordering import LocalChatLocks
from core.ports import Clock, Reply
from core.service import ChatService

log = logging.getLogger("chatrelay.discord")

THREAD_NAME_MAX = 90


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    edit_interval: float = 1.0
    ask_threads: bool = True
    text_file_max_bytes: int = 100 * 1024
    image_max_bytes: int = 10 * 1024 * 1024


class DiscordHandler:
    """Turns Discord events into ``IncomingMessage``s for the core, each with a sink."""

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
        delivery: DeliveryRetry | None = None,
    ) -> None:
        self._service = service
        self._delivery = delivery or DeliveryRetry()
        self._t = translator
        self._default_language = default_language
        self._access = access
        self._renderer = renderer
        self._clock = clock
        self._options = options
        self._downloader = downloader
        self._order = LocalChatLocks()  # the adapter's own work in arrival order, per channel
        self._refusals = RecentRefusals(clock)
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False

    # ---- lifecycle

    def close(self) -> None:
        """Take no new messages or commands."""
        self._closing = True

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let answers in flight finish, for at most ``timeout`` seconds."""
        if not self._in_flight:
            return
        _, pending = await asyncio.wait(set(self._in_flight), timeout=timeout)
        if pending:
            log.warning("answers still in flight at shutdown were cut short")
            for task in pending:
                task.cancel()

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    # ---- messages

    async def on_message(self, message: discord.Message, bot: discord.ClientUser) -> None:
        if (
            self._closing
            or message.author.bot
            or message.type
            not in (
                discord.MessageType.default,
                discord.MessageType.reply,
            )
        ):
            return
        self._track()
        async with self._order.hold(chat_ref(message.channel)):
            addressed = addressing(message, bot)
            if not addressed.for_bot:
                return
            sink = ChannelSink(
                channel=message.channel,
                reply_to=message if message.guild is not None else None,
                renderer=self._renderer,
                clock=self._clock,
                interval=self._options.edit_interval,
                delivery=self._delivery,
            )
            if not self._allowed(message.author, message.channel, message.guild):
                await self._refuse_message(message, sink)
                return
            incoming = IncomingMessage(
                chat=chat_ref(message.channel),
                author=self._author(message.author),
                text=addressed.text,
                message_id=str(message.id),
                shared=message.guild is not None,
            )
            complete = await self._with_attachments(incoming, message, sink)
            if complete is None or await self._settings_refused(complete, message.author, sink):
                return
            await self._service.handle(complete, sink)

    async def _with_attachments(
        self, incoming: IncomingMessage, message: discord.Message, sink: ChannelSink
    ) -> IncomingMessage | None:
        """Images go to the model, text files are read into the message, anything else gets a
        short reply (None: nothing more to do)."""
        images: list[ImageInput] = []
        texts: list[str] = []
        for attachment in message.attachments:
            kind = kind_of(attachment)
            if kind is AttachmentKind.OTHER:
                await self._service.tell(incoming, sink, "input.unsupported", what="document")
                return None
            data = await self._read(attachment, kind, incoming, sink)
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
        attachment: discord.Attachment,
        kind: AttachmentKind,
        incoming: IncomingMessage,
        sink: ChannelSink,
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
                    incoming, sink, "input.image_too_large", size=size, limit=most
                )
            else:  # a text file too long to read into the message
                kib = math.ceil(error.size / 1024), math.ceil(limit / 1024)
                await self._service.tell(
                    incoming, sink, "input.file_too_large", size=kib[0], limit=kib[1]
                )
        except DownloadError as error:
            log.warning("attachment download failed", extra={"reason": str(error)})
            await self._service.tell(incoming, sink, "input.download_failed")
        return None

    async def _refuse_message(self, message: discord.Message, sink: ChannelSink) -> None:
        if not self._refusals.first(message.channel.id, message.author.id):
            return
        lang = self._default_language
        await sink.deliver(Reply(self._t(lang, "access.denied"), is_error=True))

    # ---- slash commands

    async def on_command(self, interaction: discord.Interaction, text: str) -> None:
        """A slash command, given as the text command it stands for ("/model x")."""
        if self._closing:
            return
        self._track()
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
        await interaction.response.defer(thinking=True)
        await self._answer_in_place(interaction, text)

    async def _answer_in_place(self, interaction: discord.Interaction, text: str) -> None:
        """Answer a deferred command in the interaction's own response."""
        incoming = IncomingMessage(
            chat=chat_ref(interaction.channel),
            author=self._author(interaction.user, str(interaction.locale)),
            text=text,
            message_id=f"interaction:{interaction.id}",
            shared=interaction.guild is not None,
        )
        sink = InteractionSink(
            interaction=interaction,
            renderer=self._renderer,
            clock=self._clock,
            interval=self._options.edit_interval,
            delivery=self._delivery,
        )
        await self._service.handle(incoming, sink)

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
        self._track()
        await interaction.response.defer(thinking=True)
        name = " ".join(prompt.split())[:THREAD_NAME_MAX] or "chat"
        try:
            thread = await channel.create_thread(
                name=name, type=discord.ChannelType.public_thread, auto_archive_duration=1440
            )
        except discord.HTTPException as error:  # no permission to create threads here
            log.warning("cannot open a thread; answering in place", extra={"reason": error.text})
            await self._answer_in_place(interaction, prompt)
            return
        await interaction.edit_original_response(content=thread.mention)
        incoming = IncomingMessage(
            chat=chat_ref(thread),
            author=self._author(interaction.user, str(interaction.locale)),
            text=prompt,
            message_id=f"interaction:{interaction.id}",
            shared=True,
        )
        sink = ChannelSink(
            channel=thread,
            reply_to=None,
            renderer=self._renderer,
            clock=self._clock,
            interval=self._options.edit_interval,
            delivery=self._delivery,
        )
        await self._service.handle(incoming, sink)

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
        self, incoming: IncomingMessage, user: discord.abc.User, sink: ChannelSink
    ) -> bool:
        command = parse_command(incoming.text)
        if command is None or not command.changes_settings():
            return False
        if self._access.may_change_settings(user_party(user), shared=incoming.shared):
            return False
        await self._service.tell(incoming, sink, "access.admin_only", name=command.name)
        return True
