"""Small ports of the Go standard library behaviours the builder relies on.

BuildKit is written in Go, and several of its observable results depend on Go
library details rather than on anything Dockerfile-specific: what
``unicode.IsSpace`` calls a space, how ``strconv.Quote`` escapes a string in
the AST dump, how ``encoding/json`` decodes an exec-form array, how
``path/filepath.Clean`` normalises a pattern. Python's nearest equivalents
differ at the edges (``str.isspace`` accepts U+001C..U+001F, ``json`` accepts
``NaN``, ``posixpath.normpath`` keeps a leading ``//``), so the exact Go rules
live here, in one place.
"""

from __future__ import annotations

import json
import unicodedata

__all__ = [
    "NotStringArray",
    "clean",
    "decode_json_array",
    "dir_name",
    "is_digit",
    "is_letter",
    "is_space",
    "quote",
    "trim_left_space",
    "trim_space",
]

# unicode.White_Space; Go's unicode.IsSpace is exactly this set.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` for one character."""
    return ch in _SPACES


def trim_left_space(s: str) -> str:
    """Go's ``strings.TrimLeftFunc(s, unicode.IsSpace)``."""
    i = 0
    while i < len(s) and s[i] in _SPACES:
        i += 1
    return s[i:]


def trim_space(s: str) -> str:
    """Go's ``strings.TrimSpace``."""
    s = trim_left_space(s)
    end = len(s)
    while end > 0 and s[end - 1] in _SPACES:
        end -= 1
    return s[:end]


def is_letter(ch: str) -> bool:
    """Go's ``unicode.IsLetter``: any ``L*`` category."""
    return unicodedata.category(ch)[0] == "L"


def is_digit(ch: str) -> bool:
    """Go's ``unicode.IsDigit``: category ``Nd`` only (``str.isdigit`` is wider)."""
    return unicodedata.category(ch) == "Nd"


_QUOTE_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
    "\r": "\\r", "\t": "\\t", "\v": "\\v",
}


def _is_print(ch: str) -> bool:
    # strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
    # ASCII space; every other space and every control/format char is escaped.
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def quote(s: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints for a string).

    Text decoded with ``surrogateescape`` carries invalid UTF-8 bytes as
    U+DC80..U+DCFF; Go prints those bytes as ``\\xNN``, so we do too.
    """
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")  # not a valid rune: Go substitutes RuneError
        elif _is_print(ch):
            out.append(ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


class NotStringArray(ValueError):
    """A JSON array holding something other than strings (BuildKit refuses it)."""

    def __init__(self) -> None:
        super().__init__(
            "when using JSON array syntax, arrays must be comprised of strings only")


def _reject_constant(name: str) -> object:
    # Go's encoding/json has no NaN/Infinity literals; neither may we.
    raise ValueError(f"invalid JSON literal {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _fix_surrogates(s: str) -> str:
    # Go decodes lone surrogate escapes and invalid UTF-8 to U+FFFD.
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)
    return s


def decode_json_array(text: str) -> list[str] | None:
    """Decode the first JSON value of ``text`` as Go's ``json.Decoder`` does.

    Returns the strings, or None when the text is not valid JSON for a
    ``[]interface{}`` (BuildKit then falls back to shell form). Raises
    NotStringArray when it is a valid array holding a non-string. Like the Go
    decoder, anything after the first complete value is ignored.
    """
    try:
        value, _ = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None  # cannot unmarshal into a slice: an ordinary decode error
    if not all(isinstance(v, str) for v in value):
        raise NotStringArray()
    return [_fix_surrogates(v) for v in value]


def clean(path: str) -> str:
    """Go's ``path/filepath.Clean`` on a slash-separated (Unix) path."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def dir_name(path: str) -> str:
    """Go's ``path/filepath.Dir``: everything before the last slash, cleaned."""
    return clean(path[: path.rfind("/") + 1])
