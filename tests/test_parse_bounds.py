"""Parsing a typed line does bounded work, whatever its length: it runs on the event loop.

Counted, not timed: the names tried and the fuzzy lookups made for the worst lines of 2,000
characters are no more than for the same shape of line a few words long.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.commands.grammar import MAX_COMMAND, find_command, parse_args, tokenize
from bot.domain import TallyError
from bot.roster import Index

SHAPES = {
    "chart": ("/chart ", "a "),
    "one-letter words": ("/endorse ", "x "),
    "near names": ("/endorse ", "Estonai "),
    "real names": ("/endorse ", "North Macedonia "),
    "marks that fold to nothing": ("/endorse ", "- "),
    "quoted pairs": ("/endorse ", '"a b" '),
    "one name": ("/holdouts ", "Rute "),
    "free name and a member": ("/candidate add ", "a "),
    "member": ("/history ", "a "),
}


def work(service, monkeypatch, line: str) -> Counter:
    """How many names the parse tried, and how many fuzzy lookups it made."""
    counts: Counter = Counter()
    find, close_matches = Index.find, Index.close_matches

    def counting_find(self, *args):
        counts["names tried"] += 1
        return find(self, *args)

    def counting_close_matches(self, *args, **kwargs):
        counts["fuzzy lookups"] += 1
        return close_matches(self, *args, **kwargs)

    monkeypatch.setattr(Index, "find", counting_find)
    monkeypatch.setattr(Index, "close_matches", counting_close_matches)
    tokens = tokenize(line)
    try:
        command, used = find_command([t.word for t in tokens[:2]])
        parse_args(service, command, tokens[used:], line)
    except TallyError:
        pass
    monkeypatch.undo()
    return counts


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_longest_line_costs_no_more_than_a_short_one(service, monkeypatch, shape):
    head, word = SHAPES[shape]
    longest = head + word * ((MAX_COMMAND - len(head)) // len(word))
    short = head + word * 20
    assert len(longest) > MAX_COMMAND - len(word)
    costs = work(service, monkeypatch, longest)
    assert costs == work(service, monkeypatch, short)
    assert costs["names tried"] <= 100 and costs["fuzzy lookups"] <= 2


def test_a_long_text_that_cannot_be_a_name_gets_no_fuzzy_guess(service):
    with pytest.raises(TallyError) as error:
        service.roster.candidate("Estonai " * 6)
    assert str(error.value).endswith("Try one of: Mark Rutte, Klaus Iohannis, ...")
    with pytest.raises(TallyError, match="Did you mean Mark Rutte"):
        service.roster.candidate("Mark Rute")  # a name's length still gets its guess
