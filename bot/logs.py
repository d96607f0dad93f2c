"""Log records lose the short-lived secrets the chat libraries print, even at DEBUG (-v).

discord.py's DEBUG log holds whole gateway payloads and webhook URLs, each with an interaction
token (valid for 15 minutes); the Slack libraries print envelopes and request bodies with the
`response_url`, `trigger_id` and the legacy verification `token`, and slack-bolt prints the
whole body of every request with a bad signature at INFO. A record factory, not a filter, does
the redaction: a logger's filter misses its children's records and a handler's filter misses
handlers added later, while every record is made by the factory once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
# key: value, key=value, 'key': 'value' and JSON with escaped slashes, up to the value's end
_FIELD = re.compile(
    r"""(?ix)
    (\b\w*(?:token|secret)\b | \bresponse_url\b | \btrigger_id\b | \bticket\b)
    (\\?["']?\s*[:=]\s*\\?["']?)
    (?:\\/|[^"'&\s,;)\]}>\\])+
    """
)
# URLs whose path carries the secret: Discord interaction callbacks and follow-ups (webhooks),
# Slack response URLs (https://hooks.slack.com/commands/T…/…/secret)
_PATH = re.compile(
    r"(/(?:interactions|webhooks)/\d+/|/(?:commands|actions)/\w+/\d+/)[^/\s'\"?&#,;)\]}>\\]+"
)
_SLACK_TOKEN = re.compile(r"\b(?:xox[a-z]|xapp)-[\w-]+")
_BAD_SIGNATURE = "Invalid request signature detected"
REFUSED_REQUEST = (
    "Slack: refused a request whose signature is bad or missing, or whose timestamp is more "
    "than five minutes old (401)"
)


def redact(text: str) -> str:
    text = _FIELD.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    text = _PATH.sub(lambda m: f"{m[1]}{REDACTED}", text)
    return _SLACK_TOKEN.sub(REDACTED, text)


def install_redaction() -> None:
    """From now on every log record is redacted as it is made (idempotent)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: logging reports it later
            return record
        if record.name.startswith("slack_bolt") and message.startswith(_BAD_SIGNATURE):
            message = REFUSED_REQUEST  # bolt adds the whole body, which anyone can send
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:  # error texts may hold URLs too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacting.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting)
