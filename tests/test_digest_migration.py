"""Migration 6 keeps a database's digest history: what each sent digest covered carries over,
so the first digest after the upgrade lists exactly what came after the last one."""

from __future__ import annotations

import sqlite3
from datetime import date

from test_digest import NEWS, RACE, brussels, running

from bot.render import to_text
from bot.store.schema import MIGRATIONS, split_statements


def a_version_5_database(path) -> None:
    """A database as tallybot left it before migration 6: 3 April's digest went out to NEWS,
    covering the events up to #32; C0DOWN's failed."""
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:5]:
            for statement in split_statements(step):
                db.execute(statement)
        db.execute("PRAGMA user_version = 5")
        db.executemany(
            "INSERT INTO digest_subscriptions VALUES (?, 'slack', ?, '09:00', 'Europe/Brussels',"
            " '2024-04-01T00:00:00.000000+00:00', 'slack', 'U1')",
            [(RACE, NEWS), (RACE, "C0DOWN")],
        )
        db.executemany(
            "INSERT INTO digest_sends (race, platform, channel, day, status, attempts,"
            " claimed_at, updated_at, sent_at) VALUES (?, 'slack', ?, '2024-04-03', ?, 1,"
            " '2024-04-03T07:00:00+00:00', '2024-04-03T07:00:01+00:00', ?)",
            [(RACE, NEWS, "sent", "2024-04-03T07:00:01+00:00"), (RACE, "C0DOWN", "failed", None)],
        )
        db.execute(
            "INSERT INTO digest_builds VALUES (?, '2024-04-03', 32, '2024-04-03T07:00:00+00:00')",
            (RACE,),
        )
    db.close()


async def test_the_first_digest_after_the_upgrade_follows_the_last_one_sent(tmp_path):
    db = tmp_path / "old.db"
    a_version_5_database(db)
    async with running(db, brussels(4, 8)) as bot:  # migrates, then loads the seeds #1-#32
        sends = await bot.service.store.digest_sends(RACE, [date(2024, 4, 3)])
        assert {k.channel: (s.status, s.covered_to) for k, s in sends.items()} == {
            NEWS: ("sent", 32),
            "C0DOWN": ("failed", None),
        }
        await bot.say("/endorse Türkiye Rutte source:https://example.org/tr")  # #33
        await bot.at(brussels(4, 9))
        texts = {channel: reply for channel, reply in bot.slack.posts}
        assert (
            "Since yesterday\n"
            "  Türkiye: no position → supports Mark Rutte (example.org, reported)\n\n"
            in (to_text(texts[NEWS]))
        )
        # C0DOWN never got a digest: its first one looks back 24 hours.
        assert texts["C0DOWN"].sections[1].title == "In the last 24 hours"
