"""Image configs: the JSON whose digest is the image ID, and the layer IDs it implies.

``rootfs.diff_ids`` lists each layer's DiffID (sha256 of its uncompressed
tar), oldest first.  A layer *stack* is named by its ChainID, so identical
layers on different bases never collide:

    ChainID(L0)     = DiffID(L0)
    ChainID(L0..n)  = sha256(ChainID(L0..n-1) + " " + DiffID(Ln))

``history`` has one entry per build step; steps that made no layer carry
``empty_layer: true``.  Real images do not always keep the two lists in
step, so a mismatch is reported (:attr:`ImageConfig.history_mismatch`),
never fatal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import InvalidArgument, InvalidContent
from .digest import digest_error, sha256_digest

__all__ = [
    "ImageConfig",
    "chain_ids",
    "format_created",
    "layer_history",
    "parse_config",
    "parse_rfc3339",
]



_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _timegm(y: int, mo: int, d: int, h: int, mi: int, sec: int) -> int:
    """calendar.timegm, without importing calendar (and locale) on every command."""
    days = date(y, mo, d).toordinal() - _EPOCH_ORDINAL
    return days * 86400 + h * 3600 + mi * 60 + sec

def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    out: list[str] = []
    for diff in diff_ids:
        out.append(sha256_digest(f"{out[-1]} {diff}".encode()) if out else diff)
    return out


# -- time ---------------------------------------------------------------------

_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_parts(s: str) -> tuple[int, int, int]:
    """(unix seconds, nanoseconds, UTC offset in seconds) or InvalidArgument."""
    m = _RFC3339_RE.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise InvalidArgument(f'invalid RFC 3339 time "{s}"')
    y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
    try:
        datetime(y, mo, d, h, mi, sec)  # range checks: month 13, Feb 30, hour 24 …
    except ValueError:
        raise InvalidArgument(f'invalid RFC 3339 time "{s}"') from None
    nanos = int((m.group(7) or "0")[:9].ljust(9, "0"))
    zone = m.group(8)
    offset = 0
    if zone not in ("Z", "z"):
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60
        offset = -offset if zone[0] == "-" else offset
    return _timegm(y, mo, d, h, mi, sec) - offset, nanos, offset


def parse_rfc3339(s: str) -> float:
    """Unix seconds for an RFC 3339 time such as ``2024-09-26T21:31:42.123456789Z``."""
    secs, nanos, _ = _parse_parts(s)
    return secs + nanos / 1e9


def _render(secs: int, frac_digits: str, offset: int) -> str:
    dt = _EPOCH + timedelta(seconds=secs + offset)
    text = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T"
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}")
    frac = frac_digits.rstrip("0")  # Go's RFC3339Nano drops trailing zeros
    if frac:
        text += "." + frac
    if offset == 0:
        return text + "Z"
    sign, off = ("+", offset) if offset > 0 else ("-", -offset)
    return text + f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"


def format_created(ts: float) -> str:
    """Docker's RFC3339Nano rendering in UTC (``2024-09-26T21:31:42.123456Z``).

    A float of unix seconds carries only ~0.2 µs today, so digits past the
    microsecond would be noise; :attr:`ImageConfig.created_text` keeps the
    config's own nanoseconds.
    """
    secs, micros = divmod(round(ts * 1_000_000), 1_000_000)
    return _render(secs, f"{micros:06d}", 0)


# -- the config ------------------------------------------------------------------

@dataclass(frozen=True)
class ImageConfig:
    """An image's config JSON, with typed views of the parts the engine reads."""

    raw: dict[str, Any]

    @property
    def diff_ids(self) -> list[str]:
        return list(self.raw.get("rootfs", {}).get("diff_ids") or [])

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.raw.get("history") or [])

    @property
    def created(self) -> float:
        try:
            secs, nanos, _ = _parse_parts(self.raw.get("created", ""))
        except InvalidArgument:
            return 0.0
        if secs == _GO_ZERO_TIME:
            return 0.0  # Go's zero time means "unset"
        return secs + nanos / 1e9

    @property
    def created_text(self) -> str:
        """``created`` as Docker prints it (RFC3339Nano, original offset), or ""."""
        try:
            secs, nanos, offset = _parse_parts(self.raw.get("created", ""))
        except InvalidArgument:
            return ""
        return _render(secs, f"{nanos:09d}", offset)

    def _str(self, key: str) -> str:
        value = self.raw.get(key)
        return value if isinstance(value, str) else ""

    @property
    def architecture(self) -> str:
        return self._str("architecture")

    @property
    def os(self) -> str:
        return self._str("os")

    @property
    def variant(self) -> str:
        return self._str("variant")

    @property
    def author(self) -> str:
        return self._str("author")

    @property
    def config(self) -> dict[str, Any]:
        value = self.raw.get("config")
        return value if isinstance(value, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        value = self.config.get("Labels")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def history_mismatch(self) -> bool:
        history = self.history
        if not history:
            return False
        layers = sum(1 for h in history if not h.get("empty_layer"))
        return layers != len(self.diff_ids)


_GO_ZERO_TIME = _timegm(1, 1, 1, 0, 0, 0)


def parse_config(data: bytes, *, digest: str | None = None) -> ImageConfig:
    """Parse and check an image config; ``digest`` only labels errors."""
    prefix = f"image config {digest}" if digest else "image config"

    def fail(where: str, why: str) -> InvalidContent:
        return InvalidContent(f"{prefix}: {where}: {why}" if where else f"{prefix}: {why}",
                              digest=digest, field=where)

    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise fail("", f"not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise fail("", "expected a JSON object")
    rootfs = raw.get("rootfs")
    if not isinstance(rootfs, dict):
        raise fail("rootfs", "missing or not an object")
    if rootfs.get("type") != "layers":
        raise fail("rootfs.type", f'must be "layers", got {json.dumps(rootfs.get("type"))}')
    diff_ids = rootfs.get("diff_ids", [])
    if diff_ids is None:
        diff_ids = []
    if not isinstance(diff_ids, list):
        raise fail("rootfs.diff_ids", "must be a list")
    for i, d in enumerate(diff_ids):
        if not isinstance(d, str) or digest_error(d) is not None:
            raise fail(f"rootfs.diff_ids[{i}]", f'invalid digest "{d}"')
    history = raw.get("history")
    if history is not None:
        if not isinstance(history, list):
            raise fail("history", "must be a list")
        for i, h in enumerate(history):
            if not isinstance(h, dict):
                raise fail(f"history[{i}]", "must be an object")
    if raw.get("config") is not None and not isinstance(raw["config"], dict):
        raise fail("config", "must be an object")
    labels = (raw.get("config") or {}).get("Labels")
    if labels is not None and not (isinstance(labels, dict) and all(
            isinstance(v, str) for v in labels.values())):
        raise fail("config.Labels", "must be an object of strings")
    return ImageConfig(raw)


def layer_history(config: ImageConfig) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """``(layer, history entry)`` per step, oldest first, for ``dockyard history``.

    ``layer`` is ``{"index", "diff_id", "chain_id"}`` or None for a step that
    made no layer.  When the lists disagree nothing is dropped: layers left
    over get an empty history entry, and non-empty steps past the last layer
    get None (Docker refuses such an image; we show what there is).
    """
    diff_ids = config.diff_ids
    chains = chain_ids(diff_ids)
    out: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    n = 0
    for entry in config.history:
        layer = None
        if not entry.get("empty_layer") and n < len(diff_ids):
            layer = {"index": n, "diff_id": diff_ids[n], "chain_id": chains[n]}
            n += 1
        out.append((layer, dict(entry)))
    for i in range(n, len(diff_ids)):
        out.append(({"index": i, "diff_id": diff_ids[i], "chain_id": chains[i]}, {}))
    return out
