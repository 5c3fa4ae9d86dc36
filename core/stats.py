"""The /stats report: the last request, this chat's totals by model, the user's use today (and
what is left of the daily budgets), and the key's credit and free quota (in shared chats, only
for admins: the credit is the operator's business)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.answer import Turn
from core.domain import KeyInfo, Language, RequestStatus, UsageRecord, UsageSummary
from core.i18n import Translator
from core.ports import ChatStore, LLMClient
from core.user_limits import DayUse, UserLimits, format_amount


def format_cost(cost: Decimal | None, unknown: str) -> str:
    if cost is None:
        return unknown
    if cost == 0:
        return "$0"
    return f"${cost:.8f}".rstrip("0").rstrip(".") if cost < 1 else f"${cost:.4f}"


def format_seconds(ms: int | None, unknown: str) -> str:
    return unknown if ms is None else f"{ms / 1000:.2f}"


def format_when(when: datetime | None, unknown: str) -> str:
    return unknown if when is None else when.strftime("%Y-%m-%d %H:%M:%S UTC")


class StatsReport:
    def __init__(
        self, *, store: ChatStore, llm: LLMClient, translator: Translator, limits: UserLimits
    ) -> None:
        self._store = store
        self._llm = llm
        self._t = translator
        self._limits = limits

    async def render(self, turn: Turn) -> str:
        chat_id, lang = turn.chat.id, turn.lang
        last = await self._store.last_usage(chat_id)
        summary = await self._store.usage_summary(chat_id)
        parts = [
            self._last(last, lang) if last else self._t(lang, "stats.no_requests"),
            self._chat(summary, lang) if summary.requests else "",
            await self._today(turn),
        ]
        if not turn.incoming.shared or turn.incoming.author.is_admin:
            parts.append(self._key(await self._llm.key_info(), lang))
        return "\n\n".join(part for part in parts if part)

    async def _today(self, turn: Turn) -> str:
        """The user's use today with what is left of their budgets; in a shared chat with a
        budget of its own, the chat's too."""
        lines = [self._day("stats.you_today", await self._limits.user_today(turn.incoming), turn)]
        if turn.incoming.shared:
            chat_day = await self._limits.chat_today(turn.chat)
            if chat_day.budgets:
                lines.append(self._day("stats.chat_today", chat_day, turn))
        return "\n".join(lines)

    def _day(self, key: str, day: DayUse, turn: Turn) -> str:
        lang = turn.lang
        totals = day.totals
        cost = format_cost(totals.cost, self._t(lang, "stats.unknown"))
        lines = [self._t(lang, key, requests=totals.requests, tokens=totals.tokens, cost=cost)]
        for budget in day.budgets:
            left = max(budget.limit - budget.spent, Decimal(0))
            unit = self._t(lang, "limit.unit.tokens") if budget.tokens else ""
            lines.append(
                self._t(
                    lang,
                    "stats.budget_left",
                    left=format_amount(budget, left),
                    limit=format_amount(budget, budget.limit),
                    unit=unit,
                )
            )
        return "\n".join(lines)

    def _last(self, record: UsageRecord, lang: Language) -> str:
        unknown = self._t(lang, "stats.unknown")
        when = format_when(record.created_at, unknown)
        if record.status is RequestStatus.ERROR:
            error = record.error_kind or unknown
            return self._t(
                lang, "stats.last_failed", when=when, error=error, model=record.model_requested
            )
        fallback = (
            self._t(lang, "stats.fallback", requested=record.model_requested)
            if record.fallback_used
            else ""
        )
        usage = record.usage
        return self._t(
            lang,
            "stats.last",
            when=when,
            model=record.model_served or record.model_requested,
            fallback=fallback,
            latency=format_seconds(record.latency_ms, unknown),
            ttft=format_seconds(record.ttft_ms, unknown),
            prompt=usage.prompt_tokens,
            completion=usage.completion_tokens,
            reasoning=usage.reasoning_tokens,
            total=usage.total_tokens,
            cost=format_cost(usage.cost, unknown),
        )

    def _chat(self, summary: UsageSummary, lang: Language) -> str:
        unknown = self._t(lang, "stats.unknown")
        lines = [
            self._t(
                lang,
                "stats.chat",
                requests=summary.requests,
                failed=summary.failed_requests,
                total=summary.total_tokens,
                prompt=summary.prompt_tokens,
                completion=summary.completion_tokens,
                reasoning=summary.reasoning_tokens,
                cost=format_cost(summary.cost, unknown),
            )
        ]
        lines += [
            self._t(
                lang,
                "stats.by_model",
                model=row.model,
                requests=row.requests,
                total=row.total_tokens,
                cost=format_cost(row.cost, unknown),
            )
            for row in summary.by_model
        ]
        return "\n".join(lines)

    def _key(self, key: KeyInfo | None, lang: Language) -> str:
        if key is None:
            return self._t(lang, "stats.key_unavailable")
        unknown = self._t(lang, "stats.unknown")
        remaining = (
            self._t(lang, "stats.unlimited")
            if key.limit is None
            else format_cost(key.limit_remaining, unknown)
        )
        lines = [
            self._t(
                lang, "stats.key", remaining=remaining, daily=format_cost(key.usage_daily, unknown)
            )
        ]
        if key.free_daily_limit is not None:
            left = unknown if key.free_daily_remaining is None else key.free_daily_remaining
            lines.append(
                self._t(lang, "stats.free_quota", remaining=left, limit=key.free_daily_limit)
            )
        return "\n".join(lines)
