"""Benchmark: /tally latency and recording throughput on a 100,000-event log, each beside a
bare-aiosqlite baseline measured in the same run; the reads that need the day the rule was
met (cold, after an undo or a back-fill, as_of, the digest), /holdouts beside a heavy read,
the timeline's data and start to first reply, and how those grow with the log (timed again at
a tenth and a hundredth of the events); the daily digest's fan-out to 1,000 channels beside
building it per channel. Not a test: run it and read the figures.

    python bench/bench.py [--events 100000] [--queries 2000] [--writes 5000] [--channels 1000]
        [--export-events 100000] [--growth 2]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.alerts import Alerts, minute_of  # noqa: E402
from bot.charts import timeline  # noqa: E402
from bot.clock import Clock  # noqa: E402
from bot.commands.grammar import MAX_COMMAND, find_command, parse_args, tokenize  # noqa: E402
from bot.commands.run import run_line  # noqa: E402
from bot.commands.spec import Context  # noqa: E402
from bot.digest import DigestBuilder  # noqa: E402
from bot.digest_records import Subscription  # noqa: E402
from bot.domain import Actor, Position, TallyError  # noqa: E402
from bot.racefile import builtin_races, load_race  # noqa: E402
from bot.render import discord_messages, to_slack  # noqa: E402
from bot.scheduling import DigestScheduler  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.service_alerts import Follow, Minute  # noqa: E402
from bot.store.store import Store  # noqa: E402

EDITOR = Actor("bench", "bench", "bench", is_editor=True)
TODAY = date(2024, 7, 1)
NEWS = "https://example.org/news"  # a recording with a source counts (one without is a rumour)


def fill(path: Path, race_id: str, members: list[str], events: int) -> None:
    """Write `events` random position events with plain sqlite3 (fast setup, same schema)."""
    rng = random.Random(1)
    positions = ["supports", "supports", "opposes", "undecided"]
    now = datetime.now(UTC).isoformat()
    rows = []
    for _ in range(events):
        position = rng.choice(positions)
        rows.append(
            (
                race_id,
                rng.choice(members),
                position,
                None if position == "undecided" else rng.choice(["rutte", "iohannis"]),
                (TODAY - timedelta(days=rng.randrange(400))).isoformat(),
                now,
                "bench",
                "filler",
                "filler",
                "https://example.org/news",
            )
        )
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return samples


ROWS: dict[str, tuple[float, float]] = {}  # every row reported: (p50, p99) in ms, by name


def report(name: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = percentile(samples, 0.5) * 1e3, percentile(samples, 0.99) * 1e3
    print(f"  {name:<44} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    ROWS[name] = p50, p99
    return p50, p99


async def bench_tally(service: Service, path: Path, queries: int) -> None:
    race_id = service.race.id
    bare = await aiosqlite.connect(path)
    columns = "e.id, e.race, e.member, e.position, e.candidate, e.happened_on, e.recorded_at"

    async def bare_query():
        await bare.execute_fetchall(
            f"SELECT {columns}, e.actor_platform, e.actor_id, e.actor_name, e.source, e.note,"
            " e.reverts FROM current_positions AS c JOIN events AS e ON e.id = c.event_id"
            " WHERE c.race = ?",
            (race_id,),
        )

    ctx = Context(service, EDITOR)

    async def command():
        await run_line(ctx, "/tally")

    for fn in (bare_query, service.tally, command):  # warm up
        await timed(fn, 50)
    print("/tally latency")
    _, bare_p99 = report(
        "baseline: bare aiosqlite query of the rows", await timed(bare_query, queries)
    )
    _, tally_p99 = report("service.tally()", await timed(service.tally, queries))
    _, command_p99 = report(
        "/tally command (parse, tally, countdown, reply)", await timed(command, queries)
    )
    print(f"  ratio service p99 / bare p99: {tally_p99 / bare_p99:.2f}x (target <= 3x)")
    print(f"  ratio command p99 / bare p99: {command_p99 / bare_p99:.2f}x")
    await bare.close()


async def bench_writes(service: Service, path: Path, writes: int, writers: int = 100) -> None:
    # The baseline writes the same rows to the same schema (triggers and indexes included),
    # one autocommitted INSERT a row: what a recording costs SQLite, without tallybot.
    bare_path = path.with_name("bare.db")
    await (await Store.open(bare_path)).close()
    bare = await aiosqlite.connect(bare_path, isolation_level=None)
    await bare.execute("PRAGMA synchronous = NORMAL")
    now = datetime.now(UTC).isoformat()
    codes = [m.code for m in service.race.members]
    start = time.perf_counter()
    for i in range(writes):
        await bare.execute(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source, note) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                service.race.id,
                codes[i % 32],
                "supports",
                "rutte",
                TODAY.isoformat(),
                now,
                "b",
                "b",
                "b",
                None,
                None,
            ),
        )
    bare_rate = writes / (time.perf_counter() - start)
    hop_rate, batched_rate = await bare_writers(bare, service.race.id, codes, now, writes, writers)
    await bare.close()

    members = service.race.members
    rutte = service.roster.candidate("rutte")
    queue = list(range(writes))

    async def writer():
        while queue:
            i = queue.pop()
            member = members[i % len(members)]
            await service.record(EDITOR, member, Position.SUPPORTS, rutte, source=NEWS)

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    rate = writes / (time.perf_counter() - start)
    print(f"recording throughput ({writes} recordings)")
    print(f"  baseline: bare aiosqlite INSERT loop, same schema {bare_rate:8.0f} /s")
    print(f"  service.record, {writers} concurrent writers          {rate:8.0f} /s")
    print(f"  ratio: {rate / bare_rate:.2f}x of the bare rate (target >= 0.5x)")
    print(f"  bare, {writers} writers, an INSERT a hop to the thread   {hop_rate:8.0f} /s")
    print(f"  bare, {writers} writers, queued INSERTs in one hop       {batched_rate:8.0f} /s")
    print(f"  batching's gain: {batched_rate / hop_rate:.2f}x the rate of a hop each")


async def bare_writers(
    bare: aiosqlite.Connection, race: str, codes: list[str], now: str, writes: int, writers: int
) -> tuple[float, float]:
    """What batching queued recordings into one hop to the database thread would save: the
    bare INSERT from `writers` concurrent writers, a hop each, then those queued meanwhile
    sent in one hop (executemany: still a statement and a transaction each)."""
    sql = (
        "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
        " actor_platform, actor_id, actor_name) VALUES (?, ?, 'supports', 'rutte', ?, ?, 'b',"
        " 'b', 'b')"
    )
    rows = [(race, codes[i % len(codes)], TODAY.isoformat(), now) for i in range(writes)]

    async def one_each() -> None:
        while rows:
            await bare.execute(sql, rows.pop())

    start = time.perf_counter()
    await asyncio.gather(*(one_each() for _ in range(writers)))
    hop_rate = writes / (time.perf_counter() - start)

    rows[:] = [(race, codes[i % len(codes)], TODAY.isoformat(), now) for i in range(writes)]
    queued: list[tuple[tuple, asyncio.Future]] = []
    wake = asyncio.Event()

    async def drain() -> None:
        while True:
            await wake.wait()
            wake.clear()
            batch, queued[:] = queued[:], []
            await bare.executemany(sql, [params for params, _ in batch])
            for _, done in batch:
                done.set_result(None)

    async def queue_each() -> None:
        while rows:
            done = asyncio.get_running_loop().create_future()
            queued.append((rows.pop(), done))
            wake.set()
            await done

    drainer = asyncio.create_task(drain())
    start = time.perf_counter()
    await asyncio.gather(*(queue_each() for _ in range(writers)))
    batched_rate = writes / (time.perf_counter() - start)
    drainer.cancel()
    return hop_rate, batched_rate


async def bench_tally_once_met(service: Service, rounds: int = 200) -> None:
    """Once the rule is met, /tally says the day it was met: a replay of the log, kept between
    commands so that a recording costs only the events it adds."""
    ctx = Context(service, EDITOR)
    reply = await run_line(ctx, "/countdown")
    assert "reached unanimity" in reply.sections[0].lines[0], "the writes should meet the rule"
    after_write = []
    for i in range(rounds):
        await run_line(ctx, f"/endorse {service.race.members[i % 32].code} Rutte source:{NEWS}")
        start = time.perf_counter()
        await run_line(ctx, "/tally")
        after_write.append(time.perf_counter() - start)
    print(f"/tally once the rule is met, right after a recording ({rounds} rounds)")
    report("/tally command", after_write)


async def bare_tally_query(path: Path, race_id: str, queries: int) -> list[float]:
    """The baseline of every read below: the rows of /tally, read by bare aiosqlite."""
    bare = await aiosqlite.connect(path)
    try:

        async def query():
            await bare.execute_fetchall(
                "SELECT e.* FROM current_positions AS c JOIN events AS e ON e.id = c.event_id"
                " WHERE c.race = ?",
                (race_id,),
            )

        await timed(query, 50)
        return await timed(query, queries)
    finally:
        await bare.close()


def beside(name: str, samples: list[float], base_p99: float) -> None:
    _, p99 = report(name, samples)
    print(f"  {'':44} p99 {p99 / base_p99:5.1f}x the bare query's")


async def open_service(path: Path, race) -> Service:
    service = Service(await Store.open(path), race, Clock(ZoneInfo(race.timezone), TODAY))
    await service.start()  # which warms the replay in the background
    return service


FIRST = "/tally, first command of a new service"
GROWN = (  # the rows whose growth with the log is printed
    FIRST,
    "start (open, start, warm) to first /tally reply",
    "/tally right after a back-filled recording",
    "/tally right after an /undo",
    "the /undo itself",
    "/digest right after a recording",
    "/tally as_of: (today, yesterday, ...)",
    "/chart timeline's data (no drawing)",
    "/chart timeline, drawn (5 rounds)",
    "/holdouts, idle",
)


async def met_reads_at(race, folder: Path, events: int) -> dict[str, tuple[float, float]]:
    """The reads that need the met day on a log of `events` (every shipped race loaded), once
    the rule is met: their rows (p50, p99)."""
    path = folder / f"growth-{events}.db"
    await (await Store.open(path)).close()
    fill(path, race.id, [m.code for m in race.members], events)
    service = await open_service(path, race)
    for other in (load_race(r) for r in builtin_races() if r != race.id):
        await Service(service.store, other, Clock(ZoneInfo(other.timezone), TODAY)).start(True)
    rutte = service.roster.candidate("Rutte")
    for member in race.members:
        await service.record(EDITOR, member, Position.SUPPORTS, rutte, source=NEWS)
    await run_line(Context(service, EDITOR), "/tally")  # as the main run has: the met day known
    print(f"--- the same reads at {events:,} events")
    ROWS.clear()
    await bench_met_reads(service, path)
    await service.store.close()
    return dict(ROWS)


def print_growth(rows_at: dict[int, dict[str, tuple[float, float]]]) -> None:
    sizes = sorted(rows_at)
    print("growth with the log (p50 in ms at each size; per 10x of events, from the smallest)")
    print(f"  {'':44} " + "".join(f"{n:>11,}" for n in sizes) + "   per 10x")
    for name in GROWN:
        p50s = [rows_at[n][name][0] for n in sizes]
        per_10x = (p50s[-1] / p50s[0]) ** (1 / math.log10(sizes[-1] / sizes[0]))
        print(f"  {name:<44} " + "".join(f"{p:11.3f}" for p in p50s) + f"   {per_10x:5.2f}x")


async def bench_met_reads(service: Service, path: Path, rounds: int = 20) -> None:
    """The reads that need the day the rule was met (the writes met it), beside the bare
    query: in a new service (start to first reply too), right after an undo or a back-filled
    recording, as_of, the digest after a recording; /holdouts beside a heavy read; the data of
    /chart timeline."""
    race, ctx = service.race, Context(service, EDITOR)
    base = await bare_tally_query(path, race.id, 2000)
    _, base_p99 = report("baseline: bare aiosqlite query of /tally's rows", base)
    print(f"reads once the rule is met ({rounds} rounds each unless said)")

    first_query = []
    for _ in range(rounds):
        bare = await aiosqlite.connect(path)
        start = time.perf_counter()
        await bare.execute_fetchall(
            "SELECT e.* FROM current_positions AS c JOIN events AS e ON e.id = c.event_id"
            " WHERE c.race = ?",
            (race.id,),
        )
        first_query.append(time.perf_counter() - start)
        await bare.close()
    _, first_p99 = report("baseline: the first bare query on a new connection", first_query)

    await service.replays_kept()  # in the file, as a stop leaves them (or 30 s after a fold)
    cold, first = [], []
    for from_start, out in ((False, cold), (True, first)):
        for _ in range(rounds):
            start = time.perf_counter()
            fresh = await open_service(path, race)
            opened = time.perf_counter()
            await run_line(Context(fresh, EDITOR), "/tally")
            out.append(time.perf_counter() - (start if from_start else opened))
            await fresh.store.close()
    beside("/tally, first command of a new service", cold, base_p99)
    print(f"  {'':44} p99 {ROWS[FIRST][1] / first_p99:5.1f}x the first bare query's")
    report("start (open, start, warm) to first /tally reply", first)

    after_undo, after_back_fill, digest, undos, back_fills = [], [], [], [], []
    for i in range(rounds):
        member = race.members[i % len(race.members)].code
        back = (TODAY - timedelta(days=1 + i * 7)).isoformat()
        start = time.perf_counter()
        await run_line(ctx, f"/endorse {member} Rutte on:{back}")
        back_fills.append(time.perf_counter() - start)
        start = time.perf_counter()
        await run_line(ctx, "/tally")
        after_back_fill.append(time.perf_counter() - start)
        start = time.perf_counter()
        await run_line(ctx, "/undo")
        undos.append(time.perf_counter() - start)
        start = time.perf_counter()
        await run_line(ctx, "/tally")
        after_undo.append(time.perf_counter() - start)
        await run_line(ctx, f"/endorse {member} Rutte")
        start = time.perf_counter()
        await DigestBuilder(service).preview(TODAY)
        digest.append(time.perf_counter() - start)
    beside("/tally right after a back-filled recording", after_back_fill, base_p99)
    beside("/tally right after an /undo", after_undo, base_p99)
    report("the back-filled /endorse itself", back_fills)  # which brings the tally up to date
    report("the /undo itself", undos)
    beside("/digest right after a recording", digest, base_p99)

    as_of = []
    for i in range(rounds):
        day = TODAY - timedelta(days=i % 2)  # met on the first, a new day's replay on the next
        start = time.perf_counter()
        await run_line(ctx, f"/tally as_of:{day.isoformat()}")
        as_of.append(time.perf_counter() - start)
    beside("/tally as_of: (today, yesterday, ...)", as_of, base_p99)

    async def timeline_data():
        candidates = service.roster.candidate_list
        timeline(await service.changes(TODAY), race, candidates, TODAY, False)

    beside("/chart timeline's data (no drawing)", await timed(timeline_data, rounds), base_p99)

    async def chart():
        await run_line(ctx, "/chart timeline")

    await chart()  # a process's first chart imports matplotlib and its fonts: about 2 s, once
    beside("/chart timeline, drawn (5 rounds)", await timed(chart, 5), base_p99)

    async def holdouts():
        await run_line(ctx, "/holdouts")

    await timed(holdouts, 20)
    idle, _ = report("/holdouts, idle", await timed(holdouts, 200))
    for name, heavy in (
        ("an /export csv", lambda: service.export("csv")),
        ("timelines", lambda: timed(timeline_data, 5)),
    ):
        task = asyncio.create_task(heavy())
        during = []
        while not task.done():
            during.extend(await timed(holdouts, 1))
        done = await task
        if hasattr(done, "path"):
            done.path.unlink()
        p50, _ = report(f"/holdouts during {name} ({len(during)})", during)
        print(f"  {'':44} p50 {p50 / idle:5.1f}x idle (target <= 2x)")


class RenderingPlatform:
    """Renders each post as its adapter does, then drops it: the digest's cost, not the
    network's."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.render = to_slack if name == "slack" else discord_messages
        self.posts = 0

    async def post(self, channel: str, reply, skip: int = 0, posted=None) -> None:
        self.render(reply)
        self.posts += 1


