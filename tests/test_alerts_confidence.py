"""Where a change is told, how sure it is and on what condition: the alert's line and the
digest's "what changed". A rumour does not count in /tally, so it never alerts: neither the
rumour, nor its undo; its confirmation by a surer recording does."""

from __future__ import annotations

from datetime import date

from test_alerts import POLITICO, RACE, REUTERS, at, running

from bot.digest import DigestBuilder
from bot.digest_records import SentDigest
from bot.render import to_text
from bot.service_alerts import AlertStatus

HU = "condition:no Hungarian role in NATO's Ukraine support"
ON_RECORD = "confidence:on-record"
RUMOUR = "confidence:rumoured"


async def test_an_alert_says_the_condition_and_marks_what_is_not_on_record(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Hungary Rutte {HU} {ON_RECORD} {REUTERS}")
        await bot.say(f"/endorse Türkiye Rutte {POLITICO}")
        await bot.at(at(10, 2, 10))
        [text] = bot.texts()
        assert text.splitlines()[2:] == [
            "Hungary now supports Mark Rutte, on condition: no Hungarian role in NATO's "
            "Ukraine support (30/32) · reuters.com",
            "Türkiye now supports Mark Rutte (30/32) · politico.eu, reported",
        ]


async def test_a_rumour_does_not_alert_nor_its_undo_but_its_confirmation_does(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {RUMOUR} {POLITICO}")
        await bot.at(at(10, 2, 10))
        bot.clock.pinned_at = at(10, 2, 20)
        await bot.say("/undo")
        await bot.at(at(10, 3, 10))
        assert bot.slack.posts == []
        rows = await bot.service.store.alert_sends(RACE, "2024-04-03T08:00")
        assert {r.status for r in rows.values()} == {AlertStatus.SKIPPED}

        bot.clock.pinned_at = at(10, 3, 20)
        await bot.say(f"/endorse Türkiye Rutte {RUMOUR} {POLITICO}")
        bot.clock.pinned_at = at(10, 4, 20)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")  # the rumour, now reported
        await bot.at(at(10, 5, 10))
        [text] = bot.texts()  # one alert, for the count that moved: 28 to 29
        assert "Türkiye now supports Mark Rutte (29/32) · reuters.com, reported" in text


async def test_a_rumour_against_a_counted_position_does_not_alert_or_move_the_count(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say("/follow")
        bot.clock.pinned_at = at(10, 1, 5)
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")
        bot.clock.pinned_at = at(10, 2, 5)
        await bot.say(f"/oppose Türkiye Rutte {RUMOUR}")  # no word of it in the alerts
        await bot.say(f"/endorse Slovakia Rutte {POLITICO}")
        await bot.at(at(10, 3, 10))
        first, second = bot.texts()
        assert "Türkiye now supports Mark Rutte (29/32)" in first
        assert second.splitlines()[2:] == [
            "Slovakia now supports Mark Rutte (30/32) · politico.eu, reported"
        ]


async def test_the_digest_says_what_changed_with_its_condition_and_how_sure(tmp_path):
    async with running(tmp_path / "t.db", at(10, 0)) as bot:
        await bot.say(f"/endorse Türkiye Rutte {RUMOUR}")
        yesterday = SentDigest(date(2024, 4, 2), await bot.service.last_event_id())
        bot.clock.pinned_at = at(10, 1)
        await bot.say(f"/endorse Hungary Rutte {HU} {ON_RECORD} {REUTERS}")
        await bot.say(f"/endorse Türkiye Rutte {REUTERS}")  # the rumour, now reported
        await bot.say(f"/endorse Slovakia Rutte {RUMOUR}")
        await bot.say(f"/endorse Romania Rutte {ON_RECORD} {POLITICO}")
        digest = await DigestBuilder(bot.service).fired(at(10, 2), yesterday)
        changed = to_text(digest.reply).split("\n\n")[2].splitlines()[1:]
        assert changed == [
            "  Hungary: opposed → supports Mark Rutte, on condition: no Hungarian role in "
            "NATO's Ukraine support (reuters.com)",
            "  Romania: supported Klaus Iohannis → supports Mark Rutte (politico.eu)",
            "  Slovakia: no position → supports Mark Rutte (no source, rumoured)",
            "  Türkiye: supported (rumoured) → supports Mark Rutte (reuters.com, reported)",
        ]
        assert digest.reply.summary.startswith("Mark Rutte 28 → 31 (+3) since yesterday")
