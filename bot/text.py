"""What users type, made safe to keep and to show: one line of visible text, a plain web
address, the look of a name (to catch look-alikes), a file name of safe characters.

Every note, name and source goes through here, from a command or a race file alike.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import idna

from bot.domain import TallyError

MAX_NOTE = 500
MAX_SOURCE = 2_000

# Unicode's control, format, line- and paragraph-separator categories: newlines, NUL, zero-width
# spaces and joiners, bidi controls (U+202A-202E, U+2066-2069, U+061C), the BOM (U+FEFF); and
# private use (Co), which has no meaning to show and carries the replies' link markers.
_INVISIBLE = {"Cc", "Cf", "Co", "Zl", "Zp"}
_BREAK = re.compile(r"\s*[^\S ]\s*")  # whitespace with anything but a plain space in it
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def one_line(text: str) -> str:
    """`text` as one line of visible text: a line break or tab (with the spaces around it)
    becomes one space, and invisible characters, which could forge a line, hide text or
    reorder it, are dropped. Plain spaces stay as typed."""
    visible = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in _INVISIBLE)
    return _BREAK.sub(" ", visible).strip()


def check_note(note: str | None, what: str = "note") -> str | None:
    """A note (or a condition, `what`): one line, bounded."""
    if not note:
        return None
    note = one_line(note)
    if len(note) > MAX_NOTE:
        raise TallyError(f"The {what} has {len(note)} characters; keep it to {MAX_NOTE}.")
    return note or None


def check_source(source: str | None) -> str | None:
    """A plain http(s) address: no invisible characters, no login, the host in lower case and,
    when it is not ASCII, in punycode, so a look-alike host shows as the xn--... it really is."""
    if source is None or source == "":
        return None
    url = one_line(source).strip("<>")  # Slack wraps links in <>
    parts = urlsplit(url) if len(url) <= MAX_SOURCE and _URL.match(url) else None
    try:
        host, port = (parts.hostname, parts.port) if parts else (None, None)
        if host and not host.isascii():
            host = idna.encode(host, uts46=True).decode("ascii")
    except (ValueError, idna.IDNAError):  # a port that is not a number; a host idna refuses
        host = None
    if not host:
        raise TallyError(
            f"Source '{url[:80]}' is not a web address; give an http(s) URL, "
            "e.g. source:https://www.reuters.com/..."
        )
    netloc = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    netloc += f":{port}" if port is not None else ""
    plain = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))
    if parts.username is not None or parts.password is not None:
        # Refused rather than stripped: the editor should know the link needed a login, and
        # a password kept in the log would be shown to every reader, for good.
        raise TallyError(
            "The source has a login in it (the part before @), which every reader would see; "
            f"give the address without it: source:{plain[:200]}"
        )
    return plain


def skeleton(text: str) -> str:
    """How a name looks, to tell look-alikes: without invisible characters, accents, case,
    spaces and punctuation, and each letter that can pass for an ASCII one mapped to it, so
    "Mаrk Rutte" with a Cyrillic а and "Mark Rutte" + U+200B both look like "markrutte"."""
    decomposed = unicodedata.normalize("NFKD", one_line(text)).casefold()  # Ι -> ι, then i
    mapped = "".join(_looks_like(c) for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in mapped if c.isalnum())


@cache
def _looks_like(char: str) -> str:
    """The ASCII letter or digit `char` can pass for (Unicode's confusables), else `char`.

    The table lists look-alikes both ways, so ASCII stays as it is (its own prototype)."""
    if char.isascii():
        return char
    from confusable_homoglyphs import confusables  # its table takes 60 ms to load: on first use

    for found in confusables.is_confusable(char, greedy=True) or ():
        for glyph in found["homoglyphs"]:
            if len(glyph["c"]) == 1 and glyph["c"].isascii() and glyph["c"].isalnum():
                return glyph["c"]
    return char


def safe_filename(name: str) -> str:
    """A file name of ASCII letters, digits, '.', '-' and '_' alone: no folder, no NUL, nothing
    hidden; whatever a user named what the file shows."""
    return _UNSAFE_IN_FILENAME.sub("-", name).strip(".-") or "file"