async def bench_digest(service: Service, channels: int) -> None:
    now = service.clock.now()
    due = (now - timedelta(minutes=1)).time().replace(second=0, microsecond=0, tzinfo=None)
    actor = Actor("bench", "bench", "bench", is_editor=True)
    platforms = ("slack", "discord")
    for i in range(channels):
        sub = Subscription(
            service.race.id, platforms[i % 2], f"C{i}", due, service.race.timezone,
            since=now - timedelta(days=1),
        )  # fmt: skip
        await service.store.subscribe(sub, actor)
    print(f"daily digest fan-out ({channels} channels)")

    sample = 20
    await DigestBuilder(service).preview(TODAY)  # warm: the one replay of the log is cached
    start = time.perf_counter()
    for i in range(sample):  # the baseline: build the digest for each channel, as a naive bot
        RenderingPlatform(platforms[i % 2]).render(await DigestBuilder(service).preview(TODAY))
    naive = (time.perf_counter() - start) / sample * channels
    print(f"  baseline: build and render per channel ({sample}, scaled) {naive * 1e3:8.1f} ms")

    senders = {name: RenderingPlatform(name) for name in platforms}
    start = time.perf_counter()
    await DigestScheduler(service, senders, attempts=1).run_due(now)  # a failure is a bug here
    fan_out = time.perf_counter() - start
    sent = sum(p.posts for p in senders.values())
    if sent != channels:
        raise SystemExit(f"the digest reached {sent} of {channels} channels; see the log above")
    print(f"  run_due: build once, claim, render, post {sent}, record {fan_out * 1e3:8.1f} ms")
    print(f"  ratio: {fan_out / naive:.2f}x the per-channel baseline")


