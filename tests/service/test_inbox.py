"""The inbox's scheduling on a real SQLite database: order within a chat, chats in parallel,
no slot held while waiting, stop and take up again, backpressure, database failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from core.domain import ChatRef, Envelope, InboxEntry
from core.errors import InfrastructureError
from core.inbox import Inbox, InboxSettings, Journal
from core.metrics import Metrics
from core.ports import Reply
from core.storage.engine import create_engine
from core.storage.inbox import SqlInbox
from core.storage.migrate import upgrade_to_head
from core.storage.store import SqlChatStore
from tests.support.clock import ScaledClock

A, B = ChatRef("test", "a"), ChatRef("test", "b")
Handler = Callable[[InboxEntry, Journal], Awaitable[None]]


def envelope(chat: ChatRef, n: int) -> Envelope:
    return Envelope(chat, f"{chat.chat_id}{n}", {"n": n}, n)


def label(entry: InboxEntry) -> str:
    return entry.message_id


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    await upgrade_to_head(url)
    return url


@asynccontextmanager
async def running(
    database: str, handler: Handler, **settings: object
) -> AsyncIterator[tuple[Inbox, Metrics]]:
    clock = ScaledClock(speed=100)
    engine = create_engine(database)
    store = SqlChatStore(engine, clock)
    metrics = Metrics()
    inbox = Inbox(SqlInbox(store.database, clock), clock, metrics, InboxSettings(**settings))  # type: ignore[arg-type]
    inbox.register("test", handler)
    await inbox.start()
    try:
        yield inbox, metrics
    finally:
        await inbox.stop(grace=0)
        await store.aclose()
        await engine.dispose()


async def test_a_chat_is_answered_in_order_while_another_chat_goes_on(database: str) -> None:
    done: list[str] = []
    release_a1, b_done = asyncio.Event(), asyncio.Event()

    async def handler(entry: InboxEntry, journal: Journal) -> None:
        if label(entry) == "a1":
            await release_a1.wait()
        done.append(label(entry))
        if label(entry) == "b1":
            b_done.set()

    async with running(database, handler) as (inbox, _):
        for n in (1, 2, 3):
            await inbox.accept(envelope(A, n))
        await inbox.accept(envelope(B, 1))
        async with asyncio.timeout(5):
            await b_done.wait()
        assert done == ["b1"], "chat b is answered while chat a's first message is in work"
        release_a1.set()
        async with asyncio.timeout(5):
            await inbox.idle()
    assert done == ["b1", "a1", "a2", "a3"]


async def test_a_chat_waiting_for_its_turn_holds_no_slot(database: str) -> None:
    order: list[str] = []
    gate, started = asyncio.Event(), asyncio.Event()

    async def handler(entry: InboxEntry, journal: Journal) -> None:
        order.append(label(entry))
        started.set()
        if label(entry) == "a1":
            await gate.wait()

    async with running(database, handler, max_concurrent=1) as (inbox, _):
        for n in (1, 2, 3):
            await inbox.accept(envelope(A, n))
        async with asyncio.timeout(5):
            await started.wait()
        await inbox.accept(envelope(B, 1))
        gate.set()
        async with asyncio.timeout(5):
            await inbox.idle()
    # b1 asked for the one slot before a2 could (a2 waited for a1, holding nothing)
    assert order == ["a1", "b1", "a2", "a3"]


async def test_stopping_leaves_unfinished_work_to_the_next_start_with_its_reply(
    database: str,
) -> None:
    never, reached = asyncio.Event(), asyncio.Event()

    async def first_life(entry: InboxEntry, journal: Journal) -> None:
        await journal.add("msg-1")
        await journal.answered(Reply("the answer"))
        reached.set()
        await never.wait()  # cut off by the stop, before it was delivered

    async with running(database, first_life) as (inbox, _):
        await inbox.accept(envelope(A, 1))
        await inbox.accept(envelope(A, 2))
        async with asyncio.timeout(5):
            await reached.wait()
    seen: list[tuple[str, bool, str | None, tuple[str, ...]]] = []

    async def second_life(entry: InboxEntry, journal: Journal) -> None:
        reply = journal.reply.text if journal.reply else None
        seen.append((label(entry), journal.resumed, reply, tuple(journal.ids)))

    async with running(database, second_life) as (inbox, metrics):
        async with asyncio.timeout(5):
            await inbox.idle()
        resumed = metrics.registry.get_sample_value("chatrelay_inbox_resumed_total")
    assert seen == [("a1", True, "the answer", ("msg-1",)), ("a2", False, None, ())]
    assert resumed == 1


async def test_receiving_pauses_while_the_backlog_is_full(database: str) -> None:
    gate = asyncio.Event()

    async def handler(entry: InboxEntry, journal: Journal) -> None:
        await gate.wait()

    async with running(database, handler, max_backlog=3) as (inbox, _):
        for n in (1, 2, 3):
            await inbox.accept(envelope(A, n))
        waiting = asyncio.create_task(inbox.room())
        for _ in range(3):
            await asyncio.sleep(0)  # an open room() returns on its first turn
        assert not waiting.done(), "room() waits while three messages are unfinished"
        gate.set()
        async with asyncio.timeout(5):
            await waiting


async def test_a_database_failure_while_answering_is_retried_not_lost(database: str) -> None:
    calls: list[bool] = []

    async def handler(entry: InboxEntry, journal: Journal) -> None:
        calls.append(journal.resumed)
        if len(calls) == 1:
            raise InfrastructureError("database error in save_answer (OperationalError)")

    async with running(database, handler) as (inbox, _):
        await inbox.accept(envelope(A, 1))
        async with asyncio.timeout(10):
            await inbox.idle()
    assert calls == [False, True]  # the second try knows the first may have stored things


async def test_a_message_that_keeps_interrupting_its_process_is_given_up(database: str) -> None:
    clock = ScaledClock(speed=100)
    engine = create_engine(database)
    store = SqlChatStore(engine, clock)
    rows = SqlInbox(store.database, clock)
    await rows.inbox_add(envelope(A, 1))
    for _ in range(2):  # two processes died while answering it
        await rows.inbox_release(None)
        await rows.inbox_claim(A, "dead", 30)
    await store.aclose()
    await engine.dispose()
    called: list[str] = []

    async def handler(entry: InboxEntry, journal: Journal) -> None:
        called.append(label(entry))

    async with running(database, handler, max_attempts=2) as (inbox, metrics):
        await inbox.accept(envelope(A, 2))
        async with asyncio.timeout(5):
            await inbox.idle()
        abandoned = metrics.registry.get_sample_value("chatrelay_inbox_abandoned_total")
    assert called == ["a2"]
    assert abandoned == 1
