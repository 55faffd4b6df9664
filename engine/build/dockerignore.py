""".dockerignore: reading the file, matching paths, walking a build context.

``read_patterns`` is BuildKit's ``dockerignore.ReadAll``; ``matches`` is
patternmatcher's ``MatchesOrParentMatches``; ``walk_context`` is the filter
BuildKit's file sync (tonistiigi/fsutil) applies while it walks the context:
an excluded directory is pruned unless a ``!`` exception could re-include
something below it, and an excluded directory that does contain a
re-included path is still sent, just before that path, so the path has a
parent. Paths are relative to the context root and use ``/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from engine.build._go import clean, trim_space
from engine.build.patternmatcher import BadPattern, MatchInfo, Pattern, PatternMatcher
from engine.errors import InvalidArgument

__all__ = [
    "BadPattern",
    "PatternMatcher",
    "ignore_file_for",
    "matches",
    "read_patterns",
    "walk_context",
]

_MAX_LINE = 64 * 1024
# A "!" pattern whose literal prefix has none of these can only re-include
# paths under that prefix, which is what makes pruning safe.
_PATTERN_CHARS = frozenset("*[]?^\\")


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned as BuildKit cleans them.

    A BOM on the first line is dropped; lines starting with ``#`` (in the
    first column) are comments; each pattern is trimmed, path-cleaned, and
    loses a leading ``/`` (so ``/a``, ``./a`` and ``a`` are one pattern); a
    ``!`` prefix survives the cleaning.
    """
    out: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines):
        if len(line.encode("utf-8", "surrogateescape")) >= _MAX_LINE:
            raise InvalidArgument("bufio.Scanner: token too long", line=number + 1)
        line = line.removesuffix("\r")
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = trim_space(line)
        if pattern == "":
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = trim_space(pattern[1:])
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def matches(patterns: Iterable[str], path: str) -> bool:
    """Is ``path`` excluded by ``patterns`` (itself or through a parent)?

    Raises BadPattern for a pattern Go would refuse (``[``, a lone ``!``...).
    """
    pm = PatternMatcher(patterns)
    path = clean(path)
    if path == ".":
        return False  # the context root itself is never excluded
    return pm.matches_or_parent_matches(path)


def ignore_file_for(context_dir: str | os.PathLike[str],
                    dockerfile_path: str | os.PathLike[str] | None = None) -> str | None:
    """The ignore file a build uses, or None.

    ``<dockerfile>.dockerignore`` next to the Dockerfile (``-f`` as given,
    default ``<context>/Dockerfile``) wins over ``<context>/.dockerignore``.
    """
    if dockerfile_path is None:
        dockerfile_path = os.path.join(context_dir, "Dockerfile")
    specific = os.fspath(dockerfile_path) + ".dockerignore"
    if os.path.isfile(specific):
        return specific
    default = os.path.join(context_dir, ".dockerignore")
    if os.path.isfile(default):
        return default
    return None


def _without_trailing_glob(p: Pattern) -> str:
    s = str(p).removesuffix("/**")
    return s.removesuffix("/*")


class _Dir:
    __slots__ = ("path", "sent")

    def __init__(self, path: str, sent: bool) -> None:
        self.path = path
        self.sent = sent


def walk_context(context_dir: str | os.PathLike[str],
                 patterns: Iterable[str]) -> Iterator[str]:
    """Yield the context's paths that survive ``patterns``, parents first.

    Entries are visited in byte order of their names, symlinks are not
    followed, and the root itself is not yielded. A directory is yielded
    when it is included, or (only once) just before the first included path
    below it.
    """
    pats = list(patterns)
    pm = PatternMatcher(pats) if pats else None
    prune_ok = pm is None or not any(
        p.exclusion and _PATTERN_CHARS.intersection(_without_trailing_glob(p))
        for p in pm.patterns)
    root = os.fspath(context_dir)
    yield from _walk(root, "", pm, prune_ok, MatchInfo(), [])


def _walk(abs_dir: str, prefix: str, pm: PatternMatcher | None, prune_ok: bool,
          parent_info: MatchInfo, parents: list[_Dir]) -> Iterator[str]:
    try:
        with os.scandir(abs_dir) as it:
            entries = sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as e:
        if parents and not parents[-1].sent and isinstance(e, PermissionError):
            return  # an excluded directory we cannot read does not matter
        raise InvalidArgument(f"error from sender: {e}", path=abs_dir) from None
    for entry in entries:
        path = prefix + entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        skip = False
        info = MatchInfo()
        if pm is not None:
            excluded, info = pm.matches_using_parent_results(path, parent_info)
            if excluded:
                if is_dir and prune_ok and not _may_reinclude(pm, path):
                    continue
                skip = True
        if not skip:
            for parent in parents:
                if not parent.sent:
                    parent.sent = True
                    yield parent.path
            yield path
        if is_dir:
            yield from _walk(entry.path, path + "/", pm, prune_ok, info,
                             [*parents, _Dir(path, not skip)])


def _may_reinclude(pm: PatternMatcher, path: str) -> bool:
    # only a "!" pattern whose literal prefix lies inside path can bring
    # something back from below an excluded directory
    if not pm.exclusions:
        return False
    dir_slash = path + "/"
    return any(p.exclusion and (_without_trailing_glob(p) + "/").startswith(dir_slash)
               for p in pm.patterns)
