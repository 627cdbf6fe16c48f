"""What every dashboard shares: panel styles (readable in light and dark themes), preformatted
text, and parsing a hex address typed by a learner into a clear message instead of a traceback."""

from __future__ import annotations

import html

OK_STYLE = "border-left:6px solid #1B7F3B;background:rgba(27,127,59,0.14);padding:6px 10px;"
FAULT_STYLE = "border-left:6px solid #B3261E;background:rgba(179,38,30,0.14);padding:6px 10px;"
NOTE_STYLE = "border-left:6px solid #8C8C8C;background:rgba(140,140,140,0.12);padding:6px 10px;"
WARN_STYLE = "border-left:6px solid #B07A00;background:rgba(230,159,0,0.16);padding:6px 10px;"


def pre(text: str) -> str:
    """``text`` as preformatted HTML (escaped)."""
    return f"<pre style='margin:0;font-size:12px;line-height:1.25;white-space:pre'>{html.escape(text)}</pre>"


def box(text: str, style: str) -> str:
    return f"<div style='{style}'>{text}</div>"


def parse_hex(text: str, what: str = "physical address", example: str = "0x90000000") -> int:
    """An address from text: hex with or without ``0x``, underscores and spaces allowed.

    Raises ValueError with a message a learner can act on.
    """
    raw = (text or "").strip().replace("_", "").replace(" ", "")
    if not raw:
        raise ValueError(f"Type a {what} first, in hex, e.g. {example}.")
    digits = raw[2:] if raw.lower().startswith("0x") else raw
    if not digits or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
        raise ValueError(f"{text.strip()!r} is not a hex address; use digits 0-9 and a-f, e.g. {example}.")
    return int(digits, 16)
