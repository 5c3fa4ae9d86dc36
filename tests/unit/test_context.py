from datetime import UTC, datetime

from core.context import build_window, prompt_budget
from core.domain import Role, StoredMessage
from core.tokens import estimate_message_tokens


def stored(id_: int, role: Role, content: str, author: str | None = "ann") -> StoredMessage:
    return StoredMessage(
        id=id_,
        conversation_id=1,
        role=role,
        author_name=author if role == "user" else None,
        content=content,
        reasoning=None,
        reasoning_details=[{"type": "reasoning.text", "text": "x"}]
        if role == "assistant"
        else None,
        model="m" if role == "assistant" else None,
        token_estimate=estimate_message_tokens(content),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def history(n: int) -> list[StoredMessage]:
    """n alternating turns, newest first, the newest being a user turn."""
    turns = [stored(i, "user" if i % 2 else "assistant", f"turn {i}") for i in range(1, n + 1)]
    return list(reversed(turns))


def test_budget_is_context_minus_answer_room_capped() -> None:
    assert prompt_budget(262_144, 8192, 65_536) == 65_536
    assert prompt_budget(16_000, 8192, 65_536) == 7808
    assert prompt_budget(None, 8192, 65_536) == 65_536
    assert prompt_budget(4000, 8192, 65_536) == 0


def test_window_keeps_newest_turns_in_order_with_system_first() -> None:
    window = build_window("be brief", history(5), budget=10_000)
    assert [turn.role for turn in window.turns] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert window.turns[1].content == "turn 1"
    assert window.turns[-1].content == "turn 5"
    assert window.dropped_turns == 0


def test_window_drops_oldest_turns_that_do_not_fit_and_never_starts_with_assistant() -> None:
    rows = history(7)
    per_turn = rows[0].token_estimate
    window = build_window(None, rows, budget=per_turn * 4)
    contents = [turn.content for turn in window.turns]
    # four newest would be 4,5,6,7 but turn 4 is an assistant turn, so it goes too
    assert contents == ["turn 5", "turn 6", "turn 7"]
    assert window.turns[0].role == "user"
    assert window.dropped_turns == 4
    assert window.estimated_tokens == per_turn * 3


def test_assistant_turns_carry_reasoning_details_back_unchanged() -> None:
    window = build_window(None, history(3), budget=10_000)
    assistant = [turn for turn in window.turns if turn.role == "assistant"]
    assert assistant[0].reasoning_details == [{"type": "reasoning.text", "text": "x"}]


def test_shared_chats_prefix_user_turns_with_the_speaker() -> None:
    rows = [stored(1, "user", "hi all", author="李雷")]
    assert build_window(None, rows, 1000, shared=True).turns[0].content == "李雷: hi all"
    assert build_window(None, rows, 1000, shared=False).turns[0].content == "hi all"


def test_empty_window_when_nothing_fits() -> None:
    window = build_window("system " * 100, history(3), budget=10)
    assert [turn.role for turn in window.turns] == ["system"]
    assert window.dropped_turns == 3
