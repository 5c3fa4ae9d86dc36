"""One Telegram message in, through the core, answer out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from telegram import Bot, Message, PhotoSize, Update
from telegram.error import TelegramError

from bots.download import Downloader, DownloadError, TooLarge, check_declared, mebibytes
from bots.refusals import RecentRefusals
from bots.retry import DeliveryRetry
from bots.telegram.inbound import (
    BotIdentity,
    Content,
    addressing,
    author_of,
    chat_ref,
    content_of,
    destination,
    is_shared,
    party_of_chat,
    party_of_user,
)
from bots.telegram.render import Renderer
from bots.telegram.sink import StreamMode, TelegramSink
from bots.telegram.updates import Arrival, Following, SplitMessages, message_of
from core.access import TELEGRAM, AccessPolicy, Party
from core.commands import parse_command
from core.domain import Envelope, ImageInput, InboxEntry, IncomingMessage, Language
from core.i18n import Translator
from core.inbox import Journal
from core.ports import Clock, Reply
from core.service import ChatService

log = logging.getLogger("chatrelay.telegram")

PHOTO_MAX_SIDE = 2048  # the largest photo size at most this wide/high is sent to the model
GET_FILE_MAX_BYTES = 20 * 1024 * 1024  # the Bot API's getFile serves files up to 20 MB


@dataclass(frozen=True, slots=True)
class StreamingOptions:
    drafts: bool = True
    private_interval: float = 1.5
    group_interval: float = 3.0
    placeholders: bool = True  # see bots.telegram.sink


class TelegramHandler:
    """Every message update, in two steps. On receipt (``envelope``): is it for the bot? If so
    it goes to the inbox as it came. When its turn comes (``process``, from the inbox): access,
    the photo, the admin check, then the core, with a ``TelegramSink`` for the answer that
    records what it posts in the message's journal."""

    def __init__(
        self,
        *,
        service: ChatService,
        translator: Translator,
        default_language: Language,
        access: AccessPolicy,
        renderer: Renderer,
        clock: Clock,
        splits: SplitMessages,
        streaming: StreamingOptions,
        refusals: RecentRefusals,
        downloader: Downloader,
        max_image_bytes: int,
        delivery: DeliveryRetry | None = None,
        following: Following | None = None,
        arrival: Arrival | None = None,
    ) -> None:
        self._service = service
        self._following = following
        self._arrival = arrival
        self._delivery = delivery or DeliveryRetry()
        self._t = translator
        self._default_language = default_language
        self._access = access
        self._renderer = renderer
        self._clock = clock
        self._splits = splits
        self._streaming = streaming
        self._refusals = refusals
        self._drafts = streaming.drafts
        self._downloader = downloader
        self._image_limit = min(max_image_bytes, GET_FILE_MAX_BYTES)
        self._identity: BotIdentity | None = None

    def envelope(self, update: Update, bot: Bot) -> Envelope | None:
        """What the inbox stores for an update addressed to the bot (None: not for the bot,
        nothing to store)."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        if content_of(message) is Content.SERVICE:
            return None
        if not addressing(message, self._identity_of(bot)).for_bot:
            return None
        return Envelope(
            chat_ref(message), str(message.message_id), update.to_dict(), message.message_id
        )

    async def process(self, entry: InboxEntry, journal: Journal, bot: Bot) -> None:
        """Answer a stored message (its reply, when one was written before a restart)."""
        message = message_of(entry, bot)
        if message is None:
            return
        if journal.reply is not None:
            sink = self._sink(message, bot, journal)
            await self._service.redeliver(journal, sink, TELEGRAM)
            return
        joined = None
        if self._splits.starts(message) and self._following and self._arrival:
            joined, parts = await self._splits.collect(
                entry, message, bot, self._following, self._arrival
            )
            journal.absorb(parts)
        await self.handle(message, bot, journal, joined=joined)

    async def handle(
        self,
        message: Message,
        bot: Bot,
        journal: Journal | None = None,
        *,
        joined: str | None = None,
    ) -> None:
        identity = self._identity_of(bot)
        content = content_of(message)
        if content is Content.SERVICE:
            return
        addressed = addressing(message, identity)
        user = message.from_user
        if not addressed.for_bot or user is None:
            return
        sink = self._sink(message, bot, journal)
        party = party_of_user(user)
        if not self._access.allows(party, party_of_chat(message.chat)):
            await self._refuse(message, sink)
            return
        incoming = IncomingMessage(
            chat=chat_ref(message),
            author=author_of(user, is_admin=self._access.is_admin(party)),
            text=joined or addressed.text,
            message_id=str(message.message_id),
            shared=is_shared(message.chat),
        )
        await self._answer(incoming, message, content, party, sink, journal)

    def _identity_of(self, bot: Bot) -> BotIdentity:
        if self._identity is None:
            self._identity = BotIdentity.of(bot.bot)
        return self._identity

    async def _answer(
        self,
        incoming: IncomingMessage,
        message: Message,
        content: Content,
        party: Party,
        sink: TelegramSink,
        journal: Journal | None,
    ) -> None:
        """An allowed message: its photo, a short reply for what the bot can't read, the
        admin check for commands that change a shared chat, then the core."""
        if content is Content.PHOTO:
            with_photo = await self._with_photo(incoming, message, sink, journal)
            if with_photo is None:
                return
            incoming = with_photo
        elif content is not Content.TEXT:
            await self._service.tell(
                incoming, sink, "input.unsupported", what=content.value, journal=journal
            )
            return
        command = parse_command(incoming.text) if not incoming.images else None
        if (
            command is not None
            and command.changes_settings()
            and not self._access.may_change_settings(party, shared=incoming.shared)
        ):
            await self._service.tell(
                incoming, sink, "access.admin_only", name=command.name, journal=journal
            )
            return
        await self._service.handle(incoming, sink, journal)

    def _sink(self, message: Message, bot: Bot, journal: Journal | None) -> TelegramSink:
        shared = is_shared(message.chat)
        if shared:
            mode, interval = StreamMode.EDIT, self._streaming.group_interval
        elif self._drafts:
            mode, interval = StreamMode.DRAFT, self._streaming.private_interval
        else:
            mode, interval = StreamMode.EDIT, self._streaming.private_interval
        return TelegramSink(
            bot=bot,
            destination=destination(message),
            renderer=self._renderer,
            clock=self._clock,
            mode=mode,
            interval=interval,
            draft_id=message.message_id,
            on_drafts_unavailable=self._no_drafts,
            delivery=self._delivery,
            posts=journal,
            placeholders=self._streaming.placeholders,
        )

    def _no_drafts(self) -> None:
        self._drafts = False

    async def _refuse(self, message: Message, sink: TelegramSink) -> None:
        user = message.from_user
        if user is None or not self._refusals.first(message.chat.id, user.id):
            return
        lang = Language.from_code(user.language_code) or self._default_language
        log.info("access refused", extra={"chat": message.chat.id, "user": user.id})
        await sink.deliver(Reply(self._t(lang, "access.denied"), is_error=True))

    async def _with_photo(
        self,
        incoming: IncomingMessage,
        message: Message,
        sink: TelegramSink,
        journal: Journal | None,
    ) -> IncomingMessage | None:
        """The message with its photo (the largest size within PHOTO_MAX_SIDE), or None when
        it is too large or can't be downloaded (the user is told which)."""
        sizes = [s for s in message.photo if max(s.width, s.height) <= PHOTO_MAX_SIDE]
        size = (sizes or list(message.photo[:1]))[-1]
        try:
            data = await self._download(size)
        except TooLarge as error:
            log.info("photo too large", extra={"size": error.size, "limit": error.limit})
            await self._service.tell(
                incoming,
                sink,
                "input.image_too_large",
                size=mebibytes(error.size),
                limit=mebibytes(error.limit),
                journal=journal,
            )
            return None
        except (TelegramError, DownloadError) as error:
            log.warning("photo download failed", extra={"reason": str(error)})
            await self._service.tell(incoming, sink, "input.download_failed", journal=journal)
            return None
        return replace(incoming, images=(ImageInput(data=data, mime_type="image/jpeg"),))

    async def _download(self, size: PhotoSize) -> bytes:
        """The photo's bytes, refused before any download when Telegram says it is too large
        and stopped while streaming when it turns out larger than it said."""
        limit = self._image_limit
        check_declared(size.file_size, limit)
        file = await size.get_file()
        check_declared(file.file_size, limit)
        url = file.file_path or ""
        if not url.startswith(("https://", "http://")):
            raise DownloadError("getFile gave no file URL")
        return await self._downloader.fetch(url, limit)