async def bench_alerts(service: Service, channels: int) -> None:
    """One change to `channels` following channels: claimed, rendered and handed to a fake
    send per channel, beside building and rendering the alert per channel."""
    platforms = ("slack", "discord")
    since = datetime.now(UTC)
    for i in range(channels):
        await service.store.follow(
            Follow(service.race.id, platforms[i % 2], f"A{i}", since), EDITOR
        )
    member = service.race.members[0]
    current = (await service.store.current(service.race.id)).get(member.code)
    flip = (
        Position.OPPOSES if current and current.position is Position.SUPPORTS else Position.SUPPORTS
    )
    source = "https://www.reuters.com/world/europe/"
    done = await service.record(
        EDITOR, member, flip, service.roster.candidate("rutte"), source=source
    )
    minute = Minute(minute_of(done.event.recorded_at), (done.event.id,))
    print(f"alert fan-out ({channels} channels)")

    sample = 20
    start = time.perf_counter()
    for i in range(sample):  # the baseline: build the alert for each channel, as a naive bot
        posts = await Alerts(service, {})._compose(minute)
        for reply in posts.values():
            RenderingPlatform(platforms[i % 2]).render(reply)
    naive = (time.perf_counter() - start) / sample * channels
    print(f"  baseline: build and render per channel ({sample}, scaled) {naive * 1e3:8.1f} ms")

    senders = {name: RenderingPlatform(name) for name in platforms}
    due = done.event.recorded_at + timedelta(minutes=1, seconds=10)
    start = time.perf_counter()
    await Alerts(service, senders, attempts=1).run_due(due)  # a failure is a bug here
    fan_out = time.perf_counter() - start
    sent = sum(p.posts for p in senders.values())
    if sent != channels:
        raise SystemExit(f"the alert reached {sent} of {channels} channels; see the log above")
    print(f"  run_due: build once, claim, render, post {sent}, record {fan_out * 1e3:8.1f} ms")
    print(f"  ratio: {fan_out / naive:.2f}x the per-channel baseline")


