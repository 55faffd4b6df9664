"""What a pull and a push share: the connection, one reference's job, progress.

Lifecycle: :func:`connect` opens the :class:`~engine.registry.client.Registry`
of a reference's domain (with the user's ``config.json`` credentials unless
others are given) for the whole command; over it, one :class:`RepoJob` per
tag (``pull._Puller``, ``push._Pusher``) moves that tag's blobs.  A job's
``abort`` is set when it fails, or when the caller's ``cancel`` is, so the
transfers running beside it stop too.
"""

from __future__ import annotations

import threading

from ..images.reference import Reference
from ..images.store import ImageStore
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Store
from . import CredentialStore
from .client import Registry

MIN_REPORT_STEP = 512 << 10  # progress reports at most every this many bytes (or 1%)


def connect(domain: str, *, credentials: CredentialStore | None,
            tls_verify: bool) -> Registry:
    """The registry of ``domain``, with ``credentials`` or else ``config.json``'s."""
    if credentials is None:
        from .credentials import DockerConfig

        credentials = DockerConfig()
    return Registry(domain, credentials=credentials, tls_verify=tls_verify)


class Either(threading.Event):
    """Set when we abort, or when the caller's cancel event is set."""

    def __init__(self, other: threading.Event | None) -> None:
        super().__init__()
        self.other = other

    def is_set(self) -> bool:
        return super().is_set() or (self.other is not None and self.other.is_set())


def throttled(progress: ProgressFn | None, sid: str, status: str, total: int):  # noqa: ANN201
    """A ``fn(bytes so far)`` that reports ``status`` for ``sid`` every 1% (at
    least :data:`MIN_REPORT_STEP` bytes apart) and at the end."""
    step = max(total // 100, MIN_REPORT_STEP)
    last = [-step]

    def fn(n: int) -> None:
        if n - last[0] >= step or n == total:
            last[0] = n
            report(progress, sid, status, n, total)
    return fn


class RepoJob:
    """One reference's pull or push over an open registry: the stores it reads
    and writes, the repository (``ref.path``) on ``reg``, where progress goes
    and the ``abort`` event its transfers watch."""

    def __init__(self, store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 reg: Registry, ref: Reference, *, progress: ProgressFn | None,
                 cancel: threading.Event | None) -> None:
        self.store = store
        self.snapshots = snapshots
        self.images = images
        self.reg = reg
        self.ref = ref
        self.repo = ref.path
        self.progress = progress
        self.cancel = cancel
        self.abort = Either(cancel)
