"""The README's morning digest is the one the bot posts: built here from the seeded race, a
day after Türkiye backs Mark Rutte, and compared with the README's sample, so it cannot drift.
When the digest's wording changes on purpose, paste the block this test prints."""

from __future__ import annotations

import re
from pathlib import Path

from test_digest import NEWS, brussels, running

from bot.render import to_text

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
MARKER = "<!-- the morning digest, as tests/test_digest_readme.py builds it -->"


async def test_the_readme_shows_the_morning_digest_as_a_reader_gets_it(tmp_path):
    async with running(tmp_path / "t.db", brussels(28, 10)) as bot:
        await bot.say("/subscribe")
        await bot.at(brussels(29, 9))  # the channel's first digest
        bot.clock.pinned_at = brussels(29, 15)
        await bot.say("/endorse Türkiye Rutte source:https://www.reuters.com/world/europe/")
        await bot.at(brussels(30, 9))
        channel, digest = bot.slack.posts[-1]
    assert channel == NEWS
    sample = f"```text\n{to_text(digest)}\n```"
    assert digest.summary in sample.splitlines()  # the headline comes first
    found = re.search(re.escape(MARKER) + r"\n(```text\n.*?\n```)", README, re.DOTALL)
    shown = found.group(1) if found else "(none)"
    assert shown == sample, f"README.md should have, after {MARKER}:\n{sample}"
