"""A chat waiting for its turn holds none of the slots that bound the updates worked on at once:
one busy chat can't stall the others."""

from __future__ import annotations

from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

from .conftest import BotFactory

SLOTS = 2
BACKLOG = 6
ANSWER_SECONDS = 0.3  # each answer's first token comes this long (real time) after its request


async def test_a_chat_with_a_backlog_of_slow_answers_does_not_delay_another_chat(
    tg: FakeTelegram,
    openrouter: FakeOpenRouter,
    running_bot: BotFactory,
) -> None:
    openrouter.first_token_delay = ANSWER_SECONDS
    busy = tg.private_chat(4001, "Busy")
    other = tg.private_chat(4002, "Other")
    async with running_bot(core={"max_concurrent_messages": SLOTS}):
        for i in range(1, BACKLOG + 1):
            await tg.user_says(busy, None, f"busy {i}")
        await tg.user_says(other, None, "me too")
        [answer] = await tg.wait_for_sent(other, 1, timeout=10)
        busy_answered_first = len(tg.sent[busy])
        await tg.wait_for_sent(busy, BACKLOG, timeout=10)
    assert answer.text == "Echo: me too"
    assert busy_answered_first <= 1, "the other chat waited for no more than one busy answer"
    assert [m.text for m in tg.sent[busy]] == [f"Echo: busy {i}" for i in range(1, BACKLOG + 1)]
