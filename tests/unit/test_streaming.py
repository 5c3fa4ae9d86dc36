import asyncio

from core.ports import SinkLimits
from core.streaming import DraftRelay, TypingPulse
from tests.support.clock import FakeClock
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
