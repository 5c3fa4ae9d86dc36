"""The /stats report: the last request, this chat's totals by model, and the key's quota."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.domain import KeyInfo, Language, RequestStatus, UsageRecord, UsageSummary
from core.i18n import Translator
from core.ports import ChatStore, LLMClient


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
    def __init__(self, *, store: ChatStore, llm: LLMClient, translator: Translator) -> None:
        self._store = store
        self._llm = llm
        self._t = translator

    async def render(self, chat_id: int, lang: Language) -> str:
        last = await self._store.last_usage(chat_id)
        summary = await self._store.usage_summary(chat_id)
        key = await self._llm.key_info()
        parts = [
            self._last(last, lang) if last else self._t(lang, "stats.no_requests"),
            self._chat(summary, lang) if summary.requests else "",
            self._key(key, lang),
        ]
        return "\n\n".join(part for part in parts if part)

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
