"""A port of moby/patternmatcher, the matcher behind ``.dockerignore``.

Rules (they are Docker's, not gitignore's): a pattern is a slash path
relative to the context root; ``*`` and ``?`` never cross a ``/``; ``**``
matches any number of directories (including none); ``[...]`` classes and
``\\`` escapes work as in Go's ``filepath.Match``; a path is excluded when it,
or any of its parent directories, matches; a ``!`` pattern re-includes, and
the last pattern that matches wins.

Patterns are validated with a port of Go's ``filepath.Match`` error rules
when the matcher is built, and compiled to a regular expression lazily, the
way the Go package does (so a class Go's regexp refuses, like ``[z-a]``,
fails at the first match, not at construction).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

from engine.build._go import clean, dir_name, trim_space
from engine.errors import InvalidArgument

__all__ = ["BadPattern", "MatchInfo", "Pattern", "PatternMatcher"]

_ESCAPE = frozenset(".+()|{}$")  # regex metacharacters with no glob meaning


class BadPattern(InvalidArgument):
    """A .dockerignore pattern Go's filepath.Match or regexp refuses."""


_SYNTAX = "syntax error in pattern"


class Pattern:
    """One cleaned pattern; ``exclusion`` is True for a ``!`` re-include."""

    def __init__(self, cleaned: str, exclusion: bool) -> None:
        self.cleaned = cleaned
        self.exclusion = exclusion
        self._kind = ""  # exact | prefix | suffix | regexp, once compiled
        self._regexp: re.Pattern[str] | None = None
        self._broken = False

    def __str__(self) -> str:
        return self.cleaned

    def __repr__(self) -> str:
        return f"Pattern({'!' if self.exclusion else ''}{self.cleaned!r})"

    def match(self, path: str) -> bool:
        if not self._kind and not self._broken:
            self._compile()
        if self._broken:
            raise BadPattern(_SYNTAX, pattern=self.cleaned)
        if self._kind == "exact":
            return path == self.cleaned
        if self._kind == "prefix":
            return path.startswith(self.cleaned[:-2])  # pattern minus trailing **
        if self._kind == "suffix":
            suffix = self.cleaned[2:]  # pattern minus leading **
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]  # **/foo matches foo
        assert self._regexp is not None
        return self._regexp.match(path) is not None

    def _compile(self) -> None:
        reg = ["^"]
        kind = "exact"
        pat = self.cleaned
        i = 0
        first = True
        while i < len(pat):
            ch = pat[i]
            i += 1
            if ch == "*":
                if i < len(pat) and pat[i] == "*":
                    i += 1
                    if i < len(pat) and pat[i] == "/":
                        i += 1  # "**/" is the same as "**"
                    if i >= len(pat):
                        # trailing "**" accepts everything below, like .gitignore
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            reg.append(".*")
                            kind = "regexp"
                    else:
                        reg.append("(.*/)?")  # any number of directories, even none
                        kind = "regexp"
                    if first:
                        kind = "suffix"
                else:
                    reg.append("[^/]*")
                    kind = "regexp"
            elif ch == "?":
                reg.append("[^/]")
                kind = "regexp"
            elif ch in _ESCAPE:
                reg.append("\\" + ch)
            elif ch == "\\":
                if i < len(pat):
                    reg.append("\\" + pat[i])
                    i += 1
                    kind = "regexp"
                else:
                    reg.append("\\\\")  # a trailing backslash is literal
            elif ch in "[]":
                reg.append(ch)
                kind = "regexp"
            else:
                reg.append(ch)
            first = False
        if kind == "regexp":
            try:
                # Go's \d \w \s are ASCII; Go has no "nested set" warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._regexp = re.compile("".join(reg) + r"\Z", re.ASCII)
            except re.error:
                self._broken = True
                return
        self._kind = kind


class MatchInfo:
    """Which patterns matched a directory, passed down to its children."""

    def __init__(self, parent_matched: list[bool] | None = None) -> None:
        self.parent_matched = parent_matched or []


