"""The answer to one Discord message or slash command: one message edited as the answer grows
(with a "still writing" marker), then the final messages, split to Discord's limits and always
delivered whole.

Delivery while Discord is down: drafts are best effort (a failed one stops the drafts of that
answer). The final answer, part by part, is retried with exponential backoff plus jitter (a rate
limit longer than discord.py waits itself is waited out as Discord asks) for up to
``DeliveryRetry.seconds``; then it is given up with one ERROR line and
``chatrelay_deliveries_failed_total{platform="discord"}``. discord.py itself retries 500, 502,
504 and 524 a few times (5 tries) and waits out short 429s before any of this.

Only what cannot make a second copy is retried:

- an answer Discord gave (5xx, 503 included, and 429): it did not act on the request;
- a connection that could not be made (refused, DNS, connect timeout): nothing was sent;
- anything at all for an *edit* (the streamed message, or a slash command's deferred
  response): a PATCH with the same content twice leaves one message.

A *new* message (a channel message or a follow-up) whose request went out but whose answer never
came (a read timeout, a connection dropped or reset mid-request) may have been posted. It is not
re-sent; the ERROR line says the outcome is unknown, and the remaining parts are still delivered.
(Channel messages could carry a ``nonce`` with ``enforce_nonce``, which Discord deduplicates for a
few minutes; not used yet.)
"""

from __future__ import annotations

import asyncio
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import aiohttp
import discord

from bots.discord.render import DiscordMessage, DiscordRenderer
from bots.retry import Backoff, DeliveryRetry, Undelivered, report_undelivered
from core.ports import Clock, FloodWait, Reply, SinkLimits

log = logging.getLogger("chatrelay.discord")

TYPING_DELAY = 0.5  # answers that show within half a second need no "typing"
DRAFT_EDIT_WAIT = 3.0  # seconds an intermediate edit may take before it is given up
# The bot never pings anyone with what a model wrote (no @everyone, no roles, no users).
QUIET = discord.AllowedMentions.none()
TOKEN_SECONDS = 14 * 60.0  # an interaction token lasts 15 minutes; keep one to spare
INVALID_WEBHOOK_TOKEN = 50027
EMBED_COLOUR = discord.Colour.blurple()


class TokenExpired(Exception):
    """A slash command's token is no longer valid (Discord's 50027): nothing was carried out."""

    def __init__(self, cause: discord.HTTPException) -> None:
        super().__init__(str(cause))


# Raised by aiohttp when the request never left: the connection was not made.
UNSENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Discord did not act on the request: it said so (5xx), or the request never left.
NOT_CARRIED_OUT = (discord.DiscordServerError, *UNSENT)
# Raised when the request may have reached Discord but no answer came back.
UNANSWERED = (aiohttp.ClientError, TimeoutError)


def files_of(message: DiscordMessage) -> list[discord.File]:
    return [discord.File(io.BytesIO(f.data), filename=f.filename) for f in message.files]


def body_of(message: DiscordMessage) -> tuple[str | None, discord.Embed | None]:
    """The message's content, or its embed (then no content)."""
    if message.embed:
        return None, discord.Embed(description=message.content, colour=EMBED_COLOUR)
    return message.content, None


