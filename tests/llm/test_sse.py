from __future__ import annotations

from core.llm.sse import SSEComment, SSEData, SSEDecoder


def feed_all(lines: list[str]) -> list[SSEData | SSEComment]:
    decoder = SSEDecoder()
    items = [item for line in lines if (item := decoder.feed(line)) is not None]
    last = decoder.flush()
    return [*items, last] if last is not None else items


def test_data_lines_dispatch_on_blank_line() -> None:
    assert feed_all(['data: {"a":1}', "", 'data: {"b":2}', ""]) == [
        SSEData('{"a":1}'),
        SSEData('{"b":2}'),
    ]


def test_keepalive_comments_are_reported_apart_from_data() -> None:
    items = feed_all([": OPENROUTER PROCESSING", "", 'data: {"a":1}', ""])
    assert items == [SSEComment("OPENROUTER PROCESSING"), SSEData('{"a":1}')]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert feed_all(["data: {", 'data: "a": 1', "data: }", ""]) == [SSEData('{\n"a": 1\n}')]


def test_done_sentinel_and_other_fields() -> None:
    items = feed_all(["event: message", "id: 7", "retry: 100", "data: [DONE]", ""])
    assert items == [SSEData("[DONE]")]
    assert items[0].is_done


def test_data_without_space_and_crlf_endings() -> None:
    assert feed_all(["data:x\r", "\r"]) == [SSEData("x")]


def test_last_event_without_blank_line_is_flushed() -> None:
    assert feed_all(['data: {"last":true}']) == [SSEData('{"last":true}')]
