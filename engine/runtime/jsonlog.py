"""The json-file log driver: what a monitor writes, ``logs`` reads.

Stdlib only: the monitor imports this module by file name (see monitor.py).
One JSON object a line, ``{"log", "stream", "time"}``, with nanosecond
RFC 3339 times, as Docker's json-file driver writes them.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["Log", "rfc3339_nano"]


def rfc3339_nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class Log:
    """JSON-lines log with size-based rotation (Docker's json-file driver)."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.f = open(path, "ab", buffering=0)  # noqa: SIM115
        self.size = self.f.tell()
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data
        *lines, rest = buf.split(b"\n")
        self.partial[stream] = rest
        for line in lines:
            self._entry(stream, line + b"\n")
        if len(rest) >= 16 * 1024:  # Docker splits long lines at 16 KiB
            self._entry(stream, rest)
            self.partial[stream] = b""

    def flush(self) -> None:
        for stream, rest in self.partial.items():
            if rest:
                self._entry(stream, rest)
                self.partial[stream] = b""

    def _entry(self, stream: str, data: bytes) -> None:
        rec = json.dumps({"log": data.decode("utf-8", "replace"), "stream": stream,
                          "time": rfc3339_nano(time.time_ns())}, ensure_ascii=False)
        out = rec.encode() + b"\n"
        if self.max_size and self.size + len(out) > self.max_size and self.size:
            self._rotate()
        self.f.write(out)
        self.size += len(out)

    def _rotate(self) -> None:
        self.f.close()
        if self.max_file > 1:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n}")
        else:
            os.truncate(self.path, 0)
        self.f = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self.size = 0
