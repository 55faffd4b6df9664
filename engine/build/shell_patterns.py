"""The pattern half of BuildKit's word expansion: ``#`` ``%`` ``/`` modifiers.

BuildKit translates a shell pattern to a Go regular expression (``*`` to
``.*`` or ``.*?``, ``?`` to ``.``, everything else literal; no ``[...]``),
so the semantics here are that translation's, including Go's
``ReplaceAllString`` rules for ``${VAR//pat/rep}``: ``$0``-style references in
the replacement, and an empty match right after a match is not replaced.
"""

from __future__ import annotations

import re

from engine.build._go import is_digit, is_letter

__all__ = [
    "PatternError",
    "pattern_regex",
    "reverse_pattern",     "substitute",
    "trim_prefix",
    "trim_suffix",
]

_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


class PatternError(Exception):
    """A pattern BuildKit refuses; the message is BuildKit's."""


class _BadEscape(Exception):
    pass


def pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """BuildKit's convertShellPatternToRegex: ``*`` and ``?`` only, no ``[...]``.

    Raises _BadEscape for an escape other than ``\\*``, ``\\?``, ``\\\\``.
    """
    src = pattern.removeprefix("\ufeff")  # Go's text/scanner skips a leading BOM
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(src):
        tok = src[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            # "\}" and "\/" only protect the delimiter; the escape is dropped
            if i < len(src) and src[i] in ("}", "/"):
                continue
            out.append("\\")
            tok = src[i] if i < len(src) else "\ufffd"  # Go prints EOF as U+FFFD
            i += 1
            if tok not in ("*", "?", "\\"):
                raise _BadEscape(f"invalid escape '\\{tok}'")
        elif tok in _REGEX_SPECIAL:
            out.append("\\")
        out.append(tok)
    return re.compile("".join(out))


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    """``${VAR#pattern}`` (``##`` when greedy): drop the matching prefix."""
    try:
        rx = pattern_regex(pattern, greedy=greedy, anchored=True)
    except _BadEscape as e:
        raise PatternError(f"invalid pattern ({pattern}) in substitution: {e}") from None
    m = rx.search(value)
    return value[m.end():] if m else value


def reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each escape pair in order: ``a\\*c`` -> ``c\\*a``."""
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        at = last - i
        if tok == "\\" and i != last:
            out[at - 1] = tok
            out[at] = pattern[i + 1]
            i += 2
        else:
            out[at] = tok
            i += 1
    return "".join(out)


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """``${VAR%pattern}`` (``%%`` when greedy): drop the matching suffix."""
    # a regex cannot find the shortest rightmost match, so search the
    # reversed value with the reversed pattern instead (an error therefore
    # shows the reversed pattern, as BuildKit's does)
    return trim_prefix(reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _go_replace_all(rx: re.Pattern[str], src: str, template: str) -> str:
    """Go's ``Regexp.ReplaceAllString``: ``$``-expansion, Go's empty-match rule."""
    out: list[str] = []
    last_end = 0
    pos = 0
    while pos <= len(src):
        m = rx.search(src, pos)
        if m is None:
            break
        out.append(src[last_end:m.start()])
        # an empty match right after the previous match is not replaced
        if m.end() > last_end or m.start() == 0:
            out.append(_go_expand(template, m))
        last_end = m.end()
        pos = pos + 1 if pos + 1 > m.end() else m.end()
    out.append(src[last_end:])
    return "".join(out)


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``; the pattern has no groups, so only ``$0`` has text."""
    out: list[str] = []
    rest = template
    while (i := rest.find("$")) >= 0:
        out.append(rest[:i])
        rest = rest[i + 1:]
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        ref = _extract_ref(rest)
        if ref is None:
            out.append("$")  # malformed reference: the $ stays literal
            continue
        num, rest = ref
        if num == 0:
            out.append(m.group(0))
    out.append(rest)
    return "".join(out)


def _extract_ref(s: str) -> tuple[int, str] | None:
    """Parse ``name`` or ``{name}``: (group number or -1 for a name, rest)."""
    brace = s.startswith("{")
    body = s[1:] if brace else s
    i = 0
    while i < len(body) and (is_letter(body[i]) or is_digit(body[i]) or body[i] == "_"):
        i += 1
    if i == 0:
        return None
    name = body[:i]
    if brace:
        if i >= len(body) or body[i] != "}":
            return None
        i += 1
    num = 0
    for c in name:
        if not ("0" <= c <= "9") or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ord(c) - ord("0")
    if name[0] == "0" and len(name) > 1:
        num = -1  # Go refuses leading zeros
    return num, body[i:]


def substitute(pattern: str, value: str, replacement: str, replace_all: bool) -> str:
    """``${VAR/pattern/replacement}`` (``//`` for every match)."""
    try:
        rx = pattern_regex(pattern, greedy=True, anchored=False)
    except _BadEscape as e:
        raise PatternError(f"invalid pattern ({pattern}) in substitution: {e}") from None
    if replace_all:
        return _go_replace_all(rx, value, replacement)
    m = rx.search(value)
    if m is None:
        return value
    # the first replacement is spliced in literally, no $-expansion
    return value[: m.start()] + replacement + value[m.end():]
