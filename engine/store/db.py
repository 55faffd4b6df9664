"""The metadata database: one SQLite file per root, WAL, versioned schema.

Every process that opens a root (TUI, CLI, monitors) opens its own
connection.  Writers serialise through SQLite itself: :meth:`Database.write`
runs ``BEGIN IMMEDIATE`` so a mutation takes the store lock up front and
either commits whole or not at all.  Readers never block writers (WAL).

Migrations are a list of SQL scripts; ``PRAGMA user_version`` records how
many have run.  Append to ``MIGRATIONS``, never edit a released entry.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import Unavailable

MIGRATIONS: list[str] = [
    # 1: content, images, layers, snapshots, events, leases
    """
    CREATE TABLE blobs (
        digest     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        media_type TEXT NOT NULL DEFAULT '',
        created    REAL NOT NULL
    );
    CREATE TABLE snapshots (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        key      TEXT NOT NULL UNIQUE,
        kind     TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
        parent   TEXT REFERENCES snapshots(key),
        created  REAL NOT NULL,
        size     INTEGER NOT NULL DEFAULT 0,
        labels   TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE layers (
        chain_id  TEXT PRIMARY KEY,
        diff_id   TEXT NOT NULL,
        parent    TEXT REFERENCES layers(chain_id),
        size      INTEGER NOT NULL,
        created   REAL NOT NULL
    );
    CREATE TABLE layer_blobs (
        diff_id    TEXT NOT NULL,
        digest     TEXT NOT NULL REFERENCES blobs(digest),
        media_type TEXT NOT NULL,
        PRIMARY KEY (diff_id, digest)
    );
    CREATE TABLE images (
        id              TEXT PRIMARY KEY,
        top_layer       TEXT REFERENCES layers(chain_id),
        manifest_digest TEXT,
        created         REAL NOT NULL,
        loaded          REAL NOT NULL,
        size            INTEGER NOT NULL,
        parent          TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id),
        created  REAL NOT NULL
    );
    CREATE INDEX tags_image ON tags(image_id);
    CREATE TABLE repo_digests (
        repo     TEXT NOT NULL,
        digest   TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (repo, digest)
    );
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ns INTEGER NOT NULL,
        type    TEXT NOT NULL,
        action  TEXT NOT NULL,
        actor   TEXT NOT NULL,
        attrs   TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE leases (
        id      TEXT PRIMARY KEY,
        pid     INTEGER NOT NULL,
        started REAL NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE lease_refs (
        lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL,
        ref      TEXT NOT NULL,
        PRIMARY KEY (lease_id, kind, ref)
    );
    """,
    # 2: containers and volumes
    """
    CREATE TABLE containers (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        image         TEXT NOT NULL,
        image_id      TEXT NOT NULL REFERENCES images(id),
        created       REAL NOT NULL,
        config        TEXT NOT NULL,
        host_config   TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'created',
        pid           INTEGER NOT NULL DEFAULT 0,
        monitor_pid   INTEGER NOT NULL DEFAULT 0,
        exit_code     INTEGER NOT NULL DEFAULT 0,
        oom_killed    INTEGER NOT NULL DEFAULT 0,
        error         TEXT NOT NULL DEFAULT '',
        started_at    REAL NOT NULL DEFAULT 0,
        finished_at   REAL NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        stopped_by_user INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX containers_image ON containers(image_id);
    CREATE TABLE volumes (
        name      TEXT PRIMARY KEY,
        driver    TEXT NOT NULL DEFAULT 'local',
        created   REAL NOT NULL,
        labels    TEXT NOT NULL DEFAULT '{}',
        options   TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE container_volumes (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        volume       TEXT NOT NULL REFERENCES volumes(name),
        destination  TEXT NOT NULL,
        PRIMARY KEY (container_id, destination)
    );
    """,
    # 3: which remote repositories hold a blob (registry client: cross-repo mounts on push)
    """
    CREATE TABLE blob_sources (
        digest   TEXT NOT NULL,
        registry TEXT NOT NULL,
        repo     TEXT NOT NULL,
        seen     REAL NOT NULL,
        PRIMARY KEY (digest, registry, repo)
    );
    """,
    # 4: networks (engine/network): configured networks, a container's extra networks,
    # and the live attachments (sandbox = netns, endpoint = veth + address, port bindings)
    """
    CREATE TABLE networks (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        driver   TEXT NOT NULL DEFAULT 'bridge',
        bridge   TEXT NOT NULL UNIQUE,
        subnet   TEXT NOT NULL,
        gateway  TEXT NOT NULL,
        auto     INTEGER NOT NULL DEFAULT 1,
        internal INTEGER NOT NULL DEFAULT 0,
        created  REAL NOT NULL,
        labels   TEXT NOT NULL DEFAULT '{}',
        options  TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE container_networks (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        aliases      TEXT NOT NULL DEFAULT '[]',
        connected    INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (container_id, network_id)
    );
    CREATE TABLE sandboxes (
        container_id TEXT PRIMARY KEY,
        netns        TEXT NOT NULL,
        joined       TEXT NOT NULL DEFAULT '',
        created      REAL NOT NULL
    );
    CREATE TABLE endpoints (
        network_id   TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL REFERENCES sandboxes(container_id) ON DELETE CASCADE,
        id           TEXT NOT NULL UNIQUE,
        ifname       TEXT NOT NULL,
        veth         TEXT NOT NULL,
        ip           TEXT NOT NULL,
        mac          TEXT NOT NULL,
        aliases      TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (network_id, container_id),
        UNIQUE (network_id, ip)
    );
    CREATE TABLE port_bindings (
        container_id   TEXT NOT NULL REFERENCES sandboxes(container_id) ON DELETE CASCADE,
        host_ip        TEXT NOT NULL,
        host_port      INTEGER NOT NULL,
        proto          TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        PRIMARY KEY (host_ip, host_port, proto)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A thread-safe handle on ``dockyard.db``: one connection per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._local.conn = self._connect()
            self._local.pid = os.getpid()
        return conn

    def _migrate(self) -> None:
        try:
            conn = self.conn
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise Unavailable(f"{self.path}: cannot open the store database: {e}") from None
        if version > SCHEMA_VERSION:
            raise Unavailable(
                f"{self.path}: schema version {version} is newer than this dockyard "
                f"({SCHEMA_VERSION}); upgrade dockyard")
        if version == SCHEMA_VERSION:
            return
        with self.write() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            for n in range(version, SCHEMA_VERSION):
                for stmt in _statements(MIGRATIONS[n]):
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version={n + 1}")

    @contextmanager
    def write(self, *, dry_run: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from the start.

        Nested calls join the outer transaction.  ``dry_run`` rolls back at
        the end: the caller sees exactly what the change would do.
        """
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("ROLLBACK" if dry_run else "COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
