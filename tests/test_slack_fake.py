"""Self-test of the Slack fake: a real slack-bolt AsyncApp over HTTP and Socket Mode."""

from __future__ import annotations

import time

import aiohttp
import pytest
from fakes.slack_fake import (
    PROXY_ENV_VARS,
    FakeSlack,
    serve_bolt_app,
    signed_slash_request,
    socket_mode,
)
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

SECRET = "test-signing-secret"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def make_app(fake: FakeSlack, seen: list[str]) -> AsyncApp:
    # Pass the token only inside the client: bolt warns when it gets both and uses the client's.
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    app = AsyncApp(client=client, signing_secret=SECRET)

    @app.command("/ping")
    async def ping(ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        seen.append(command["text"])
        await ack("pong")
        if command["text"] == "later":
            await respond("pong, later")

    return app


async def test_http_slash_command_and_signature_refusals() -> None:
    seen: list[str] = []
    async with FakeSlack(bot_token="xoxb-test", app_token="xapp-test") as fake:
        assert fake.api_url.endswith("/api/")
        app = make_app(fake, seen)
        async with serve_bolt_app(app) as url, aiohttp.ClientSession() as http:
            body, headers = signed_slash_request(
                SECRET, "/ping", "later", response_url=fake.response_url("r1")
            )
            async with http.post(url, data=body, headers=headers) as resp:
                assert (resp.status, await resp.text()) == (200, "pong")
                assert resp.content_type == "text/plain"
            assert await fake.wait_for_response("r1") == {"text": "pong, later"}
            auth = fake.calls_to("auth.test")  # bolt's lazy authorization, cached afterwards
            assert len(auth) == 1 and auth[0].token == "xoxb-test"

            stale = signed_slash_request(SECRET, "/ping", "stale", timestamp=int(time.time()) - 600)
            tampered = signed_slash_request(SECRET, "/ping", "tampered", tamper=True)
            unsigned = signed_slash_request(SECRET, "/ping", "unsigned")
            del unsigned[1]["X-Slack-Signature"]
            for bad_body, bad_headers in (stale, tampered, unsigned):
                async with http.post(url, data=bad_body, headers=bad_headers) as resp:
                    assert resp.status == 401
            async with http.post(url, data="ssl_check=1&token=x") as resp:  # needs no signature
                assert resp.status == 200
        assert seen == ["later"]


async def test_socket_mode_slash_command() -> None:
    seen: list[str] = []
    async with FakeSlack(bot_token="xoxb-test", app_token="xapp-test") as fake:
        app = make_app(fake, seen)
        async with socket_mode(app, fake):
            opened = fake.calls_to("apps.connections.open")
            assert len(opened) == 1 and opened[0].token == "xapp-test"
            assert fake.received == []  # the client sends nothing until it acks
            envelope_id = await fake.send_slash_command(command="/ping", text="hi")
            ack = await fake.wait_for_ack(envelope_id)
            assert ack == {"envelope_id": envelope_id, "payload": {"text": "pong"}}
            envelope_id = await fake.send_slash_command(command="/ping", text="later")
            assert (await fake.wait_for_ack(envelope_id))["payload"] == {"text": "pong"}
            assert await fake.wait_for_response() == {"text": "pong, later"}
        assert seen == ["hi", "later"]
        team_ids = {c.params.get("team_id") for c in fake.calls_to("auth.test")}
        assert team_ids == {"T1"}  # bolt adds the request's team_id to Web API calls


async def test_socket_mode_reconnect_and_bad_app_token() -> None:
    async with FakeSlack() as fake:
        app = make_app(fake, [])
        with pytest.raises(SlackApiError, match="invalid_auth"):
            async with socket_mode(app, fake, app_token="xapp-wrong"):
                pass
        async with socket_mode(app, fake):
            await fake.send_message({"type": "disconnect", "reason": "refresh_requested"})
            await fake.wait_for_call("apps.connections.open", count=3)  # wrong, first, refresh
            envelope_id = await fake.send_slash_command(command="/ping")
            assert (await fake.wait_for_ack(envelope_id))["payload"] == {"text": "pong"}


async def test_files_upload_v2_and_rate_limit_retry() -> None:
    async with FakeSlack() as fake:
        retry = AsyncRateLimitErrorRetryHandler(max_retry_count=2)
        client = AsyncWebClient(fake.bot_token, base_url=fake.api_url, retry_handlers=[retry])

        result = await client.files_upload_v2(
            channel="C1", filename="chart.png", content=b"\x89PNG-bytes", initial_comment="hi"
        )
        assert result["file"]["name"] == "chart.png"
        (upload,) = fake.uploads.values()
        assert (upload.filename, upload.data, upload.completed) == (
            "chart.png",
            b"\x89PNG-bytes",
            True,
        )
        assert upload.complete_params["channel_id"] == "C1"

        fake.rate_limit_next("chat.postMessage", retry_after=3)
        with pytest.raises(SlackApiError) as refused:  # no retry handler: the 429 surfaces
            await AsyncWebClient(fake.bot_token, base_url=fake.api_url).chat_postMessage(
                channel="C1", text="refused"
            )
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "3"

        # The handler sleeps Retry-After + random() (0..1 s); 0 keeps the test fast.
        fake.rate_limit_next("chat.postMessage", retry_after=0)
        sent = await client.chat_postMessage(channel="C1", text="tally")
        assert sent["ok"] and sent["message"]["text"] == "tally"
        statuses = [c.status for c in fake.calls_to("chat.postMessage", include_rate_limited=True)]
        assert statuses == [429, 429, 200]
        assert [c.params["text"] for c in fake.calls_to("chat.postMessage")] == ["tally"]


async def test_auth_usergroups_users_and_stubs() -> None:
    users = {"U1": {"name": "ada", "tz": "Europe/London"}}
    async with FakeSlack(usergroups={"S1": ["U1", "U2"]}, users=users) as fake:
        bad = AsyncWebClient("xoxb-wrong", base_url=fake.api_url)
        with pytest.raises(SlackApiError, match="invalid_auth"):
            await bad.auth_test()
        client = AsyncWebClient(fake.bot_token, base_url=fake.api_url)
        assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1", "U2"]
        assert (await client.users_info(user="U1"))["user"]["tz"] == "Europe/London"
        with pytest.raises(SlackApiError, match="user_not_found"):
            await client.users_info(user="U9")
        fake.stub("conversations.open", {"ok": True, "channel": {"id": "D1"}})
        assert (await client.conversations_open(users="U1"))["channel"]["id"] == "D1"
        with pytest.raises(AssertionError, match="timed out"):
            await fake.wait_for_call("chat.update", timeout=0.05)
