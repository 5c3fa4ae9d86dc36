"""Leadership: work that exactly one of several processes does at a time (Telegram long polling:
Telegram refuses two ``getUpdates`` at once). Each process runs a ``Leadership`` for the work's
name; the one that holds the database lease does the work and renews it every third of its
length, the others try to take it as often. A leader that dies stops renewing: the lease lapses
after ``seconds`` and a standby takes over. A leader that cannot reach the database gives up
leading once its lease may have lapsed, so two never lead for long (and both would be safe for
polling: an update is stored before it is confirmed, and stored once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.errors import InfrastructureError
from core.ports import Clock, LeaseStore

log = logging.getLogger("chatrelay.leases")


class Leadership:
    def __init__(
        self, store: LeaseStore, clock: Clock, *, name: str, owner: str, seconds: float = 30.0
    ) -> None:
        self._store = store
        self._clock = clock
        self.name = name
        self._owner = owner
        self._seconds = seconds
        self._held = asyncio.Event()
        self._renewed_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self._held.is_set()

    async def start(self) -> None:
        """Try to lead at once, then keep trying (or renewing) in the background."""
        if self._task is None:
            await self._attempt()
            self._task = asyncio.create_task(self._keep(), name=f"lease {self.name}")

    async def wait(self) -> None:
        """Until this process leads."""
        await self._held.wait()

    async def stop(self) -> None:
        """Stop leading and give the lease up, so a standby takes over without waiting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.held:
            self._held.clear()
            try:
                await self._store.lease_release(self.name, self._owner)
            except InfrastructureError:
                log.warning("could not give the lease up; it lapses", extra={"lease": self.name})

    async def _keep(self) -> None:
        while True:
            await self._clock.sleep(self._seconds / 3)
            await self._attempt()

    async def _attempt(self) -> None:
        try:
            holds = await self._store.lease_take(self.name, self._owner, self._seconds)
        except InfrastructureError as error:
            lapsed = self._clock.monotonic() - self._renewed_at >= self._seconds
            if self.held and lapsed:
                self._held.clear()
                log.warning(
                    "stopped leading: the lease could not be renewed",
                    extra={"lease": self.name, "reason": str(error)},
                )
            return
        if holds:
            self._renewed_at = self._clock.monotonic()
            if not self.held:
                log.info("leading", extra={"lease": self.name})
                self._held.set()
        elif self.held:
            log.warning("another process took the lease over", extra={"lease": self.name})
            self._held.clear()
