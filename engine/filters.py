"""Docker's ``--filter key=value`` semantics, shared by the CLI and the TUI.

Terms:
- *filter arg* — one ``key=value`` string as typed after ``--filter``; the key
  is lower-cased and both sides are trimmed, as docker/cli's ``ParseFlag`` does.
- :class:`Filters` — the parsed, validated, immutable result: key → values.
  Values of one key form a set (duplicates collapse, first order kept).

Matching follows the daemon (moby ``daemon/images`` and
``daemon/containerd/image_list.go``): different keys AND together; values of
one key OR together where the daemon matches "any of" (``reference``); every
``label`` value must match (``MatchKVList``); each ``before``/``since``/
``until`` value is one more condition (the containerd store appends one filter
per value, so they AND).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from engine.errors import EngineError, InvalidArgument
from engine.images import ImageSummary

__all__ = [
    "IMAGE_FILTERS",
    "Filters",
    "match_image",
    "match_labels",
    "match_reference",
    "match_text",
    "matching_refs",
    "parse_filters",
    "parse_text_filter",
    "parse_until",
]

IMAGE_FILTERS = frozenset({"dangling", "reference", "before", "since", "label", "until"})


class Filters(Mapping[str, tuple[str, ...]]):
    """Immutable mapping of filter key → tuple of distinct values."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Sequence[str]] | None = None) -> None:
        self._data: dict[str, tuple[str, ...]] = {
            k: tuple(dict.fromkeys(v)) for k, v in (data or {}).items() if v
        }

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._data) == {k: tuple(v) for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Filters({self._data!r})"

    def values_of(self, key: str) -> tuple[str, ...]:
        """The values given for *key*, ``()`` when the key is absent."""
        return self._data.get(key, ())


def parse_filters(args: Sequence[str], allowed: Collection[str]) -> Filters:
    """Parse repeated ``--filter key=value`` args; unknown keys are refused."""
    data: dict[str, list[str]] = {}
    for arg in args:
        if not arg:
            continue  # docker/cli ignores an empty --filter ""
        if "=" not in arg:
            raise InvalidArgument("bad format of filter (expected name=value)", arg=arg)
        key, value = arg.split("=", 1)
        key = key.strip().lower()
        data.setdefault(key, []).append(value.strip())
    for key in data:
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'", key=key)
    return Filters(data)


def parse_text_filter(text: str, allowed: Collection[str]) -> tuple[Filters, str]:
    """Split the TUI's "/" box into filters (``key=value`` with a known key)
    and a free-text term (everything else, joined by single spaces)."""
    data: dict[str, list[str]] = {}
    words: list[str] = []
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep and key.lower() in allowed:
            data.setdefault(key.lower(), []).append(value)
        else:
            words.append(token)
    return Filters(data), " ".join(words)


def match_text(term: str, *fields: str) -> bool:
    """Case-insensitive substring search over *fields*; an empty term matches."""
    if not term:
        return True
    needle = term.casefold()
    return any(needle in f.casefold() for f in fields)


def match_labels(labels: Mapping[str, str], wanted: Sequence[str]) -> bool:
    """Docker's ``MatchKVList``: every ``key`` must exist and every
    ``key=value`` must be equal; no wanted labels matches anything."""
    if not wanted:
        return True
    if not labels:
        return False
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


# -- reference globs (Go's path.Match, as distribution's FamiliarMatch uses) --


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)

    def bad() -> InvalidArgument:
        return InvalidArgument("syntax error in pattern", pattern=pattern)

    def char(j: int) -> tuple[str, int]:
        # One class member, honouring "\" escapes; "-" and "]" must be escaped.
        if j >= n:
            raise bad()
        c = pattern[j]
        if c == "\\":
            if j + 1 >= n:
                raise bad()
            return pattern[j + 1], j + 2
        if c in "-]":
            raise bad()
        return c, j + 1

    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise bad()
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            i += negate
            items: list[str] = []
            while True:
                if i < n and pattern[i] == "]" and items:
                    i += 1
                    break
                lo, i = char(i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = char(i + 1)
                    if hi < lo:
                        raise bad()
                items.append(re.escape(lo) + ("-" + re.escape(hi) if hi != lo else ""))
            out.append("[" + ("^" if negate else "") + "".join(items) + "]")
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _familiar_name(ref: str) -> str:
    if "@" in ref:
        return ref.split("@", 1)[0]
    colon = ref.rfind(":")
    return ref[:colon] if colon > ref.rfind("/") else ref


def match_reference(ref: str, pattern: str) -> bool:
    """distribution's ``FamiliarMatch``: *pattern* globs the familiar *ref*
    ("busybox:latest", "busybox@sha256:…") or, failing that, its name alone."""
    rx = _glob_regex(pattern)
    return bool(rx.fullmatch(ref) or rx.fullmatch(_familiar_name(ref)))


def matching_refs(refs: Sequence[str], patterns: Sequence[str]) -> tuple[str, ...]:
    """The refs that match any pattern; Docker lists only these tags/digests
    for an image when ``reference=`` is given (all of them when it is not)."""
    if not patterns:
        return tuple(refs)
    return tuple(r for r in refs if any(match_reference(r, p) for p in patterns))


# -- until / timestamps (moby api/types/time.GetTimestamp) --------------------

_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3,
    "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)


def _parse_duration(value: str) -> float | None:
    """Go's ``time.ParseDuration`` in seconds, or None when it is not one."""
    s = value
    sign = -1.0 if s[:1] == "-" else 1.0
    s = s[1:] if s[:1] in "+-" else s
    if not s:
        return None
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m or m.group(1) in ("", "."):
            return None
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def _local_offset(now: float) -> timezone:
    off = datetime.fromtimestamp(now).astimezone().utcoffset() or timedelta(0)
    return timezone(off)


def parse_until(value: str, now: float) -> float:
    """Turn a Docker ``until``/``since`` value into Unix seconds.

    Accepts a Go duration counted back from *now* ("10m", "1h30m"), an
    RFC 3339 date or date-time (local time when no zone is given, as Docker
    does), or Unix seconds with optional fraction ("1700000000.5").
    """
    value = value.strip()
    if value != "0":
        d = _parse_duration(value)
        if d is not None:
            return float(math.floor(now - d))  # Go: reference.Add(-d).Unix()
    m = _DATETIME.fullmatch(value)
    if m:
        year, mon, day, hh, mm, ss, frac, zone = m.groups()
        if zone is None:
            tz = _local_offset(now)
        elif zone == "Z":
            tz = UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        try:
            dt = datetime(
                int(year), int(mon), int(day), int(hh or 0), int(mm or 0), int(ss or 0),
                tzinfo=tz,
            )  # fmt: skip
        except ValueError as e:
            raise InvalidArgument(f'parsing time "{value}": {e}', value=value) from None
        return dt.timestamp() + (float("0" + frac) if frac else 0.0)
    if "-" in value:
        raise InvalidArgument(f'parsing time "{value}": not an RFC 3339 time', value=value)
    sec, dot, nsec = value.partition(".")
    if re.fullmatch(r"[+-]?\d+", sec) and (not dot or re.fullmatch(r"\d+", nsec)):
        return int(sec) + (int(nsec) / 10 ** len(nsec) if dot else 0.0)
    raise InvalidArgument(f'failed to parse value as time or duration: "{value}"', value=value)


# -- images -------------------------------------------------------------------


def _dangling_wanted(values: Sequence[str]) -> bool:
    # containerd store's GetBoolOrDefault: 1/true and 0/false, not both.
    is_true = any(v in ("1", "true") for v in values)
    is_false = any(v in ("0", "false") for v in values)
    if is_true == is_false:
        shown = " ".join(sorted(values))
        raise InvalidArgument(f"Invalid filter 'dangling=[{shown}]'", values=values)
    return is_true


def match_image(
    img: ImageSummary,
    f: Filters,
    *,
    resolve: Callable[[str], ImageSummary],
    now: float | None = None,
) -> bool:
    """Whether *img* passes every filter in *f* (keys from IMAGE_FILTERS).

    *resolve* turns a ``before``/``since`` value (name or ID) into an image;
    its NotFound propagates. Bad values raise InvalidArgument.
    """
    if "dangling" in f:
        if _dangling_wanted(f["dangling"]):
            if img.repo_tags:
                return False
        elif not (img.repo_tags or img.repo_digests):
            return False
    for value in f.values_of("before"):
        if not img.created < resolve(value).created:
            return False
    for value in f.values_of("since"):
        if not img.created > resolve(value).created:
            return False
    if "until" in f:
        at = time.time() if now is None else now
        for value in f["until"]:
            if not img.created < parse_until(value, at):
                return False
    if not match_labels(img.labels, f.values_of("label")):
        return False
    patterns = f.values_of("reference")
    if patterns and not matching_refs(img.repo_tags + img.repo_digests, patterns):
        return False
    return True


# -- containers ------------------------------------------------------------------

CONTAINER_STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def match_container(c, f: Filters, *, resolve: Callable[[str], Any],  # noqa: ANN001
                    resolve_image: Callable[[str], str]) -> bool:
    """Docker's ``ps --filter`` semantics for one ContainerSummary;
    ``resolve`` turns a before/since reference into a ContainerSummary."""
    if "id" in f and not any(c.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(re.search(v, c.name) for v in f["name"]):
        return False
    if "status" in f:
        for v in f["status"]:
            if v not in CONTAINER_STATES:
                raise InvalidArgument(f"invalid filter 'status={v}'")
        if c.state not in f["status"]:
            return False
    if "exited" in f:
        for v in f["exited"]:
            if not v.lstrip("-").isdigit():
                raise InvalidArgument(f"invalid filter 'exited={v}'")
        if c.state != "exited" or str(c.exit_code) not in f["exited"]:
            return False
    if "label" in f and not match_labels(c.labels, list(f["label"])):
        return False
    if "ancestor" in f:
        ok = False
        for v in f["ancestor"]:
            try:
                ok = ok or resolve_image(v) == c.image_id
            except EngineError:
                continue
        if not ok:
            return False
    for v in f.get("before", ()):
        if not c.created < resolve(v).created:
            return False
    for v in f.get("since", ()):
        if not c.created > resolve(v).created:
            return False
    return True
