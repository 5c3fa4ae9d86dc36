import asyncio

import pytest

from core.ports import SinkLimits
from core.streaming import DraftRelay, TypingPulse
from tests.support.clock import FakeClock, ScaledClock
from tests.support.sinks import RecordingSink


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_drafts_are_coalesced_to_the_latest_text_and_throttled() -> None:
    clock = FakeClock()
    sink = RecordingSink(SinkLimits(min_draft_interval=3.0))
    relay = DraftRelay(sink, clock)
    relay.update("a")
    await settle()
    for text in ("ab", "abc", "abcd"):
        relay.update(text)
    await settle()
    await relay.close()
    assert sink.drafts == ["a", "abcd"]
    assert clock.sleeps == [3.0]  # waited out the interval once, then sent only the latest


async def test_flood_wait_pauses_drafts_for_retry_after_then_sends_latest() -> None:
    clock = FakeClock()
    sink = RecordingSink(SinkLimits(min_draft_interval=1.0), flood_waits=[7.5])
    relay = DraftRelay(sink, clock)
    relay.update("first")
    await settle()
    assert clock.sleeps == [7.5]  # the refused draft is retried only after retry_after
    assert sink.drafts == ["first"]
    relay.update("first and more")
    await settle()
    await relay.close()
    assert sink.drafts == ["first", "first and more"]
    assert clock.sleeps == [7.5, 1.0]


async def test_a_failing_draft_stops_drafts_without_raising() -> None:
    sink = RecordingSink(fail_drafts=True)
    relay = DraftRelay(sink, FakeClock())
    relay.update("x")
    await settle()
    relay.update("xy")
    await settle()
    await relay.close()
    assert sink.drafts == []
    assert not relay.active


async def test_no_drafts_for_sinks_that_do_not_stream() -> None:
    sink = RecordingSink(SinkLimits(streams=False))
    relay = DraftRelay(sink, FakeClock())
    relay.update("x")
    await settle()
    await relay.close()
    assert sink.drafts == []


async def test_typing_is_repeated_at_the_sink_interval_until_stopped() -> None:
    clock = FakeClock()
    sink = RecordingSink(SinkLimits(typing_interval=4.0))
    pulse = TypingPulse(sink, clock)
    await settle()
    await pulse.stop()
    assert sink.typing >= 2
    assert set(clock.sleeps) == {4.0}


async def test_no_typing_for_an_answer_that_appears_within_the_delay() -> None:
    sink = RecordingSink(SinkLimits(typing_interval=4.0, typing_delay=3600.0))
    pulse = TypingPulse(sink, ScaledClock(speed=1.0))
    await settle()
    await pulse.stop()
    assert sink.typing == 0


async def test_typing_stops_once_the_first_draft_is_visible() -> None:
    clock = FakeClock()
    sink = RecordingSink(SinkLimits(typing_interval=4.0, min_draft_interval=0.0))
    pulse = TypingPulse(sink, clock)
    await settle()
    before = sink.typing
    relay = DraftRelay(sink, clock, on_shown=pulse.seen)
    relay.update("first words")
    await settle()
    after = sink.typing
    await settle()
    assert sink.drafts == ["first words"]
    assert sink.typing == after  # nothing more once the answer shows
    assert before >= 1
    await relay.close()
    await pulse.stop()


class HangingSink(RecordingSink):
    """A platform that never answers a draft (a stuck connection)."""

    async def show_draft(self, text: str) -> None:
        await asyncio.Event().wait()


async def test_cancelling_the_caller_while_it_closes_the_relay_is_not_swallowed() -> None:
    relay = DraftRelay(HangingSink(), FakeClock())
    relay.update("x")
    await settle()  # the draft is now in flight, so close() waits for it to land

    closing = asyncio.create_task(relay.close())
    await settle()
    assert not closing.done()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    await settle()
    assert not relay.active  # the stuck draft was cancelled along with the caller


async def test_stopping_typing_from_a_cancelled_caller_is_not_swallowed() -> None:
    pulse = TypingPulse(RecordingSink(SinkLimits(typing_interval=3600.0)), ScaledClock(speed=1.0))

    async def stop_it() -> None:
        await pulse.stop()
        await asyncio.sleep(3600)  # reached only if the caller's cancellation was swallowed

    stopping = asyncio.create_task(stop_it())
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):  # a swallowed cancellation would end in TimeoutError
            await stopping


async def test_no_draft_before_the_first_draft_delay() -> None:
    clock = FakeClock()
    sink = RecordingSink(SinkLimits(min_draft_interval=0.0, first_draft_delay=1.0))
    relay = DraftRelay(sink, clock)
    relay.update("quick")
    await settle()
    assert sink.drafts == ["quick"]
    assert clock.sleeps == [1.0]  # the first draft waited for the delay
    await relay.close()
