"""An export of the event log: the file's columns and formats, written a row at a time."""

from __future__ import annotations

import csv
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.domain import Confidence, Round


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


def write_export(
    rows: Iterable[tuple], fmt: str, members: dict[str, str], candidates: dict[str, str]
) -> tuple[Path, int]:
    """The log's rows (the columns of an Event) as an export, with members' and candidates'
    names beside their codes and keys."""
    named = (
        (id_, race, member, members.get(member, member), position, candidate,
         candidates.get(candidate or ""), happened_on, recorded_at, platform, actor_id,
         actor_name, source, note, reverts,
         # an undo has none; an event from before confidences, by its source
         None if position == "undo" else confidence or Confidence.default(source).value,
         condition)
        for (id_, race, member, position, candidate, happened_on, recorded_at, platform,
             actor_id, actor_name, source, note, reverts, confidence, condition) in rows
    )  # fmt: skip
    return write_rows(EXPORT_COLUMNS, named, fmt)


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
    handle, name = tempfile.mkstemp(prefix="tallybot-export-", suffix=f".{fmt}")
    os.close(handle)
    path, count = Path(name), 0
    is_csv = fmt.startswith("csv")
    opener = gzip.open if fmt.endswith(".gz") else open
    try:
        # A BOM in CSV: spreadsheets then read it as UTF-8.
        with opener(path, "wt", encoding="utf-8-sig" if is_csv else "utf-8", newline="") as out:
            writer = csv.writer(out)
            if is_csv:
                writer.writerow(columns)
            else:
                out.write("[")
            for values in rows:
                if is_csv:
                    writer.writerow(_csv_cell(v) for v in values)
                else:  # the layout of json.dumps(records, indent=2), one record at a time
                    record = json.dumps(
                        dict(zip(columns, values, strict=True)), ensure_ascii=False, indent=2
                    )
                    out.write(",\n" if count else "\n")
                    out.write("  " + record.replace("\n", "\n  "))  # only layout has \n
                count += 1
            if not is_csv:
                out.write("\n]" if count else "]")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, count


def _csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
