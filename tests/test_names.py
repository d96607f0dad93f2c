"""Resolving what people type to members and candidates."""

from __future__ import annotations

import re

import pytest

from bot.domain import TallyError
from bot.racefile import load_race
from bot.roster import Index, Roster, fold


@pytest.fixture(scope="module")
def roster() -> Roster:
    return Roster(load_race("nato-sg-2024"))


def test_fold_removes_case_accents_and_spacing_but_keeps_punctuation():
    assert fold("  TÜRKİYE ") == "turkiye"  # dotted capital I, which NFKC keeps
    assert fold("U.S.") == "u.s."
    assert fold("Côte d’Ivoire") == fold("cote d'ivoire") == "cote d'ivoire"
    assert fold("North   Macedonia") == fold("north-macedonia") == "north macedonia"


@pytest.mark.parametrize("typed", ["''Latvia''", "L.a.t.v.i.a", "`Lithuania`", "Latvia.", "'EE'"])
def test_punctuation_inside_a_name_is_not_deleted_to_make_a_match(roster, typed):
    with pytest.raises(TallyError, match=f"Unknown member '{re.escape(typed)}'"):
        roster.member(typed)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("U.S.", "US"), ("U.S.A", "US"), ("u.k.", "GB"), ("U.K", "GB"), ("TÜRKİYE", "TR")],
)
def test_abbreviations_with_dots_are_spellings_of_their_own(roster, typed, code):
    assert roster.member(typed).code == code


@pytest.mark.parametrize("typed", ["Côte d'Ivoire", "Cote d’Ivoire", "cote divoire", "CI", "C.I."])
def test_names_with_apostrophes_match_with_or_without_them(typed):
    index = Index("member", [("CI", "Côte d'Ivoire", ("CI",))])
    assert index.find(typed) == "CI"
    assert index.find("Cote d Ivoire") is None  # a new word is not the same name


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Türkiye", "TR"),
        ("turkey", "TR"),
        ("Turkiye", "TR"),
        ("TUR", "TR"),
        ("tr", "TR"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("Britain", "GB"),
        ("gb", "GB"),
        ("United States", "US"),
        ("US", "US"),
        ("USA", "US"),
        ("u.s.a.", "US"),
        ("North Macedonia", "MK"),
        ("Macedonia", "MK"),
        ("Netherlands", "NL"),
        ("Holland", "NL"),
        ("Slovakia", "SK"),
        ("Slovak Republic", "SK"),
        ("EST", "EE"),
        ("Hellenic Republic", "GR"),
    ],
)
def test_members_by_name_code_or_alias(roster, typed, code):
    assert roster.member(typed).code == code


def test_every_member_has_pycountry_name_and_codes(roster):
    assert len(roster.race.members) == 32
    turkey = roster.race.member("TR")
    assert (turkey.name, turkey.alpha3, turkey.flag) == ("Türkiye", "TUR", "🇹🇷")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Estonai", "Unknown member 'Estonai'. Did you mean Estonia?"),
        ("Slovakai", "Unknown member 'Slovakai'. Did you mean Slovakia?"),
        ("Turky", "Unknown member 'Turky'. Did you mean Türkiye?"),
        ("Atlantis", "Unknown member 'Atlantis'. Try one of: Albania, Belgium, Bulgaria, ..."),
    ],
)
def test_unknown_member_suggests_the_closest(roster, typed, message):
    with pytest.raises(TallyError) as error:
        roster.member(typed)
    assert str(error.value) == message


def test_candidates_by_full_or_last_name(roster):
    assert roster.candidate("Mark Rutte").key == "rutte"
    assert roster.candidate("rutte").key == "rutte"
    assert roster.candidate("IOHANNIS").key == "iohannis"
    with pytest.raises(TallyError, match="Did you mean Mark Rutte"):
        roster.candidate("Rute")


def test_autocomplete_offers_aliases_and_stays_within_25(roster):
    assert roster.members.suggest("tur") == ["Türkiye"]
    assert "United Kingdom" in roster.members.suggest("brit")
    assert roster.members.suggest("slov") == ["Slovakia", "Slovenia"]
    assert len(roster.members.suggest("")) == 25
    assert roster.candidates.suggest("io") == ["Klaus Iohannis"]


async def test_candidates_sharing_a_last_name_need_the_full_name(service):
    from bot.adapters.console import Console

    chat = Console(service, service.store.path.parent).handle
    assert "Added candidate Jan Rutte" in await chat("/candidate add Jan Rutte")
    reply = await chat("/endorse Estonia Rutte")
    assert reply == "Error: 'Rutte' could be Mark Rutte or Jan Rutte; type the full name."
    assert "Estonia supports Jan Rutte" in await chat("/endorse Estonia Jan Rutte")
    assert "29/32" not in await chat("/tally Mark Rutte")


@pytest.mark.parametrize("typed", ["Austria", "AUT", "Ukraine"])
def test_a_country_outside_the_race_is_named_as_such(roster, typed):
    with pytest.raises(TallyError, match=r"is not a member of NATO Secretary-General 2024; /tally"):
        roster.member(typed)
