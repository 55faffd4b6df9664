"""Leases protect in-flight content from GC and ``system check --repair``.

A lease belongs to one live process.  Before an operation makes a file
visible (a blob renamed into ``blobs/``, a snapshot directory being
extracted) it records ``(kind, ref)`` under its lease in a committed
transaction; when the operation commits its real rows it drops the lease.
A lease whose process is gone (killed, crashed) is *expired*: whatever it
still names was never committed and may be removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .db import Database


def _start_time(pid: int) -> float:
    import psutil  # here: monitors import the store and must stay small

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return -1.0


class Lease:
    def __init__(self, db: Database, lease_id: str) -> None:
        self.db = db
        self.id = lease_id

    def add(self, kind: str, ref: str) -> None:
        with self.db.write() as c:
            c.execute("INSERT OR IGNORE INTO lease_refs VALUES (?, ?, ?)", (self.id, kind, ref))


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def hold(self) -> Iterator[Lease]:
        pid = os.getpid()
        lease_id = os.urandom(16).hex()  # not uuid: it imports platform (~5 ms)
        with self.db.write() as c:
            c.execute("INSERT INTO leases VALUES (?, ?, ?, ?)",
                      (lease_id, pid, _start_time(pid), time.time()))
        try:
            yield Lease(self.db, lease_id)
        finally:
            with self.db.write() as c:
                c.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    def live_refs(self, kind: str) -> set[str]:
        """Refs of ``kind`` held by leases whose process still runs."""
        rows = self.db.query(
            "SELECT l.pid, l.started, r.ref FROM leases l JOIN lease_refs r "
            "ON r.lease_id = l.id WHERE r.kind = ?", (kind,))
        alive: dict[tuple[int, float], bool] = {}
        out = set()
        for r in rows:
            key = (r["pid"], r["started"])
            if key not in alive:
                alive[key] = abs(_start_time(r["pid"]) - r["started"]) < 0.5
            if alive[key]:
                out.add(r["ref"])
        return out

    def expired(self) -> list[tuple[str, str, str]]:
        """``(lease_id, kind, ref)`` for every ref of a dead process's lease."""
        out: list[tuple[str, str, str]] = []
        for lease in self.db.query("SELECT id, pid, started FROM leases"):
            if abs(_start_time(lease["pid"]) - lease["started"]) < 0.5:
                continue
            refs = self.db.query("SELECT kind, ref FROM lease_refs WHERE lease_id = ?",
                                 (lease["id"],))
            out.extend((lease["id"], r["kind"], r["ref"]) for r in refs)
            if not refs:
                out.append((lease["id"], "", ""))
        return out

    def drop(self, lease_id: str) -> None:
        with self.db.write() as c:
            c.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
