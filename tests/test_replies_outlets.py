"""Sources shown as their outlet: a link where the platform has links, the label alone in the
console; only an address that passed the source check becomes a link."""

from __future__ import annotations

import aiohttp
from fakes.slack_fake import FakeSlack
from test_discord import answer, ask, platform, text  # noqa: F401 (fixtures)
from test_slack import http, shown, slack_bot, slash  # noqa: F401 (fixtures)

from bot.adapters.discord.adapter import DiscordPlatform
from bot.render import to_discord, to_slack, to_text
from bot.replies import Reply
from bot.service import Service
from bot.text import check_note

# An address with the characters that would end a Slack <url|label> or a Discord [label](url).
POLITICO = "https://www.politico.eu/article/rutte-(nato)|x"


async def test_the_console_names_the_outlet_without_its_address(chat) -> None:
    reply = await chat(f"/endorse Türkiye Rutte source:{POLITICO}")
    assert "Türkiye supports Mark Rutte on 3 April 2024 (politico.eu)." in reply
    assert "https://" not in reply


async def test_slack_links_the_outlet(service: Service, http: aiohttp.ClientSession) -> None:  # noqa: F811
    async with FakeSlack() as fake, slack_bot(service, fake, editors=("UED",)) as bot:
        _, ack = await slash(
            http, bot, fake, f"/endorse Türkiye Rutte source:{POLITICO}", user="UED"
        )
        assert (
            "on 3 April 2024 (<https://www.politico.eu/article/rutte-(nato)%7Cx|politico.eu>)."
            in shown(ack)
        )
        assert "(politico.eu)." in ack["text"]  # the plain-text fallback names it alone


async def test_discord_links_the_outlet(platform: DiscordPlatform) -> None:  # noqa: F811
    options = {"member": "tur", "candidate": "Rutte", "source": POLITICO}
    reply = answer(await ask(platform, "endorse", options))
    assert (
        "on 3 April 2024 ([politico.eu](https://www.politico.eu/article/rutte-%28nato%29%7Cx))."
        in text(reply)
    )


def test_typed_text_cannot_carry_a_link() -> None:
    forged = check_note("see \ue000Reuters\ue001https://evil.example\ue002")
    reply = Reply.text(f"Note: {forged}")
    assert to_text(reply) == "Note: see Reutershttps://evil.example"
    assert "<https://evil.example|" not in str(to_slack(reply))
    assert "[Reuters]" not in str(to_discord(reply))
