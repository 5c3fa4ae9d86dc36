"""`chatrelay chat` with hostile piped input: a megabyte line, control characters, bytes that are
not UTF-8. Each gets a sensible answer and the next line works."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_console_chat import chatrelay
from tests.fakes.openrouter import Answer, FakeOpenRouter

MEGABYTE = 1024 * 1024


def user_text(fake: FakeOpenRouter, request: int = -1) -> str:
    content = fake.chat_requests[request].body["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


async def test_a_megabyte_line_is_refused_and_the_next_line_answered(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    stdin = b"x" * MEGABYTE + b"\nhello after\n"
    run = await chatrelay(["chat"], env, tmp_path, stdin)
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        f"Your message is too long: {MEGABYTE} characters, the limit is 32000. Please shorten it.",
        "Echo: hello after",
    ]
    assert [user_text(fake, i) for i in range(len(fake.chat_requests))] == ["hello after"]


async def test_control_characters_are_dropped_before_the_model(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    stdin = b"he\x00l\x07lo \x1b[31mred\x1b[0m\x7f\tend\n\x00\x01\x02\nnext\n"
    run = await chatrelay(["chat"], env, tmp_path, stdin)
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "Echo: hello [31mred[0m\tend",
        "Your message has no text I can send to the model.",
        "Echo: next",
    ]
    assert user_text(fake) == "next"


async def test_bytes_that_are_not_utf8_become_replacement_characters(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    stdin = "café ".encode("latin-1") + b"\xff\xfe \xed\xa0\x80 ok\n" + "שלום 👨‍👩‍👧\n".encode()
    run = await chatrelay(["chat"], env, tmp_path, stdin)
    assert run.code == 0, run.err
    assert user_text(fake, 0) == "caf\ufffd \ufffd\ufffd \ufffd\ufffd\ufffd ok"
    assert user_text(fake, 1) == "שלום 👨‍👩‍👧"
    assert run.out.splitlines()[-1] == "Echo: שלום 👨‍👩‍👧"


async def test_a_model_answer_cannot_drive_the_terminal(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Answer(content="\x1b[2J\x1b]0;owned\x07cleared your screen"))
    run = await chatrelay(["chat"], env, tmp_path, b"hi\n")
    assert run.code == 0, run.err
    assert "\x1b" not in run.out
    assert "cleared your screen" in run.out
