"""Content-addressed blob store: ``blobs/sha256/<hex>``.

Lifecycle of a blob: :meth:`BlobStore.ingest` streams bytes into a private
temp file under ``tmp/`` while hashing, fsyncs, checks the expected digest
and renames the file into place — so a blob path either does not exist or
holds exactly the bytes of its name.  Whether a blob is *referenced* is the
database's business (``blobs`` rows, written by the caller's transaction);
files without a row are orphans that ``system check --repair`` removes
unless a live lease protects them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import BinaryIO

from ..errors import Cancelled, DigestMismatch, NotFound

CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: str, tmp: str) -> None:
        self.root = root  # …/blobs
        self.tmp = tmp
        os.makedirs(os.path.join(root, "sha256"), mode=0o700, exist_ok=True)

    def path(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        return os.path.join(self.root, algo, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest}: not found in the store") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest}: not found in the store") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def ingest(
        self,
        src: BinaryIO,
        *,
        expected: str | None = None,
        label: str = "",
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        before_rename: Callable[[str], None] | None = None,
    ) -> tuple[str, int]:
        """Copy ``src`` in; return ``(digest, size)``.

        With ``expected`` the bytes must hash to it or nothing is stored.
        ``before_rename(digest)`` runs before the file becomes visible, so a
        caller can record a lease on it first.
        """
        import hashlib  # not at the top: OpenSSL's load costs every `run`

        h = hashlib.sha256()
        size = 0
        # mkstemp's way without tempfile's import (shutil, random: ~5 ms a command)
        tmp = os.path.join(self.tmp, f"ingest-{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(f"{label or 'ingest'}: cancelled")
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + h.hexdigest()
            if expected is not None and digest != expected:
                raise DigestMismatch(
                    f"{label or 'blob'}: content digest {digest} does not match {expected}")
            if before_rename:
                before_rename(digest)
            final = self.path(digest)
            if os.path.exists(final):
                os.unlink(tmp)
            else:
                os.chmod(tmp, 0o644)
                os.rename(tmp, final)
            return digest, size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def ingest_bytes(self, data: bytes, **kw: object) -> tuple[str, int]:
        import io

        return self.ingest(io.BytesIO(data), **kw)  # type: ignore[arg-type]

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def digests(self) -> list[str]:
        out = []
        for algo in os.listdir(self.root):
            for name in os.listdir(os.path.join(self.root, algo)):
                out.append(f"{algo}:{name}")
        return out

    def verify(self, digest: str) -> bool:
        import hashlib

        algo, _, hexpart = digest.partition(":")
        h = hashlib.new(algo)
        with self.open(digest) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest() == hexpart
