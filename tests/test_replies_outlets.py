"""Sources shown as their outlet: a link where the platform has links, the label alone in the
console; only an address that passed the source check becomes a link."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from conftest import ARTICLES_DAY
from fakes.slack_fake import FakeSlack
from test_discord import answer, ask, platform, text  # noqa: F401 (fixtures)
from test_slack import http, shown, slack_bot, slash  # noqa: F401 (fixtures)

from bot.adapters.console import Console
from bot.adapters.discord.adapter import DiscordPlatform
from bot.clock import Clock
from bot.racefile import load_race
from bot.render import to_discord, to_slack, to_text
from bot.replies import Reply, outlet
from bot.service import Service
from bot.store.store import Store
from bot.text import check_note

NATO = (Path(__file__).resolve().parent.parent / "bot/races/nato-sg-2024.toml").read_text()
# An address with the characters that would end a Slack <url|label> or a Discord [label](url).
POLITICO = "https://www.politico.eu/article/rutte-(nato)|x"


async def test_the_console_names_the_outlet_without_its_address(chat) -> None:
    reply = await chat(f"/endorse Türkiye Rutte source:{POLITICO}")
    assert "Türkiye supports Mark Rutte on 3 April 2024 (politico.eu, reported)." in reply
    assert "https://" not in reply


async def test_slack_links_the_outlet(service: Service, http: aiohttp.ClientSession) -> None:  # noqa: F811
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        _, ack = await slash(
            http, bot, fake, f"/endorse Türkiye Rutte source:{POLITICO}", user="UED"
        )
        assert (
            "on 3 April 2024 (<https://www.politico.eu/article/rutte-(nato)%7Cx|politico.eu>, "
            "reported)." in shown(ack)
        )
        assert "(politico.eu, reported)." in ack["text"]  # the plain-text fallback names it alone


async def test_discord_links_the_outlet(platform: DiscordPlatform) -> None:  # noqa: F811
    options = {"member": "tur", "candidate": "Rutte", "source": POLITICO}
    reply = answer(await ask(platform, "endorse", options))
    assert (
        "on 3 April 2024 ([politico.eu](https://www.politico.eu/article/rutte-%28nato%29%7Cx), "
        "reported)." in text(reply)
    )


def test_typed_text_cannot_carry_a_link() -> None:
    forged = check_note("see \ue000Reuters\ue001https://evil.example\ue002")
    reply = Reply.text(f"Note: {forged}")
    assert to_text(reply) == "Note: see Reutershttps://evil.example"
    assert "<https://evil.example|" not in str(to_slack(reply))
    assert "[Reuters]" not in str(to_discord(reply))


async def test_a_sources_entry_may_name_its_outlet(tmp_path):
    """Every source on the outlet's host is shown by its short name, typed ones too."""
    path = tmp_path / "race.toml"
    old = 'estonia = "https://www.politico.eu/article/estonia-prime-minister-kaja-kallas-backs-'
    new = 'estonia = { url = "https://www.politico.eu/article/estonia/", outlet = "Politico" }\n#'
    path.write_text(NATO.replace(old, new, 1))
    race = load_race(str(path))
    assert ("politico.eu", "Politico") in race.outlets
    clock = Clock(ZoneInfo(race.timezone), ARTICLES_DAY)
    service = Service(await Store.open(tmp_path / "t.db", clock.now), race, clock)
    try:
        await service.start(demo=True)
        chat = Console(service, tmp_path / "files").handle
        holdouts = await chat("/holdouts")
        assert "Hungary: opposes since 2 April 2024 (Politico, on record)" in holdouts
        typed = await chat("/endorse Slovakia Rutte source:https://europe.politico.eu/sk")
        assert "on 3 April 2024 (Politico, reported)." in typed
        history = await chat("/history Romania")
        assert "· belgium.postsen.com, on record ·" in history  # none named: the host
    finally:
        await service.store.close()


HUNGARY_SOURCE = "https://www.politico.eu/article/estonia-prime-minister-kaja-kallas-backs-mark-rutte-nato-top-job/"


async def test_holdouts_link_each_outlet_on_slack_and_discord(
    service: Service,
    http: aiohttp.ClientSession,  # noqa: F811
    platform: DiscordPlatform,  # noqa: F811
) -> None:
    async with FakeSlack() as fake, slack_bot(service, fake) as bot:
        _, ack = await slash(http, bot, fake, "/holdouts")
        assert (
            f"🇭🇺 Hungary: opposes since 2 April 2024 (<{HUNGARY_SOURCE}|politico.eu>, on record)"
            in shown(ack)
        )
        assert ack["text"] == "Holdouts on Mark Rutte: 4 of 32: Hungary, Romania, Slovakia, Türkiye"
    reply = answer(await ask(platform, "holdouts", roles=[]))
    assert f"Hungary: opposes since 2 April 2024 ([politico.eu]({HUNGARY_SOURCE}), on record)" in (
        text(reply)
    )


def test_an_outlets_name_is_escaped_in_its_link() -> None:
    race = replace(load_race("nato-sg-2024"), outlets=(("example.org", "<!here> *Ex_*"),))
    reply = Reply.text(f"Source: {outlet('https://example.org/a', race)}")
    _, blocks = to_slack(reply)
    assert blocks[0]["text"]["text"] == "Source: <https://example.org/a|&lt;!here&gt; *Ex_*>"
    [embed] = to_discord(reply)
    assert embed["description"] == r"Source: [<!here> \*Ex\_\*](https://example.org/a)"
    assert to_text(reply) == "Source: <!here> *Ex_*"


def test_a_source_stored_unchecked_is_neither_shown_nor_linked() -> None:
    race = load_race("nato-sg-2024")
    reply = Reply.text(f"Source: {outlet('javascript:alert(1) https://x.example', race)}")
    assert to_text(reply) == "Source: unchecked source"
    assert "x.example" not in str(to_slack(reply)) + str(to_discord(reply))
