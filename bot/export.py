"""An export of the event log: the file's columns and formats, written a row at a time.

The log's export is written by a worker process (`python -m bot.export`): SQLite reads each
row as the file shows it and csv.writer writes it, both in C, and in another process, so the
bot's own threads never wait for the GIL while a long export runs.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from bot.domain import Round

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # the worker runs this same code


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    path: Path  # a temporary file: whoever sends it removes it
    events: int


EXPORT_COLUMNS = [
    "id", "race", "member", "member_name", "position", "candidate", "candidate_name",
    "happened_on", "recorded_at", "recorded_by_platform", "recorded_by_id", "recorded_by_name",
    "source", "note", "reverts", "confidence", "condition",
]  # fmt: skip


EXPORT_FORMATS = ("csv", "json", "csv.gz", "json.gz")
_CONTENT_TYPES = {"csv": "text/csv", "json": "application/json"}


def content_type(fmt: str) -> str:
    if fmt.endswith(".gz"):
        return "application/gzip"
    return _CONTENT_TYPES[fmt]


@dataclass(frozen=True)
class ExportQuery:
    """A read of the log whose rows are EXPORT_COLUMNS: the store's SQL, which takes besides
    `params` the names of members and candidates (:members, :candidates, JSON objects) and
    whether formulas are quoted for a spreadsheet (:sheet)."""

    path: Path
    sql: str
    params: dict[str, object]


def write_export(
    rows: ExportQuery, fmt: str, members: dict[str, str], candidates: dict[str, str]
) -> tuple[Path, int]:
    """The log's rows as an export, with members' and candidates' names beside their codes
    and keys, written by the worker process; blocks until it is done (run it in a thread)."""
    path = _temporary(fmt)
    params = {
        **rows.params,
        "members": json.dumps(members),
        "candidates": json.dumps(candidates),
        "sheet": fmt.startswith("csv"),
    }
    job = {"db": str(rows.path), "sql": rows.sql, "params": params, "fmt": fmt, "out": str(path)}
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")))),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.export"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode:  # the error, the last line of its traceback
            *_, error = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
            raise RuntimeError(f"The export's worker failed: {error}")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, int(done.stdout)


def _work() -> None:
    """The worker: a job on stdin (the database, the SQL and its parameters, the format, the
    file), the number of rows written on stdout. It runs at a lower priority: on a busy
    machine the bot's own answers come first."""
    os.nice(10)
    job = json.load(sys.stdin)
    db = sqlite3.connect(job["db"], isolation_level=None)
    try:
        db.execute("PRAGMA query_only = ON")
        rows = db.execute(job["sql"], job["params"])
        count = _write(Path(job["out"]), EXPORT_COLUMNS, rows, job["fmt"], sheet_ready=True)
    finally:
        db.close()
    print(count)


ROUND_COLUMNS = [
    "race", "happened_on", "round", "candidate", "candidate_name", "encourage", "discourage",
    "no_opinion", "veto_encourage", "veto_discourage", "veto_no_opinion", "source",
]  # fmt: skip


def round_rows(race: str, rounds: Iterable[Round], candidates: dict[str, str]) -> Iterator[tuple]:
    """A row per round and candidate in ROUND_COLUMNS, the veto members' ballots beside."""
    for held in rounds:
        vetoes = {b.candidate: b for b in held.veto_counts}
        for b in held.counts:
            v = vetoes.get(b.candidate)
            apart = (v.encourage, v.discourage, v.no_opinion) if v else (None, None, None)
            yield (
                race, held.on.isoformat(), held.name, b.candidate,
                candidates.get(b.candidate, b.candidate), b.encourage, b.discourage,
                b.no_opinion, *apart, held.source,
            )  # fmt: skip


def write_rows(columns: list[str], rows: Iterable[tuple], fmt: str) -> tuple[Path, int]:
    """Stream rows (values in `columns` order) to a temporary file as CSV or JSON (gzipped
    for `.gz`), one row in memory at a time; returns the file and how many rows it holds."""
    path = _temporary(fmt)
    try:
        return path, _write(path, columns, rows, fmt)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _temporary(fmt: str) -> Path:
    handle, name = tempfile.mkstemp(prefix="tallybot-export-", suffix=f".{fmt}")
    os.close(handle)
    return Path(name)


def _write(
    path: Path, columns: list[str], rows: Iterable[tuple], fmt: str, sheet_ready: bool = False
) -> int:
    """Write `rows` to `path`; returns how many. `sheet_ready`: formulas are quoted already."""
    is_csv = fmt.startswith("csv")
    opener = gzip.open if fmt.endswith(".gz") else open
    # A BOM in CSV: spreadsheets then read it as UTF-8.
    with opener(path, "wt", encoding="utf-8-sig" if is_csv else "utf-8", newline="") as out:
        if is_csv:
            writer = csv.writer(out)
            writer.writerow(columns)
            counted = itertools.count()
            # zip and map run in C: each row goes to csv.writer without a Python step
            cells = rows if sheet_ready else map(_csv_row, rows)
            writer.writerows(map(itemgetter(0), zip(cells, counted, strict=False)))
            return next(counted)
        out.write("[")
        count = 0
        for values in rows:  # the layout of json.dumps(records, indent=2), one record at a time
            record = json.dumps(
                dict(zip(columns, values, strict=True)), ensure_ascii=False, indent=2
            )
            out.write(",\n" if count else "\n")
            out.write("  " + record.replace("\n", "\n  "))  # only layout has \n
            count += 1
        out.write("\n]" if count else "]")
        return count


def _csv_row(values: tuple) -> list[object]:
    """Text a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading '
    (the store's export SQL does the same for the log)."""
    return [
        "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
        for v in values
    ]


if __name__ == "__main__":
    _work()
