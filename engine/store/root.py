"""One state root on disk and the handles every subsystem shares.

::

    <root>/            mode 0700
      dockyard.db      metadata (see db.py)
      blobs/sha256/    content (see blobs.py)
      snapshots/<n>/   overlay snapshotter directories
      containers/<id>/ bundles, logs, monitor state
      volumes/<name>/  named volumes
      tmp/             private temp files; anything here is garbage after a crash
"""

from __future__ import annotations

import os

from ..errors import Unavailable
from .blobs import BlobStore
from .db import Database
from .leases import Leases

DEFAULT_ROOT = "/var/lib/dockyard"


def default_root() -> str:
    return os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT


class Store:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.chmod(self.root, 0o700)
            for sub in ("tmp", "snapshots", "containers", "volumes"):
                os.makedirs(os.path.join(self.root, sub), mode=0o700, exist_ok=True)
        except PermissionError as e:
            raise Unavailable(f"cannot use state root {self.root}: {e.strerror}") from None
        self.tmp = os.path.join(self.root, "tmp")
        self.db = Database(os.path.join(self.root, "dockyard.db"))
        self.blobs = BlobStore(os.path.join(self.root, "blobs"), self.tmp)
        self.leases = Leases(self.db)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def close(self) -> None:
        self.db.close()
