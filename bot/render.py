"""A neutral `Reply` as plain text, Slack Block Kit, or Discord embed dicts, within each limit.

Embeds are built as plain dicts (`discord.Embed.from_dict` takes them), so this module stays
free of platform libraries and is tested like the rest of the core.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from bot.replies import LINK, Attachment, Reply, Section, link_labels, progress_bar, too_big
from bot.rules import Measure
from bot.text import safe_filename

MAX_MESSAGES = 5  # the most one answer posts on Discord (Slack posts one message)

# Slack Block Kit limits
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_TEXT = 3_000
SLACK_HEADER_TEXT = 150
SLACK_FALLBACK_TEXT = 300  # one line for notifications and screen readers; blocks carry the rest

# Discord limits
DISCORD_MESSAGE = 2_000
DISCORD_EMBED_TOTAL = 6_000
DISCORD_EMBED_TITLE = 256
DISCORD_EMBED_DESCRIPTION = 4_096
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1_024
DISCORD_FIELDS = 25
DISCORD_EMBEDS_PER_MESSAGE = 10
DISCORD_FOOTER = 200  # Discord allows 2,048; the fields leave room for this much

COLOUR_INFO = 0x1F4E79
COLOUR_ERROR = 0xB00020


def progress_line(m: Measure) -> str:
    return f"{progress_bar(m.count, m.total)} {m.shown}"


def section_lines(section: Section) -> list[str]:
    measures = section.progress.measures if section.progress else ()
    return [progress_line(m) for m in measures] + list(section.lines)


def to_text(reply: Reply) -> str:
    """The console's (and any plain-text fallback's) form of a reply."""
    parts = []
    if reply.title:
        parts.append(reply.title)
    for section in reply.sections:
        block = [f"{section.title}"] if section.title else []
        block += [f"  {line}" if section.title else line for line in section_lines(section)]
        parts.append("\n".join(block))
    if reply.footer:
        parts.append(reply.footer)
    text = "\n\n".join(parts) if len(reply.sections) > 1 or reply.title else "\n".join(parts)
    return link_labels(f"Error: {text}" if reply.error else text)


def linked(line: str, escape: Callable[[str], str], link: Callable[[str, str], str]) -> str:
    """A line with its text escaped and each link (replies.outlet's) made by `link(label, url)`
    from the escaped label and the checked address."""
    pieces, last = [], 0
    for found in LINK.finditer(line):
        pieces += [escape(line[last : found.start()]), link(escape(found[1]), found[2])]
        last = found.end()
    return "".join(pieces) + escape(line[last:])


def summary_line(reply: Reply) -> str:
    """The one plain line a notification, screen reader or fallback shows: the reply's
    summary, else its first line."""
    return reply.summary or to_text(reply).split("\n", 1)[0]


def chunks(lines: list[str], limit: int, joiner: str = "\n") -> list[str]:
    """Pack lines into pieces of at most `limit` characters, cutting a too-long line."""
    pieces: list[str] = []
    current = ""
    for line in lines:
        if not line:
            continue
        if len(line) > limit:  # a line longer than a piece is cut, and stands alone
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[: limit - 1] + "…")
            continue
        candidate = f"{current}{joiner}{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- one answer, not a flood ----------------------------------------------------------------


def fit(reply: Reply, attach: bool = True) -> Reply:
    """The reply as one answer may post it: within MAX_MESSAGES Discord messages and one Slack
    message. A longer one keeps its first lines and says how many it left out; with `attach`
    (and no file of its own) the whole answer goes with it as a .txt file, else the line says
    how to ask for less."""
    if _fits(reply):
        return reply
    total = sum(len(section.lines) for section in reply.sections)
    file = None
    if attach and reply.attachment is None:
        name = f"{safe_filename(reply.title or 'answer')[:60]}.txt"
        file = Attachment(name, "text/plain", to_text(reply).encode())
    kept, most = 0, total - 1  # a binary search for the most lines, in order, that fit
    while kept < most:
        middle = (kept + most + 1) // 2
        if _fits(_first_lines(reply, middle, total, file)):
            kept = middle
        else:
            most = middle - 1
    return _first_lines(reply, kept, total, file)


def answerable(reply: Reply, upload_limit: int, platform: str) -> Reply:
    """The reply as a platform may post it as one answer: `fit` (the whole answer as a file
    when it had to be cut), and a file over the platform's upload limit replaced by the line
    saying what would fit."""
    reply = fit(reply)
    if reply.attachment is not None:
        refusal = too_big(reply.attachment, upload_limit, platform)
        if refusal is not None:
            reply.attachment.discard()
            return refusal
    return reply


def _fits(reply: Reply) -> bool:
    return (
        len(_discord_groups(to_discord(reply))) <= MAX_MESSAGES
        and len(_slack_blocks(reply)) <= SLACK_MAX_BLOCKS
    )


def _first_lines(reply: Reply, keep: int, total: int, file: Attachment | None) -> Reply:
    """The reply cut to its first `keep` lines, and a line saying what became of the rest."""
    sections, left = [], keep
    for section in reply.sections:
        if left <= 0:
            break
        sections.append(replace(section, lines=section.lines[:left]))
        left -= len(section.lines)
    hidden = f"{total - keep} more line{'s' if total - keep != 1 else ''}"
    if file is not None:
        note = f"… {hidden} in the attached {file.filename}, which has the whole answer."
    else:
        note = f"… {hidden} did not fit in one answer; ask for less, e.g. limit: or one name."
    return replace(
        reply,
        sections=(*sections, Section(lines=(note,))),
        attachment=file or reply.attachment,
    )


# --- Slack ----------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot ping a channel, forge a link, or open a code
    block with three backticks (mrkdwn has no escape: a zero-width space keeps them apart)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("`", "`\u200b")


def slack_line(line: str) -> str:
    """A line as mrkdwn: user text escaped, each link as <url|label>."""
    return linked(line, slack_escape, lambda label, url: f"<{_slack_url(url)}|{label}>")


def _slack_url(url: str) -> str:
    """A checked address as Slack reads one inside <...|...>: no bare &, <, > or |."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~").replace("&", "&amp;")


