"""How sure a recording is and on what condition: stored on the event (and a proposal), an
older database read by its sources, the condition shown with the position."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from conftest import make_service

from bot.adapters.console import Console
from bot.domain import Actor, Confidence
from bot.service_proposals import Reviewer
from bot.store.schema import MIGRATIONS, split_statements
from bot.text import MAX_NOTE

EDITOR = Actor("console", "ed", "Edna", is_editor=True)
READER = Actor("console", "rita", "Rita")
HU = "condition:no Hungarian role in NATO's Ukraine support"


async def test_confidence_defaults_by_source_and_is_kept_when_given(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    await say("/endorse Türkiye Rutte source:https://example.org/tr")
    await say("/endorse Slovakia Rutte")
    await say("/endorse Sweden Rutte source:https://example.org/se confidence:on-record")
    sweden, slovakia, turkiye = await service.history(None, 3)
    assert turkiye.confidence is Confidence.REPORTED
    assert slovakia.confidence is Confidence.RUMOURED
    assert sweden.confidence is Confidence.ON_RECORD
    assert "is not one of on-record, reported, rumoured" in await say(
        "/endorse Italy Rutte confidence:sure"
    )


async def test_a_condition_is_shown_with_the_position(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    recorded = await say(f"/endorse Hungary Rutte source:https://example.org/hu {HU}")
    shown = "Hungary supports Mark Rutte, on condition: no Hungarian role in NATO's Ukraine support"
    assert shown in recorded
    assert shown in await say("/history Hungary")
    too_long = "x" * (MAX_NOTE + 1)
    assert f"The condition has {MAX_NOTE + 1} characters; keep it to {MAX_NOTE}." in await say(
        f"/endorse Hungary Rutte condition:{too_long}"
    )


async def test_a_readers_proposal_keeps_confidence_and_condition_when_approved(service, tmp_path):
    service.review_on("console", Reviewer())
    reader = Console(service, tmp_path / "files", actor=READER).handle
    editor = Console(service, tmp_path / "files", actor=EDITOR).handle
    await reader(f"/endorse Hungary Rutte source:https://example.org/hu confidence:on-record {HU}")
    assert "On condition: no Hungarian role" in await editor("/proposals")
    await editor("/approve 1")
    (event,) = await service.history(None, 1)
    assert event.confidence is Confidence.ON_RECORD
    assert event.condition == "no Hungarian role in NATO's Ukraine support"


async def test_an_older_databases_events_are_reported_with_a_source_rumoured_without(
    tmp_path: Path,
):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:11]:
            for statement in split_statements(step):
                db.execute(statement)
        db.execute("PRAGMA user_version = 11")
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source) VALUES ('nato-sg-2024', ?,"
            " 'supports', 'rutte', '2024-04-01', '2024-04-01T09:00:00+00:00', 'console', 'ed',"
            " 'Edna', ?)",
            [("TR", "https://example.org/tr"), ("SK", None)],
        )
    db.close()
    service = await make_service(path, demo=False)
    try:
        slovakia, turkiye = await service.history(None, 2)
        assert (turkiye.member, turkiye.confidence) == ("TR", Confidence.REPORTED)
        assert (slovakia.member, slovakia.confidence) == ("SK", Confidence.RUMOURED)
    finally:
        await service.store.close()


async def test_the_export_has_each_events_confidence_and_condition(service, tmp_path):
    say = Console(service, tmp_path / "files", actor=EDITOR).handle
    await say(f"/endorse Hungary Rutte source:https://example.org/hu confidence:on-record {HU}")
    export = await service.export("csv")
    try:
        with export.path.open(newline="") as f:
            *_, last = csv.DictReader(f)
    finally:
        export.path.unlink()
    assert (last["member"], last["confidence"], last["condition"]) == (
        "HU",
        "on-record",
        "no Hungarian role in NATO's Ukraine support",
    )


async def test_history_names_the_reader_who_proposed_and_the_editor_who_approved(service, tmp_path):
    service.review_on("console", Reviewer())
    reader = Console(service, tmp_path / "files", actor=READER).handle
    editor = Console(service, tmp_path / "files", actor=EDITOR).handle
    await reader("/endorse Türkiye Rutte source:https://example.org/tr")
    await editor("/approve 1")
    await editor("/endorse Slovakia Rutte source:https://example.org/sk")
    slovakia, turkiye = (await editor("/history limit:2")).splitlines()[2:4]
    assert slovakia.endswith("example.org, reported · recorded by Edna")
    assert turkiye.endswith("example.org, reported · proposed by Rita, approved by Edna")
