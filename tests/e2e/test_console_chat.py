"""`chatrelay chat` as a user runs it: a real process, piped stdin, a fake OpenRouter."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import API_KEY
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter


@dataclass
class Run:
    code: int
    out: str
    err: str


async def chatrelay(args: list[str], env: dict[str, str], cwd: Path, stdin: bytes = b"") -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_piped_lines_are_messages_and_each_answer_is_printed(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Answer(content="Paris."), Answer(content="巴黎是法国的首都。"))
    run = await chatrelay(["chat"], env, tmp_path, "capital of France?\n用中文说\n".encode())
    assert run.code == 0, run.err
    assert run.out.splitlines() == ["Paris.", "巴黎是法国的首都。"]
    assert (tmp_path / "data" / "bot.db").exists()  # the directory was created


async def test_the_conversation_is_remembered_across_runs_and_chats_are_separate(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    await chatrelay(["chat"], env, tmp_path, b"my name is Ann\n")
    await chatrelay(["chat"], env, tmp_path, b"what is my name?\n")
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents == ["my name is Ann", "Echo: my name is Ann", "what is my name?"]
    await chatrelay(["chat", "--chat", "work"], env, tmp_path, b"fresh start\n")
    assert [m["content"] for m in fake.chat_requests[-1].body["messages"]] == ["fresh start"]


async def test_commands_and_reasoning_from_the_terminal(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Answer(content="4", reasoning="2+2 is 4"))
    run = await chatrelay(["chat"], env, tmp_path, b"2+2?\n/think\n/stats\n")
    assert run.code == 0, run.err
    assert run.out.startswith("4\n")
    assert "2+2 is 4" in run.out
    assert "Last request" in run.out


async def test_a_failure_is_printed_and_the_session_goes_on(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    fake.enqueue(ErrorReply.unauthorized())
    run = await chatrelay(["chat"], env, tmp_path, b"hello\nhello again\n")
    assert run.code == 0
    assert "API key was rejected" in run.out
    assert run.out.rstrip().endswith("Echo: hello again")
    assert API_KEY not in run.out + run.err


async def test_invalid_utf8_and_control_characters_on_stdin(
    env: dict[str, str], tmp_path: Path
) -> None:
    run = await chatrelay(["chat"], env, tmp_path, b"caf\xe9 \x00\x07ok\n\xff\xfe\n")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "Echo: caf\ufffd ok"


async def test_a_missing_key_stops_start_up_with_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    del env["OPENROUTER_API_KEY"]
    run = await chatrelay(["chat"], env, tmp_path, b"hi\n")
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert "OPENROUTER_API_KEY" in run.err


async def test_an_invalid_setting_is_named_and_secrets_are_not_printed(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["LLM_REQUESTS_PER_MINUTE"] = "many"
    run = await chatrelay(["chat"], env, tmp_path, b"hi\n")
    assert run.code == 2
    assert "LLM_REQUESTS_PER_MINUTE" in run.err
    assert API_KEY not in run.err


async def test_run_without_a_platform_explains_what_to_do(
    env: dict[str, str], tmp_path: Path
) -> None:
    run = await chatrelay(["run"], env, tmp_path)
    assert run.code == 2
    assert "chatrelay chat" in run.err


async def test_migrate_creates_the_database(env: dict[str, str], tmp_path: Path) -> None:
    run = await chatrelay(["migrate"], env, tmp_path)
    assert run.code == 0, run.err
    assert (tmp_path / "data" / "bot.db").stat().st_size > 0
    again = await chatrelay(["migrate"], env, tmp_path)
    assert again.code == 0


async def test_help_describes_the_commands(env: dict[str, str], tmp_path: Path) -> None:
    run = await chatrelay(["--help"], env, tmp_path)
    assert run.code == 0
    for word in ("chat", "run", "migrate"):
        assert word in run.out


async def test_a_database_that_cannot_be_opened_is_one_line_without_the_password(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'blocker' / 'bot.db'}"
    run = await chatrelay(["chat"], env, tmp_path, b"hi\n")
    assert run.code == 1
    assert run.err.startswith("chatrelay: cannot open the database at DATABASE_URL=")
    assert run.err.count("\n") == 1
    env["DATABASE_URL"] = "postgresql+asyncpg://bot:hunter2@127.0.0.1:9/chat"
    run = await chatrelay(["migrate"], env, tmp_path)
    assert run.code == 1
    assert "bot:***@127.0.0.1:9/chat" in run.err
    assert "hunter2" not in run.err


async def test_chinese_everywhere_after_lang_zh(
    env: dict[str, str], tmp_path: Path, fake: FakeOpenRouter
) -> None:
    fake.enqueue(Answer(content="四", reasoning="二加二等于四"))
    run = await chatrelay(["chat"], env, tmp_path, b"/lang zh\n2+2?\n/think\n")
    assert run.code == 0, run.err
    assert "我会用中文" in run.out
    assert "上一条回答的思考过程" in run.out
    assert "[思考过程]\n二加二等于四\n[/思考过程]" in run.out
    assert run.out.index("上一条回答的思考过程") < run.out.index("[思考过程]")