def bench_parse(service: Service, rounds: int = 20) -> None:
    """Parsing runs on the event loop, so the worst line a user may type (MAX_COMMAND
    characters) must parse about as fast as a normal one: both, measured here."""

    def parse(line: str) -> None:
        tokens = tokenize(line)
        try:
            command, used = find_command([t.word for t in tokens[:2]])
            parse_args(service, command, tokens[used:], line)
        except TallyError:
            pass  # the worst lines are refused: what counts is how long that takes

    def filled(head: str, word: str) -> str:
        return head + word * ((MAX_COMMAND - len(head)) // len(word))

    worst = {
        "/chart + 'a ' x 995": filled("/chart ", "a "),
        "/endorse + 995 one-letter words": filled("/endorse ", "x "),
        "/endorse + near names ('Estonai ')": filled("/endorse ", "Estonai "),
        "/endorse + real names ('North Macedonia ')": filled("/endorse ", "North Macedonia "),
        "/endorse + words that fold to nothing ('- ')": filled("/endorse ", "- "),
        "/endorse + quoted pairs ('\"a b\" ')": filled("/endorse ", '"a b" '),
        "/holdouts + near names ('Rute ')": filled("/holdouts ", "Rute "),
        "/candidate add + 'a ' x 992": filled("/candidate add ", "a "),
        "/history + 'a ' x 995": filled("/history ", "a "),
    }

    def samples(line: str) -> list[float]:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            parse(line)
            times.append(time.perf_counter() - start)
        return times

    print(f"parsing one typed line ({rounds} rounds each)")
    normal, _ = report(
        "baseline: a normal /endorse line",
        samples("/endorse North Macedonia Rutte on:2024-04-02 source:https://example.org/news"),
    )
    slowest = max(report(name, samples(line))[0] for name, line in worst.items())
    print(f"  slowest p50 of {MAX_COMMAND:,} characters: {slowest:.2f} ms (target < 20 ms), "
          f"{slowest / normal:.0f}x the normal line")  # fmt: skip


def rss(pid: str = "self") -> int:
    """A process's resident memory now, in bytes (Linux); 0 once it has gone."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def with_children() -> int:
    """This process's resident memory and its child processes' (the export's worker)."""
    children = []
    for task in Path("/proc/self/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:
            pass  # a thread that has ended
    return rss() + sum(map(rss, children))


class PeakRss:
    """The highest resident memory while it runs, its child processes' included, sampled every
    5 ms by a thread."""

    def __init__(self) -> None:
        self.peak = with_children()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, with_children())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


async def bench_export(race, folder: Path, events: int, rounds: int = 3) -> None:
    """/export of `events` events with 500-character notes: time and peak memory above the
    idle process (its worker process's included), beside plain sqlite3 streaming the same
    rows to csv.writer."""
    path = folder / "export.db"
    await (await Store.open(path)).close()
    rng, now, members = random.Random(2), datetime.now(UTC).isoformat(), race.members
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO events (race, member, position, candidate, happened_on, recorded_at,"
            " actor_platform, actor_id, actor_name, source, note)"
            " VALUES (?, ?, 'supports', 'rutte', ?, ?, 'bench', 'filler', 'filler', ?, ?)",
            (
                (race.id, rng.choice(members).code, (TODAY - timedelta(days=rng.randrange(400)))
                 .isoformat(), now, "https://example.org/news", "n" * 500)
                for _ in range(events)
            ),
        )  # fmt: skip
    store = await Store.open(path)
    service = Service(store, race, Clock(ZoneInfo(race.timezone), TODAY))
    await service.start()
    print(f"/export of {events:,} events with 500-character notes")

    def bare() -> None:
        with sqlite3.connect(path) as db, open(folder / "bare.csv", "w", newline="") as out:
            csv.writer(out).writerows(db.execute("SELECT * FROM events ORDER BY id"))

    runs = {
        "baseline: sqlite3 rows to csv.writer": lambda: asyncio.to_thread(bare),
        "/export csv": lambda: service.export("csv"),
        "/export csv.gz": lambda: service.export("csv.gz"),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):  # in turns, so that each meets the same disk and load
        for name, run in runs.items():
            idle, peak, start = rss(), PeakRss(), time.perf_counter()
            done = await run()
            elapsed, high = time.perf_counter() - start, peak.stop()
            file = done.path if done else folder / "bare.csv"
            size = file.stat().st_size
            file.unlink()
            times[name].append(elapsed)
            print(
                f"  {name:38} {elapsed * 1e3:7.0f} ms  peak {(high - idle) / 1e6:6.1f} MB above"
                f" idle  file {size / 1e6:5.1f} MB"
            )
    base_p50, base_p99 = report("baseline: sqlite3 rows to csv.writer", times[next(iter(runs))])
    p50, p99 = report("/export csv", times["/export csv"])
    print(f"  ratio /export csv / baseline: p50 {p50 / base_p50:.2f}x, p99 {p99 / base_p99:.2f}x"
          " (target <= 1.5x)")  # fmt: skip
    export = asyncio.create_task(service.export("csv"))
    waits = await timed(service.tally, 20)
    print(f"  /tally while an export runs              max {max(waits) * 1e3:7.2f} ms")
    (await export).path.unlink()
    await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--writes", type=int, default=5_000)
    parser.add_argument("--channels", type=int, default=1_000)
    parser.add_argument("--export-events", type=int, default=100_000)
    parser.add_argument(
        "--growth",
        type=int,
        default=2,
        help="sizes below --events (a tenth, a hundredth, ...) to time the met reads at too",
    )
    args = parser.parse_args()
    race = load_race("nato-sg-2024")
    with tempfile.TemporaryDirectory() as tmp:
        await bench_export(race, Path(tmp), args.export_events)  # first: a fresh process's memory
        path = Path(tmp) / "bench.db"
        store = await Store.open(path)
        await store.close()
        fill(path, race.id, [m.code for m in race.members], args.events)
        store = await Store.open(path)
        service = Service(store, race, Clock(ZoneInfo(race.timezone), TODAY))
        await service.start()
        # The database holds every shipped race, as a default config follows them all.
        for other in (load_race(r) for r in builtin_races() if r != race.id):
            await Service(store, other, Clock(ZoneInfo(other.timezone), TODAY)).start(demo=True)
        with sqlite3.connect(path) as db:
            (count,) = db.execute("SELECT count(*) FROM events").fetchone()
        python = sys.version.split()[0]
        races = ", ".join(builtin_races())
        print(
            f"database: {count:,} events of {races}; SQLite {sqlite3.sqlite_version},"
            f" Python {python}"
        )
        await bench_tally(service, path, args.queries)
        await bench_writes(service, path, args.writes)
        await bench_tally_once_met(service)
        await bench_met_reads(service, path)
        await bench_digest(service, args.channels)
        await bench_alerts(service, args.channels)
        bench_parse(service)
        await store.close()
        # Each size on a log of its own in the same state (no other benchmark's writes).
        sizes = (args.events // 10**k for k in range(args.growth + 1))
        rows_at = {n: await met_reads_at(race, Path(tmp), n) for n in sizes if n >= 1_000}
        if len(rows_at) > 1:
            print_growth(rows_at)


if __name__ == "__main__":
    asyncio.run(main())
