"""Work the store runs in the background (the replay's warm-up at start): closing the store
stops it, and a failure in it is logged, since no one awaits it."""

from __future__ import annotations

import asyncio
import logging

from bot.store.store import Store


async def test_closing_the_store_cancels_its_background_work(tmp_path):
    store = await Store.open(tmp_path / "tally.db")
    started = asyncio.Event()

    async def warm_forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = store.background(warm_forever())
    await started.wait()
    await store.close()
    assert task.cancelled()


async def test_a_failed_background_read_is_logged(tmp_path, caplog):
    store = await Store.open(tmp_path / "tally.db")

    async def fails() -> None:
        raise RuntimeError("the replay broke")

    try:
        task = store.background(fails())
        with caplog.at_level(logging.ERROR):
            # the store's callback was added first, so it has run once gather returns
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await store.close()
    assert "A background read failed" in caplog.text
    assert "the replay broke" in caplog.text
