"""Log redaction: the short-lived secrets the chat libraries print, in each shape they take."""

from __future__ import annotations

import logging

import pytest

from bot.logs import install_redaction, redact


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        # discord.py DEBUG: a gateway payload, a callback and a follow-up URL
        ("WebSocket Event: {'d': {'token': 'aW50ZXJhY3Rpb246MTIz', 'id': '1'}}", "'id': '1'"),
        ("POST https://discord.com/api/v10/interactions/123/aW50ZX/callback", "/callback"),
        ("PATCH https://discord.com/api/v10/webhooks/11/aW50ZX/messages/@original", "@original"),
        # Socket Mode: the envelope as JSON, with Slack's escaped slashes
        (
            '{"token":"vtok","response_url":"https:\\/\\/hooks.slack.com\\/commands\\/T1\\/2\\/s3'
            'cr3t","trigger_id":"1.2.aW50ZX","team_id":"T1"}',
            '"team_id":"T1"',
        ),
        # an HTTP request body, form-encoded
        ("body: token=vtok&response_url=https%3A%2F%2Fhooks.slack.com%2Fs3cr3t&team_id=T1", "T1"),
        # slack_sdk's webhook client, a Socket Mode URL and a token pasted anywhere
        ("Sending a request - url: https://hooks.slack.com/commands/T1/2/s3cr3t, body", ", body"),
        ("wss://wss-primary.slack.com/link/?ticket=s3cr3t&app_id=A1", "app_id=A1"),
        ("the bot token is xoxb-s3cr3t and the app's xapp-1-A-s3cr3t", "the bot token is"),
    ],
)
def test_each_shape_of_secret_is_redacted(line: str, kept: str) -> None:
    redacted = redact(line)
    assert "[redacted]" in redacted and kept in redacted
    assert not any(s in redacted for s in ("aW50ZX", "s3cr3t", "vtok"))


def test_ordinary_lines_are_left_alone() -> None:
    for line in (
        "Slack: listening on http://127.0.0.1:3000/slack/events as @tallybot in Tally",
        "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)",
        "12 tokens left in the bucket",
    ):
        assert redact(line) == line


def test_records_are_redacted_as_they_are_made_tracebacks_included(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction()
    install_redaction()  # twice is once
    log = logging.getLogger("discord.webhook.async_")
    try:
        raise RuntimeError("POST https://discord.com/api/v10/webhooks/11/aW50ZX failed")
    except RuntimeError:
        log.exception("Webhook %s with %s", 11, {"token": "aW50ZX"})
    assert "aW50ZX" not in caplog.text
    assert "Webhook 11 with {'token': '[redacted]'}" in caplog.text
    assert "RuntimeError: POST https://discord.com/api/v10/webhooks/11/[redacted] failed" in (
        caplog.text
    )