class _Sink(ABC):
    """What channel and interaction answers share: rendering, drafts, flood handling."""

    def __init__(
        self,
        *,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        delivery: DeliveryRetry | None = None,
    ) -> None:
        self._renderer = renderer
        self._clock = clock
        self._delivery = delivery or DeliveryRetry()
        self._limits = SinkLimits(
            max_message_chars=2000,
            min_draft_interval=interval,
            typing_interval=8.0,  # one typing pulse shows for 10 s
            # Nothing for answers complete within one edit interval: no typing, no draft, just
            # the answer (each message created counts: 5 per 5 s per channel).
            typing_delay=max(TYPING_DELAY, interval),
            first_draft_delay=interval,
        )
        self._live: discord.Message | None = None
        self._live_content: str | None = None

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    async def show_draft(self, text: str) -> None:
        content = self._renderer.draft(text)
        if not content.strip() or content == self._live_content:
            return
        try:
            if self._live is None:
                await self._show(content)
            else:
                # discord.py waits out a rate limit of up to 30 s itself; an intermediate edit
                # is not worth that, and the final edit must not queue behind it.
                async with asyncio.timeout(DRAFT_EDIT_WAIT):
                    await self._show(content)
        except discord.RateLimited as error:
            raise FloodWait(error.retry_after) from error
        except TimeoutError as error:
            raise FloodWait(DRAFT_EDIT_WAIT) from error
        self._live_content = content

    async def deliver(self, reply: Reply) -> Sequence[str]:
        if reply.card:
            parts = self._renderer.card(reply.text)
        else:
            parts = self._renderer.reply(
                reply.text,
                notice=reply.notice,
                reasoning=reply.reasoning,
                reasoning_label=reply.reasoning_label,
            )
        live, self._live, self._live_content = self._live, None, None
        sent: list[str] = []
        backoff = Backoff(self._clock, self._delivery)
        try:
            for index, part in enumerate(parts):
                target = live if index == 0 else None
                try:
                    message = await self._final(part, target, backoff, first=index == 0)
                except Undelivered as error:
                    self._report(error, backoff)
                    if not error.uncertain:
                        break  # Discord stayed down: the rest would only wait again
                    continue
                backoff.succeeded()
                if message is not None:
                    sent.append(str(message.id))
        except discord.Forbidden as error:
            log.warning("cannot write to the channel", extra={"reason": error.text})
        return sent

    def _report(self, error: Undelivered, backoff: Backoff) -> None:
        report_undelivered(
            error, backoff, self._delivery, chat=self._chat_id(), platform="Discord", log=log
        )

    async def _final(
        self, part: DiscordMessage, live: discord.Message | None, backoff: Backoff, *, first: bool
    ) -> discord.Message | None:
        """One part of the final answer, retried while safe (see the module docstring) within
        the backoff's bound; a streamed message deleted meanwhile is replaced. Raises
        ``Undelivered`` when it gives up."""
        while True:
            idempotent = live is not None or self._edits_next()
            try:
                if live is not None:
                    return await self._replace(live, part)
                return await self._post(part, first=first)
            except discord.RateLimited as error:
                if not await backoff.wait(error.retry_after):
                    raise Undelivered(error) from error
            except TokenExpired:
                live = None  # not carried out: the same part goes to the channel at once
            except discord.NotFound:
                if live is None:
                    raise
                log.info("the streamed message is gone; the answer is sent anew")
                live = None
            except (discord.DiscordServerError, *UNANSWERED) as error:
                if not (idempotent or isinstance(error, NOT_CARRIED_OUT)):
                    raise Undelivered(error, uncertain=True) from error
                # one WARNING per outage, the attempts after it at INFO
                level = logging.INFO if backoff.retrying else logging.WARNING
                log.log(level, "sending the answer failed; retrying", extra={"reason": str(error)})
                if not await backoff.wait():
                    raise Undelivered(error) from error

    def _edits_next(self) -> bool:
        """Whether ``_post`` would edit a message rather than create one."""
        return False

    @abstractmethod
    def _chat_id(self) -> int | None:
        """The channel answered, for logs."""

    @abstractmethod
    async def _show(self, content: str) -> None:
        """Show a draft: create the live message, or edit it."""

    @abstractmethod
    async def _post(self, part: DiscordMessage, *, first: bool) -> discord.Message | None:
        """Send one part of the final answer as a new message."""

    async def _replace(self, live: discord.Message, part: DiscordMessage) -> discord.Message | None:
        content, embed = body_of(part)
        return await live.edit(content=content, embed=embed, attachments=files_of(part))


class ChannelSink(_Sink):
    """Answers a message in a channel, thread or DM; in servers as a reply to it."""

    def __init__(
        self,
        *,
        channel: discord.abc.Messageable,
        reply_to: discord.Message | None,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        delivery: DeliveryRetry | None = None,
    ) -> None:
        super().__init__(renderer=renderer, clock=clock, interval=interval, delivery=delivery)
        self._channel = channel
        self._reply_to = reply_to

    def _chat_id(self) -> int | None:
        channel = self._channel
        return channel.id if isinstance(channel, discord.abc.Snowflake) else None

    async def show_typing(self) -> None:
        try:
            await self._channel.typing()
        except discord.RateLimited as error:
            raise FloodWait(error.retry_after) from error

    async def _show(self, content: str) -> None:
        if self._live is None:
            self._live = await self._send(DiscordMessage(content), first=True)
        else:
            self._live = await self._live.edit(content=content)

    async def _post(self, part: DiscordMessage, *, first: bool) -> discord.Message:
        return await self._send(part, first=first)

    async def _send(self, part: DiscordMessage, *, first: bool) -> discord.Message:
        content, embed = body_of(part)
        if first and self._reply_to is not None:
            return await self._channel.send(
                content,
                embeds=[embed] if embed else [],
                files=files_of(part),
                reference=self._reply_to.to_reference(fail_if_not_exists=False),
                allowed_mentions=QUIET,
                mention_author=False,
            )
        return await self._channel.send(
            content, embeds=[embed] if embed else [], files=files_of(part), allowed_mentions=QUIET
        )


