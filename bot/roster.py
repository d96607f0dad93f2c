"""Turning what people type into a member or a candidate: names, codes, aliases, accents, typos."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import pycountry
from rapidfuzz import fuzz, process

from bot.domain import Candidate, Member, Race, TallyError

_SPACED = re.compile(r"[-_,/\s]+")  # "Guinea-Bissau" -> "guinea bissau"
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})  # d’Ivoire is d'Ivoire
_DOTS_AND_APOSTROPHES = re.compile(r"[.']")
ABBREVIATION = 4  # letters: "US", "UK", "USA" are also known written "U.S.", "U.S.A."
SPAN_SLACK = 2  # words a typed name may have beyond its longest spelling: stray marks, "-"


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced form of a name. Punctuation stays: `L.a.t.v.i.a`
    is not Latvia; the spellings without dots or apostrophes are among a name's `variants`.

    NFKD then dropping combining marks folds 'TÜRKİYE' (dotted capital I), which NFKC does not.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACED.sub(" ", stripped.casefold().translate(_APOSTROPHES)).strip()


def variants(spelling: str) -> set[str]:
    """The folded ways people write one spelling: as it is, without its dots and apostrophes
    ("Cote dIvoire", "St Lucia"), and an upper-case abbreviation with dots ("U.S.", "U.S.A")."""
    folded = fold(spelling)
    forms = {folded, _DOTS_AND_APOSTROPHES.sub("", folded)}
    if spelling.isalpha() and spelling.isupper() and len(spelling) <= ABBREVIATION:
        forms |= {".".join(folded), ".".join(folded) + "."}
    return forms


def _join_choices(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


class Index:
    """Folded spellings of one kind of thing (members or candidates) mapped to a key."""

    def __init__(self, kind: str, entries: Iterable[tuple[str, str, Iterable[str]]]) -> None:
        self.kind = kind
        self.display: dict[str, str] = {}
        self.spellings: dict[str, str] = {}
        # Spellings shared by several keys ("Rutte" for Mark and Jan Rutte) name none of them.
        self.ambiguous: dict[str, list[str]] = {}
        for key, display, spellings in entries:
            self.display[key] = display
            for folded in sorted({v for s in (display, *spellings) for v in variants(s)}):
                owners = self.ambiguous.get(folded)
                if not folded or self.spellings.get(folded) == key or key in (owners or ()):
                    continue
                if owners is not None:
                    owners.append(key)
                elif folded in self.spellings:
                    self.ambiguous[folded] = [self.spellings.pop(folded), key]
                else:
                    self.spellings[folded] = key
        # The most words a typed name can span: more cannot match, nor be a typo of one.
        known = (*self.spellings, *self.ambiguous)
        self.span = max((len(s.split()) for s in known), default=0) + SPAN_SLACK

    def find(self, text: str) -> str | None:
        return self.spellings.get(fold(text))

    def resolve(self, text: str) -> str:
        key = self.find(text)
        if key is not None:
            return key
        owners = self.ambiguous.get(fold(text))
        if owners:
            names = _join_choices([self.display[k] for k in owners])
            raise TallyError(f"'{text.strip()}' could be {names}; type the full name.")
        close = self.close_matches(text)
        hint = f" Did you mean {_join_choices(close)}?" if close else ""
        if not hint:
            examples = ", ".join(list(self.display.values())[:3])
            hint = f" Try one of: {examples}, ..."
        raise TallyError(f"Unknown {self.kind} '{text.strip()}'.{hint}")

    def close_matches(self, text: str, limit: int = 3) -> list[str]:
        """Display names of the keys whose spellings are nearest to `text`."""
        folded = fold(text)
        if not folded or len(folded.split()) > self.span:
            return []
        # Codes are too short to compare by edit distance: "EE" is not a typo of "ES".
        spellings = [s for s in self.spellings if len(s) > 3]
        scored = process.extract(folded, spellings, scorer=fuzz.WRatio, limit=12, score_cutoff=75)
        names: list[str] = []
        for spelling, _score, _ in scored:
            name = self.display[self.spellings[spelling]]
            if name not in names:
                names.append(name)
        return names[:limit]

    def suggest(self, text: str, limit: int = 25) -> list[str]:
        """Completions for a partly typed name: prefix matches first, then fuzzy ones."""
        folded = fold(text)
        keys: list[str] = []
        if not folded:
            keys = list(self.display)
        else:
            for spelling, key in self.spellings.items():
                starts = spelling.startswith(folded) or any(
                    w.startswith(folded) for w in spelling.split()
                )
                if starts and key not in keys:
                    keys.append(key)
            by_name = {name: key for key, name in self.display.items()}
            for name in self.close_matches(text, limit):
                if by_name[name] not in keys:
                    keys.append(by_name[name])
        return [self.display[k] for k in keys[:limit]]


class Roster:
    """Name resolution for one race; candidates may change at run time, members do not."""

    def __init__(self, race: Race) -> None:
        self.race = race
        # For a name this race does not know: the line naming the races that know it (set
        # where several races are followed), or None.
        self.elsewhere: Callable[[str, str], str | None] = lambda kind, text: None
        self.members = Index(
            "member", ((m.code, m.name, _member_spellings(m)) for m in race.members)
        )
        self.set_candidates(race.candidates)

    def set_candidates(self, candidates: Iterable[Candidate]) -> None:
        self.candidate_list = tuple(candidates)
        self.candidates = Index(
            "candidate",
            (
                (c.key, c.name, (c.key, c.last_name, c.name.split()[-1], *c.aliases))
                for c in self.candidate_list
            ),
        )

    def member(self, text: str) -> Member:
        try:
            return self.race.member(self.members.resolve(text))
        except TallyError:
            if (line := self.elsewhere("member", text)) is not None:
                raise TallyError(line) from None
            country = _country(text)
            if country is None:
                raise
            raise TallyError(
                f"{country} is not a member of {self.race.title}; "
                f"/tally lists its {len(self.race.members)} members."
            ) from None

    def candidate(self, text: str) -> Candidate:
        try:
            key = self.candidates.resolve(text)
        except TallyError:
            if (line := self.elsewhere("candidate", text)) is not None:
                raise TallyError(line) from None
            raise
        return next(c for c in self.candidate_list if c.key == key)


def _country(text: str) -> str | None:
    """The name of the country `text` names exactly (a name or an ISO code), if any."""
    try:
        return pycountry.countries.lookup(text.strip()).name
    except LookupError:
        return None


def _member_spellings(member: Member) -> tuple[str, ...]:
    return (member.code, member.alpha3, *member.aliases)
