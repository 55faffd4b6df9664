"""Go's formatting, where BuildKit's output depends on it.

An image's ID is the digest of its config JSON, and the history strings in
that config are written with ``fmt.Sprintf``; to produce the same bytes as
BuildKit for the same Dockerfile we format as Go does: ``%q`` of a string
slice (``CMD ["sh" "-c" "x"]``), ``%v`` of one (``SHELL [/bin/sh -c]``),
``time.Duration.String()``, and ``encoding/json`` (which escapes ``<``,
``>`` and ``&`` in strings).
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.build._go import quote

__all__ = [
    "duration_string",
    "go_json",
    "parse_duration",
    "quote_list",
    "quote_rune",
    "value_list",
]

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    """``json.Marshal``: compact, UTF-8, HTML-safe (those characters only occur in strings)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _HTML_ESCAPES[m.group()], text).encode()


def quote_list(items: list[str]) -> str:
    """``fmt.Sprintf("%q", []string{...})``."""
    return "[" + " ".join(quote(s) for s in items) + "]"


def value_list(items: list[str]) -> str:
    """``fmt.Sprintf("%v", []string{...})``."""
    return "[" + " ".join(items) + "]"


_NAMED_RUNES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v",
                39: "\\'", 92: "\\\\"}


def quote_rune(n: int) -> str:
    """``%q`` of an int: Go prints it as a quoted rune literal (3 → ``'\\x03'``)."""
    if n in _NAMED_RUNES:
        return f"'{_NAMED_RUNES[n]}'"
    if 0x20 <= n < 0x7F:
        return f"'{chr(n)}'"
    if n < 0x80:
        return f"'\\x{n:02x}'"
    if n < 0x10000:
        return f"'\\u{n:04x}'"
    return f"'\\U{n:08x}'"


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(s: str) -> int:
    """``time.ParseDuration`` in nanoseconds; ValueError with Go's message."""
    orig, text, sign = s, s, 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0
    while text:
        m = _PART.match(text)
        if m is None or m.group(1) in ("", "."):
            if m is None and re.match(r"[0-9.]+$", text):
                raise ValueError(f'time: missing unit in duration "{orig}"')
            if m is None and re.match(r"[0-9.]+", text):
                unit = re.sub(r"^[0-9.]+", "", text)
                raise ValueError(f'time: unknown unit "{unit}" in duration "{orig}"')
            raise ValueError(f'time: invalid duration "{orig}"')
        total += round(float(m.group(1)) * _UNITS[m.group(2)])
        text = text[m.end():]
    return sign * total


def duration_string(ns: int) -> str:
    """``time.Duration.String()``: ``1h0m0s``, ``1.5s``, ``300ms``, ``0s``."""
    if ns == 0:
        return "0s"
    neg, ns = ns < 0, abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                out = _frac(ns, size) + unit
                break
    else:
        h, rest = divmod(ns, 3_600_000_000_000)
        m, rest = divmod(rest, 60_000_000_000)
        out = _frac(rest, 1_000_000_000) + "s"
        if h or m:
            out = f"{m}m" + out
        if h:
            out = f"{h}h" + out
    return "-" + out if neg else out


def _frac(n: int, size: int) -> str:
    whole, part = divmod(n, size)
    if not part:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")
