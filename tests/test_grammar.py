"""The text grammar shared by the console and Slack."""

from __future__ import annotations

from datetime import date

import pytest

from bot.commands.grammar import find_command, parse_args, tokenize
from bot.commands.spec import COMMANDS
from bot.domain import TallyError


def parse(service, line):
    tokens = tokenize(line)
    command, used = find_command([t.word for t in tokens[:2]])  # as run_line does
    return command.name, parse_args(service, command, tokens[used:], line)


def test_tokens_keep_quoted_names_whole():
    words = [t.word for t in tokenize('/endorse "North Macedonia" Rutte note:"a b"')]
    assert words == ["/endorse", "North Macedonia", "Rutte", 'note:"a b"']
    assert [t.word for t in tokenize("/endorse “North Macedonia” Rutte")][1] == "North Macedonia"
    assert [t.word for t in tokenize('a 5" screen')] == ["a", '5"', "screen"]


def test_positional_names_with_spaces_are_split_where_both_resolve(service):
    name, args = parse(service, "/endorse North Macedonia Mark Rutte on:2024-04-01")
    assert name == "endorse"
    assert (args["member"].code, args["candidate"].key, args["on"]) == (
        "MK",
        "rutte",
        date(2024, 4, 1),
    )


def test_options_in_any_order_and_a_url_is_not_an_option(service):
    _, args = parse(service, "endorse source:https://a.example/x?y=1 Estonia Rutte note:big news")
    assert (args["member"].code, args["candidate"].key) == ("EE", "rutte")
    assert args["source"] == "https://a.example/x?y=1"
    assert args["note"] == "big news"  # a note runs on to the end or the next option
    with pytest.raises(TallyError, match="needs candidate"):
        parse(service, "endorse Estonia note:big news Rutte")  # ... so Rutte is in the note


def test_subcommands_and_optional_trailing_member(service):
    name, args = parse(service, "/candidate add Kaja Kallas Estonia")
    assert (name, args["name"], args["member"].code) == ("candidate add", "Kaja Kallas", "EE")
    name, args = parse(service, "/candidate add Jens Stoltenberg")
    assert (args["name"], args.get("member")) == ("Jens Stoltenberg", None)


def test_leading_slash_is_optional_and_case_does_not_matter(service):
    assert parse(service, "TALLY rutte")[0] == "tally"


def test_every_command_has_help():
    for command in COMMANDS.values():
        assert command.help and command.usage.startswith(f"/{command.name}")
        assert all(p.help for p in command.params)


def test_unknown_command_suggests(service):
    with pytest.raises(TallyError, match="Did you mean /holdouts"):
        find_command(["/holdout"])


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ('/endorse "Estonia Rutte', '"Estonia'),
        ("/endorse “Estonia Rutte", "“Estonia"),
        ('/endorse Estonia Rutte on:"2024-04-02', '"2024-04-02'),
        ('/endorse Estonia Rutte note:"met on:2024-04-02', '"met'),
        ('/tally "Rutte', '"Rutte'),
    ],
)
def test_an_unclosed_quote_is_refused_in_one_line(service, line, shown):
    with pytest.raises(TallyError) as error:
        parse(service, line)
    assert str(error.value) == (
        f"A quote is not closed: {shown}; close it where the name ends "
        '("North Macedonia") or leave it out.'
    )


def test_quotes_inside_a_note_are_kept_and_a_curly_pair_groups_words(service):
    _, args = parse(service, '/endorse “North Macedonia” Rutte note:He said "yes')
    assert (args["member"].code, args["note"]) == ("MK", 'He said "yes')
