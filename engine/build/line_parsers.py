"""BuildKit's per-instruction line parsers (``line_parsers.go``, ``split_command.go``).

Each parser receives the text after the keyword and its ``--flags`` and
returns the argument nodes BuildKit's AST would hold. Nothing is expanded or
unquoted here; ENV/LABEL/ARG words keep their quotes and escapes for the
later ``process_word`` call, exactly as in BuildKit.

Two of BuildKit's scanners walk the line byte by byte rather than character
by character (the flag extractor and the HEALTHCHECK type splitter); they are
ported that way, including the consequence that a non-ASCII byte inside a
``--flag`` value comes out as its Latin-1 character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.build._go import (
    NotStringArray,
    decode_json_array,
    is_space,
    quote,
    trim_left_space,
    trim_space,
)

__all__ = ["KEYWORDS", "LineError", "Parsed", "parse_words", "split_command"]

# Go's reWhitespace: note it has no \n and no Unicode spaces.
_WS = re.compile(r"[\t\v\f\r ]+")


class LineError(ValueError):
    """A line BuildKit's parser refuses; the message is BuildKit's."""


@dataclass
class Parsed:
    """What a line parser produced: argument nodes, JSON form, a sub-command."""

    args: list[str]
    json_form: bool = False
    sub: str | None = None  # ONBUILD: the trigger line, parsed by the caller


def _to_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    """Split a logical line into (keyword as written, flags, rest)."""
    parts = _WS.split(trim_space(line), maxsplit=1)
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1], escape)
    return parts[0], flags, trim_space(rest)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--name[=value]`` words, then the rest of the line (bytewise)."""
    data = _to_bytes(line)
    esc = ord(escape)
    words: list[str] = []
    word = bytearray()
    phase = "spaces"
    quote = 0
    blank_ok = False
    pos = 0
    n = len(data)
    while pos <= n:
        ch = data[pos] if pos < n else 0
        if phase == "spaces":
            if pos == n:
                break
            if is_space(chr(ch)):
                pos += 1
                continue
            if ch != 0x2D or pos + 1 == n or data[pos + 1] != 0x2D:  # not "--"
                return _from_bytes(data[pos:]), words
            phase = "word"
        if pos == n:
            if bytes(word) != b"--" and (blank_ok or word):
                words.append(word.decode("latin-1"))
            break
        if phase == "word":
            if is_space(chr(ch)):
                phase = "spaces"
                if bytes(word) == b"--":
                    return _from_bytes(data[pos:]), words
                if blank_ok or word:
                    words.append(word.decode("latin-1"))
                word = bytearray()
                blank_ok = False
                pos += 1
                continue
            if ch in (0x27, 0x22):  # ' or "
                quote = ch
                blank_ok = True
                phase = "quote"
                pos += 1
                continue
            if ch == esc:
                if pos + 1 == n:
                    pos += 1
                    continue  # a trailing escape is dropped
                pos += 1
                ch = data[pos]
            word.append(ch)
            pos += 1
            continue
        # in a quote
        if ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == esc:
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            ch = data[pos]
        word.append(ch)
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words."""
    words: list[str] = []
    phase = "spaces"
    word: list[str] = []
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if is_space(ch):
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == "word":
            if is_space(ch):
                phase = "spaces"
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # a trailing escape is dropped
                # an unquoted escape keeps itself and the next character
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # in a quote: the escape works except inside single quotes
        if ch == quote:
            phase = "word"
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            word.append(ch)
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _parse_name_val(rest: str, key: str, escape: str) -> Parsed:
    # "KEY name value" (legacy, separator "") or "KEY a=b c=d" (separator "=")
    words = parse_words(rest, escape)
    if not words:
        return Parsed([])
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(f"{key} must have two arguments")
        return Parsed([parts[0], parts[1], ""])
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise LineError(f"Syntax error - can't find = in {quote(word)}. "
                            "Must be of the form: name=value")
        k, _, v = word.partition("=")
        args += [k, v, "="]
    return Parsed(args)


def _parse_env(rest: str, escape: str) -> Parsed:
    return _parse_name_val(rest, "ENV", escape)


def _parse_label(rest: str, escape: str) -> Parsed:
    return _parse_name_val(rest, "LABEL", escape)


def _parse_name_or_name_val(rest: str, escape: str) -> Parsed:
    return Parsed(parse_words(rest, escape))


def _parse_whitespace_delimited(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed([])
    return Parsed(_WS.split(rest))


def _parse_string(rest: str, escape: str) -> Parsed:
    return Parsed([rest] if rest else [])


def _parse_json(rest: str) -> list[str] | None:
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    return decode_json_array(rest)  # raises NotStringArray


def _parse_maybe_json(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed([])
    try:
        values = _parse_json(rest)
    except NotStringArray as e:
        raise LineError(str(e)) from None
    if values is not None:
        return Parsed(values, json_form=True)
    return Parsed([rest])


def _parse_maybe_json_to_list(rest: str, escape: str) -> Parsed:
    try:
        values = _parse_json(rest)
    except NotStringArray as e:
        raise LineError(str(e)) from None
    if values is not None:
        return Parsed(values, json_form=True)
    return _parse_whitespace_delimited(rest, escape)


def _parse_health_config(rest: str, escape: str) -> Parsed:
    # The type ends at the first space byte (BuildKit scans bytes here).
    data = _to_bytes(rest)
    sep = 0
    while sep < len(data) and not is_space(chr(data[sep])):
        sep += 1
    nxt = sep
    while nxt < len(data) and is_space(chr(data[nxt])):
        nxt += 1
    if sep == 0:
        return Parsed([])
    cmd = _parse_maybe_json(_from_bytes(data[nxt:]), escape)
    return Parsed([_from_bytes(data[:sep]), *cmd.args], json_form=cmd.json_form)


def _parse_sub_command(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed([])
    return Parsed([], sub=rest)


def parse_ignore(rest: str, escape: str) -> Parsed:
    """An unknown keyword: BuildKit keeps one empty argument node."""
    return Parsed([""])


KEYWORDS: dict[str, Callable[[str, str], Parsed]] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_whitespace_delimited,
    "from": _parse_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}
