"""Token estimates without a tokenizer (each model has its own; OpenRouter reports the truth).

Deliberately conservative: about 4 characters per token for ASCII text, one token per character
for CJK and other non-ASCII text, plus a small per-message overhead for role markers.
"""

from __future__ import annotations

MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_chars = len(text) - ascii_chars
    return (ascii_chars + 3) // 4 + other_chars


def estimate_message_tokens(text: str) -> int:
    return estimate_tokens(text) + MESSAGE_OVERHEAD_TOKENS
