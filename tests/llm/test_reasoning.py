from __future__ import annotations

import pytest

from core.domain import JsonValue
from core.llm.reasoning import ReasoningDetails, ThinkTagStripper, reasoning_text


def text_detail(text: str, index: int = 0, **extra: JsonValue) -> dict[str, JsonValue]:
    return {"type": "reasoning.text", "text": text, "format": "unknown", "index": index, **extra}


def test_consecutive_text_deltas_with_same_index_merge() -> None:
    details = ReasoningDetails()
    details.add([text_detail("Let ", signature=None)])
    details.add([text_detail("me ", signature="")])
    details.add([text_detail("think", signature="sig-1", id="r1")])
    details.add([text_detail("!", signature="sig-2")])
    assert details.result() == [
        {
            "type": "reasoning.text",
            "text": "Let me think!",
            "format": "unknown",
            "index": 0,
            "signature": "sig-1",
            "id": "r1",
        }
    ]


def test_key_order_of_the_first_delta_is_kept() -> None:
    details = ReasoningDetails()
    details.add([{"index": 0, "type": "reasoning.text", "signature": None, "text": "a"}])
    details.add([{"type": "reasoning.text", "text": "b", "index": 0, "signature": "s"}])
    result = details.result()
    assert result is not None
    entry = result[0]
    assert isinstance(entry, dict)
    assert list(entry) == ["index", "type", "signature", "text"]
    assert entry["text"] == "ab"
    assert entry["signature"] == "s"


def test_other_types_and_new_indexes_are_appended_as_they_came() -> None:
    encrypted: dict[str, JsonValue] = {
        "type": "reasoning.encrypted",
        "data": "xyz",
        "id": None,
        "format": "openai-responses-v1",
        "index": 1,
    }
    details = ReasoningDetails()
    details.add([text_detail("a"), text_detail("b")])
    details.add([encrypted])
    details.add([text_detail("c", index=2), text_detail("d", index=3)])
    assert details.result() == [
        text_detail("ab"),
        encrypted,
        text_detail("c", index=2),
        text_detail("d", index=3),
    ]


def test_merging_never_mutates_the_received_deltas() -> None:
    first = text_detail("a")
    details = ReasoningDetails()
    details.add([first])
    details.add([text_detail("b")])
    assert first["text"] == "a"


def test_no_details_is_none() -> None:
    assert ReasoningDetails().result() is None


def test_reasoning_text_reads_text_and_summary() -> None:
    summary: dict[str, JsonValue] = {"type": "reasoning.summary", "summary": "S.", "index": 0}
    encrypted: dict[str, JsonValue] = {"type": "reasoning.encrypted", "data": "x"}
    assert reasoning_text([text_detail("T."), summary, encrypted]) == "T.S."


def run_stripper(pieces: list[str]) -> tuple[str, str]:
    stripper = ThinkTagStripper()
    content, reasoning = "", ""
    for piece in pieces:
        c, r = stripper.feed(piece)
        content, reasoning = content + c, reasoning + r
    c, r = stripper.flush()
    return content + c, reasoning + r


TAGGED = "  <think>\nLet me think.\n</think>\n\nThe answer is 4."


@pytest.mark.parametrize("cut", range(len(TAGGED) + 1))
def test_think_block_is_moved_to_reasoning_wherever_the_text_is_split(cut: int) -> None:
    assert run_stripper([TAGGED[:cut], TAGGED[cut:]]) == ("The answer is 4.", "Let me think.\n")


def test_think_block_char_by_char() -> None:
    assert run_stripper(list(TAGGED)) == ("The answer is 4.", "Let me think.\n")


def test_text_without_tags_passes_through_at_once() -> None:
    stripper = ThinkTagStripper()
    assert stripper.feed("Hello") == ("Hello", "")
    assert stripper.feed(" <think>not reasoning</think>") == (" <think>not reasoning</think>", "")


def test_partial_tag_is_held_back_only_while_it_could_be_a_tag() -> None:
    stripper = ThinkTagStripper()
    assert stripper.feed("<thi") == ("", "")
    assert stripper.feed("s is html") == ("<this is html", "")


def test_unclosed_think_block_is_all_reasoning() -> None:
    assert run_stripper(["<think>still thinking", " when cut off</th"]) == (
        "",
        "still thinking when cut off</th",
    )


def test_leading_whitespace_alone_is_kept_at_the_end() -> None:
    assert run_stripper(["  "]) == ("  ", "")
