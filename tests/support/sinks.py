"""A ReplySink that records what a platform would have shown, for tests of the core."""

from __future__ import annotations

from collections.abc import Sequence

from core.ports import FloodWait, Reply, SinkLimits


class RecordingSink:
    def __init__(
        self,
        limits: SinkLimits | None = None,
        *,
        flood_waits: Sequence[float] = (),
        fail_drafts: bool = False,
    ) -> None:
        # "typing" is re-sent rarely by default: each pulse advances a FakeClock's time
        self._limits = limits or SinkLimits(min_draft_interval=0.0, typing_interval=600.0)
        self.drafts: list[str] = []
        self.replies: list[Reply] = []
        self.typing = 0
        self._flood_waits = list(flood_waits)
        self._fail_drafts = fail_drafts
        self._next_id = 1

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    async def show_typing(self) -> None:
        self.typing += 1

    async def show_draft(self, text: str) -> None:
        if self._fail_drafts:
            raise ConnectionError("platform unreachable")
        if self._flood_waits:
            raise FloodWait(self._flood_waits.pop(0))
        self.drafts.append(text)

    async def deliver(self, reply: Reply) -> Sequence[str]:
        self.replies.append(reply)
        self._next_id += 1
        return (str(self._next_id),)

    @property
    def texts(self) -> list[str]:
        return [reply.text for reply in self.replies]

    @property
    def last(self) -> Reply:
        assert self.replies, "nothing was delivered"
        return self.replies[-1]
