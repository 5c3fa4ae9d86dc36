"""The terminal as a ReplySink: live streaming on a TTY, whole answers when piped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TextIO

from core.ports import Reply, SinkLimits
from core.text import clean_text


class ConsoleSink:
    """Writes one answer to a text stream.

    Interactive: the answer appears as it streams in, reasoning (when shown) dimmed below it.
    Piped: each reply is printed once, complete, so scripts can read it line by line.
    """

    def __init__(self, out: TextIO, *, interactive: bool) -> None:
        self._out = out
        self._interactive = interactive
        self._printed = ""
        self._limits = SinkLimits(
            max_message_chars=1_000_000, min_draft_interval=0.05, streams=interactive
        )

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    async def show_typing(self) -> None:
        return None

    async def show_draft(self, text: str) -> None:
        text = clean_text(text)
        if not text.startswith(self._printed):
            self._write("\n")  # restarted: start a fresh paragraph rather than rewrite
            self._printed = ""
        self._write(text[len(self._printed) :])
        self._printed = text

    async def deliver(self, reply: Reply) -> Sequence[str]:
        reply = _printable(reply)
        if self._printed:
            self._finish_stream(reply)
            return ()
        if reply.notice:
            self._write(reply.notice + "\n")
        self._write(reply.text + "\n")
        if reply.reasoning:
            self._write_reasoning(reply)
        return ()

    def _finish_stream(self, reply: Reply) -> None:
        if reply.text.startswith(self._printed):
            self._write(reply.text[len(self._printed) :] + "\n")
        else:
            self._write("\n" + reply.text + "\n")
        if reply.notice:
            self._write(reply.notice + "\n")
        if reply.reasoning:
            self._write_reasoning(reply)
        self._printed = ""

    def _write_reasoning(self, reply: Reply) -> None:
        label = reply.reasoning_label
        self._write(self._dim(f"[{label}]\n{reply.reasoning}\n[/{label}]") + "\n")

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self._interactive else text

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def _printable(reply: Reply) -> Reply:
    """The reply without the control characters (escape sequences) a terminal would obey."""
    return replace(
        reply,
        text=clean_text(reply.text),
        notice=clean_text(reply.notice) if reply.notice else reply.notice,
        reasoning=clean_text(reply.reasoning) if reply.reasoning else reply.reasoning,
    )
