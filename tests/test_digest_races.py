"""A channel that follows several races gets one digest a day, with a part for each race."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.commands.run import run_line
from bot.commands.spec import Context
from bot.desk import Desk
from bot.digest import DigestBuilder
from bot.domain import Actor, Position
from bot.racefile import load_race
from bot.render import to_text
from bot.replies import Reply
from bot.scheduling import DigestScheduler
from bot.service import Service
from bot.store.store import Store

BRUSSELS = ZoneInfo("Europe/Brussels")
EDITOR = Actor("slack", "U0EDITOR", "Editor", is_editor=True)
NEWS, OTHER = "C0NEWS", "C0OTHER"


class Posts:
    name = "slack"

    def __init__(self) -> None:
        self.posts: list[tuple[str, Reply]] = []

    async def post(self, channel: str, reply: Reply, *_: Any) -> None:
        self.posts.append((channel, reply))


async def test_one_post_a_day_with_a_part_per_race_and_each_races_what_changed(tmp_path):
    clock = Clock(BRUSSELS, at=datetime(2024, 6, 26, 8, 0, tzinfo=BRUSSELS))
    store = await Store.open(tmp_path / "t.db", clock.now)
    services = [Service(store, load_race(r), clock) for r in ("nato-sg-2024", "eu-commission-2024")]
    for service in services:
        await service.start(demo=True)
    desk = Desk(services)
    slack = Posts()
    builders = [(s, DigestBuilder(s)) for s in services]
    schedulers = [DigestScheduler(s, {"slack": slack}, desk=builders) for s in services]

    async def say(line: str, channel: str = NEWS) -> str:
        return to_text(await run_line(Context(desk, EDITOR, channel), line))

    assert "Subscribed" in await say("/subscribe time:09:00")
    assert "Subscribed" in await say("/subscribe time:10:00 race:eu-commission-2024")
    assert "Subscribed" in await say("/subscribe time:10:00 race:eu-commission-2024", OTHER)

    async def at(moment: datetime) -> None:
        clock.pinned_at = moment
        for scheduler in schedulers:
            await scheduler.run_due()

    await at(datetime(2024, 6, 26, 9, 0, tzinfo=BRUSSELS))
    assert [channel for channel, _ in slack.posts] == [NEWS]  # one post, at NATO's time
    both = to_text(slack.posts[0][1])
    assert "NATO Secretary-General 2024: daily digest, 26 June 2024" in both
    assert "President of the European Commission 2024: daily digest, 26 June 2024" in both
    await at(datetime(2024, 6, 26, 10, 0, tzinfo=BRUSSELS))
    assert [channel for channel, _ in slack.posts] == [NEWS, OTHER]  # EU alone elsewhere
    await at(datetime(2024, 6, 26, 10, 30, tzinfo=BRUSSELS))
    assert len(slack.posts) == 2  # each channel once a day

    # The next day, the EU part says what moved since its own part of yesterday's post.
    clock.pinned_at = datetime(2024, 6, 27, 8, 0, tzinfo=BRUSSELS)
    assert "Recorded" in await say("/oppose Malta Leyen race:eu-commission-2024")
    await at(datetime(2024, 6, 27, 9, 0, tzinfo=BRUSSELS))
    assert [channel for channel, _ in slack.posts] == [NEWS, OTHER, NEWS]
    eu_part = to_text(slack.posts[-1][1]).split("President of the European Commission")[1]
    assert "Since yesterday" in eu_part and "Malta" in eu_part
    assert date(2024, 6, 27) in {
        k.day for k in await services[1].digest_sends([date(2024, 6, 27)]) if k.channel == NEWS
    }
    await store.close()


async def test_what_changed_reads_an_abstention_like_any_position(tmp_path):
    from bot.digest import moved_line

    race = load_race("eu-commission-2024")
    clock = Clock(BRUSSELS, date(2024, 6, 28))
    service = Service(await Store.open(tmp_path / "t.db", clock.now), race, clock)
    await service.start(demo=True)
    italy = service.roster.member("Italy")
    was = (await service.store.current(race.id))["IT"]
    leyen = service.roster.candidate("Leyen")
    done = await service.record(EDITOR, italy, Position.SUPPORTS, leyen)
    names = service.candidate_names()
    assert moved_line("Italy", was, done.event, names, race) == (
        "Italy: abstained on → supports Ursula von der Leyen (no source, rumoured)"
    )
    assert moved_line("Italy", done.event, was, names, race).startswith(
        "Italy: supported → abstains on Ursula von der Leyen ("
    )
    await service.store.close()
