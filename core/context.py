"""Which turns go to the model: the system prompt plus the newest turns that fit the budget.

Pure functions over already-loaded rows; loading is one indexed query with a LIMIT (see
ChatStore.recent_messages), so the cost does not grow with the stored history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.domain import PromptTurn, StoredMessage
from core.tokens import estimate_message_tokens


@dataclass(frozen=True, slots=True)
class PromptWindow:
    turns: tuple[PromptTurn, ...]
    estimated_tokens: int
    dropped_turns: int  # loaded turns that did not fit


def prompt_budget(context_length: int | None, answer_tokens: int, cap: int) -> int:
    """Tokens available for the prompt: the model's context minus room for the answer."""
    if context_length is None:
        return cap
    return max(0, min(context_length - answer_tokens, cap))


def speaker_line(author_name: str | None, content: str) -> str:
    """How a user turn reads in a shared chat, so the model knows who said what."""
    return f"{author_name}: {content}" if author_name else content


def to_prompt_turn(message: StoredMessage, shared: bool) -> PromptTurn:
    if message.role == "assistant":
        return PromptTurn("assistant", message.content, message.reasoning_details)
    content = speaker_line(message.author_name, message.content) if shared else message.content
    return PromptTurn("user", content)


def build_window(
    system_prompt: str | None,
    newest_first: Sequence[StoredMessage],
    budget: int,
    *,
    shared: bool = False,
) -> PromptWindow:
    """Take the newest turns that fit ``budget`` (system prompt included), oldest first.

    The window never starts with an assistant turn: several providers reject that.
    """
    used = estimate_message_tokens(system_prompt) if system_prompt else 0
    chosen: list[StoredMessage] = []
    for message in newest_first:
        if used + message.token_estimate > budget:
            break
        chosen.append(message)
        used += message.token_estimate
    while chosen and chosen[-1].role == "assistant":
        used -= chosen.pop().token_estimate
    head = (PromptTurn("system", system_prompt),) if system_prompt else ()
    turns = tuple(to_prompt_turn(message, shared) for message in reversed(chosen))
    return PromptWindow(head + turns, used, len(newest_first) - len(chosen))
