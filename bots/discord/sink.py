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
came (a read timeout, a connection dropped or reset mid-request) may have been posted. A channel
message of the inbox carries a nonce (below) and is sent again: Discord returns the message
made before, if it was. Anything else is not re-sent; the ERROR line says the outcome is
unknown, and the remaining parts are still delivered.

Across restarts (``posts``, the message's inbox journal): every channel message created for an
answer is recorded as soon as Discord returns its id, and a sink given recorded ids edits them
rather than sending again. Each new part carries a ``nonce`` (the journal's key and the part's
index; the first part shares the streamed message's) with ``enforce_nonce``: a part sent again
after a crash in the moment between Discord creating it and the database recording it returns
the message made before (Discord looks a few minutes back), edited into the part if it was only
streamed so far, so no second copy appears.
"""

from __future__ import annotations

import asyncio
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp
import discord

from bots.discord.render import DiscordMessage, DiscordRenderer
from bots.retry import Backoff, DeliveryRetry, Undelivered, report_undelivered
from core.ports import Clock, FloodWait, Posts, Reply, SinkLimits

log = logging.getLogger("chatrelay.discord")

TYPING_DELAY = 0.5  # answers that show within half a second need no "typing"
DRAFT_EDIT_WAIT = 3.0  # seconds an intermediate edit may take before it is given up
# The bot never pings anyone with what a model wrote (no @everyone, no roles, no users).
QUIET = discord.AllowedMentions.none()
TOKEN_SECONDS = 14 * 60.0  # an interaction token lasts 15 minutes; keep one to spare
INVALID_WEBHOOK_TOKEN = 50027
TOO_MANY_REQUESTS = 429
EMBED_COLOUR = discord.Colour.blurple()


def retry_after(error: discord.HTTPException) -> float | None:
    """The wait a 429 asks for (its Retry-After header), if it says."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


LIVE = -1  # the nonce index of an answer's first message (streamed, or its first final part)


def with_nonce(nonce: str | None) -> dict[str, Any]:
    """``send``'s nonce arguments: Discord returns the message made with the same nonce in
    the last few minutes instead of a second one (discord.py adds ``enforce_nonce``)."""
    return {} if nonce is None else {"nonce": nonce}


def partial_message(channel: object, message_id: int) -> discord.PartialMessage | None:
    """A message of ``channel`` known only by its id (editable without fetching it)."""
    if isinstance(
        channel,
        discord.TextChannel
        | discord.Thread
        | discord.DMChannel
        | discord.VoiceChannel
        | discord.StageChannel
        | discord.PartialMessageable,
    ):
        return channel.get_partial_message(message_id)
    return None


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
        posts: Posts | None = None,
    ) -> None:
        self._renderer = renderer
        self._posts = posts
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
        self._live: discord.Message | discord.PartialMessage | None = None
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
        targets = self._targets(reply)
        journaled = self._posts is not None and not reply.transient
        self._live, self._live_content = None, None
        sent: list[str] = []
        backoff = Backoff(self._clock, self._delivery)
        try:
            for index, part in enumerate(parts):
                target = targets[index] if index < len(targets) else None
                # The first part shares the streamed message's nonce: after a crash, a message
                # the dead process streamed is returned rather than a second one created.
                nonce = self._nonce(LIVE if index == 0 else index) if journaled else None
                try:
                    message = await self._final(
                        part, target, backoff, first=index == 0, nonce=nonce
                    )
                    if message is not None and journaled and target is None and index == 0:
                        message = await self._completed(message, part, backoff)
                except Undelivered as error:
                    self._report(error, backoff)
                    if not error.uncertain:
                        break  # Discord stayed down: the rest would only wait again
                    continue
                backoff.succeeded()
                if message is not None:
                    sent.append(str(message.id))
                    if journaled and target is None:
                        # the last part is written with the completion (its nonce covers it)
                        await self._record(message, durable=index < len(parts) - 1)
        except discord.Forbidden as error:
            log.warning("cannot write to the channel", extra={"reason": error.text})
        return sent

    def _targets(self, reply: Reply) -> list[discord.Message | discord.PartialMessage | None]:
        """The messages the final parts go into (by edit): the live one for the first part,
        and every one posted for this answer before a restart. A notice on the way (queued) is
        a message of its own."""
        if reply.transient:
            return []
        if self._posts is not None and self._posts.ids:
            return [self._message_at(int(i)) for i in self._posts.ids]
        return [self._live]

    async def _completed(
        self, message: discord.Message, part: DiscordMessage, backoff: Backoff
    ) -> discord.Message:
        """``message`` as Discord returned it for the first part: the one just made, or the
        one made earlier with the same nonce (streamed by a process that died before recording
        it, maybe only partly): then it is edited into the part. Raises ``Undelivered``."""
        if not self._streams_to_channel():
            return message
        content, embed = body_of(part)
        same = message.content == (content or "") and bool(message.embeds) == (embed is not None)
        if same and len(message.attachments) == len(part.files):
            return message
        log.info(
            "a message streamed before a restart is completed", extra={"message_id": message.id}
        )
        edited = await self._final(part, message, backoff, first=True, nonce=None)
        return message if edited is None else edited

    def _nonce(self, index: int) -> str | None:
        return None if self._posts is None else f"{self._posts.key}.{index}"[:25]

    def _resumed_live(self) -> discord.PartialMessage | None:
        """The first message posted for this answer before a restart, edited from now on."""
        if self._posts is None or not self._posts.ids:
            return None
        return self._message_at(int(self._posts.ids[0]))

    async def _record(self, message: discord.Message, *, durable: bool = True) -> None:
        """Keep a message created for this answer in its journal."""
        if self._posts is not None:
            await self._posts.add(str(message.id), durable=durable)

    @abstractmethod
    def _message_at(self, message_id: int) -> discord.PartialMessage | None:
        """A message of this answer's channel, to edit."""

    def _report(self, error: Undelivered, backoff: Backoff) -> None:
        report_undelivered(
            error, backoff, self._delivery, chat=self._chat_id(), platform="Discord", log=log
        )

    async def _final(
        self,
        part: DiscordMessage,
        live: discord.Message | discord.PartialMessage | None,
        backoff: Backoff,
        *,
        first: bool,
        nonce: str | None,
    ) -> discord.Message | None:
        """One part of the final answer, retried while safe (see the module docstring) within
        the backoff's bound; a streamed message deleted meanwhile is replaced. Raises
        ``Undelivered`` when it gives up."""
        while True:
            idempotent = live is not None or self._edits_next()
            try:
                if live is not None:
                    return await self._replace(live, part)
                return await self._post(part, first=first, nonce=nonce)
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
                # a part with a nonce is safe to send again: Discord returns the one made before
                if not (idempotent or isinstance(error, NOT_CARRIED_OUT) or nonce is not None):
                    raise Undelivered(error, uncertain=True) from error
                # one WARNING per outage, the attempts after it at INFO
                level = logging.INFO if backoff.retrying else logging.WARNING
                log.log(level, "sending the answer failed; retrying", extra={"reason": str(error)})
                if not await backoff.wait():
                    raise Undelivered(error) from error
            except discord.HTTPException as error:
                if error.status != TOO_MANY_REQUESTS:
                    raise
                # discord.py gave up after its own retries of a 429: not carried out, so it is
                # safe to send again once the bucket has refilled.
                log.info(
                    "the answer waits for Discord's rate limit", extra={"chat": self._chat_id()}
                )
                if not await backoff.wait(retry_after(error)):
                    raise Undelivered(error) from error

    def _edits_next(self) -> bool:
        """Whether ``_post`` would edit a message rather than create one."""
        return False

    def _streams_to_channel(self) -> bool:
        """Whether the streamed message is a channel message sent as the part is (a slash
        command's is its response, and its channel messages start with a mention)."""
        return True

    @abstractmethod
    def _chat_id(self) -> int | None:
        """The channel answered, for logs."""

    @abstractmethod
    async def _show(self, content: str) -> None:
        """Show a draft: create the live message, or edit it."""

    @abstractmethod
    async def _post(
        self, part: DiscordMessage, *, first: bool, nonce: str | None
    ) -> discord.Message | None:
        """Send one part of the final answer as a new message."""

    async def _replace(
        self, live: discord.Message | discord.PartialMessage, part: DiscordMessage
    ) -> discord.Message | None:
        content, embed = body_of(part)
        return await live.edit(content=content, embed=embed, attachments=files_of(part))


class ChannelSink(_Sink):
    """Answers a message in a channel, thread or DM; in servers as a reply to it."""

    def __init__(
        self,
        *,
        channel: discord.abc.Messageable,
        reply_to: discord.Message | discord.PartialMessage | None,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        delivery: DeliveryRetry | None = None,
        posts: Posts | None = None,
    ) -> None:
        super().__init__(
            renderer=renderer, clock=clock, interval=interval, delivery=delivery, posts=posts
        )
        self._channel = channel
        self._reply_to = reply_to
        self._live = self._resumed_live()

    def _message_at(self, message_id: int) -> discord.PartialMessage | None:
        return partial_message(self._channel, message_id)

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
            live = await self._send(DiscordMessage(content), first=True, nonce=self._nonce(LIVE))
            self._live = live
            # written with the completion: sent again after a crash, its nonce returns this one
            await self._record(live, durable=False)
        else:
            self._live = await self._live.edit(content=content)

    async def _post(
        self, part: DiscordMessage, *, first: bool, nonce: str | None
    ) -> discord.Message:
        return await self._send(part, first=first, nonce=nonce)

    async def _send(
        self, part: DiscordMessage, *, first: bool, nonce: str | None
    ) -> discord.Message:
        content, embed = body_of(part)
        if first and self._reply_to is not None:
            return await self._channel.send(
                content,
                embeds=[embed] if embed else [],
                files=files_of(part),
                reference=self._reply_to.to_reference(fail_if_not_exists=False),
                allowed_mentions=QUIET,
                mention_author=False,
                **with_nonce(nonce),
            )
        return await self._channel.send(
            content,
            embeds=[embed] if embed else [],
            files=files_of(part),
            allowed_mentions=QUIET,
            **with_nonce(nonce),
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
        interaction: discord.Interaction | None,
        channel: discord.abc.Messageable,
        user_id: int,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        ephemeral: bool = False,
        delivery: DeliveryRetry | None = None,
        posts: Posts | None = None,
    ) -> None:
        super().__init__(
            renderer=renderer, clock=clock, interval=interval, delivery=delivery, posts=posts
        )
        self._interaction = interaction  # None: taken up after a restart, the token is gone
        self._channel = channel
        self._user_id = user_id
        self._ephemeral = ephemeral
        self._original_used = False
        self._deferred_at = clock.monotonic()
        self._token_dead = interaction is None
        # the first message in the channel mentions the user (not again after a restart)
        self._user_told = bool(posts and posts.ids)
        self._in_channel = {int(i) for i in posts.ids} if posts else set()
        self._live = self._resumed_live()

    def _chat_id(self) -> int | None:
        channel = self._channel
        return channel.id if isinstance(channel, discord.abc.Snowflake) else None

    def _message_at(self, message_id: int) -> discord.PartialMessage | None:
        return partial_message(self._channel, message_id)

    def _streams_to_channel(self) -> bool:
        return False

    def _edits_next(self) -> bool:
        return not self._original_used and not self._expired()

    def _expired(self) -> bool:
        return self._token_dead or self._clock.monotonic() - self._deferred_at > TOKEN_SECONDS

    async def show_typing(self) -> None:
        return None  # the deferred response already shows "… is thinking"

    async def _show(self, content: str) -> None:
        interaction = self._interaction
        if interaction is None or self._expired():
            return  # no drafts without the token: the final answer goes to the channel
        try:
            with self._token_watch():
                self._live = await interaction.edit_original_response(
                    content=content, allowed_mentions=QUIET
                )
        except TokenExpired:
            return  # known now: the final answer goes to the channel
        self._original_used = True

    async def _post(
        self, part: DiscordMessage, *, first: bool, nonce: str | None
    ) -> discord.Message | None:
        interaction = self._interaction
        if interaction is None or self._expired():
            return await self._to_channel(part, nonce)
        with self._token_watch():
            return await self._by_token(interaction, part)

    async def _record(self, message: discord.Message, *, durable: bool = True) -> None:
        """Only messages in the channel are kept: they can be edited after a restart."""
        if message.id in self._in_channel:
            await super()._record(message, durable=durable)

    async def _by_token(
        self, interaction: discord.Interaction, part: DiscordMessage
    ) -> discord.Message | None:
        content, embed = body_of(part)
        if not self._original_used:
            message = await interaction.edit_original_response(
                content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
            )
            self._original_used = True  # only now: a failed edit is retried as an edit
            return message
        if embed is not None:
            return await interaction.followup.send(
                embed=embed, files=files_of(part), ephemeral=self._ephemeral, wait=True
            )
        return await interaction.followup.send(
            part.content,
            files=files_of(part),
            allowed_mentions=QUIET,
            ephemeral=self._ephemeral,
            wait=True,
        )

    async def _replace(
        self, live: discord.Message | discord.PartialMessage, part: DiscordMessage
    ) -> discord.Message | None:
        if live.id in self._in_channel:  # a channel message: edited as any other
            return await super()._replace(live, part)
        interaction = self._interaction
        if interaction is None or self._expired():
            return await self._to_channel(part, None)
        content, embed = body_of(part)
        with self._token_watch():
            return await interaction.edit_original_response(
                content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
            )

    async def _to_channel(self, part: DiscordMessage, nonce: str | None) -> discord.Message | None:
        """A part of an answer that outlived the token, as a normal message in the channel."""
        content, embed = body_of(part)
        mentions = QUIET
        if not self._user_told:
            content = f"<@{self._user_id}> {content}"[:2000]
            user = discord.Object(self._user_id)
            mentions = discord.AllowedMentions(everyone=False, roles=False, users=[user])
        message = await self._channel.send(
            content,
            embeds=[embed] if embed else [],
            files=files_of(part),
            allowed_mentions=mentions,
            **with_nonce(nonce),
        )
        self._in_channel.add(message.id)
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
