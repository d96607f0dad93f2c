"""Rendering a reply for each platform: within its limits, user text defused."""

from __future__ import annotations

from bot.render import (
    DISCORD_EMBED_TOTAL,
    DISCORD_FIELD_VALUE,
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_TEXT,
    discord_escape,
    discord_messages,
    slack_escape,
    to_slack,
    to_text,
)
from bot.replies import Progress, Reply, Section


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
    assert blocks[-1]["type"] == "context" and "more than fits" in str(blocks[-1])
    assert len(text) <= 3_000


def test_discord_messages_stay_within_embed_limits():
    messages = discord_messages(long_reply(sections=5))
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
    assert "#4-59" in every_line  # nothing dropped


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
    reply = Reply(title="T", sections=(Section("Mark Rutte", ("a line",), Progress(28, 32)),))
    assert "██████████████░░ 28/32" in to_text(reply)
    assert to_text(Reply.refusal("No.")) == "Error: No."
