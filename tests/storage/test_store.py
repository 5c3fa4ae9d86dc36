"""Contract tests of SqlChatStore (core.ports.ChatStore), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.domain import (
    ChatRef,
    ChatSettings,
    ChatState,
    JsonValue,
    Language,
    NewAssistantMessage,
    NewUserMessage,
    RequestStatus,
    Usage,
    UsageRecord,
    UsageTotals,
)
from core.errors import InfrastructureError
from core.storage.engine import create_engine
from core.storage.models import Conversation, Message, UsageRow
from core.storage.store import SqlChatStore
from tests.support.clock import FakeClock

REF = ChatRef("telegram", "-100123", "7")


def user_message(
    chat: ChatState,
    platform_id: str,
    content: str = "hello",
    *,
    in_context: bool = True,
    is_command: bool = False,
    author_name: str = "Ann",
) -> NewUserMessage:
    return NewUserMessage(
        chat_id=chat.id,
        conversation_id=chat.conversation_id,
        author_id="u1",
        author_name=author_name,
        content=content,
        platform_message_id=platform_id,
        token_estimate=len(content),
        in_context=in_context,
        is_command=is_command,
    )


def answer(
    chat: ChatState,
    content: str = "hi there",
    *,
    reasoning_details: list[JsonValue] | None = None,
    reply_to: int | None = None,
) -> NewAssistantMessage:
    return NewAssistantMessage(
        chat_id=chat.id,
        conversation_id=chat.conversation_id,
        content=content,
        reasoning="thinking",
        reasoning_details=reasoning_details,
        model="vendor/model-b",
        token_estimate=7,
        reply_to_message_id=reply_to,
    )


def usage_record(
    chat: ChatState,
    *,
    requested: str = "vendor/model-a",
    served: str | None = "vendor/model-b",
    tokens: tuple[int, int, int] = (10, 20, 5),
    cost: Decimal | None = Decimal("0.0000123456"),
    status: RequestStatus = RequestStatus.OK,
    created_at: datetime | None = None,
) -> UsageRecord:
    prompt, completion, reasoning = tokens
    return UsageRecord(
        chat_id=chat.id,
        user_id="u1",
        model_requested=requested,
        model_served=served,
        provider="Provider" if served else None,
        generation_id="gen-1" if served else None,
        usage=Usage(prompt, completion, reasoning, 3, prompt + completion, cost),
        latency_ms=1234,
        ttft_ms=321 if status is RequestStatus.OK else None,
        fallback_used=served is not None and served != requested,
        status=status,
        error_kind=None if status is RequestStatus.OK else "timeout",
        created_at=created_at,
    )


async def count(engine: AsyncEngine, model: type[Conversation | Message | UsageRow]) -> int:
    async with engine.connect() as connection:
        total = (await connection.execute(select(func.count()).select_from(model))).scalar()
    assert isinstance(total, int)
    return total


# ---------------------------------------------------------------------- chats


async def test_first_contact_creates_chat_with_a_conversation(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)

    assert chat.ref == REF
    assert chat.settings == ChatSettings()
    assert chat.conversation_id > 0
    assert await store.recent_messages(chat.conversation_id, limit=10) == []


async def test_load_chat_is_idempotent_and_keyed_by_thread(
    store: SqlChatStore, engine: AsyncEngine
) -> None:
    first = await store.load_chat(REF)
    again = await store.load_chat(REF)
    other_thread = await store.load_chat(ChatRef("telegram", "-100123", "8"))
    no_thread = await store.load_chat(ChatRef("telegram", "-100123"))
    other_platform = await store.load_chat(ChatRef("discord", "-100123", "7"))

    assert again == first
    ids = {first.id, other_thread.id, no_thread.id, other_platform.id}
    assert len(ids) == 4
    assert await count(engine, Conversation) == 4


async def test_concurrent_first_contacts_create_one_chat(
    store: SqlChatStore, engine: AsyncEngine
) -> None:
    states = await asyncio.gather(*(store.load_chat(REF) for _ in range(20)))

    assert len(set(states)) == 1
    assert await count(engine, Conversation) == 1


async def test_concurrent_first_contacts_through_separate_stores(
    engine: AsyncEngine, database_url: str, clock: FakeClock
) -> None:
    """Two engines (as two processes would have) racing on the same new chat."""
    other_engine = create_engine(database_url)
    try:
        stores = [SqlChatStore(engine, clock), SqlChatStore(other_engine, clock)]
        refs = [ChatRef("discord", str(n)) for n in range(10)]
        states = await asyncio.gather(*(s.load_chat(ref) for ref in refs for s in stores))
    finally:
        await other_engine.dispose()

    assert len({state.id for state in states}) == 10
    assert len({(state.id, state.conversation_id) for state in states}) == 10
    assert await count(engine, Conversation) == 10


async def test_settings_round_trip(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    settings = ChatSettings(
        model="deepseek/deepseek-v4-flash:free",
        system_prompt="Answer briefly.\n用中文回答。",
        show_reasoning=True,
        language=Language.ZH,
    )

    await store.save_settings(chat.id, settings)
    assert (await store.load_chat(REF)).settings == settings

    await store.save_settings(chat.id, ChatSettings())
    assert (await store.load_chat(REF)).settings == ChatSettings()


async def test_new_conversation_keeps_the_old_messages(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    old_id = await store.add_user_message(user_message(chat, "1", "remember me"))

    new_conversation = await store.start_conversation(chat.id)
    reloaded = await store.load_chat(REF)

    assert new_conversation != chat.conversation_id
    assert reloaded.conversation_id == new_conversation
    assert await store.recent_messages(new_conversation, limit=10) == []
    [old] = await store.recent_messages(chat.conversation_id, limit=10)
    assert (old.id, old.content) == (old_id, "remember me")


# ---------------------------------------------------------------------- messages


async def test_duplicate_platform_message_id_returns_none(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    other_chat = await store.load_chat(ChatRef("telegram", "555"))

    first = await store.add_user_message(user_message(chat, "42", "once"))
    duplicate = await store.add_user_message(user_message(chat, "42", "twice"))
    same_id_elsewhere = await store.add_user_message(user_message(other_chat, "42", "there"))

    assert first is not None
    assert duplicate is None
    assert same_id_elsewhere is not None
    [stored] = await store.recent_messages(chat.conversation_id, limit=10)
    assert stored.content == "once"


async def test_concurrent_duplicate_deliveries_store_one_message(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)

    ids = await asyncio.gather(
        *(store.add_user_message(user_message(chat, "9")) for _ in range(10))
    )

    assert sum(message_id is not None for message_id in ids) == 1


async def test_recent_messages_newest_first_with_limit_and_paging(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    ids = [await store.add_user_message(user_message(chat, str(n), f"m{n}")) for n in range(7)]

    newest = await store.recent_messages(chat.conversation_id, limit=3)
    page_two = await store.recent_messages(chat.conversation_id, limit=3, before_id=newest[-1].id)
    last_page = await store.recent_messages(
        chat.conversation_id, limit=3, before_id=page_two[-1].id
    )

    assert [m.content for m in newest] == ["m6", "m5", "m4"]
    assert [m.content for m in page_two] == ["m3", "m2", "m1"]
    assert [m.content for m in last_page] == ["m0"]
    assert [m.id for m in newest + page_two + last_page] == ids[::-1]
    assert await store.recent_messages(chat.conversation_id, limit=0) == []


async def test_recent_messages_only_returns_in_context_rows(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    await store.add_user_message(user_message(chat, "1", "question"))
    await store.add_user_message(
        user_message(chat, "2", "/stats", in_context=False, is_command=True)
    )
    await store.add_user_message(user_message(chat, "3", "x" * 50, in_context=False))
    await store.save_answer(answer(chat, "reply"), usage_record(chat))

    recent = await store.recent_messages(chat.conversation_id, limit=10)

    assert [(m.role, m.content) for m in recent] == [("assistant", "reply"), ("user", "question")]


async def test_stored_message_fields(store: SqlChatStore, clock: FakeClock) -> None:
    chat = await store.load_chat(REF)
    user_id = await store.add_user_message(user_message(chat, "1", "question", author_name="Zoë"))
    clock.advance(1.5)
    answer_id = await store.save_answer(answer(chat, reply_to=user_id), usage_record(chat))

    reply, question = await store.recent_messages(chat.conversation_id, limit=10)

    assert question.id == user_id
    assert question.role == "user"
    assert question.author_name == "Zoë"
    assert question.reasoning is None
    assert question.reasoning_details is None
    assert question.model is None
    assert question.token_estimate == len("question")
    assert question.created_at == datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert reply.id == answer_id
    assert reply.conversation_id == chat.conversation_id
    assert (reply.role, reply.author_name, reply.content) == ("assistant", None, "hi there")
    assert (reply.reasoning, reply.model, reply.token_estimate) == ("thinking", "vendor/model-b", 7)
    assert reply.created_at == question.created_at + timedelta(seconds=1.5)


async def test_timestamps_are_aware_utc(store: SqlChatStore, clock: FakeClock) -> None:
    chat = await store.load_chat(REF)
    await store.add_user_message(user_message(chat, "1"))
    tokyo = datetime(2026, 5, 6, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    await store.record_usage(usage_record(chat, created_at=tokyo))

    [message] = await store.recent_messages(chat.conversation_id, limit=1)
    usage = await store.last_usage(chat.id)

    assert message.created_at.utcoffset() == timedelta(0)
    assert message.created_at == clock.now()
    assert usage is not None
    assert usage.created_at is not None
    assert usage.created_at.utcoffset() == timedelta(0)
    assert usage.created_at == tokyo


async def test_last_assistant_message(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    assert await store.last_assistant_message(chat.conversation_id) is None

    await store.save_answer(answer(chat, "first"), usage_record(chat))
    second = await store.save_answer(answer(chat, "second"), usage_record(chat))
    await store.add_user_message(user_message(chat, "1", "later question"))

    last = await store.last_assistant_message(chat.conversation_id)
    assert last is not None
    assert (last.id, last.content) == (second, "second")


async def test_set_platform_reply_ids(store: SqlChatStore, engine: AsyncEngine) -> None:
    chat = await store.load_chat(REF)
    message_id = await store.save_answer(answer(chat), usage_record(chat))

    await store.set_platform_reply_ids(message_id, ("1001", "1002"))

    async with engine.connect() as connection:
        query = select(Message.platform_reply_ids).where(Message.id == message_id)
        stored = (await connection.execute(query)).scalar_one()
    assert stored == ["1001", "1002"]


# ---------------------------------------------------------------------- answers and usage


async def test_save_answer_stores_message_and_usage_together(
    store: SqlChatStore, engine: AsyncEngine
) -> None:
    chat = await store.load_chat(REF)
    message_id = await store.save_answer(answer(chat), usage_record(chat))

    async with engine.connect() as connection:
        linked = (await connection.execute(select(UsageRow.message_id))).scalars().all()
    assert linked == [message_id]


async def test_save_answer_is_atomic(store: SqlChatStore, engine: AsyncEngine) -> None:
    chat = await store.load_chat(REF)
    unknown_chat = ChatState(id=chat.id + 999, ref=REF, settings=chat.settings, conversation_id=0)

    with pytest.raises(InfrastructureError):  # the usage row violates its foreign key
        await store.save_answer(answer(chat), usage_record(unknown_chat))

    assert await store.last_assistant_message(chat.conversation_id) is None
    assert await count(engine, Message) == 0
    assert await count(engine, UsageRow) == 0


REASONING_DETAILS: list[JsonValue] = [
    {
        "type": "reasoning.text",
        "text": "先想一想：用户问的是“天气”。🌦️\nThen answer.",
        "signature": "c2lnbmF0dXJl+/=",
        "format": "anthropic-claude-v1",
        "index": 0,
    },
    {
        "type": "reasoning.encrypted",
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, -0.001, 1e-30, 12345678901234567890, True, False, None]},
        "middle": {"z": {"y": {"x": "深"}}, "a": []},
        "data": "",
        "id": None,
    },
]


async def test_reasoning_details_round_trip_exactly(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    details = json.loads(json.dumps(REASONING_DETAILS))

    await store.save_answer(answer(chat, reasoning_details=details), usage_record(chat))
    stored = await store.last_assistant_message(chat.conversation_id)

    assert stored is not None
    assert stored.reasoning_details == REASONING_DETAILS
    assert json.dumps(stored.reasoning_details, ensure_ascii=False) == json.dumps(
        REASONING_DETAILS, ensure_ascii=False
    )  # the same key order, all the way down


async def test_empty_reasoning_details_list_is_not_null(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    await store.save_answer(answer(chat, reasoning_details=[]), usage_record(chat))

    stored = await store.last_assistant_message(chat.conversation_id)

    assert stored is not None
    assert stored.reasoning_details == []


async def test_last_usage_is_the_newest_record(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    assert await store.last_usage(chat.id) is None

    await store.save_answer(answer(chat), usage_record(chat))
    failure = usage_record(
        chat, served=None, tokens=(0, 0, 0), cost=None, status=RequestStatus.ERROR
    )
    await store.record_usage(failure)

    last = await store.last_usage(chat.id)
    assert last is not None
    assert last.status is RequestStatus.ERROR
    assert last == UsageRecord(**{**_fields(failure), "created_at": last.created_at})


async def test_usage_record_round_trip(store: SqlChatStore, clock: FakeClock) -> None:
    chat = await store.load_chat(REF)
    record = usage_record(chat, cost=Decimal("1.2345678901"))
    await store.record_usage(record)

    stored = await store.last_usage(chat.id)

    assert stored == UsageRecord(**{**_fields(record), "created_at": clock.now()})


async def test_usage_summary_totals_and_by_model(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)
    other_chat = await store.load_chat(ChatRef("telegram", "other"))
    await store.save_answer(answer(chat), usage_record(chat, cost=Decimal("0.0001")))
    await store.save_answer(answer(chat), usage_record(chat, cost=Decimal("0.0002")))
    await store.save_answer(
        answer(chat),
        usage_record(chat, requested="free/model", served="free/model", cost=Decimal(0)),
    )
    await store.record_usage(
        usage_record(
            chat, served=None, tokens=(0, 0, 0), cost=None, status=RequestStatus.ERROR
        )  # no model served: counted under the model requested
    )
    await store.record_usage(usage_record(other_chat, cost=Decimal(5)))

    summary = await store.usage_summary(chat.id)

    assert (summary.requests, summary.failed_requests) == (4, 1)
    assert (summary.prompt_tokens, summary.completion_tokens) == (30, 60)
    assert (summary.reasoning_tokens, summary.total_tokens) == (15, 90)
    assert summary.cost == Decimal("0.0003")
    assert [(m.model, m.requests) for m in summary.by_model] == [
        ("vendor/model-b", 2),
        ("free/model", 1),
        ("vendor/model-a", 1),
    ]
    busiest = summary.by_model[0]
    assert (busiest.prompt_tokens, busiest.completion_tokens, busiest.reasoning_tokens) == (
        20,
        40,
        10,
    )
    assert (busiest.total_tokens, busiest.cost) == (60, Decimal("0.0003"))
    assert summary.by_model[2].cost == Decimal(0)


async def test_usage_summary_without_usage_is_zero(store: SqlChatStore) -> None:
    chat = await store.load_chat(REF)

    summary = await store.usage_summary(chat.id)

    assert (summary.requests, summary.failed_requests, summary.total_tokens) == (0, 0, 0)
    assert summary.cost == Decimal(0)
    assert isinstance(summary.cost, Decimal)
    assert summary.by_model == ()


# ---------------------------------------------------------------------- awkward text


ODD_BUT_VALID = [
    "tab\tcr\rlf\nbell\x07esc\x1b[31mdel\x7f",
    "emoji 👩‍👩‍👧‍👦 🇨🇳 and a flag, zero\u200bwidth, rtl \u202eabc",
    "中文、日本語、한국어 and combining e\u0301",
    "\U0010ffff last code point, \ufeff BOM, \ufffd replacement",
    "'; DROP TABLE messages; -- and \\N and %s %(x)s ?",
]


@pytest.mark.parametrize("text", ODD_BUT_VALID)
async def test_odd_but_valid_text_round_trips(store: SqlChatStore, text: str) -> None:
    chat = await store.load_chat(ChatRef("discord", text, text))
    await store.add_user_message(user_message(chat, text, text, author_name=text))
    await store.save_answer(
        answer(chat, text, reasoning_details=[{text: text}]), usage_record(chat)
    )

    reply, question = await store.recent_messages(chat.conversation_id, limit=2)

    assert (question.content, question.author_name) == (text, text)
    assert (reply.content, reply.reasoning_details) == (text, [{text: text}])
    assert await store.load_chat(ChatRef("discord", text, text)) == chat


UNENCODABLE = {
    "lone high surrogate": ("a\ud800b", "a\ufffdb"),
    "lone low surrogate": ("\udfffend", "\ufffdend"),
    "NUL (PostgreSQL text cannot hold it)": ("nul\x00here", "nul\ufffdhere"),
    "surrogate pair as two code points": ("\ud83d\ude00!", "😀!"),
}


@pytest.mark.parametrize(("raw", "stored"), UNENCODABLE.values(), ids=UNENCODABLE.keys())
async def test_unencodable_text_is_replaced_not_fatal(
    store: SqlChatStore, raw: str, stored: str
) -> None:
    await store.save_settings((await store.load_chat(REF)).id, ChatSettings(system_prompt=raw))
    chat = await store.load_chat(REF)
    await store.add_user_message(user_message(chat, raw, raw, author_name=raw))
    details: list[JsonValue] = [{"text": raw, raw: [raw]}]
    await store.save_answer(answer(chat, raw, reasoning_details=details), usage_record(chat))
    await store.record_usage(usage_record(chat, requested=raw, served=None))

    reply, question = await store.recent_messages(chat.conversation_id, limit=2)
    summary = await store.usage_summary(chat.id)

    assert chat.settings.system_prompt == stored
    assert (question.content, question.author_name) == (stored, stored)
    assert reply.content == stored
    assert reply.reasoning_details == [{"text": stored, stored: [stored]}]
    assert stored in {model.model for model in summary.by_model}
    # the same platform message id, cleaned the same way, is still recognised as a duplicate
    assert await store.add_user_message(user_message(chat, raw)) is None


# ---------------------------------------------------------------------- concurrency and errors


async def test_many_concurrent_writers_and_readers(store: SqlChatStore) -> None:
    chats = await asyncio.gather(*(store.load_chat(ChatRef("t", str(n))) for n in range(10)))

    async def converse(chat: ChatState, turn: int) -> None:
        question = await store.add_user_message(user_message(chat, str(turn), f"q{turn}"))
        await store.recent_messages(chat.conversation_id, limit=20)
        await store.save_answer(answer(chat, f"a{turn}", reply_to=question), usage_record(chat))

    await asyncio.gather(*(converse(chat, turn) for chat in chats for turn in range(5)))

    for chat in chats:
        history = await store.recent_messages(chat.conversation_id, limit=100)
        assert len(history) == 10
        assert [m.id for m in history] == sorted((m.id for m in history), reverse=True)
        assert (await store.usage_summary(chat.id)).requests == 5


async def test_database_failures_become_infrastructure_errors(
    empty_database_url: str, clock: FakeClock
) -> None:
    engine = create_engine(empty_database_url)  # never migrated: no tables
    try:
        store = SqlChatStore(engine, clock)
        with pytest.raises(InfrastructureError, match="load_chat") as caught:
            await store.load_chat(REF)
        with pytest.raises(InfrastructureError, match="usage_summary"):
            await store.usage_summary(1)
    finally:
        await engine.dispose()
    assert "SELECT" not in str(caught.value)


def _fields(record: UsageRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in UsageRecord.__dataclass_fields__}


# ---------------------------------------------------------------------- limits


async def test_user_message_times_count_what_went_to_the_model(
    store: SqlChatStore, clock: FakeClock
) -> None:
    chat = await store.load_chat(REF)
    other_place = await store.load_chat(ChatRef("telegram", "elsewhere"))
    same_id_on_discord = await store.load_chat(ChatRef("discord", "-100123"))
    start = clock.now()
    await store.add_user_message(user_message(chat, "1"))
    clock.advance(10)
    await store.add_user_message(user_message(other_place, "2"))  # same person, another chat
    await store.add_user_message(user_message(chat, "3", is_command=True, in_context=False))
    await store.add_user_message(user_message(chat, "4", in_context=False))  # refused
    await store.add_user_message(user_message(same_id_on_discord, "5"))  # not the same person
    times = await store.user_message_times("telegram", "u1", start, limit=10)
    assert times == [start, start + timedelta(seconds=10)]
    assert await store.user_message_times("telegram", "u1", start, limit=1) == [start]
    later = start + timedelta(seconds=5)
    assert await store.user_message_times("telegram", "u1", later, limit=10) == times[1:]
    assert await store.user_message_times("discord", "u1", start, limit=10) == [times[1]]


async def test_usage_since_by_user_and_by_chat(store: SqlChatStore, clock: FakeClock) -> None:
    chat = await store.load_chat(REF)
    other = await store.load_chat(ChatRef("telegram", "other"))
    on_discord = await store.load_chat(ChatRef("discord", "x"))

    def used(at: ChatState, cost: str, user: str = "telegram:u1") -> UsageRecord:
        return replace(usage_record(at, cost=Decimal(cost)), user_id=user)

    await store.record_usage(replace(used(chat, "1"), created_at=clock.now()))
    midnight = clock.now() + timedelta(hours=1)
    clock.advance(3600)
    await store.save_answer(answer(chat), used(chat, "0.25"))
    await store.record_usage(used(other, "0.5"))
    await store.record_usage(used(on_discord, "7", user="discord:u1"))
    mine = await store.user_usage_since("telegram", "u1", midnight)
    assert mine == UsageTotals(requests=2, tokens=60, cost=Decimal("0.75"))
    assert await store.chat_usage_since(chat.id, midnight) == UsageTotals(1, 30, Decimal("0.25"))
    nothing = await store.user_usage_since("telegram", "nobody", midnight)
    assert nothing == UsageTotals(0, 0, Decimal(0))


async def test_chat_cursors_name_each_chats_newest_user_message(store: SqlChatStore) -> None:
    quiet = await store.load_chat(ChatRef("discord", "1"))
    busy = await store.load_chat(ChatRef("discord", "2", "22"))
    elsewhere = await store.load_chat(ChatRef("telegram", "3"))
    await store.add_user_message(user_message(busy, "100"))
    await store.add_user_message(user_message(busy, "205"))
    await store.save_answer(answer(busy), usage_record(busy))
    await store.add_user_message(user_message(busy, "interaction:9", is_command=True))
    await store.add_user_message(user_message(elsewhere, "7"))
    cursors = {cursor.ref: cursor.last_message_id for cursor in await store.chat_cursors("discord")}
    assert cursors == {quiet.ref: None, busy.ref: "205"}
