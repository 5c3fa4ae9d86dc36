"""The inbox's rows on SQLite and PostgreSQL: idempotent receipt, per-chat order held by the
rows, leases that keep a chat's next message to one worker until they lapse."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.domain import ChatRef, Envelope, InboxState
from core.storage.inbox import SqlInbox
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock

CHAT = ChatRef("telegram", "100")
OTHER = ChatRef("telegram", "200")


def envelope(chat: ChatRef, n: int, position: int | None = None) -> Envelope:
    return Envelope(
        chat, str(n), {"text": f"message {n}", "n": n}, n if position is None else position
    )


def inbox_of(store: SqlChatStore, clock: FakeClock) -> SqlInbox:
    return SqlInbox(store.database, clock)


async def test_a_message_is_stored_once_and_kept_verbatim(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    odd = {"text": "nul\x00 and a lone \ud800 surrogate", "nested": [1, {"k": None}]}
    assert await inbox.inbox_add(Envelope(CHAT, "1", odd, 1))
    assert not await inbox.inbox_add(Envelope(CHAT, "1", {"text": "again"}, 1))
    entry = await inbox.inbox_claim(CHAT, "a", 30)
    assert entry is not None
    assert entry.payload == odd  # what the adapter stored, character for character
    assert entry.state is InboxState.ANSWERING
    assert entry.attempts == 1
    assert await inbox.inbox_unfinished() == 1


async def test_a_chat_is_worked_in_platform_order_one_message_at_a_time(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    await inbox.inbox_add(envelope(CHAT, 3))
    await inbox.inbox_add(envelope(CHAT, 1))  # read back late (a catch-up): goes first
    await inbox.inbox_add(envelope(OTHER, 7))
    first = await inbox.inbox_claim(CHAT, "a", 30)
    assert first is not None
    assert first.message_id == "1"
    # held: the chat's next message is the same one until it is finished
    again = await inbox.inbox_claim(CHAT, "a", 30)
    assert again is not None
    assert again.id == first.id
    assert await inbox.inbox_claim(CHAT, "b", 30) is None  # another worker: not while leased
    other = await inbox.inbox_claim(OTHER, "b", 30)  # other chats go on meanwhile
    assert other is not None
    assert other.message_id == "7"
    await inbox.inbox_finish([first.id])
    second = await inbox.inbox_claim(CHAT, "b", 30)
    assert second is not None
    assert second.message_id == "3"


async def test_a_lease_lapses_and_another_worker_takes_the_message_up(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    await inbox.inbox_add(envelope(CHAT, 1))
    taken = await inbox.inbox_claim(CHAT, "dead", 30)
    assert taken is not None
    clock.advance(20)
    await inbox.inbox_renew("dead", 30)  # still alive at 20 s: good until 50 s
    clock.advance(25)
    assert await inbox.inbox_claim(CHAT, "b", 30) is None
    clock.advance(10)  # the owner stopped renewing: lapsed
    resumed = await inbox.inbox_claim(CHAT, "b", 30)
    assert resumed is not None
    assert resumed.id == taken.id
    assert resumed.attempts == 2


async def test_the_reply_and_the_posted_messages_survive_for_the_next_worker(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    await inbox.inbox_add(envelope(CHAT, 1))
    entry = await inbox.inbox_claim(CHAT, "a", 30)
    assert entry is not None
    await inbox.inbox_posted(entry.id, ["501"])
    await inbox.inbox_answered(entry.id, {"text": "the answer", "is_error": False})
    await inbox.inbox_posted(entry.id, ["501", "502"])
    await inbox.inbox_release("a")
    again = await inbox.inbox_claim(CHAT, "b", 30)
    assert again is not None
    assert again.state is InboxState.ANSWERED
    assert again.reply == {"text": "the answer", "is_error": False}
    assert again.posted == ("501", "502")


async def test_unfinished_chats_come_back_longest_waiting_first_and_old_rows_go(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    for chat, n in ((OTHER, 1), (CHAT, 2), (OTHER, 3), (ChatRef("discord", "9"), 4)):
        await inbox.inbox_add(envelope(chat, n))
    assert await inbox.inbox_pending_chats(["telegram"], 10) == [OTHER, CHAT]
    entry = await inbox.inbox_claim(CHAT, "a", 30)
    assert entry is not None
    await inbox.inbox_finish([entry.id])
    assert await inbox.inbox_pending_chats(["telegram"], 10) == [OTHER]
    clock.advance(timedelta(days=2).total_seconds())
    assert await inbox.inbox_purge(clock.now() - timedelta(days=1)) == 1  # delivered only
    assert await inbox.inbox_unfinished() == 3


async def test_the_messages_after_one_are_listed_for_joining_split_texts(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    for n in (10, 11, 12):
        await inbox.inbox_add(envelope(CHAT, n))
    first = await inbox.inbox_claim(CHAT, "a", 30)
    assert first is not None
    assert [e.message_id for e in await inbox.inbox_following(first, 5)] == ["11", "12"]
    assert [e.message_id for e in await inbox.inbox_following(first, 1)] == ["11"]


async def test_a_message_of_an_idle_chat_is_stored_claimed_and_of_a_busy_one_waits(
    store: SqlChatStore, clock: FakeClock
) -> None:
    inbox = inbox_of(store, clock)
    added, first = await inbox.inbox_add_claimed(envelope(CHAT, 1), "a", 30)
    assert added
    assert first is not None
    assert first.state is InboxState.ANSWERING
    assert first.attempts == 1
    assert await inbox.inbox_claim(CHAT, "b", 30) is None  # leased to "a" from the start
    added, second = await inbox.inbox_add_claimed(envelope(CHAT, 2), "a", 30)
    assert added
    assert second is None  # the chat has one in work: this one waits its turn
    again, duplicate = await inbox.inbox_add_claimed(envelope(CHAT, 2), "a", 30)
    assert (again, duplicate) == (False, None)
    await inbox.inbox_finish([first.id])
    following = await inbox.inbox_claim(CHAT, "a", 30)
    assert following is not None
    assert following.message_id == "2"


async def test_an_older_message_stored_elsewhere_waits_while_another_worker_holds_the_chat(
    store: SqlChatStore, clock: FakeClock
) -> None:
    """Two replicas: "a" answers message 5; message 3 of the same chat (sent earlier, delivered
    later) reaches "b". "b" must not answer it alongside: the chat is "a"'s until 5 is done or
    its lease lapses."""
    inbox = inbox_of(store, clock)
    await inbox.inbox_add(envelope(CHAT, 5))
    held = await inbox.inbox_claim(CHAT, "a", 30)
    assert held is not None
    await inbox.inbox_add(envelope(CHAT, 3))
    assert await inbox.inbox_claim(CHAT, "b", 30) is None
    await inbox.inbox_finish([held.id])
    late = await inbox.inbox_claim(CHAT, "b", 30)
    assert late is not None
    assert late.message_id == "3"
    clock.advance(31)  # "b" died: its lease lapses and "a" takes the chat up
    await inbox.inbox_add(envelope(CHAT, 6))
    again = await inbox.inbox_claim(CHAT, "a", 30)
    assert again is not None
    assert again.message_id == "3"


async def test_concurrent_claims_of_one_chat_by_many_workers_take_one_message(
    store: SqlChatStore, clock: FakeClock
) -> None:
    """Twenty workers claim a chat of five messages at the same moment, as replicas on one
    PostgreSQL do (each claim in its own transaction): exactly one message is taken."""
    inbox = inbox_of(store, clock)
    for n in (4, 2, 9, 1, 7):
        await inbox.inbox_add(envelope(CHAT, n))
    claims = await asyncio.gather(*(inbox.inbox_claim(CHAT, f"w{i}", 30) for i in range(20)))
    taken = [entry for entry in claims if entry is not None]
    assert [entry.message_id for entry in taken] == ["1"]


async def test_a_worker_whose_lease_was_taken_over_can_no_longer_write_the_answer(
    store: SqlChatStore, clock: FakeClock
) -> None:
    """The fence: "a" stalled past its lease and "b" took the message up; "a"'s late answer
    and posted ids are refused (so "a" does not deliver it too), "b"'s are kept."""
    inbox = inbox_of(store, clock)
    await inbox.inbox_add(envelope(CHAT, 1))
    stalled = await inbox.inbox_claim(CHAT, "a", 30)
    assert stalled is not None
    assert await inbox.inbox_posted(stalled.id, ["500"], "a")
    clock.advance(31)
    taken = await inbox.inbox_claim(CHAT, "b", 30)
    assert taken is not None
    assert list(taken.posted) == ["500"]  # "b" edits what "a" posted
    assert not await inbox.inbox_answered(stalled.id, {"text": "late"}, "a")
    assert not await inbox.inbox_posted(stalled.id, ["500", "501"], "a")
    assert await inbox.inbox_answered(taken.id, {"text": "on time"}, "b")
    again = await inbox.inbox_claim(CHAT, "b", 30)
    assert again is not None
    assert again.reply == {"text": "on time"}
