"""Flood control on a clock the test moves: per chat, per group, overall; 429 → RetryAfter."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import Bot
from telegram.error import RetryAfter

from tests.fakes.telegram import FakeTelegram, FloodLimits
from tests.support.clock import FakeClock


@pytest.fixture
def limits() -> FloodLimits:
    return FloodLimits()  # Telegram's: 1/s per chat (burst 3), 20/min per group, 30/s overall


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when ``RetryAfter.retry_after`` is read as an int; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


async def flooded(tg: FakeTelegram, bot: Bot, chat_id: int, text: str = "x") -> int:
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(chat_id, text)
    call = tg.calls[-1]
    assert call.status == 429
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, dtm.timedelta)
    seconds = int(retry_after.total_seconds())
    assert call.description == f"Too Many Requests: retry after {seconds}"
    return seconds


async def test_a_private_chat_allows_a_short_burst_then_one_a_second(
    tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    tg.private_chat(42, "Alice")
    for n in range(3):
        await bot.send_message(42, f"burst {n}")
    assert await flooded(tg, bot, 42) == 1
    clock.advance(0.5)
    assert await flooded(tg, bot, 42) == 1
    clock.advance(0.5)
    await bot.send_message(42, "after a second")
    assert await flooded(tg, bot, 42) == 1
    tg.private_chat(43, "Bob")
    await bot.send_message(43, "other chats are not affected")
    assert [m.text for m in tg.sent[42]] == ["burst 0", "burst 1", "burst 2", "after a second"]


async def test_the_429_body_is_telegrams(tg: FakeTelegram, clock: FakeClock) -> None:
    import aiohttp

    tg.private_chat(42, "Alice")
    url = f"{tg.base_url}/bot{tg.token}/sendMessage"
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.post(url, data={"chat_id": 42, "text": "x"}) as response:
                assert response.status == 200
        async with http.post(url, data={"chat_id": 42, "text": "x"}) as response:
            assert response.status == 429
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }


async def test_edits_count_like_sends(tg: FakeTelegram, bot: Bot, clock: FakeClock) -> None:
    tg.private_chat(42, "Alice")
    message = await bot.send_message(42, "v0")
    await bot.edit_message_text("v1", 42, message.message_id)
    await bot.edit_message_text("v2", 42, message.message_id)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("v3", 42, message.message_id)
    assert tg.sent[42][0].history == ["v0", "v1", "v2"]


async def test_a_group_gets_twenty_messages_a_minute(
    tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    group = tg.group(-1001000000001, "Team")
    for n in range(20):
        await bot.send_message(group.id, f"m{n}")
        clock.advance(1.0)  # keeps within the per-chat rate
    # 20 messages in the last 20 s: the first leaves the 60 s window 40 s from now
    assert await flooded(tg, bot, group.id) == 40
    clock.advance(39.5)
    assert await flooded(tg, bot, group.id) == 1
    clock.advance(0.5)
    await bot.send_message(group.id, "m20")
    assert len(tg.sent[group.id]) == 21


async def test_about_thirty_messages_a_second_overall(
    tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    for user_id in range(1, 32):
        tg.private_chat(user_id, f"U{user_id}")
    for user_id in range(1, 31):
        await bot.send_message(user_id, "broadcast")
    assert await flooded(tg, bot, 31) == 1
    clock.advance(1 / 30)
    await bot.send_message(31, "broadcast")
    assert tg.flood.rejected == 1


async def test_limits_are_configurable_and_can_be_switched_off(
    tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    tg.private_chat(42, "Alice")
    tg.set_flood_limits(FloodLimits(chat_per_second=0.5, chat_burst=1))
    await bot.send_message(42, "one")
    assert await flooded(tg, bot, 42) == 2
    tg.set_flood_limits(FloodLimits.off())
    for _ in range(50):
        await bot.send_message(42, "spam")
    assert len(tg.sent[42]) == 51


async def test_a_scripted_429(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_chat(42, "Alice")
    tg.fail("sendMessage", retry_after=7)
    assert await flooded(tg, bot, 42) == 7
    await bot.send_message(42, "fine again")
