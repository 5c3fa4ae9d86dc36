"""The answer to one Discord message or slash command: one message edited as the answer grows
(with a "still writing" marker), then the final messages, split to Discord's limits and always
delivered whole."""

from __future__ import annotations

import asyncio
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

import discord

from bots.discord.render import DiscordMessage, DiscordRenderer
from core.ports import Clock, FloodWait, Reply, SinkLimits

log = logging.getLogger("chatrelay.discord")

MAX_FINAL_ATTEMPTS = 6
TYPING_DELAY = 0.5  # answers that show within half a second need no "typing"
DRAFT_EDIT_WAIT = 3.0  # seconds an intermediate edit may take before it is given up
# The bot never pings anyone with what a model wrote (no @everyone, no roles, no users).
QUIET = discord.AllowedMentions.none()
EMBED_COLOUR = discord.Colour.blurple()


def files_of(message: DiscordMessage) -> list[discord.File]:
    return [discord.File(io.BytesIO(f.data), filename=f.filename) for f in message.files]


def body_of(message: DiscordMessage) -> tuple[str | None, discord.Embed | None]:
    """The message's content, or its embed (then no content)."""
    if message.embed:
        return None, discord.Embed(description=message.content, colour=EMBED_COLOUR)
    return message.content, None


class _Sink(ABC):
    """What channel and interaction answers share: rendering, drafts, flood handling."""

    def __init__(self, *, renderer: DiscordRenderer, clock: Clock, interval: float) -> None:
        self._renderer = renderer
        self._clock = clock
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
        try:
            for index, part in enumerate(parts):
                message = await self._final(part, live if index == 0 else None, first=index == 0)
                if message is not None:
                    sent.append(str(message.id))
        except discord.Forbidden as error:
            log.warning("cannot write to the channel", extra={"reason": error.text})
        return sent

    async def _final(
        self, part: DiscordMessage, live: discord.Message | None, *, first: bool
    ) -> discord.Message | None:
        """One part of the final answer. discord.py retries 5xx itself; a rate limit longer
        than it waits is waited out here, and a streamed message deleted meanwhile is replaced."""
        for attempt in range(1, MAX_FINAL_ATTEMPTS + 1):
            try:
                if live is not None:
                    return await self._replace(live, part)
                return await self._post(part, first=first)
            except discord.RateLimited as error:
                if attempt == MAX_FINAL_ATTEMPTS:
                    raise
                await self._clock.sleep(error.retry_after)
            except discord.NotFound:
                if live is None:
                    raise
                log.info("the streamed message is gone; the answer is sent anew")
                live = None
        raise AssertionError("unreachable")

    @abstractmethod
    async def _show(self, content: str) -> None:
        """Show a draft: create the live message, or edit it."""

    @abstractmethod
    async def _post(self, part: DiscordMessage, *, first: bool) -> discord.Message | None:
        """Send one part of the final answer as a new message."""

    async def _replace(self, live: discord.Message, part: DiscordMessage) -> discord.Message:
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
    ) -> None:
        super().__init__(renderer=renderer, clock=clock, interval=interval)
        self._channel = channel
        self._reply_to = reply_to

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
    deferred response, the rest follows as follow-up messages."""

    def __init__(
        self,
        *,
        interaction: discord.Interaction,
        renderer: DiscordRenderer,
        clock: Clock,
        interval: float,
        ephemeral: bool = False,
    ) -> None:
        super().__init__(renderer=renderer, clock=clock, interval=interval)
        self._interaction = interaction
        self._ephemeral = ephemeral
        self._original_used = False

    async def show_typing(self) -> None:
        return None  # the deferred response already shows "… is thinking"

    async def _show(self, content: str) -> None:
        self._live = await self._interaction.edit_original_response(
            content=content, allowed_mentions=QUIET
        )
        self._original_used = True

    async def _post(self, part: DiscordMessage, *, first: bool) -> discord.Message | None:
        content, embed = body_of(part)
        if not self._original_used:
            self._original_used = True
            return await self._interaction.edit_original_response(
                content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
            )
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

    async def _replace(self, live: discord.Message, part: DiscordMessage) -> discord.Message:
        content, embed = body_of(part)
        return await self._interaction.edit_original_response(
            content=content, embed=embed, attachments=files_of(part), allowed_mentions=QUIET
        )
