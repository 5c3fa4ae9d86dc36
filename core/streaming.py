"""Relays a growing answer to a sink without ever slowing the model's stream down.

Drafts are coalesced to the latest text, sent at most once per interval, and paused while the
platform asks to slow down (FloodWait). The final text never goes through here: the service
delivers it as soon as the answer is complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.ports import Clock, FloodWait, ReplySink

log = logging.getLogger("chatrelay.streaming")


async def finish(task: asyncio.Task[None], *, cancel: bool) -> None:
    """Wait for a helper task to end, cancelling it first if asked.

    Its own cancellation is expected and absorbed; a cancellation of the caller (a timeout, a
    shutdown) is passed on, never swallowed.
    """
    if cancel:
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            task.cancel()
            raise


class DraftRelay:
    """Background task that shows the latest partial answer, throttled per sink."""

    def __init__(
        self, sink: ReplySink, clock: Clock, *, on_shown: Callable[[], None] | None = None
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._on_shown = on_shown  # called once, when the first draft is visible
        self._interval = sink.limits.min_draft_interval
        self._latest = ""
        self._shown = ""
        # An answer complete within the first delay goes out as one final message, with no
        # draft before it: one platform call instead of two or three.
        self._next_allowed = clock.monotonic() + sink.limits.first_draft_delay
        self._wake = asyncio.Event()
        self._closed = False
        self._sending = False
        self._task: asyncio.Task[None] | None = None
        if sink.limits.streams:
            self._task = asyncio.create_task(self._run(), name="draft-relay")

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def update(self, text: str) -> None:
        """Offer the answer so far; returns at once."""
        self._latest = text
        self._wake.set()

    async def close(self) -> None:
        """Stop drafting. A draft already on its way is allowed to land (so the sink knows
        which platform message it created); a pending wait is cancelled."""
        self._closed = True
        if self._task is not None:
            await finish(self._task, cancel=not self._sending)

    async def _run(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            delay = self._next_allowed - self._clock.monotonic()
            if delay > 0:
                await self._clock.sleep(delay)
            text = self._latest
            if text and text != self._shown:
                await self._show(text)

    async def _show(self, text: str) -> None:
        self._sending = True
        try:
            await self._sink.show_draft(text)
        except FloodWait as wait:
            log.info("draft paused by flood control", extra={"retry_after": wait.retry_after})
            self._next_allowed = self._clock.monotonic() + wait.retry_after
            self._wake.set()  # the latest text goes out once the pause is over
            return
        except Exception:
            # A failed intermediate update must not cost the answer: stop drafting, the final
            # reply is still delivered in full by the service.
            log.warning("draft update failed; drafts stop for this answer", exc_info=True)
            self._closed = True
            return
        finally:
            self._sending = False
        if not self._shown and self._on_shown is not None:
            self._on_shown()
        self._shown = text
        self._next_allowed = self._clock.monotonic() + self._interval


class TypingPulse:
    """Keeps "typing…" visible while the user waits for the answer to appear: from the sink's
    ``typing_delay`` on, re-sent at its interval, until stopped or ``seen()``."""

    def __init__(self, sink: ReplySink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._task = asyncio.create_task(self._run(), name="typing-pulse")

    def seen(self) -> None:
        """The answer is visible now: no more "typing" (the platform clears it anyway)."""
        self._task.cancel()

    async def stop(self) -> None:
        await finish(self._task, cancel=True)

    async def _run(self) -> None:
        interval = self._sink.limits.typing_interval
        if self._sink.limits.typing_delay > 0:
            await self._clock.sleep(self._sink.limits.typing_delay)
        while True:
            try:
                await self._sink.show_typing()
            except FloodWait as wait:
                await self._clock.sleep(wait.retry_after)
                continue
            except Exception:
                log.warning("typing indicator failed; it stops for this answer", exc_info=True)
                return
            await self._clock.sleep(interval)
