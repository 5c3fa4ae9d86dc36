"""Builds one attempt's answer from stream chunks (or a whole non-streamed body).

Reasoning text comes from ``delta.reasoning`` (or, when absent, from the ``reasoning.text`` and
``reasoning.summary`` details); ``<think>`` blocks at the start of the content move to reasoning.
An ``error`` object (top level, or a choice with ``finish_reason: "error"``) raises the typed
error; JSON that cannot be parsed raises MalformedResponseError.
"""

from __future__ import annotations

from core.domain import ContentDelta, JsonObject, JsonValue, ReasoningDelta, Usage
from core.errors import LLMError
from core.llm.errors import error_from_payload, malformed
from core.llm.jsonvalues import as_object, get_list, get_object, get_str, load_json
from core.llm.reasoning import ReasoningDetails, ThinkTagStripper, reasoning_text
from core.llm.usage import exact_cost, parse_usage

Delta = ContentDelta | ReasoningDelta


class ResponseAssembler:
    def __init__(self, model: str, generation_id: str | None = None) -> None:
        self.model_attempted = model
        self.model_served = model
        self.provider: str | None = None
        self.generation_id = generation_id
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.saw_done = False
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._details = ReasoningDetails()
        self._whole_details: list[JsonValue] | None = None
        self._stripper = ThinkTagStripper()

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str | None:
        return "".join(self._reasoning) or None

    @property
    def reasoning_details(self) -> list[JsonValue] | None:
        return self._whole_details if self._whole_details is not None else self._details.result()

    @property
    def finished(self) -> bool:
        return self.saw_done or self.finish_reason is not None

    def on_chunk(self, data: str) -> list[Delta]:
        """One SSE ``data`` payload (not ``[DONE]``)."""
        chunk = self._parse(data)
        self._note_metadata(chunk)
        error = get_object(chunk, "error")
        if error is not None:
            raise self._error(error)
        usage = get_object(chunk, "usage")
        if usage is not None:
            self.usage = parse_usage(usage, cost=exact_cost(data))
        events: list[Delta] = []
        for choice in get_list(chunk, "choices") or []:
            entry = as_object(choice)
            if entry is None or entry.get("index", 0) != 0:
                continue
            events.extend(self._on_delta(get_object(entry, "delta") or {}))
            self._note_finish(entry)
        return events

    def on_body(self, body: bytes) -> list[Delta]:
        """A complete non-streamed response body."""
        document = self._parse(body)
        self._note_metadata(document)
        error = get_object(document, "error")
        if error is not None:
            raise self._error(error)
        usage = get_object(document, "usage")
        if usage is not None:
            self.usage = parse_usage(usage, cost=exact_cost(body))
        choices = get_list(document, "choices") or []
        choice = as_object(choices[0]) if choices else None
        message = get_object(choice, "message")
        if choice is None or message is None:
            raise malformed("response has no choices[0].message", model=self.model_attempted)
        self._note_finish(choice)
        details = get_list(message, "reasoning_details")
        self._whole_details = list(details) if details else None
        events = self._on_reasoning(get_str(message, "reasoning") or reasoning_text(details or []))
        events.extend(self._on_content(get_str(message, "content") or ""))
        events.extend(self.end())
        return events

    def end(self) -> list[Delta]:
        """Release text held back by the <think> stripper, at the end of the answer."""
        content, reasoning = self._stripper.flush()
        return self._emit(content, reasoning)

    def _parse(self, text: str | bytes) -> JsonObject:
        try:
            document = as_object(load_json(text))
        except ValueError:
            document = None
        if document is None:
            raise malformed(f"not a JSON object: {text[:120]!r}", model=self.model_attempted)
        return document

    def _note_metadata(self, chunk: JsonObject) -> None:
        self.generation_id = get_str(chunk, "id") or self.generation_id
        self.model_served = get_str(chunk, "model") or self.model_served
        self.provider = get_str(chunk, "provider") or self.provider

    def _note_finish(self, choice: JsonObject) -> None:
        finish = get_str(choice, "finish_reason")
        if finish == "error":
            error = get_object(choice, "error") or {"message": "finish_reason error"}
            raise self._error(error)
        if finish:
            self.finish_reason = finish

    def _error(self, error: JsonObject) -> LLMError:
        return error_from_payload(error, model=self.model_served)

    def _on_delta(self, delta: JsonObject) -> list[Delta]:
        reasoning = get_str(delta, "reasoning") or get_str(delta, "reasoning_content")
        details = get_list(delta, "reasoning_details")
        if details:
            self._details.add(details)
            reasoning = reasoning or reasoning_text(details)
        events = self._on_reasoning(reasoning or "")
        events.extend(self._on_content(get_str(delta, "content") or ""))
        return events

    def _on_reasoning(self, text: str) -> list[Delta]:
        return self._emit("", text)

    def _on_content(self, text: str) -> list[Delta]:
        if not text:
            return []
        content, reasoning = self._stripper.feed(text)
        return self._emit(content, reasoning)

    def _emit(self, content: str, reasoning: str) -> list[Delta]:
        events: list[Delta] = []
        if reasoning:
            self._reasoning.append(reasoning)
            events.append(ReasoningDelta(reasoning))
        if content:
            self._content.append(content)
            events.append(ContentDelta(content))
        return events
