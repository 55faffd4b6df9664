"""Where blobs are known to live remotely: ``blob_sources`` rows.

A pull or push records ``(digest, registry, repo)`` for every blob it moved
or saw; a later push of that blob to *another* repository of the same
registry asks for a cross-repository mount from one of them instead of
uploading the bytes again.  A stale row costs nothing: a registry that no
longer has the blob there answers the mount with an ordinary upload session.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from ..store import Database


def remember(c: sqlite3.Connection, registry: str, repo: str, digests: Iterable[str]) -> None:
    now = time.time()
    c.executemany("INSERT OR REPLACE INTO blob_sources VALUES (?, ?, ?, ?)",
                  [(d, registry, repo, now) for d in dict.fromkeys(digests)])


def mount_source(db: Database, registry: str, repo: str, digest: str) -> str | None:
    """Another repository of ``registry`` that has ``digest``, most recently seen first."""
    row = db.one("SELECT repo FROM blob_sources WHERE digest = ? AND registry = ? AND repo != ? "
                 "ORDER BY seen DESC LIMIT 1", (digest, registry, repo))
    return row["repo"] if row else None