class InteractionSink(_Sink):
    """Answers a slash command that was deferred ("thinking…"): the answer replaces the
    deferred response, the rest follows as follow-up messages.

    An interaction's token lasts 15 minutes. An answer that outlives it (a slow reasoning model,
    a long queue, Discord down for a while) is posted in the channel instead, as a normal message
    that mentions the user (the only ping the bot ever sends); drafts stop then. Expiry is known
    from the time the command was deferred (with a minute to spare), or from Discord's "Invalid
    Webhook Token" (50027)."""

    def __init__(
        self,
        *,
        interaction: discord.Interaction,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        ephemeral: bool = False,
        delivery: DeliveryRetry | None = None,
    ) -> None:
        super().__init__(renderer=renderer, clock=clock, interval=interval, delivery=delivery)
        self._interaction = interaction
        self._ephemeral = ephemeral
        self._original_used = False
        self._deferred_at = clock.monotonic()
        self._token_dead = False
        self._user_told = False  # the first message in the channel mentions the user

    def _chat_id(self) -> int | None:
        return self._interaction.channel_id

    def _edits_next(self) -> bool:
        return not self._original_used and not self._expired()

    def _expired(self) -> bool:
        return self._token_dead or self._clock.monotonic() - self._deferred_at > TOKEN_SECONDS

    async def show_typing(self) -> None:
        return None  # the deferred response already shows "… is thinking"

    async def _show(self, content: str) -> None:
        if self._expired():
            return  # no drafts without the token: the final answer goes to the channel
        try:
            with self._token_watch():
                self._live = await self._interaction.edit_original_response(
                    content=content, allowed_mentions=QUIET
                )
        except TokenExpired:
            return  # known now: the final answer goes to the channel
        self._original_used = True

    async def _post(self, part: DiscordMessage, *, first: bool) -> discord.Message | None:
        if self._expired():
            return await self._to_channel(part)
        with self._token_watch():
            return await self._by_token(part)

    async def _by_token(self, part: DiscordMessage) -> discord.Message | None:
        content, embed = body_of(part)
        if not self._original_used:
            message = await self._interaction.edit_original_response(
                content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
            )
            self._original_used = True  # only now: a failed edit is retried as an edit
            return message
        if embed is not None:
            return await self._interaction.followup.send(
                embed=embed, files=files_of(part), ephemeral=self._ephemeral, wait=True
            )
        return await self._interaction.followup.send(
            part.content,
            files=files_of(part),
            allowed_mentions=QUIET,
            ephemeral=self._ephemeral,
            wait=True,
        )

    async def _replace(self, live: discord.Message, part: DiscordMessage) -> discord.Message | None:
        if self._expired():
            return await self._to_channel(part)
        content, embed = body_of(part)
        with self._token_watch():
            return await self._interaction.edit_original_response(
                content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
            )

    async def _to_channel(self, part: DiscordMessage) -> discord.Message | None:
        """A part of an answer that outlived the token, as a normal message in the channel."""
        channel = self._interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("the command's token expired and its channel can't be written to")
            return None
        content, embed = body_of(part)
        mentions = QUIET
        if not self._user_told:
            user = self._interaction.user
            content = f"{user.mention} {content}"[:2000]
            mentions = discord.AllowedMentions(everyone=False, roles=False, users=[user])
        message = await channel.send(
            content,
            embeds=[embed] if embed else [],
            files=files_of(part),
            allowed_mentions=mentions,
        )
        self._user_told = True
        return message

    @contextmanager
    def _token_watch(self) -> Iterator[None]:
        """Remember that Discord says the token is no longer valid; the part is then retried
        (it was not carried out) and goes to the channel."""
        try:
            yield
        except discord.HTTPException as error:
            if error.code == INVALID_WEBHOOK_TOKEN:
                self._token_dead = True
                log.info("the command's token expired; the answer goes to the channel")
                raise TokenExpired(error) from error
            raise
