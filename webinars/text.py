"""Text typed into a browser's text area: its line ends, and its paragraphs.

Browsers send a text area's line breaks as CRLF (the HTML standard says so), files and
scripts bring LF or a lone CR; all of them mean the same thing to the person who typed it.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(r"\r\n?")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


def newlines(value):
    """Filter: every line end as LF (CRLF and a lone CR are what browsers and old files send)."""
    return _LINE_END.sub("\n", value) if isinstance(value, str) else value


def paragraphs(value: str | None) -> list[str]:
    """The paragraphs of a text: parts between blank lines, whatever its line ends."""
    if not value:
        return []
    parts = _BLANK_LINES.split(newlines(value).strip())
    return [part.strip() for part in parts if part.strip()]
