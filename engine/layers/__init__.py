"""Layers: the tar diffs that images are made of, read and written safely.

A *layer* is a tar of one filesystem diff.  Its *DiffID* is the sha256 of
the uncompressed tar, every byte to EOF; the blob that travels (gzip,
zstd or plain) has its own digest, which this package never computes.

Deletions travel in two formats, and this package converts between them:

- **tar (OCI / Docker):** an empty file ``.wh.<name>`` beside ``<name>``
  deletes ``<name>`` (and everything below it) from the layers underneath;
  an empty file ``.wh..wh..opq`` inside a directory hides everything the
  layers underneath had in that directory, while this layer's own entries
  stay.
- **overlay (on disk, in a snapshot's ``fs`` dir):** a character device
  with device number 0/0 named ``<name>`` is the deletion; a directory
  with the xattr ``trusted.overlay.opaque=y`` is opaque.  This is what the
  kernel writes into an upper dir, so an upper dir *is* a layer diff.

Lifecycle: a pulled or loaded blob goes through :func:`apply_layer` into
the ``fs`` dir of a fresh snapshot (overlay form), or straight into a flat
rootfs (``whiteouts="delete"``).  A committed or built layer is the other
way round: :func:`diff_id_of` hashes the tar :func:`write_layer` *would*
write, and the tar itself (compressed by :func:`gzip_compress_stream`) is
made only when the layer is pushed or saved.  Both directions refuse
hostile input with :class:`~engine.errors.UnsafeArchive` or
:class:`~engine.errors.InvalidContent`, with a one-line message that starts
with the caller's ``label`` and names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class ApplyResult:
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    size: int  # bytes of regular files written, hard links once
    files: int  # tar entries applied (extended headers not counted)


@dataclass(frozen=True)
class WriteResult:
    diff_id: str  # "sha256:<hex>" of the tar written
    size: int  # bytes of regular files in it, hard links once


@dataclass(frozen=True)
class Change:
    """One line of ``docker diff``: Added, Changed or Deleted."""

    kind: Literal["A", "C", "D"]
    path: str  # absolute inside the container: "/etc/hosts"
    size: int  # regular file bytes; 0 for the rest


from .apply import apply_layer  # noqa: E402
from .changes import changes  # noqa: E402
from .compression import detect, gzip_compress_stream, open_uncompressed  # noqa: E402
from .write import diff_id_of, write_layer  # noqa: E402

__all__ = [
    "OPAQUE",
    "WHITEOUT_PREFIX",
    "ApplyResult",
    "Change",
    "WriteResult",
    "apply_layer",
    "changes",
    "detect",
    "diff_id_of",
    "gzip_compress_stream",
    "open_uncompressed",
    "write_layer",
]
