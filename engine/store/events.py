"""The append-only event log (``dockyard events``, the TUI's live updates).

Writers append inside the same transaction as the change they describe, so
an event is visible exactly when its change is.  Readers poll by id: ids
only grow, so "everything after id N" never misses or repeats an event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from .db import Database


@dataclass(frozen=True)
class Event:
    """One entry of the event log, as ``dockyard events`` prints it."""

    id: int
    time_ns: int
    type: str  # "image", "container", "volume", "network"
    action: str  # "pull", "tag", "untag", "delete", "load", "import", "save", …
    actor: str  # the object's ID
    attrs: dict[str, str] = field(default_factory=dict)


def emit(conn, type: str, action: str, actor: str, **attrs: str) -> None:  # noqa: A002
    conn.execute(
        "INSERT INTO events (time_ns, type, action, actor, attrs) VALUES (?, ?, ?, ?, ?)",
        (time.time_ns(), type, action, actor, json.dumps(attrs, sort_keys=True)))


def _row(r) -> Event:
    return Event(r["id"], r["time_ns"], r["type"], r["action"], r["actor"],
                 json.loads(r["attrs"]))


def after(db: Database, last_id: int = 0, *, since_ns: int = 0, until_ns: int | None = None,
          limit: int = 1000) -> list[Event]:
    sql = "SELECT * FROM events WHERE id > ? AND time_ns >= ?"
    args: list = [last_id, since_ns]
    if until_ns is not None:
        sql += " AND time_ns <= ?"
        args.append(until_ns)
    sql += " ORDER BY id LIMIT ?"
    args.append(limit)
    return [_row(r) for r in db.query(sql, tuple(args))]


def last_id(db: Database) -> int:
    row = db.one("SELECT MAX(id) AS m FROM events")
    return int(row["m"] or 0) if row else 0


def follow(db: Database, start_id: int, *, interval: float = 0.2,
           until_ns: int | None = None) -> Iterator[Event]:
    """Yield events after ``start_id`` as they are written, forever
    (or until ``until_ns`` has passed)."""
    cursor = start_id
    while True:
        batch = after(db, cursor, until_ns=until_ns)
        yield from batch
        if batch:
            cursor = batch[-1].id
            continue
        if until_ns is not None and time.time_ns() > until_ns:
            return
        time.sleep(interval)
