"""The commands every platform shares. Adapters only route text that starts with "/"."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from core.answer import Turn
from core.config import ServiceConfig
from core.domain import ChatSettings, Language
from core.errors import LLMError
from core.i18n import Translator
from core.ports import ChatStore, LLMClient, ModelDirectory, Reply
from core.stats import StatsReport
from core.user_limits import UserLimits

_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)
COMMAND_NAMES = ("think", "stats", "new", "model", "system", "help", "lang", "start")
MODEL_ID_MAX = 200  # OpenRouter's ids are far shorter; longer input is not an id
MODEL_ID_SHOWN = 80  # how much of an unknown id is repeated back


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with "…" when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str

    def changes_settings(self) -> bool:
        """Whether it changes the chat for everyone in it: its settings, or (``/new``) its
        conversation. In shared chats only admins may, once admins are configured."""
        if self.name == "new":
            return True
        if self.name in ("model", "system", "lang"):
            return bool(self.args)
        return self.name == "think" and self.args.lower() in ("on", "off")

    def asks_with_reasoning(self) -> str | None:
        """The question of ``/think <question>``, which is answered like a message."""
        if self.name == "think" and self.args and self.args.lower() not in ("on", "off"):
            return self.args
        return None


def parse_command(text: str) -> Command | None:
    """``/name``, ``/name@bot`` or ``/name args``; "/usr/bin" and the like are not commands."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return Command(match.group(1).lower(), (match.group(2) or "").strip())


Handler = Callable[[Turn, str], Awaitable[Reply | None]]


class Commands:
    def __init__(
        self,
        *,
        store: ChatStore,
        llm: LLMClient,
        models: ModelDirectory,
        translator: Translator,
        config: ServiceConfig,
        limits: UserLimits,
    ) -> None:
        self._store = store
        self._models = models
        self._t = translator
        self._config = config
        self._stats = StatsReport(store=store, llm=llm, translator=translator, limits=limits)
        self._handlers: dict[str, Handler] = {
            "help": self._help,
            "start": self._help,
            "think": self._think,
            "stats": self._stats_cmd,
            "new": self._new,
            "model": self._model,
            "system": self._system,
            "lang": self._lang,
        }

    async def run(self, turn: Turn, command: Command) -> None:
        handler = self._handlers.get(command.name)
        if handler is None:
            reply: Reply | None = Reply(self._t(turn.lang, "unknown_command", name=command.name))
        else:
            reply = await handler(turn, command.args)
        if reply is not None:
            await turn.sink.deliver(reply)

    async def _save(self, turn: Turn, settings: ChatSettings) -> None:
        await self._store.save_settings(turn.chat.id, settings)

    async def _help(self, turn: Turn, args: str) -> Reply:
        return Reply(self._t(turn.lang, "help"))

    async def _think(self, turn: Turn, args: str) -> Reply | None:
        word = args.lower()
        if word in ("on", "off"):
            await self._save(turn, replace(turn.chat.settings, show_reasoning=word == "on"))
            return Reply(self._t(turn.lang, f"think.{word}"))
        if args:  # the service answers "/think <question>" itself; anything else is usage
            return Reply(self._t(turn.lang, "think.usage"))
        last = await self._store.last_assistant_message(turn.chat.conversation_id)
        if last is None:
            return Reply(self._t(turn.lang, "think.none"))
        model = last.model or "?"
        if not last.reasoning:
            return Reply(self._t(turn.lang, "think.no_reasoning", model=model))
        return Reply(
            self._t(turn.lang, "think.header", model=model),
            reasoning=last.reasoning,
            reasoning_label=self._t(turn.lang, "reasoning.label"),
        )

    async def _stats_cmd(self, turn: Turn, args: str) -> Reply:
        return Reply(await self._stats.render(turn), card=True)

    async def _new(self, turn: Turn, args: str) -> Reply:
        await self._store.start_conversation(turn.chat.id)
        return Reply(self._t(turn.lang, "new.done"))

    async def _model(self, turn: Turn, args: str) -> Reply:
        if not args:
            chain = self._config.chain_for(turn.chat.settings)
            listed = " → ".join(f"`{model}`" for model in chain)
            return Reply(self._t(turn.lang, "model.current", model=chain[0], chain=listed))
        if args.lower() in ("default", "reset"):
            await self._save(turn, replace(turn.chat.settings, model=None))
            return Reply(self._t(turn.lang, "model.reset", model=self._config.models[0]))
        return await self._switch_model(turn, args.split()[0])

    async def _switch_model(self, turn: Turn, model_id: str) -> Reply:
        shown = shorten(model_id.replace("`", ""), MODEL_ID_SHOWN)  # stays one code span
        if len(model_id) > MODEL_ID_MAX:  # no model id is this long: don't look for lookalikes
            return Reply(self._t(turn.lang, "model.unknown", model=shown))
        try:
            found = await self._models.find(model_id)
        except LLMError:
            return Reply(self._t(turn.lang, "model.list_unavailable", model=shown))
        if found is None:
            text = self._t(turn.lang, "model.unknown", model=shown)
            matches = await self._models.close_matches(model_id)
            if matches:
                listed = ", ".join(f"`{match}`" for match in matches)
                text += "\n" + self._t(turn.lang, "model.suggestions", matches=listed)
            return Reply(text)
        await self._save(turn, replace(turn.chat.settings, model=found.id))
        return Reply(self._t(turn.lang, "model.switched", model=found.id))

    async def _system(self, turn: Turn, args: str) -> Reply:
        if not args:
            prompt = turn.chat.settings.system_prompt
            if prompt is None:
                return Reply(self._t(turn.lang, "system.none"))
            return Reply(self._t(turn.lang, "system.current", prompt=prompt))
        if args.lower() == "reset":
            await self._save(turn, replace(turn.chat.settings, system_prompt=None))
            return Reply(self._t(turn.lang, "system.reset"))
        if len(args) > self._config.max_input_chars:
            return Reply(
                self._t(
                    turn.lang,
                    "input_too_many_chars",
                    chars=len(args),
                    limit=self._config.max_input_chars,
                )
            )
        await self._save(turn, replace(turn.chat.settings, system_prompt=args))
        return Reply(self._t(turn.lang, "system.set"))

    async def _lang(self, turn: Turn, args: str) -> Reply:
        lang = Language.from_code(args)
        if lang is None:
            return Reply(self._t(turn.lang, "lang.usage"))
        await self._save(turn, replace(turn.chat.settings, language=lang))
        return Reply(self._t(lang, "lang.set"))
