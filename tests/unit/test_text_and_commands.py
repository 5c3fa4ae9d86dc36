import pytest

from core.commands import Command, parse_command
from core.text import clean_text
from core.tokens import estimate_tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", Command("help", "")),
        ("/think@chatrelay_bot", Command("think", "")),
        ("/THINK why is the sky blue?", Command("think", "why is the sky blue?")),
        ("/system  You are\nterse. ", Command("system", "You are\nterse.")),
        ("  /model openai/gpt-5", Command("model", "openai/gpt-5")),
        ("/lang zh", Command("lang", "zh")),
    ],
)
def test_commands_are_recognised(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text", ["/usr/bin is a directory", "hello /help", "/", "/ space", "//x", "/123"]
)
def test_other_text_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_think_with_a_question_is_asked_with_reasoning() -> None:
    assert Command("think", "why?").asks_with_reasoning() == "why?"
    assert Command("think", "on").asks_with_reasoning() is None
    assert Command("think", "").asks_with_reasoning() is None
    assert Command("model", "x").asks_with_reasoning() is None


def test_clean_text_handles_odd_input() -> None:
    assert clean_text("a\x00b\x07c\x1b[0m") == "abc[0m"
    assert clean_text("line\r\nnext\rlast") == "line\nnext\nlast"
    assert clean_text("tab\tand\nnewline kept") == "tab\tand\nnewline kept"
    assert clean_text("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert clean_text("pair \ud83d\ude00 joined") == "pair 😀 joined"
    assert clean_text("中文 emoji 🎉") == "中文 emoji 🎉"
    clean_text("x\ud800").encode("utf-8")  # always encodable afterwards


def test_token_estimates_count_cjk_per_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("你好世界") == 4
