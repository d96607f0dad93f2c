"""The schema: its migrations, applied in order and versioned by `PRAGMA user_version`, and
the check that a file is one this tallybot may open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version). Append only.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        position TEXT NOT NULL CHECK (position IN ('supports', 'opposes', 'undecided', 'undo')),
        candidate TEXT,
        happened_on TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        source TEXT,
        note TEXT,
        reverts INTEGER UNIQUE REFERENCES events (id)
    );
    CREATE INDEX events_by_member ON events (race, member, happened_on, id);
    CREATE INDEX events_by_actor ON events (actor_platform, actor_id, race, id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

    -- Each member's latest position by the date it happened (ties: the later recording).
    CREATE TABLE current_positions (
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        event_id INTEGER NOT NULL REFERENCES events (id),
        happened_on TEXT NOT NULL,
        PRIMARY KEY (race, member)
    ) WITHOUT ROWID;
    CREATE TRIGGER events_position AFTER INSERT ON events WHEN NEW.position != 'undo'
    BEGIN
        INSERT INTO current_positions (race, member, event_id, happened_on)
        VALUES (NEW.race, NEW.member, NEW.id, NEW.happened_on)
        ON CONFLICT (race, member) DO UPDATE
            SET event_id = excluded.event_id, happened_on = excluded.happened_on
            WHERE excluded.happened_on >= current_positions.happened_on;
    END;
    CREATE TRIGGER events_undo AFTER INSERT ON events WHEN NEW.position = 'undo'
    BEGIN
        DELETE FROM current_positions WHERE race = NEW.race AND member = NEW.member;
        INSERT INTO current_positions (race, member, event_id, happened_on)
        SELECT race, member, id, happened_on FROM events AS e
        WHERE e.race = NEW.race AND e.member = NEW.member AND e.position != 'undo'
          AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)
        ORDER BY e.happened_on DESC, e.id DESC LIMIT 1;
    END;

    CREATE TABLE candidates (
        race TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        member TEXT,
        aliases TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        withdrawn_on TEXT,
        PRIMARY KEY (race, key)
    );
    CREATE TABLE seeded (race TEXT PRIMARY KEY, seeded_at TEXT NOT NULL);
    """,
    # The daily digest: subscriptions, one send record per channel and day, and what each
    # day's digest covered. Times are UTC ISO strings, so they compare as text.
    """
    CREATE TABLE digest_subscriptions (
        race TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        at TEXT NOT NULL,  -- HH:MM, local time in `timezone`
        timezone TEXT NOT NULL,  -- an IANA name
        since TEXT NOT NULL,  -- subscribed or changed then: earlier fire times are not due
        actor_platform TEXT NOT NULL,  -- who subscribed it; 'config' for the config file's
        actor_id TEXT NOT NULL,
        PRIMARY KEY (race, platform, channel)
    );
    -- Claimed by one INSERT before posting, so each (channel, day) is sent once.
    CREATE TABLE digest_sends (
        race TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        day TEXT NOT NULL,  -- the local date in the subscription's time zone
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        claimed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        PRIMARY KEY (race, platform, channel, day)
    );
    CREATE INDEX digest_sends_by_day ON digest_sends (race, day);
    -- The last event each day's digest covered; the next digest lists the events after it.
    CREATE TABLE digest_builds (
        race TEXT NOT NULL,
        day TEXT NOT NULL,
        last_event INTEGER NOT NULL,
        built_at TEXT NOT NULL,
        PRIMARY KEY (race, day)
    );
    """,
    # 3: the latest id of a race (a digest's bound) and id ranges without scanning the log.
    """
    CREATE INDEX events_by_race ON events (race, id);
    """,
    # 4: candidates become an append-only log too, so a look back sees the candidates of
    # that day and nothing about them is overwritten.
    """
    CREATE TABLE candidate_events (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        key TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('add', 'withdraw', 'return')),
        name TEXT,  -- for 'add'
        member TEXT,  -- for 'add': the nominating member
        aliases TEXT NOT NULL DEFAULT '',
        happened_on TEXT,  -- NULL: in the race from its start (the race file's candidates)
        recorded_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL
    );
    CREATE INDEX candidate_events_by_race ON candidate_events (race, key, action);
    CREATE TRIGGER candidate_events_no_update BEFORE UPDATE ON candidate_events
        BEGIN SELECT RAISE(ABORT, 'the candidate log is append-only'); END;
    CREATE TRIGGER candidate_events_no_delete BEFORE DELETE ON candidate_events
        BEGIN SELECT RAISE(ABORT, 'the candidate log is append-only'); END;
    INSERT INTO candidate_events (race, key, action, name, member, aliases, happened_on,
                                  recorded_at, actor_platform, actor_id, actor_name)
        SELECT race, key, 'add', name, member, aliases, NULL, added_at, 'migration', '', ''
        FROM candidates ORDER BY added_at, key;
    INSERT INTO candidate_events (race, key, action, happened_on, recorded_at,
                                  actor_platform, actor_id, actor_name)
        SELECT race, key, 'withdraw', withdrawn_on, added_at, 'migration', '', ''
        FROM candidates WHERE withdrawn_on IS NOT NULL;
    DROP TABLE candidates;
    """,
    # 5: INSERT OR REPLACE deletes the row it replaces without firing a DELETE trigger, so
    # an insert that names an existing id is refused before it can rewrite the log.
    """
    CREATE TRIGGER events_no_replace BEFORE INSERT ON events
        WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER candidate_events_no_replace BEFORE INSERT ON candidate_events
        WHEN EXISTS (SELECT 1 FROM candidate_events WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'the candidate log is append-only'); END;
    """,
    # 6: a digest covers what was recorded up to its own fire time, so builds are kept per fire
    # instant, not per day; each send keeps the last event it covered, so a channel's next
    # digest lists what came after its own previous one; 'rejected': the platform refused the
    # channel for good (the bot is not in it, it was deleted), so that day is not retried.
    """
    CREATE TABLE digest_sends_6 (
        race TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        day TEXT NOT NULL,  -- the local date in the subscription's time zone
        status TEXT NOT NULL
            CHECK (status IN ('sending', 'sent', 'failed', 'skipped', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        claimed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        covered_to INTEGER,  -- once sent: the last event the digest covered
        PRIMARY KEY (race, platform, channel, day)
    );
    INSERT INTO digest_sends_6 (race, platform, channel, day, status, attempts, last_error,
                                claimed_at, updated_at, sent_at, covered_to)
        SELECT s.race, s.platform, s.channel, s.day, s.status, s.attempts, s.last_error,
               s.claimed_at, s.updated_at, s.sent_at,
               (SELECT b.last_event FROM digest_builds AS b
                WHERE b.race = s.race AND b.day = s.day AND s.status = 'sent')
        FROM digest_sends AS s;
    DROP TABLE digest_sends;
    ALTER TABLE digest_sends_6 RENAME TO digest_sends;
    CREATE INDEX digest_sends_by_day ON digest_sends (race, day);
    DROP TABLE digest_builds;
    CREATE TABLE digest_builds (
        race TEXT NOT NULL,
        fire_at TEXT NOT NULL,  -- the UTC instant the digest fired
        last_event INTEGER NOT NULL,
        built_at TEXT NOT NULL,
        PRIMARY KEY (race, fire_at)
    );
    """,
    # 7: a digest long enough for several messages counts those the platform accepted, so a
    # retry (in this process or after a crash) resumes after them instead of repeating them.
    """
    ALTER TABLE digest_sends ADD COLUMN posted INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: the position 'abstains' (a CHECK constraint cannot be altered, so the log is copied
    # to a table that allows it, ids and all, and its indexes and triggers are made again);
    # and each channel's default race, for an instance that follows several.
    """
    CREATE TABLE events_8 (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        position TEXT NOT NULL
            CHECK (position IN ('supports', 'opposes', 'abstains', 'undecided', 'undo')),
        candidate TEXT,
        happened_on TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        source TEXT,
        note TEXT,
        reverts INTEGER UNIQUE REFERENCES events (id)
    );
    INSERT INTO events_8 SELECT id, race, member, position, candidate, happened_on, recorded_at,
        actor_platform, actor_id, actor_name, source, note, reverts FROM events ORDER BY id;
    DROP TABLE events;
    ALTER TABLE events_8 RENAME TO events;
    CREATE INDEX events_by_member ON events (race, member, happened_on, id);
    CREATE INDEX events_by_actor ON events (actor_platform, actor_id, race, id);
    CREATE INDEX events_by_race ON events (race, id);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_replace BEFORE INSERT ON events
        WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_position AFTER INSERT ON events WHEN NEW.position != 'undo'
    BEGIN
        INSERT INTO current_positions (race, member, event_id, happened_on)
        VALUES (NEW.race, NEW.member, NEW.id, NEW.happened_on)
        ON CONFLICT (race, member) DO UPDATE
            SET event_id = excluded.event_id, happened_on = excluded.happened_on
            WHERE excluded.happened_on >= current_positions.happened_on;
    END;
    CREATE TRIGGER events_undo AFTER INSERT ON events WHEN NEW.position = 'undo'
    BEGIN
        DELETE FROM current_positions WHERE race = NEW.race AND member = NEW.member;
        INSERT INTO current_positions (race, member, event_id, happened_on)
        SELECT race, member, id, happened_on FROM events AS e
        WHERE e.race = NEW.race AND e.member = NEW.member AND e.position != 'undo'
          AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.reverts = e.id)
        ORDER BY e.happened_on DESC, e.id DESC LIMIT 1;
    END;
    CREATE TABLE channel_races (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        race TEXT NOT NULL,
        set_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        PRIMARY KEY (platform, channel)
    );
    """,
    # 9: anonymous rounds an editor records (/round): a UN straw poll's counts per candidate,
    # append-only like the log, an undo being a row that reverts one.
    """
    CREATE TABLE rounds (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        happened_on TEXT NOT NULL,
        name TEXT NOT NULL,
        counts TEXT NOT NULL,  -- JSON: [[candidate, encourage, discourage, no opinion], ...]
        veto_counts TEXT NOT NULL,  -- the same, of the veto members' coloured ballots
        source TEXT,
        recorded_at TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        reverts INTEGER UNIQUE REFERENCES rounds (id)
    );
    CREATE INDEX rounds_by_race ON rounds (race, happened_on, id);
    CREATE INDEX rounds_by_actor ON rounds (actor_platform, actor_id, race, id);
    CREATE TRIGGER rounds_no_update BEFORE UPDATE ON rounds
        BEGIN SELECT RAISE(ABORT, 'the rounds are append-only'); END;
    CREATE TRIGGER rounds_no_delete BEFORE DELETE ON rounds
        BEGIN SELECT RAISE(ABORT, 'the rounds are append-only'); END;
    CREATE TRIGGER rounds_no_replace BEFORE INSERT ON rounds
        WHEN EXISTS (SELECT 1 FROM rounds WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'the rounds are append-only'); END;
    """,
    # 10: alerts as it happens (/follow): the channels following a race, and one claim per
    # channel and minute of recordings, so each minute's alert is posted once.
    """
    CREATE TABLE alert_follows (
        race TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        since TEXT NOT NULL,
        actor_platform TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        stopped TEXT,  -- why the platform refused the channel; NULL while alerts go out
        PRIMARY KEY (race, platform, channel)
    );
    CREATE TABLE alert_sends (
        race TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        minute TEXT NOT NULL,  -- UTC, 'YYYY-MM-DDTHH:MM': when its events were recorded
        status TEXT NOT NULL
            CHECK (status IN ('sending', 'sent', 'failed', 'skipped', 'rejected')),
        events TEXT NOT NULL,  -- JSON: the ids of the events it covers
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        claimed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        PRIMARY KEY (race, platform, channel, minute)
    );
    CREATE INDEX alert_sends_by_minute ON alert_sends (race, minute);
    """,
    # 11: readers' proposals: a recording by someone who is not an editor, kept for an editor to
    # approve (then it is an event of the log, `event_id`) or reject (with the reason).
    """
    CREATE TABLE proposals (
        id INTEGER PRIMARY KEY,
        race TEXT NOT NULL,
        member TEXT NOT NULL,
        position TEXT NOT NULL CHECK (position IN ('supports', 'opposes', 'abstains', 'undecided')),
        candidate TEXT,
        happened_on TEXT NOT NULL,
        source TEXT,
        note TEXT,
        platform TEXT NOT NULL,  -- where it was proposed, and is reviewed
        channel TEXT NOT NULL,
        proposer_id TEXT NOT NULL,
        proposer_name TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
        decider_platform TEXT,
        decider_id TEXT,
        decider_name TEXT,
        decided_at TEXT,
        reason TEXT,  -- a rejection's
        event_id INTEGER REFERENCES events (id)  -- an approval's
    );
    CREATE INDEX proposals_by_proposer ON proposals (platform, proposer_id, status);
    CREATE INDEX proposals_by_status ON proposals (status, race, id);
    """,
    # 12: how sure a recording is, and the condition of a conditional position, on events and
    # proposals. An older event keeps NULL, read as its source says (reported with one,
    # rumoured without): the log is append-only, so no UPDATE fills it in.
    """
    ALTER TABLE events ADD COLUMN confidence TEXT
        CHECK (confidence IN ('on-record', 'reported', 'rumoured'));
    ALTER TABLE events ADD COLUMN condition TEXT;
    ALTER TABLE proposals ADD COLUMN confidence TEXT
        CHECK (confidence IN ('on-record', 'reported', 'rumoured'));
    ALTER TABLE proposals ADD COLUMN condition TEXT;
    """,
    # 13: where each proposal's review messages were posted, so each shows the decision in place
    # of its buttons however and wherever the proposal was decided, after a restart too; and
    # which proposal an event came from (who proposed it, for /history).
    """
    CREATE TABLE review_messages (
        id INTEGER PRIMARY KEY,
        proposal INTEGER NOT NULL REFERENCES proposals (id),
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        message TEXT NOT NULL,  -- Discord's message id, Slack's ts
        claimed_at TEXT,  -- a process is editing it; another may take over after a lease
        failures INTEGER NOT NULL DEFAULT 0,  -- edits that failed
        done_at TEXT,  -- it shows the decision, or failed too often and is left as it is
        UNIQUE (platform, channel, message)
    );
    CREATE INDEX review_messages_pending ON review_messages (platform, proposal)
        WHERE done_at IS NULL;
    CREATE INDEX proposals_by_event ON proposals (event_id) WHERE event_id IS NOT NULL;
    """,
    # 14: the replays' checkpoints (bot.replays), so a new process need not replay the log.
    """
    CREATE TABLE replay_checkpoints (
        race TEXT NOT NULL,
        replay TEXT NOT NULL,  -- what they replay: the confidences counted, the rule, the members
        seen INTEGER NOT NULL,  -- the last event id they count
        head TEXT NOT NULL,  -- JSON: each checkpoint's day and the day the rule was met by then
        stances TEXT NOT NULL,  -- JSON: each checkpoint's stances, read when a replay needs them
        PRIMARY KEY (race, replay)
    );
    """,
]


class StorageError(Exception):
    """The database file cannot be opened or used; the message says which and why."""


def probe(path: Path) -> None:
    """Read the file with plain sqlite3, changing nothing, and refuse one tallybot must not
    touch. (A failed `aiosqlite.connect` also leaves its thread to report to a closed loop.)"""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"Cannot open the database {path}: {exc}.") from None
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        tables = [name for (name,) in db.execute(_TABLES)]
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot use the database {path}: {exc}.") from None
    finally:
        db.close()
    check_schema(path, version, tables)


_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    " ORDER BY name LIMIT 4"
)


def check_schema(path: Path, version: int, tables: list[str]) -> None:
    """Refuse a file from a newer tallybot, or another application's (version 0 with tables
    of its own), in one line."""
    if version > len(MIGRATIONS):
        raise StorageError(
            f"{path} has schema version {version}, newer than this tallybot"
            f" ({len(MIGRATIONS)}); upgrade tallybot."
        )
    if version == 0 and tables:
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise StorageError(
            f"{path} is not a tallybot database (it has tables of its own: {shown}); "
            "give tallybot a new file with --db or the config's database."
        )


async def migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Bring the schema up to date in one transaction; the version is checked again inside
    it, in case another process changed the file since the probe."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        ((version,),) = await db.execute_fetchall("PRAGMA user_version")
        check_schema(path, version, [name for (name,) in await db.execute_fetchall(_TABLES)])
        for step in MIGRATIONS[version:]:
            # executescript would COMMIT first; run each statement in this transaction.
            for statement in split_statements(step):
                await db.execute(statement)
        # Foreign keys are off while migrating (a table is copied and dropped), so their
        # check runs once before the commit, as SQLite's own procedure for it says; only
        # after a migration, as it reads every table (0.1 s at 1M events).
        if MIGRATIONS[version:] and await db.execute_fetchall("PRAGMA foreign_key_check"):
            raise StorageError(f"Cannot migrate {path}: it fails its foreign-key check.")
        await db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise


def split_statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buffer.strip()[:60]}")
    return statements
