"""The answer to one Telegram message: live drafts or edits while it streams, then the final
messages, formatted, split to Telegram's limits, and always delivered whole.

Delivery while Telegram is down: drafts are best effort (a failed one stops the drafts of that
answer). The final answer, part by part, is retried with exponential backoff plus jitter (a
``RetryAfter`` is waited out as Telegram asks) for up to ``DeliveryRetry.seconds``; then it is
given up with one ERROR line and ``chatrelay_deliveries_failed_total{platform="telegram"}``.

Only what cannot make a second copy is retried:

- an answer Telegram gave (429 flood control, 5xx): it did not act on the request;
- a connection that could not be made (refused, DNS, connect timeout): nothing was sent;
- anything at all for an *edit* of the streamed message (the first part in groups or without
  drafts): editing to the same text twice gives one message, and "message is not modified"
  counts as done.

A *new* message (``sendMessage``) whose request went out but whose answer never came (a read
timeout, a connection dropped or reset mid-request) may have been posted: the Bot API has no
idempotency key and a bot can't read the chat back to check. For a message of the inbox
(``posts`` given) it is sent again: the usual cause is a kept-alive connection the server closed
just as the request went out (not carried out), and an answer that never arrives is worse than
a rare second copy; with placeholders it is the placeholder that is sent again, so no copy of
the answer can appear. Without ``posts`` it is not re-sent; the ERROR line says the outcome is
unknown, and the remaining parts are still delivered.

Across restarts (``posts``, the message's inbox journal): every message created for an answer
is recorded as soon as Telegram returns its id, and a sink given recorded ids edits them rather
than sending again. Only a crash in the moment between Telegram answering a ``sendMessage`` and
the database recording its id could make a part show twice. ``placeholders=True``
(TELEGRAM_PLACEHOLDERS, the default) closes that gap: a part that needs a new message is first
posted as a short placeholder (at most half its opening and "…", also what the notification
shows), recorded, then edited into the part, so a crash leaves at most a stray placeholder. It
costs one edit per new message, and Telegram counts edits like messages (about one a second per
chat, 30 a second in all), so ``placeholders=False`` trades the guarantee for throughput.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import aiohttp
from telegram import Bot, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bots.retry import Backoff, DeliveryRetry, Undelivered, report_undelivered
from bots.telegram.render import Renderer, TelegramText
from core.ports import Clock, FloodWait, Posts, Reply, SinkLimits

log = logging.getLogger("chatrelay.telegram")

T = TypeVar("T")

# An answer (or its first draft) that appears within this many seconds needs no "typing": it
# saves a Bot API call per quick answer, and nobody notices the indicator half a second late.
TYPING_DELAY = 0.5
# An answer complete within this many seconds is sent at once, without a draft before it.
FIRST_DRAFT_DELAY = 0.5
PLACEHOLDER_CHARS = 60  # of the part's opening shown in its placeholder
PLACEHOLDER_MIN_CHARS = 4  # fewer characters than this: the placeholder is just "…"


class StreamMode(Enum):
    DRAFT = "draft"  # private chats: sendMessageDraft previews, then real messages
    EDIT = "edit"  # one message edited as the answer grows


@dataclass(frozen=True, slots=True)
class Destination:
    """Where replies go: a chat, maybe a forum topic, maybe as a reply to the user's message."""

    chat_id: int
    thread_id: int | None = None
    reply_to: int | None = None


def surely_unsent(error: NetworkError) -> bool:
    """Telegram did not act on the request: it answered with an error status (PTB raises a
    NetworkError without an aiohttp cause), or the connection was never made."""
    cause = error.__cause__
    if isinstance(error, TimedOut):
        return isinstance(cause, aiohttp.ConnectionTimeoutError)
    return cause is None or isinstance(cause, TelegramError | aiohttp.ClientConnectorError)


def retry_seconds(error: RetryAfter) -> float:
    """RetryAfter's wait in seconds, read without tripping PTB's int/timedelta deprecation."""
    return error._retry_after.total_seconds()


def cannot_parse(error: BadRequest) -> bool:
    text = error.message.lower()
    return "can't parse" in text or "entit" in text


def not_modified(error: BadRequest) -> bool:
    return "message is not modified" in error.message.lower()


