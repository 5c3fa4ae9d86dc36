"""The durable inbox: every message is stored on receipt and handled from the database.

An adapter hands each message over as an ``Envelope`` *before* it confirms receipt to its
platform (the Telegram offset, the webhook's 200); from then on the message is the database's:

- **Order.** A chat's messages are handled one at a time, oldest first: the next one is always
  the chat's oldest unfinished row, claimed with a lease (see core.storage.inbox). Chats run in
  parallel; at most ``max_concurrent`` messages are being handled at once, and a chat waiting
  for its turn holds no slot.
- **State.** received -> answering (claimed) -> answered (the final reply is stored, see
  ``Journal``) -> delivered. Every platform message created for an answer is recorded as it is
  created (``Journal.add``), so work taken up again edits it rather than posting a copy.
- **Restarts.** On start, unfinished messages are taken up again in order per chat: an answer
  already written is delivered without asking the model again. SQLite (one process) takes over
  the leases a dead process left at once; on PostgreSQL they lapse after ``lease_seconds``.
- **Several processes** (replicas on one PostgreSQL): any of them may store any message. A
  chat belongs to whichever holds a live lease on one of its messages; claims of one chat take
  turns (an advisory lock), so two processes never answer one chat at once, and the one that
  finishes a message claims the chat's next, wherever it was stored. A replica that dies leaves
  its leases to lapse; the others' rescan (every ``lease_seconds``) takes its chats up.
- **Stopping.** ``stop(grace)`` lets the messages being handled finish within the grace and
  leaves the rest (and anything cut off) to the next start.
- **Backpressure.** ``room()`` waits while ``max_backlog`` messages are unfinished: an adapter
  that can (Telegram polling) stops fetching until the backlog shrinks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, TypeVar

from core.domain import ChatRef, Envelope, InboxEntry, JsonObject
from core.errors import InfrastructureError, LeaseLost
from core.metrics import Metrics
from core.ports import Clock, InboxStore, Reply

log = logging.getLogger("chatrelay.inbox")
T = TypeVar("T")

RETRY_FIRST = 1.0  # seconds before a failed database step is tried again, doubling...
RETRY_MOST = 30.0  # ...up to this


@dataclass(frozen=True, slots=True)
class InboxSettings:
    lease_seconds: float = 30.0  # a dead process's work is taken up after this (PostgreSQL)
    max_concurrent: int = 256  # messages handled at once (a chat waiting its turn holds none)
    max_backlog: int = 2000  # unfinished messages before receiving pauses (where it can)
    max_attempts: int = 5  # claims of one message before it is given up (it keeps failing)
    keep_delivered: timedelta = field(default_factory=lambda: timedelta(days=1))


class Processor(Protocol):
    """An adapter's handling of one stored message (it rebuilds the message from the
    payload it stored and answers it through its sink, which records what it posts)."""

    async def __call__(self, entry: InboxEntry, journal: Journal) -> None: ...


def reply_to_json(reply: Reply) -> JsonObject:
    return {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "notice": reply.notice,
        "is_error": reply.is_error,
        "reasoning_label": reply.reasoning_label,
        "card": reply.card,
    }


def reply_from_json(data: JsonObject) -> Reply:
    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return Reply(
        text=text("text") or "",
        reasoning=text("reasoning"),
        notice=text("notice"),
        is_error=data.get("is_error") is True,
        reasoning_label=text("reasoning_label") or "Reasoning",
        card=data.get("card") is True,
    )


class Journal:
    """What has been done for one message, kept in its inbox row as it happens: the final
    reply once written, and each platform message created for it (core.ports.Posts)."""

    def __init__(self, entry: InboxEntry, store: InboxStore, owner: str | None = None) -> None:
        self.entry = entry
        self._store = store
        self._owner = owner  # writes need this process to hold the lease (None: not checked)
        self._ids = list(entry.posted)
        self._reply = reply_from_json(entry.reply) if entry.reply is not None else None
        self.absorbed: list[int] = []  # later messages answered with this one (finished with it)
        self._retried = False
        self._unsaved = False

    @property
    def resumed(self) -> bool:
        """Handling of this message was started before (by a process that stopped or died,
        or by this one before the database failed)."""
        return self._retried or self.entry.attempts > 1

    def retrying(self) -> None:
        """The handling is started again after a database failure."""
        self._retried = True

    @property
    def reply(self) -> Reply | None:
        """The final reply, when it was written before: deliver it, don't answer again."""
        return self._reply

    @property
    def key(self) -> str:
        return str(self.entry.id)

    @property
    def ids(self) -> Sequence[str]:
        return tuple(self._ids)

    async def add(self, platform_id: str, *, durable: bool = True) -> None:
        self._ids.append(platform_id)
        if durable:
            if not await self._store.inbox_posted(self.entry.id, self._ids, self._owner):
                raise LeaseLost("another process took this message over")
            self._unsaved = False
        else:
            self._unsaved = True

    @property
    def unsaved_ids(self) -> Sequence[str] | None:
        """The posted ids, when some are not written yet (they go with the finish)."""
        return tuple(self._ids) if self._unsaved else None

    async def answered(self, reply: Reply) -> None:
        self._reply = reply
        if not await self._store.inbox_answered(self.entry.id, reply_to_json(reply), self._owner):
            raise LeaseLost("another process took this message over")

    def absorb(self, entries: Sequence[InboxEntry]) -> None:
        """``entries`` (later messages of the chat) are answered with this one."""
        self.absorbed.extend(entry.id for entry in entries)


