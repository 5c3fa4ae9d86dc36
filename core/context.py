"""Which turns go to the model: the system prompt plus the newest turns that fit the budget.

Pure functions over already-loaded rows; loading is one indexed query with a LIMIT (see
ChatStore.recent_messages), so the cost does not grow with the stored history.

Images are never stored: a user turn that had pictures is stored as its caption behind one
``[image]`` marker per picture, so later turns know a picture was there. Only the message being
answered carries its pictures to the model (``build_window(images=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.domain import PromptTurn, StoredMessage
from core.tokens import estimate_image_tokens, estimate_message_tokens

IMAGE_MARKER = "[image]"


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


SPEAKER_NAME_MAX = 64


def speaker_name(name: str) -> str:
    """A display name as it may head a turn: one line (a name with a line break could make
    the model read a line said by someone else), at most SPEAKER_NAME_MAX characters."""
    return " ".join(name.split())[:SPEAKER_NAME_MAX]


def speaker_line(author_name: str | None, content: str) -> str:
    """How a user turn reads in a shared chat, so the model knows who said what."""
    return f"{author_name}: {content}" if author_name else content


def with_image_markers(text: str, count: int) -> str:
    """The stored text of a message with ``count`` pictures: ``"[image] caption"``."""
    return " ".join([IMAGE_MARKER] * count + ([text] if text else []))


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
    images: Sequence[str] = (),
) -> PromptWindow:
    """Take the newest turns that fit ``budget`` (system prompt included), oldest first.

    The window never starts with an assistant turn: several providers reject that. ``images``
    (``data:`` URLs) go with the newest user turn, the message being answered, and count
    ``IMAGE_TOKENS`` each.
    """
    used = estimate_message_tokens(system_prompt) if system_prompt else 0
    used += estimate_image_tokens(len(images))
    chosen: list[StoredMessage] = []
    for message in newest_first:
        if used + message.token_estimate > budget:
            break
        chosen.append(message)
        used += message.token_estimate
    while chosen and chosen[-1].role == "assistant":
        used -= chosen.pop().token_estimate
    head = (PromptTurn("system", system_prompt),) if system_prompt else ()
    turns = [to_prompt_turn(message, shared) for message in reversed(chosen)]
    if images:
        newest_user = next(
            (i for i in reversed(range(len(turns))) if turns[i].role == "user"), None
        )
        if newest_user is None:
            used -= estimate_image_tokens(len(images))
        else:
            turns[newest_user] = replace(turns[newest_user], images=tuple(images))
    return PromptWindow(head + tuple(turns), used, len(newest_first) - len(chosen))