def placeholder_of(part: TelegramText) -> TelegramText:
    """What a new message shows until the part is edited in: its opening words (at most half
    of it, so a placeholder left behind by a crash never reads as the answer) and "…"."""
    words = " ".join(part.text.split())
    limit = min(PLACEHOLDER_CHARS, len(words) // 2)
    head = words[: limit + 1]
    if " " in head:
        cut = head.rsplit(" ", 1)[0]
    else:  # no spaces (Chinese, a long word): characters, when there are enough to show
        cut = words[:limit] if limit >= PLACEHOLDER_MIN_CHARS else ""
    return TelegramText(f"{cut} …".lstrip())


class TelegramSink:
    """Implements core.ports.ReplySink for one incoming Telegram message."""

    def __init__(
        self,
        *,
        bot: Bot,
        destination: Destination,
        renderer: Renderer,
        clock: Clock,
        mode: StreamMode,
        interval: float,
        draft_id: int,
        on_drafts_unavailable: Callable[[], None] | None = None,
        delivery: DeliveryRetry | None = None,
        posts: Posts | None = None,
        placeholders: bool = True,
    ) -> None:
        self._bot = bot
        self._delivery = delivery or DeliveryRetry()
        self._to = destination
        self._renderer = renderer
        self._clock = clock
        self._mode = mode
        self._draft_id = draft_id or 1
        self._on_drafts_unavailable = on_drafts_unavailable
        self._limits = SinkLimits(
            max_message_chars=4096,
            min_draft_interval=interval,
            typing_interval=4.0,  # Telegram shows "typing" for 5 s at most
            typing_delay=TYPING_DELAY,
            first_draft_delay=FIRST_DRAFT_DELAY,
        )
        self._posts = posts
        self._placeholders = placeholders
        # the message being edited (EDIT mode), or the first one posted before a restart
        self._live: int | None = int(posts.ids[0]) if posts and posts.ids else None
        self._live_text: TelegramText | None = None
        self._replied = False

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    async def show_typing(self) -> None:
        try:
            await self._bot.send_chat_action(
                self._to.chat_id, ChatAction.TYPING, message_thread_id=self._to.thread_id
            )
        except RetryAfter as error:
            raise FloodWait(retry_seconds(error)) from error

    async def show_draft(self, text: str) -> None:
        preview = self._renderer.draft(text)
        if not preview.text.strip():
            return
        try:
            if self._mode is StreamMode.DRAFT:
                await self._send_draft(preview)
            else:
                await self._edit_live(preview)
        except RetryAfter as error:
            raise FloodWait(retry_seconds(error)) from error

    async def deliver(self, reply: Reply) -> Sequence[str]:
        parts = self._renderer.reply(
            reply.text,
            notice=reply.notice,
            reasoning=reply.reasoning,
            reasoning_label=reply.reasoning_label,
        )
        sent: list[str] = []
        targets = self._targets(reply)
        journaled = self._posts is not None and not reply.transient
        placeholders = journaled and self._placeholders
        self._live, self._live_text = None, None
        backoff = Backoff(self._clock, self._delivery)
        try:
            for index, part in enumerate(parts):
                target = targets[index] if index < len(targets) else None
                try:
                    message_id = await self._final(part, target, backoff, placeholder=placeholders)
                except Undelivered as error:
                    self._report(error, backoff)
                    if not error.uncertain:
                        break  # Telegram stayed down: the rest would only wait again
                    continue
                backoff.succeeded()
                sent.append(str(message_id))
                if journaled and self._posts is not None and str(message_id) not in self._posts.ids:
                    # the last one is written with the message's completion (one write less)
                    await self._posted(message_id, durable=index < len(parts) - 1)
        except Forbidden as error:
            log.warning("cannot write to the chat", extra={"reason": error.message})
        return sent

    def _targets(self, reply: Reply) -> list[int | None]:
        """The messages the final parts go into (by edit): the live one for the first part, and
        every one posted for this answer before a restart. A notice on the way (queued) is a
        message of its own."""
        if reply.transient:
            return []
        if self._posts is not None and self._posts.ids:
            return [int(i) for i in self._posts.ids]
        return [self._live]

    def _report(self, error: Undelivered, backoff: Backoff) -> None:
        report_undelivered(
            error, backoff, self._delivery, chat=self._to.chat_id, platform="Telegram", log=log
        )

    # ---- drafts and the live message

    async def _send_draft(self, preview: TelegramText) -> None:
        try:
            await self._with_plain_fallback(
                preview,
                lambda p: self._bot.send_message_draft(
                    self._to.chat_id,
                    self._draft_id,
                    text=p.text,
                    entities=p.entities or None,
                    message_thread_id=self._to.thread_id,
                ),
            )
        except BadRequest as error:
            if cannot_parse(error):
                raise
            # Drafts are not available here (an older Bot API server, a chat type that has
            # none): edit a message instead, for this answer and, via the callback, later ones.
            log.info("drafts unavailable; editing a message instead", extra={"reason": error})
            self._mode = StreamMode.EDIT
            if self._on_drafts_unavailable is not None:
                self._on_drafts_unavailable()
            await self._edit_live(preview)

    async def _edit_live(self, preview: TelegramText) -> None:
        if preview == self._live_text:
            return
        if self._live is None:
            self._live = await self._send(preview)
            await self._posted(self._live)
        else:
            await self._edit(self._live, preview)
        self._live_text = preview

    async def _posted(self, message_id: int, *, durable: bool = True) -> None:
        if self._posts is not None:
            await self._posts.add(str(message_id), durable=durable)

    # ---- Bot API calls

    async def _send(self, part: TelegramText) -> int:
        async def send(p: TelegramText) -> int:
            reply = None
            if self._to.reply_to is not None and not self._replied:
                reply = ReplyParameters(self._to.reply_to, allow_sending_without_reply=True)
            message = await self._bot.send_message(
                self._to.chat_id,
                p.text,
                entities=p.entities or None,
                message_thread_id=self._to.thread_id,
                reply_parameters=reply,
            )
            self._replied = True
            return message.message_id

        return await self._with_plain_fallback(part, send)

    async def _edit(self, message_id: int, part: TelegramText) -> int:
        async def edit(p: TelegramText) -> int:
            try:
                await self._bot.edit_message_text(
                    p.text,
                    chat_id=self._to.chat_id,
                    message_id=message_id,
                    entities=p.entities or None,
                )
            except BadRequest as error:
                if not not_modified(error):
                    raise
            return message_id

        return await self._with_plain_fallback(part, edit)

    async def _with_plain_fallback(
        self, part: TelegramText, call: Callable[[TelegramText], Awaitable[T]]
    ) -> T:
        """Send with formatting; if Telegram can't parse it, send the same text plain."""
        try:
            return await call(part)
        except BadRequest as error:
            if not part.entities or not cannot_parse(error):
                raise
            log.warning("formatting rejected; sending plain text", extra={"reason": error.message})
            return await call(part.plain())

    async def _final(
        self, part: TelegramText, live: int | None, backoff: Backoff, *, placeholder: bool
    ) -> int:
        """One part of the final answer, into ``live`` (edited) or a new message.

        Retried while safe (see the module docstring) within the backoff's bound; sent anew
        when the streamed message can no longer be edited (deleted meanwhile). Raises
        ``Undelivered`` when it gives up."""
        while True:
            try:
                if live is None and placeholder:
                    live = await self._send(placeholder_of(part))
                    await self._posted(live)
                return await (self._send(part) if live is None else self._edit(live, part))
            except RetryAfter as error:
                wait = retry_seconds(error)
                log.info("final message waits for flood control", extra={"retry_after": wait})
                if not await backoff.wait(wait):
                    raise Undelivered(error) from error
            except BadRequest:
                if live is None:
                    raise
                log.info("the streamed message can't be edited; the answer is sent anew")
                live = None
            except NetworkError as error:
                if live is None and not surely_unsent(error) and self._posts is None:
                    raise Undelivered(error, uncertain=True) from error
                # one WARNING per outage, the attempts after it at INFO
                level = logging.INFO if backoff.retrying else logging.WARNING
                log.log(level, "sending the answer failed; retrying", extra={"reason": str(error)})
                if not await backoff.wait():
                    raise Undelivered(error) from error