def process_owner(replica: str = "") -> str:
    """A name for this process's leases, unique across hosts and restarts (it starts with the
    replica's name, or the host's)."""
    name = replica or socket.gethostname()
    return f"{name[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Inbox:
    """Schedules the stored messages of every chat (see the module docstring)."""

    def __init__(
        self,
        store: InboxStore,
        clock: Clock,
        metrics: Metrics,
        settings: InboxSettings | None = None,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._settings = settings or InboxSettings()
        self.owner = owner or process_owner()
        self._processors: dict[str, Processor] = {}
        self._slots = asyncio.Semaphore(self._settings.max_concurrent)
        self._active: dict[ChatRef, asyncio.Task[None]] = {}
        # Per active chat: messages accepted here and not claimed yet, or None: claim until
        # the chat has nothing left (woken by a rescan, which does not know how many).
        self._pending: dict[ChatRef, int | None] = {}
        self._arrivals: dict[ChatRef, asyncio.Event] = {}
        self._unfinished = 0
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False
        self._stopping = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopped: asyncio.Future[None] | None = None

    # ---- lifecycle

    def register(self, platform: str, processor: Processor) -> None:
        """Messages of ``platform`` are handled by ``processor`` (before ``start``)."""
        self._processors[platform] = processor

    @property
    def lease_seconds(self) -> float:
        return self._settings.lease_seconds

    @property
    def active_chats(self) -> int:
        return len(self._active)

    @property
    def unfinished(self) -> int:
        return self._unfinished

    async def start(self) -> None:
        """Take up unfinished messages (in order per chat) and keep leases fresh. Called by
        every adapter once it can answer; later calls take up the newly registered
        platforms' messages."""
        if self._started:
            await self._rescan()
            return
        if self._store.single_process:
            await self._store.inbox_release(None)
        removed = await self._store.inbox_purge(self._clock.now() - self._settings.keep_delivered)
        self._set_unfinished(await self._store.inbox_unfinished())
        if self._unfinished:
            log.info("taking up unfinished messages", extra={"count": self._unfinished})
        if removed:
            log.debug("old inbox rows removed", extra={"count": removed})
        self._started = True
        await self._rescan()
        self._heartbeat = asyncio.create_task(self._keep_leases(), name="inbox-leases")

    async def stop(self, grace: float) -> None:
        """Let the messages being handled finish within ``grace`` seconds; whatever is still
        unfinished then (cut off, or not started) is left to the next start. Every adapter
        calls it on its way out; they all wait for the one stop."""
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._stop(grace))
        await asyncio.shield(self._stopped)

    async def _stop(self, grace: float) -> None:
        self._stopping = True
        tasks = set(self._active.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            if pending:
                log.warning(
                    "answers still being written at shutdown are left to the next start",
                    extra={"count": len(pending)},
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        try:
            await self._store.inbox_release(self.owner)
        except InfrastructureError:
            log.warning("could not release the inbox leases; they lapse by themselves")

    # ---- receiving

    async def accept(self, envelope: Envelope) -> bool:
        """Store a received message (before the platform is told it arrived) and schedule its
        chat; False for a message already stored. Raises InfrastructureError when the
        database can't take it: then the receipt must not be confirmed."""
        chat = envelope.chat
        claimed = None
        if self._claims_on_receipt(chat):
            added, claimed = await self._store.inbox_add_claimed(
                envelope, self.owner, self._settings.lease_seconds
            )
        else:
            added = await self._store.inbox_add(envelope)
        if claimed is not None and self._claims_on_receipt(chat):
            self._set_unfinished(self._unfinished + 1)
            self._active[chat] = asyncio.create_task(
                self._run_chat(chat, claimed), name=f"chat {chat}"
            )
            return True
        # (claimed, but the chat got busy meanwhile: its task claims it again, as its owner)
        if added:
            arrival = self._arrivals.get(envelope.chat)
            if arrival is not None:
                arrival.set()
            self._set_unfinished(self._unfinished + 1)
            if self._started and not self._stopping:
                self._wake(envelope.chat)
        return added

    def _claims_on_receipt(self, chat: ChatRef) -> bool:
        """Whether a message of ``chat`` is stored already claimed (one write less): this
        process owns the database (SQLite) and is not working on the chat."""
        return (
            self._store.single_process
            and self._started
            and not self._stopping
            and chat not in self._active
        )

    async def idle(self) -> None:
        """Wait until every message known to this process is finished."""
        await self._idle.wait()

    async def room(self) -> None:
        """Wait while the backlog is full (receiving pauses; nothing is lost)."""
        await self._room.wait()

    def following(self, entry: InboxEntry, limit: int) -> Awaitable[list[InboxEntry]]:
        """The chat's unfinished messages after ``entry`` (to join a text split in parts)."""
        return self._store.inbox_following(entry, limit)

    async def arrival(self, entry: InboxEntry, seconds: float) -> None:
        """Wait up to ``seconds`` for another message of ``entry``'s chat to arrive here."""
        event = self._arrivals.setdefault(entry.chat, asyncio.Event())
        waits = [
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._clock.sleep(seconds)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            if self._arrivals.get(entry.chat) is event:
                del self._arrivals[entry.chat]

    # ---- scheduling

    def _wake(self, chat: ChatRef, *, drain: bool = False) -> None:
        """Schedule ``chat``: one more message accepted for it, or (``drain``) an unknown
        number left from before. With other processes on the database, always the latter: a
        message stored by one of them while this one held the chat is this one's to take up
        once its own is finished (the other's claim found the chat held)."""
        if drain or not self._store.single_process or self._pending.get(chat, 0) is None:
            self._pending[chat] = None
        else:
            self._pending[chat] = (self._pending.get(chat) or 0) + 1
        if chat not in self._active:
            self._active[chat] = asyncio.create_task(self._run_chat(chat), name=f"chat {chat}")

    async def _rescan(self) -> None:
        """Schedule every chat with unfinished messages (at start, and now and then for work
        whose lease lapsed)."""
        limit = self._settings.max_backlog
        for chat in await self._store.inbox_pending_chats(list(self._processors), limit):
            if not self._stopping and chat not in self._active:
                self._wake(chat, drain=True)

    async def _run_chat(self, chat: ChatRef, first: InboxEntry | None = None) -> None:
        """Claim and handle the chat's messages, one at a time, as many as were accepted here
        (no claim that would find nothing), or all of them after a rescan; ``first``: one
        claimed on receipt."""
        try:
            if first is not None:
                await self._process(first)
            while not self._stopping and self._pending.get(chat, 0) != 0:
                left = self._pending[chat]
                if left is not None:
                    self._pending[chat] = left - 1
                entry = await self._retrying(
                    lambda: self._store.inbox_claim(chat, self.owner, self._settings.lease_seconds),
                    "claiming the next message",
                )
                if entry is None:
                    if self._pending.get(chat) is None:
                        return  # drained
                    continue
                await self._process(entry)
        finally:
            self._active.pop(chat, None)
            self._pending.pop(chat, None)

    async def _process(self, entry: InboxEntry) -> None:
        journal = Journal(entry, self._store, self.owner)
        if journal.resumed:
            self._metrics.inbox_resumed()
            log.info(
                "taking up an interrupted message",
                extra={"chat": str(entry.chat), "state": entry.state.value},
            )
        if entry.attempts > self._settings.max_attempts:
            self._metrics.inbox_abandoned()
            log.error(
                "message given up: its handling was interrupted too often",
                extra={"chat": str(entry.chat), "attempts": entry.attempts},
            )
        else:
            try:
                await self._handle(entry, journal)
            except LeaseLost:
                # Fenced: the answer (or the rest of it) is the other process's to deliver.
                log.warning(
                    "another replica took over a message being answered here; leaving it",
                    extra={"chat": str(entry.chat)},
                )
                return
        ids = [entry.id, *journal.absorbed]
        posted = journal.unsaved_ids
        await self._retrying(lambda: self._store.inbox_finish(ids, posted), "finishing a message")
        self._set_unfinished(max(0, self._unfinished - len(ids)))

    async def _handle(self, entry: InboxEntry, journal: Journal) -> None:
        processor = self._processors.get(entry.chat.platform)
        if processor is None:
            raise RuntimeError(f"no processor registered for {entry.chat.platform}")

        async def attempt() -> None:
            try:
                await processor(entry, journal)
            except LeaseLost:
                raise
            except InfrastructureError:
                journal.retrying()
                raise

        async with self._slots:
            try:
                await self._retrying(attempt, "handling a message")
            except LeaseLost:
                raise
            except Exception:
                # The core answers every failure of its own; this is the adapter's (a bug):
                # logged with its traceback, and the chat goes on with its next message.
                log.exception("handling a message failed", extra={"chat": str(entry.chat)})
                self._metrics.failed("internal")

    async def _retrying(self, step: Callable[[], Awaitable[T]], what: str) -> T:
        """Run a step that needs the database, again and again while the database fails
        (with growing pauses): the message stays where it is in its chat's order."""
        delay = RETRY_FIRST
        while True:
            try:
                return await step()
            except LeaseLost:
                raise  # not a database failure: retrying would answer it twice
            except InfrastructureError as error:
                log.warning(
                    "database unavailable; retrying", extra={"step": what, "reason": str(error)}
                )
            await self._clock.sleep(delay)
            delay = min(delay * 2, RETRY_MOST)

    async def _keep_leases(self) -> None:
        """Renew this process's leases; now and then pick up work whose lease lapsed."""
        interval = self._settings.lease_seconds / 3
        beats = 0
        while True:
            await self._clock.sleep(interval)
            beats += 1
            try:
                await self._store.inbox_renew(self.owner, self._settings.lease_seconds)
                if beats % 3 == 0:
                    await self._rescan()
            except InfrastructureError as error:
                log.warning("could not renew the inbox leases", extra={"reason": str(error)})

    def _set_unfinished(self, count: int) -> None:
        self._unfinished = count
        self._metrics.inbox_unfinished(count)
        if count >= self._settings.max_backlog:
            self._room.clear()
        else:
            self._room.set()
        if count:
            self._idle.clear()
        else:
            self._idle.set()
