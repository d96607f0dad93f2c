"""A long replay (a new process's, or one from a day long ago) is folded in a thread, so the
event loop answers other commands meanwhile, and it answers as one folded on the loop."""

from __future__ import annotations

import threading

from conftest import forget_kept_replays, make_service

from bot import replays
from bot.domain import Actor, Position
from bot.rules import RuleReplay

EDITOR = Actor("test", "ed", "Editor", is_editor=True)
NEWS = "https://www.reuters.com/world/nato"


async def test_a_long_replay_is_folded_off_the_event_loop(tmp_path, monkeypatch):
    service = await make_service(tmp_path / "t.db")
    try:
        rutte = service.roster.candidate("Rutte")
        for name in ("Türkiye", "Slovakia", "Hungary", "Romania"):
            await service.record(
                EDITOR, service.roster.member(name), Position.SUPPORTS, rutte, source=NEWS
            )
        on_loop = await service.countdown()  # the seeds and these: fewer than FOLD_ON_LOOP
        assert on_loop.startswith("Mark Rutte reached unanimity on 3 April 2024")

        folded_in: list[threading.Thread] = []
        fold = RuleReplay.fold

        def noting_fold(self, *args, **kwargs):
            folded_in.append(threading.current_thread())
            return fold(self, *args, **kwargs)

        monkeypatch.setattr(RuleReplay, "fold", noting_fold)
        monkeypatch.setattr(replays, "FOLD_ON_LOOP", 0)  # every replay counts as long
        await service.replays_kept()
        forget_kept_replays(tmp_path / "t.db")
        fresh = await make_service(tmp_path / "t.db")  # a new process's first replay
        try:
            assert await fresh.countdown() == on_loop
        finally:
            await fresh.store.close()
        assert folded_in and threading.main_thread() not in folded_in
    finally:
        await service.store.close()
