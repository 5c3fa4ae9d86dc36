"""Token estimates without a tokenizer (each model has its own; OpenRouter reports the truth).

Deliberately conservative: about 4 characters per token for ASCII text, one token per character
for CJK and other non-ASCII text, plus a small per-message overhead for role markers. An image
counts a flat ``IMAGE_TOKENS``.
"""

from __future__ import annotations

MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 1000  # a flat guess per image; real costs depend on the model and the size


def estimate_tokens(text: str) -> int:
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_chars = len(text) - ascii_chars
    return (ascii_chars + 3) // 4 + other_chars


def estimate_message_tokens(text: str) -> int:
    return estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS


def estimate_image_tokens(count: int) -> int:
    return IMAGE_TOKENS * max(count, 0)