def to_slack(reply: Reply) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage, a response_url post or an ack; a reply
    too long for one message is cut to fit (`fit`)."""
    blocks = _slack_blocks(reply)
    if len(blocks) > SLACK_MAX_BLOCKS:
        reply = fit(reply, attach=False)
        blocks = _slack_blocks(reply)
    return cut(slack_escape(summary_line(reply)), SLACK_FALLBACK_TEXT), blocks


def _slack_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.title:
        blocks.append(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": cut(link_labels(reply.title), SLACK_HEADER_TEXT),
                },
            }
        )
    for section in reply.sections:
        lines = [slack_line(line) for line in section_lines(section)]
        if section.title:
            lines.insert(0, f"*{slack_line(section.title)}*")
        for piece in chunks(lines, SLACK_SECTION_TEXT):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    if reply.footer:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": slack_line(reply.footer)}],
            }
        )
    return blocks


# --- Discord --------------------------------------------------------------------------------


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", ()))


_WEB_ADDRESS = re.compile(r"https?://\S+")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"^(>|-?#{1,3} )", re.MULTILINE)  # quotes, headers, subtext


def discord_escape(text: str) -> str:
    """Escape markdown in user text, so a note cannot dress a link up (`[Reuters](evil)`) or
    restyle the embed; web addresses are left whole so they still link."""
    pieces, last = [], 0
    for url in _WEB_ADDRESS.finditer(text):
        pieces += [_MARKDOWN.sub(r"\\\1", text[last : url.start()]), url.group()]
        last = url.end()
    pieces.append(_MARKDOWN.sub(r"\\\1", text[last:]))
    return _LINE_START.sub(r"\\\1", "".join(pieces))


def discord_line(line: str) -> str:
    """A line as Discord markdown: user text escaped, each link as [label](url)."""
    return linked(line, discord_escape, lambda label, url: f"[{label}]({_discord_url(url)})")


def _discord_url(url: str) -> str:
    """A checked address that cannot end a markdown link early: ( ) < > encoded."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%~")


def to_discord(reply: Reply) -> list[dict[str, Any]]:
    """Embeds (as dicts), each within Discord's limits; `discord_messages` groups them."""
    colour = COLOUR_ERROR if reply.error else COLOUR_INFO
    first: dict[str, Any] = {"color": colour}
    if reply.title:
        first["title"] = cut(discord_escape(link_labels(reply.title)), DISCORD_EMBED_TITLE)
    embeds = [first]
    fields: list[dict[str, Any]] = []
    untitled: list[str] = []
    for section in reply.sections:
        lines = [discord_line(line) for line in section_lines(section)]
        if not section.title:
            untitled.extend(lines)
            continue
        title = discord_escape(link_labels(section.title))
        for i, piece in enumerate(chunks(lines, DISCORD_FIELD_VALUE)):
            name = title if i == 0 else f"{title} (cont.)"
            fields.append({"name": cut(name, DISCORD_FIELD_NAME), "value": piece, "inline": False})
    descriptions = chunks(untitled, DISCORD_EMBED_DESCRIPTION)
    if descriptions:
        first["description"] = descriptions[0]
        embeds += [{"color": colour, "description": d} for d in descriptions[1:]]
    for f in fields:
        embed = embeds[-1]
        embed_fields = embed.setdefault("fields", [])
        too_big = (
            _embed_size(embed) + len(f["name"]) + len(f["value"])
            > DISCORD_EMBED_TOTAL - DISCORD_FOOTER
        )
        if len(embed_fields) >= DISCORD_FIELDS or too_big:
            embed = {"color": colour, "fields": []}
            embeds.append(embed)
        embed["fields"].append(f)
    if reply.footer:
        footer = cut(link_labels(reply.footer), DISCORD_FOOTER)  # plain text there
        embeds[-1]["footer"] = {"text": footer}
    return embeds


def discord_messages(reply: Reply) -> list[list[dict[str, Any]]]:
    """Embeds grouped per message, each message within 6,000 characters and 10 embeds, at
    most MAX_MESSAGES of them: a longer reply is cut to fit (`fit`)."""
    messages = _discord_groups(to_discord(reply))
    if len(messages) <= MAX_MESSAGES:
        return messages
    return _discord_groups(to_discord(fit(reply, attach=False)))


def _discord_groups(embeds: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    messages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for embed in embeds:
        embed_size = _embed_size(embed)
        full = len(messages[-1]) >= DISCORD_EMBEDS_PER_MESSAGE
        if messages[-1] and (size + embed_size > DISCORD_EMBED_TOTAL or full):
            messages.append([])
            size = 0
        messages[-1].append(embed)
        size += embed_size
    return messages
