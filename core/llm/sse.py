"""Server-sent events, as OpenRouter streams them.

One event is a block of lines ended by a blank line. ``data:`` lines are joined with newlines;
lines starting with ``:`` are comments (OpenRouter's ``: OPENROUTER PROCESSING`` keep-alives);
``event:``, ``id:`` and ``retry:`` fields are ignored. ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

from dataclasses import dataclass

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class SSEData:
    """A complete event's data (several ``data:`` lines joined with ``\\n``)."""

    data: str

    @property
    def is_done(self) -> bool:
        return self.data.strip() == DONE


@dataclass(frozen=True, slots=True)
class SSEComment:
    """A comment line: a keep-alive. It proves the connection is alive, not that work happened."""

    text: str


SSEItem = SSEData | SSEComment


class SSEDecoder:
    """Feed it lines (without their line ending); it returns an item when one is complete."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> SSEItem | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return SSEComment(line[1:].strip())
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> SSEData | None:
        """The last event when the stream ended without its closing blank line."""
        return self._dispatch()

    def _dispatch(self) -> SSEData | None:
        if not self._data:
            return None
        data = "\n".join(self._data)
        self._data.clear()
        return SSEData(data)


class LineSplitter:
    """Splits raw body bytes into text lines, however the network cut them.

    Working on bytes skips several layers of httpx's text decoding per chunk; a UTF-8 sequence
    cut between two chunks is safe because only complete lines are decoded.
    """

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[str]:
        if self._rest:
            chunk = self._rest + chunk
        parts = chunk.split(b"\n")
        self._rest = parts.pop()
        return [part.decode("utf-8", "replace") for part in parts]

    def flush(self) -> list[str]:
        """The last line when the body did not end with a newline."""
        rest, self._rest = self._rest, b""
        return [rest.decode("utf-8", "replace")] if rest else []
