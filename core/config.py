"""What the service needs to know about the deployment, derived once from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain import ChatSettings, Language, ReasoningConfig
from core.settings import Settings
from core.user_limits import UserLimitSettings


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    models: tuple[str, ...]
    reasoning: ReasoningConfig
    answer_max_tokens: int
    context_max_tokens: int
    context_max_messages: int
    max_input_chars: int
    default_language: Language
    queue_notice_seconds: float
    max_image_bytes: int = 10 * 1024 * 1024  # larger pictures are refused, not sent
    user_limits: UserLimitSettings = field(default_factory=UserLimitSettings)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceConfig:
        return cls(
            models=settings.openrouter_models,
            reasoning=ReasoningConfig(
                enabled=settings.openrouter_reasoning,
                effort=settings.openrouter_reasoning_effort,
                exclude=settings.openrouter_reasoning_exclude,
            ),
            answer_max_tokens=settings.answer_max_tokens,
            context_max_tokens=settings.context_max_tokens,
            context_max_messages=settings.context_max_messages,
            max_input_chars=settings.max_input_chars,
            default_language=settings.default_language,
            queue_notice_seconds=settings.llm_queue_notice_seconds,
            user_limits=UserLimitSettings(
                messages_per_minute=settings.user_messages_per_minute,
                user_daily_tokens=settings.user_daily_tokens,
                user_daily_usd=settings.user_daily_usd,
                chat_daily_tokens=settings.chat_daily_tokens,
                chat_daily_usd=settings.chat_daily_usd,
            ),
        )

    def chain_for(self, settings: ChatSettings) -> tuple[str, ...]:
        """The chat's model first, then the deployment's chain without repeats."""
        first = settings.model or self.models[0]
        return (first, *(model for model in self.models if model != first))
