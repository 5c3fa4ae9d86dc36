"""Per-user message limits and daily budgets, counted from the database.

- ``USER_MESSAGES_PER_MINUTE``: how many messages one person may send to the model in any 60
  seconds (commands and refused messages don't count).
- ``USER_DAILY_TOKENS`` / ``USER_DAILY_USD``: what one person's requests may use per UTC day;
  ``CHAT_DAILY_TOKENS`` / ``CHAT_DAILY_USD``: the same for one chat (a group's budget is shared
  by its members). Usage is OpenRouter's own: its token counts and ``usage.cost``.

Everything is read from the stored messages and usage rows, so limits survive restarts and
several processes on one database share them. A refused message costs no LLM call; the person
is told when they can write again. Admins (``Author.is_admin``) are exempt. 0 = no limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.domain import ChatState, IncomingMessage, UsageTotals
from core.ports import ChatStore, Clock

MINUTE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class UserLimitSettings:
    messages_per_minute: int = 0
    user_daily_tokens: int = 0
    user_daily_usd: Decimal = Decimal(0)
    chat_daily_tokens: int = 0
    chat_daily_usd: Decimal = Decimal(0)

    @property
    def budgets(self) -> bool:
        return bool(
            self.user_daily_tokens
            or self.user_daily_usd
            or self.chat_daily_tokens
            or self.chat_daily_usd
        )


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    """Why a message may not go to the model: a catalogue key and its fields."""

    key: str
    params: dict[str, str | int | float] = field(default_factory=dict)
    tokens: bool = False  # the amounts are tokens (the message adds the unit), else USD


@dataclass(frozen=True, slots=True)
class BudgetUse:
    """One budget's use today: ``spent`` and ``limit`` are tokens or USD."""

    tokens: bool
    spent: Decimal
    limit: Decimal

    @property
    def over(self) -> bool:
        return self.spent >= self.limit


@dataclass(frozen=True, slots=True)
class DayUse:
    """A user's (or a chat's) use today and the budgets that apply to it."""

    totals: UsageTotals
    budgets: tuple[BudgetUse, ...]


class UserLimits:
    def __init__(self, *, store: ChatStore, clock: Clock, settings: UserLimitSettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings

    async def refusal(self, message: IncomingMessage, chat: ChatState) -> LimitRefusal | None:
        """The reason ``message`` may not go to the model now, or None."""
        if message.author.is_admin:
            return None
        refusal = await self._rate_refusal(message)
        if refusal is None and self._settings.budgets:
            refusal = await self._budget_refusal(message, chat)
        return refusal

    async def user_today(self, message: IncomingMessage) -> DayUse:
        settings = self._settings
        totals = await self._store.user_usage_since(
            message.chat.platform, message.author.id, self._midnight()
        )
        return DayUse(totals, _budgets(totals, settings.user_daily_tokens, settings.user_daily_usd))

    async def chat_today(self, chat: ChatState) -> DayUse:
        settings = self._settings
        totals = await self._store.chat_usage_since(chat.id, self._midnight())
        return DayUse(totals, _budgets(totals, settings.chat_daily_tokens, settings.chat_daily_usd))

    async def _rate_refusal(self, message: IncomingMessage) -> LimitRefusal | None:
        limit = self._settings.messages_per_minute
        if not limit:
            return None
        now = self._clock.now()
        times = await self._store.user_message_times(
            message.chat.platform, message.author.id, now - MINUTE, limit=limit
        )
        if len(times) < limit:
            return None
        seconds = max(1, math.ceil((times[0] + MINUTE - now).total_seconds()))
        return LimitRefusal("limit.rate", {"limit": limit, "seconds": seconds})

    async def _budget_refusal(
        self, message: IncomingMessage, chat: ChatState
    ) -> LimitRefusal | None:
        for key, day in (
            ("limit.user_budget", await self.user_today(message)),
            ("limit.chat_budget", await self.chat_today(chat)),
        ):
            over = next((budget for budget in day.budgets if budget.over), None)
            if over is not None:
                params = {**self.reset_params(), **_amounts(over)}
                return LimitRefusal(key, params, tokens=over.tokens)
        return None

    def reset_params(self) -> dict[str, str | int | float]:
        """Hours and minutes until 00:00 UTC, when the daily budgets start over."""
        now = self._clock.now()
        minutes = math.ceil((self._midnight() + timedelta(days=1) - now).total_seconds() / 60)
        return {"hours": minutes // 60, "minutes": minutes % 60}

    def _midnight(self) -> datetime:
        now = self._clock.now().astimezone(UTC)
        return datetime.combine(now.date(), datetime.min.time(), UTC)


def _budgets(totals: UsageTotals, tokens: int, usd: Decimal) -> tuple[BudgetUse, ...]:
    budgets = []
    if tokens:
        budgets.append(BudgetUse(True, Decimal(totals.tokens), Decimal(tokens)))
    if usd:
        budgets.append(BudgetUse(False, totals.cost, usd))
    return tuple(budgets)


def _amounts(budget: BudgetUse) -> dict[str, str | int | float]:
    return {
        "used": format_amount(budget, budget.spent),
        "limit": format_amount(budget, budget.limit),
    }


def format_amount(budget: BudgetUse, amount: Decimal) -> str:
    """Tokens as a plain count, USD with a dollar sign (the catalogue adds no unit)."""
    if budget.tokens:
        return f"{int(amount):,}"
    return f"${amount:.4f}".rstrip("0").rstrip(".") if amount < 1 else f"${amount:.2f}"