class PatternMatcher:
    """An ordered list of patterns; the last one that matches decides."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        self.exclusions = False
        for raw in patterns:
            p = trim_space(raw)
            if p == "":
                continue
            p = clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise BadPattern('illegal exclusion pattern: "!"', pattern=raw)
                p = p[1:]
                self.exclusions = True
            if not _valid_glob(p):
                raise BadPattern(_SYNTAX, pattern=raw)
            self.patterns.append(Pattern(p, exclusion))

    def matches_or_parent_matches(self, path: str) -> bool:
        """Does ``path`` (slash separated, relative) or a parent match?"""
        matched = False
        parent = dir_name(path)
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            # an include cannot change a match, an exclusion only undoes one
            if pattern.exclusion != matched:
                continue
            match = pattern.match(path)
            if not match and parent != ".":
                for i in range(len(parent_dirs)):
                    if pattern.match("/".join(parent_dirs[: i + 1])):
                        match = True
                        break
            if match:
                matched = not pattern.exclusion
        return matched

    def matches_exact(self, path: str) -> bool:
        """Like matches_or_parent_matches without the parent directories."""
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.match(path):
                matched = not pattern.exclusion
        return matched

    def matches_using_parent_results(self, path: str,
                                     parent: MatchInfo | None = None) -> tuple[bool, MatchInfo]:
        """The walker's form: reuse the parent directory's per-pattern results."""
        parent_matched = parent.parent_matched if parent else []
        if parent_matched and len(parent_matched) != len(self.patterns):
            raise InvalidArgument("wrong number of values in parentMatched")
        matched = False
        info = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            match = parent_matched[i] if parent_matched else False
            if not match:
                if pattern.exclusion != matched:
                    continue
                match = pattern.match(path)
                if not match and not parent_matched:
                    parent_path = dir_name(path)
                    if parent_path != ".":
                        dirs = parent_path.split("/")
                        for j in range(len(dirs)):
                            if pattern.match("/".join(dirs[: j + 1])):
                                match = True
                                break
            info[i] = match
            if match:
                matched = not pattern.exclusion
        return matched, MatchInfo(info)


def _valid_glob(pattern: str) -> bool:
    """Would Go's ``filepath.Match(pattern, ".")`` return no error?"""
    return _glob_match(pattern, ".") is not None


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: str) -> tuple[str, str] | None:
    if not chunk or chunk[0] in "-]":
        return None
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            return None
    r, rest = chunk[0], chunk[1:]
    if not rest:
        return None
    return r, rest


def _match_chunk(chunk: str, s: str) -> tuple[str, bool] | None:
    """Go's matchChunk: (rest, ok), or None for a malformed chunk."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            match = False
            nrange = 0
            while True:
                if chunk.startswith("]") and nrange > 0:
                    chunk = chunk[1:]
                    break
                esc = _get_esc(chunk)
                if esc is None:
                    return None
                lo, chunk = esc
                hi = lo
                if chunk[0] == "-":
                    esc = _get_esc(chunk[1:])
                    if esc is None:
                        return None
                    hi, chunk = esc
                if not failed and lo <= r <= hi:
                    match = True
                nrange += 1
            if match == negated:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    return None
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _glob_match(pattern: str, name: str) -> bool | None:
    """Go's ``filepath.Match`` on Unix: True/False, or None for a bad pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name  # a trailing * matches the rest, except a /
        res = _match_chunk(chunk, name)
        if res is not None and res[1] and (res[0] == "" or pattern):
            name = res[0]
            continue
        if res is None:
            return None
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                res = _match_chunk(chunk, name[i + 1:])
                if res is not None and res[1]:
                    if not pattern and res[0]:
                        i += 1
                        continue
                    name = res[0]
                    found = True
                    break
                if res is None:
                    return None
                i += 1
            if found:
                continue
        # before answering "no", Go checks the rest of the pattern is well formed
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            if _match_chunk(chunk, "") is None:
                return None
        return False
    return name == ""
