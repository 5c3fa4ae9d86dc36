import asyncio

from core.domain import ChatRef
from core.ordering import LocalChatLocks


async def test_one_chat_runs_in_arrival_order_and_chats_run_concurrently() -> None:
    locks = LocalChatLocks()
    events: list[str] = []
    release = asyncio.Event()

    async def work(chat: ChatRef, name: str, wait: bool) -> None:
        async with locks.hold(chat):
            events.append(f"start {name}")
            if wait:
                await release.wait()
            events.append(f"end {name}")

    a, b = ChatRef("t", "a"), ChatRef("t", "b")
    tasks = [
        asyncio.create_task(work(a, "a1", True)),
        asyncio.create_task(work(a, "a2", False)),
        asyncio.create_task(work(a, "a3", False)),
        asyncio.create_task(work(b, "b1", False)),
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    assert events == ["start a1", "start b1", "end b1"]  # b is not held up by a
    release.set()
    await asyncio.gather(*tasks)
    assert events[3:] == ["end a1", "start a2", "end a2", "start a3", "end a3"]
    assert len(locks) == 0  # nothing kept once nobody waits


async def test_lock_is_released_when_the_work_fails() -> None:
    locks = LocalChatLocks()
    chat = ChatRef("t", "a")
    try:
        async with locks.hold(chat):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(1):
        async with locks.hold(chat):
            pass
    assert len(locks) == 0
