"""Reasoning as OpenRouter streams it: ``reasoning_details`` accumulation and ``<think>`` tags.

``ReasoningDetails`` mirrors OpenRouter's AI-SDK provider: consecutive ``reasoning.text`` deltas
with the same ``index`` merge into one entry (texts concatenated; the first non-empty
``signature``/``format``/``id`` kept), every other entry is appended as it came. Entries stay the
raw JSON dicts (shallow-copied, keys in their original order) so they can be sent back unchanged.

``ThinkTagStripper`` moves a ``<think>...</think>`` block that a model writes at the start of its
content into the reasoning, also when the tags are split across chunks. Tags later in the answer
are left alone (they may be part of what the user asked about).
"""

from __future__ import annotations

from enum import Enum

from core.domain import JsonObject, JsonValue
from core.llm.jsonvalues import as_object, get_str

TEXT_TYPE = "reasoning.text"
_FIRST_WINS = ("signature", "format", "id")


class ReasoningDetails:
    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[JsonValue] = []

    def add(self, details: list[JsonValue]) -> None:
        for detail in details:
            entry = as_object(detail)
            if entry is None:
                self._items.append(detail)
                continue
            last = as_object(self._items[-1]) if self._items else None
            if last is not None and _continues(last, entry):
                _merge_into(last, entry)
            else:
                self._items.append(dict(entry))

    def result(self) -> list[JsonValue] | None:
        return list(self._items) if self._items else None


def reasoning_text(details: list[JsonValue]) -> str:
    """The readable text of some details (``reasoning.text`` texts, ``reasoning.summary``)."""
    parts: list[str] = []
    for detail in details:
        entry = as_object(detail)
        kind = get_str(entry, "type")
        if kind == TEXT_TYPE:
            parts.append(get_str(entry, "text") or "")
        elif kind == "reasoning.summary":
            parts.append(get_str(entry, "summary") or "")
    return "".join(parts)


def _continues(last: JsonObject, entry: JsonObject) -> bool:
    return (
        entry.get("type") == TEXT_TYPE
        and last.get("type") == TEXT_TYPE
        and last.get("index") == entry.get("index")
    )


def _merge_into(last: JsonObject, entry: JsonObject) -> None:
    last["text"] = (get_str(last, "text") or "") + (get_str(entry, "text") or "")
    for key in _FIRST_WINS:
        if not last.get(key) and entry.get(key):
            last[key] = entry[key]


class _State(Enum):
    START = 1  # nothing but whitespace seen yet: a <think> may still open
    INSIDE = 2  # inside <think>: text is reasoning
    AFTER = 3  # just after </think>: drop whitespace before the answer
    PASS = 4  # the answer: text passes through unchanged


OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


class ThinkTagStripper:
    """Feed content deltas; get back ``(content, reasoning)`` pieces safe to show right away."""

    __slots__ = ("_buffer", "_state", "_trim_reasoning")

    def __init__(self) -> None:
        self._buffer = ""
        self._state = _State.START
        self._trim_reasoning = False

    def feed(self, text: str) -> tuple[str, str]:
        if self._state is _State.PASS:
            return text, ""
        self._buffer += text
        content: list[str] = []
        reasoning: list[str] = []
        self._advance(content, reasoning)
        return "".join(content), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """Whatever is held back, at the end of the stream."""
        held, self._buffer = self._buffer, ""
        if self._state is _State.INSIDE:
            return "", held.lstrip() if self._trim_reasoning else held
        if self._state is _State.AFTER:
            return "", ""
        return held, ""

    def _advance(self, content: list[str], reasoning: list[str]) -> None:
        while True:
            if self._state is _State.START:
                if not self._start():
                    return
            elif self._state is _State.INSIDE:
                if not self._inside(reasoning):
                    return
            elif self._state is _State.AFTER:
                rest = self._buffer.lstrip()
                self._buffer = ""
                if rest:
                    self._state = _State.PASS
                    content.append(rest)
                return
            else:
                content.append(self._buffer)
                self._buffer = ""
                return

    def _start(self) -> bool:
        """Decide whether the content opens with <think>; False = wait for more text."""
        head = self._buffer.lstrip()
        if head.startswith(OPEN_TAG):
            self._buffer = head[len(OPEN_TAG) :]
            self._state = _State.INSIDE
            self._trim_reasoning = True
            return True
        if OPEN_TAG.startswith(head):
            return False
        self._state = _State.PASS
        return True

    def _inside(self, reasoning: list[str]) -> bool:
        position = self._buffer.find(CLOSE_TAG)
        if position >= 0:
            self._emit_reasoning(self._buffer[:position], reasoning)
            self._buffer = self._buffer[position + len(CLOSE_TAG) :]
            self._state = _State.AFTER
            return True
        keep = _partial_tag_length(self._buffer, CLOSE_TAG)
        cut = len(self._buffer) - keep
        self._emit_reasoning(self._buffer[:cut], reasoning)
        self._buffer = self._buffer[cut:]
        return False

    def _emit_reasoning(self, text: str, reasoning: list[str]) -> None:
        if self._trim_reasoning:
            text = text.lstrip()
            if text:
                self._trim_reasoning = False
        if text:
            reasoning.append(text)


def _partial_tag_length(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
