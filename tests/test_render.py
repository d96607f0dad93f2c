"""Rendering a reply for each platform: within its limits, user text defused."""

from __future__ import annotations

from bot.commands.run import run_named
from bot.commands.spec import Context
from bot.domain import Actor, Position
from bot.render import (
    DISCORD_EMBED_TOTAL,
    DISCORD_FIELD_VALUE,
    MAX_MESSAGES,
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_TEXT,
    discord_escape,
    discord_messages,
    fit,
    slack_escape,
    to_slack,
    to_text,
)
from bot.replies import Reply, Section, tally_reply
from bot.rules import Measure, Progress


def long_reply(sections: int = 80, lines: int = 60) -> Reply:
    return Reply(
        title="History",
        sections=tuple(
            Section(f"Part {s}", tuple(f"#{s}-{i} " + "x" * 80 for i in range(lines)))
            for s in range(sections)
        ),
        footer="the end",
    )


def test_slack_blocks_stay_within_block_kit_limits():
    text, blocks = to_slack(long_reply())
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert all(
        len(b["text"]["text"]) <= SLACK_SECTION_TEXT for b in blocks if b["type"] == "section"
    )
    assert blocks[-1]["type"] == "context" and blocks[-1]["elements"][0]["text"] == "the end"
    assert "did not fit in one answer; ask for less, e.g. limit: or one name." in str(blocks)
    assert len(text) <= 3_000


def test_discord_messages_stay_within_embed_limits():
    messages = discord_messages(long_reply(sections=3))
    assert len(messages) > 1
    for embeds in messages:
        assert len(embeds) <= 10
        size = 0
        for embed in embeds:
            for field in embed.get("fields", ()):
                assert len(field["value"]) <= DISCORD_FIELD_VALUE
                size += len(field["name"]) + len(field["value"])
            size += len(embed.get("title", "")) + len(embed.get("description", ""))
            size += len(embed.get("footer", {}).get("text", ""))
        assert size <= DISCORD_EMBED_TOTAL
    every_line = "".join(f["value"] for m in messages for e in m for f in e.get("fields", ()))
    assert "#2-59" in every_line  # nothing dropped


def test_user_text_cannot_ping_or_forge_links():
    assert slack_escape("<!channel> & <https://evil|Reuters>") == (
        "&lt;!channel&gt; &amp; &lt;https://evil|Reuters&gt;"
    )
    assert discord_escape("[Reuters](https://evil.example/a_b) **now**") == (
        "\\[Reuters\\](https://evil.example/a_b) \\*\\*now\\*\\*"
    )
    assert discord_escape("# big\n-# small") == "\\# big\n\\-# small"
    reply = Reply(sections=(Section("Notes", ("[x](https://e.example)",)),))
    [[embed]] = discord_messages(reply)
    assert embed["fields"][0]["value"] == "\\[x\\](https://e.example)"


def test_text_has_the_bar_and_the_count():
    reply = Reply(
        title="T", sections=(Section("Mark Rutte", ("a line",), Progress((Measure(28, 32, 32),))),)
    )
    assert "██████████████░░ 28/32" in to_text(reply)
    assert to_text(Reply.refusal("No.")) == "Error: No."


# --- one answer, not a flood ---------------------------------------------------------------


async def test_a_long_history_posts_at_most_five_messages_and_the_rest_as_a_file(service):
    editor = Actor("discord", "1", "ed", is_editor=True)
    rutte = service.roster.candidate("Rutte")
    for i in range(100):
        member = service.race.members[i % 32]
        await service.record(editor, member, Position.SUPPORTS, rutte, note=f"{i} " + "n" * 495)
    reply = await run_named(Context(service, Actor("discord", "2", "reader")), "history",
                            {"limit": 100})  # fmt: skip
    assert len(reply.sections[0].lines) == 100

    shown = discord_messages(reply)  # what the Discord adapter posts
    assert len(shown) <= MAX_MESSAGES
    last = shown[-1][-1]["description"]
    assert "more lines did not fit in one answer; ask for less, e.g. limit: or one name." in last

    fitted = fit(reply)  # the whole answer goes as a file
    assert len(discord_messages(fitted)) <= MAX_MESSAGES
    assert fitted.attachment.filename == (
        "History-NATO-Secretary-General-2024-last-recorded-first.txt"
    )
    whole = fitted.attachment.data.decode()
    assert all(f"#{e.id} " in whole for e in await service.history(limit=100))
    assert f"in the attached {fitted.attachment.filename}, which has the whole answer." in (
        to_text(fitted)
    )


async def test_a_tally_of_two_hundred_candidates_is_one_slack_message_saying_what_is_left(
    service,
):
    editor = Actor("t", "t", "t", is_editor=True)
    for i in range(200):
        await service.add_candidate(editor, f"Candidate Number{i}", None)
    tally = await service.tally()
    reply = tally_reply(tally, await service.countdown(tally), False)
    assert len(reply.sections) == 202
    _, blocks = to_slack(reply)
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert "did not fit in one answer" in str(blocks)
    assert len(discord_messages(reply)) <= MAX_MESSAGES
    assert "Klaus Iohannis" in to_text(fit(reply))  # the first ones stay, in order


def test_an_answer_that_fits_is_left_as_it_is():
    reply = Reply(title="T", sections=(Section("S", ("a", "b")),), footer="f")
    assert fit(reply) is reply
