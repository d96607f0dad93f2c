"""/history as a reader reads it: dates as everywhere else, the outlet, no platform tag, and on
Slack the recorder's display name (users.info, cached, a bounded number kept)."""

from __future__ import annotations

import aiohttp
import pytest
from fakes.slack_fake import FakeSlack
from test_slack import http, shown, slack_bot, slash  # noqa: F401 (fixtures)

import bot.adapters.slack.names as names
from bot.service import Service

USERS = {
    "UED": {"name": "edna", "profile": {"display_name": "Edna Mode", "real_name": "Edna M."}},
    "UJO": {"name": "jo", "profile": {"display_name": "", "real_name": "Jo March"}},
    "UAL": {"name": "al", "profile": {"display_name": "Al"}},
}


async def test_slack_history_names_the_recorder_by_display_name(
    service: Service,
    http: aiohttp.ClientSession,  # noqa: F811
) -> None:
    async with (
        FakeSlack(users=USERS) as fake,
        slack_bot(service, fake, editors=("UED", "UJO")) as bot,
    ):
        await slash(
            http, bot, fake, "/undecided Slovakia source:https://www.reuters.com/sk", user="UED"
        )
        await slash(http, bot, fake, "/undecided Türkiye", user="UJO")
        await slash(http, bot, fake, "/history limit:1", user="UED")
        _, ack = await slash(http, bot, fake, "/history limit:2", user="UED")
        assert shown(ack).splitlines()[1:] == [
            "#34 3 April 2024: Türkiye has no public position · no source, rumoured · recorded by "
            "Jo March",
            "#33 3 April 2024: Slovakia has no public position · "
            "<https://www.reuters.com/sk|reuters.com>, reported · recorded by Edna Mode",
        ]
        assert [c.params["user"] for c in fake.calls_to("users.info")] == ["UED", "UJO"]


async def test_display_names_kept_are_bounded(
    service: Service,
    http: aiohttp.ClientSession,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(names, "NAMES_KEPT", 2)
    async with FakeSlack(users=USERS) as fake, slack_bot(service, fake) as bot:
        for user in ("UED", "UJO", "UAL", "UAL", "UED"):
            await slash(http, bot, fake, "/countdown", user=user)
        asked = [c.params["user"] for c in fake.calls_to("users.info")]
        assert asked == ["UED", "UJO", "UAL", "UED"]  # Edna was let go, and asked again
