"""The store: one state root — metadata DB, blobs, leases and the event log.

Every mutation runs in one ``Database.write()`` transaction (the store
lock); files it creates become visible before their rows only under a
lease, so a crash at any moment leaves either the old state or orphans
that ``system check --repair`` can name and remove.
"""

from __future__ import annotations

from .blobs import BlobStore
from .db import Database
from .events import Event
from .leases import Lease, Leases
from .root import DEFAULT_ROOT, Store, default_root

__all__ = [
    "DEFAULT_ROOT",
    "BlobStore",
    "Database",
    "Event",
    "Lease",
    "Leases",
    "Store",
    "default_root",
]
