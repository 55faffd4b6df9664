"""Reading a container's JSON-lines log (``logs``), rotated files included."""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class LogLine:
    stream: str  # stdout | stderr
    text: str
    time: str  # RFC 3339 with nanoseconds, as written
    time_ns: int


def _parse_time(s: str) -> int:
    import calendar

    base, _, frac = s.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def _files(path: str) -> list[str]:
    rotated = sorted(glob.glob(path + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1])
                     if p.rsplit(".", 1)[1].isdigit() else 0)
    return [p for p in rotated if p.rsplit(".", 1)[1].isdigit()] + [path]


def _lines(f) -> Iterator[LogLine]:  # noqa: ANN001
    for raw in f:
        if not raw.endswith(b"\n"):
            f.seek(-len(raw), os.SEEK_CUR)  # a line being written: come back for it
            return
        try:
            rec = json.loads(raw)
            yield LogLine(rec["stream"], rec["log"], rec["time"], _parse_time(rec["time"]))
        except (ValueError, KeyError):
            continue


def read(path: str, *, since_ns: int = 0, until_ns: int | None = None, tail: int = -1,
         follow: bool = False, running: Callable[[], bool] = lambda: False,
         poll: float = 0.1) -> Iterator[LogLine]:
    def keep(line: LogLine) -> bool:
        return line.time_ns >= since_ns and (until_ns is None or line.time_ns <= until_ns)

    past: list[LogLine] = []
    for p in _files(path):
        try:
            with open(p, "rb") as f:
                past.extend(line for line in _lines(f) if keep(line))
        except FileNotFoundError:
            continue
    if tail >= 0:
        past = past[-tail:] if tail else []
    yield from past
    if not follow:
        return
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return
    f.seek(0, os.SEEK_END)
    ino = os.fstat(f.fileno()).st_ino
    try:
        while True:
            got = False
            for line in _lines(f):
                got = True
                if keep(line):
                    yield line
            if until_ns is not None and time.time_ns() > until_ns:
                return
            if not got:
                try:
                    if os.stat(path).st_ino != ino:  # rotated: continue in the new file
                        f.close()
                        f = open(path, "rb")  # noqa: SIM115
                        ino = os.fstat(f.fileno()).st_ino
                        continue
                except FileNotFoundError:
                    return
                if not running():
                    yield from (line for line in _lines(f) if keep(line))
                    return
                time.sleep(poll)
    finally:
        f.close()
