"""Moving blobs: resumable downloads, monolithic and chunked uploads, mounts.

A download is read through :class:`BlobReader`, a file-like object that
:meth:`BlobStore.ingest` hashes as it copies.  When the connection drops
(or ends early) the reader asks again with ``Range: bytes=<offset>-`` and
carries on, so the hash covers every byte exactly once; a registry that
ignores the range is read from the start and the bytes we already have are
skipped.  The reader never yields more than the descriptor's size, so a
hostile registry cannot fill the disk.

An upload starts a session (``POST /v2/<repo>/blobs/uploads/``, with
``?mount=<digest>&from=<repo>`` to ask for a cross-repository mount, which
the registry answers 201 when it did it).  Small blobs then go in one
``PUT ?digest=``; large ones in ``PATCH`` chunks with ``Content-Range``, so
a dropped connection costs one chunk: the session's status (``GET``
location → ``Range: 0-<last>``) says where to resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import httpx

from ..errors import Cancelled, InvalidContent
from ..images import manifest as mf
from ..store import BlobStore, Lease
from . import RegistryError
from .auth import _one_line
from .client import Registry, fail, network_error, pull_scope, push_scope

CHUNK = 1 << 20
DOWNLOAD_RETRIES = 5
UPLOAD_RETRIES = 3
DEFAULT_CHUNK_SIZE = 64 << 20  # larger blobs are uploaded in PATCH chunks of this size


def _backoff(attempt: int) -> None:
    time.sleep(min(0.1 * 2 ** attempt, 2.0))


class BlobReader:
    """``read()`` the bytes of one blob from the registry, resuming on failure."""

    def __init__(self, reg: Registry, repo: str, desc: mf.Descriptor, *,
                 retries: int = DOWNLOAD_RETRIES, cancel: threading.Event | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.reg = reg
        self.repo = repo
        self.desc = desc
        self.retries = retries
        self.cancel = cancel
        self.progress = progress
        self.offset = 0
        self.failures = 0
        self.range_requests = 0
        self._resp: httpx.Response | None = None
        self._it: Iterator[bytes] | None = None
        self._skip = 0

    @property
    def label(self) -> str:
        return f"blob {self.desc.digest}"

    def _open(self) -> None:
        headers = {"Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
            self.range_requests += 1
        resp = self.reg.request("GET", f"/v2/{self.repo}/blobs/{self.desc.digest}",
                                scopes=[pull_scope(self.repo)], headers=headers, stream=True)
        self._skip = 0
        if resp.status_code == 206 and self.offset:
            start = resp.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
            if start != str(self.offset):
                resp.close()
                raise RegistryError(f"{self.label}: asked for bytes from {self.offset}, the "
                                    f"registry sent Content-Range {start or 'none'}")
        elif resp.status_code == 200:
            self._skip = self.offset  # the registry ignored Range: drop what we have
        else:
            raise fail(resp, self.label)
        self._resp = resp
        # no chunk size: bytes buffered towards a full chunk would be lost on a drop
        self._it = resp.iter_raw()

    def _drop(self, why: str) -> None:
        self.close()
        self.failures += 1
        if self.failures > self.retries:
            raise RegistryError(f"{self.label}: {why} after {self.offset} of {self.desc.size} "
                                f"bytes; gave up after {self.retries} retries", status=0)
        _backoff(self.failures - 1)

    def read(self, n: int = -1) -> bytes:
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled(f"{self.label}: cancelled")
            if self._it is None:
                if self.offset >= self.desc.size:
                    return b""
                try:
                    self._open()
                except RegistryError as err:
                    if err.status != 0:
                        raise
                    self._drop(err.message)
                    continue
            assert self._it is not None
            try:
                chunk = next(self._it)
            except StopIteration:
                if self.offset >= self.desc.size:
                    self.close()
                    return b""
                self._drop("the connection closed early")
                continue
            except httpx.TransportError as err:
                self._drop(f"connection lost ({_one_line(err)})")
                continue
            if self._skip:
                drop = min(self._skip, len(chunk))
                chunk, self._skip = chunk[drop:], self._skip - drop
                if not chunk:
                    continue
            if self.offset + len(chunk) > self.desc.size:
                self.close()
                raise InvalidContent(f"{self.label}: the registry sent more than the "
                                     f"{self.desc.size} bytes its descriptor names")
            self.offset += len(chunk)
            if self.progress is not None:
                self.progress(self.offset)
            return chunk

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
        self._resp = None
        self._it = None


def download(reg: Registry, repo: str, desc: mf.Descriptor, blobs: BlobStore, lease: Lease, *,
             progress: Callable[[int], None] | None = None,
             cancel: threading.Event | None = None) -> BlobReader:
    """Fetch one blob into the store under ``lease``; its digest is checked
    before the file becomes visible (DigestMismatch otherwise)."""
    reader = BlobReader(reg, repo, desc, cancel=cancel, progress=progress)
    try:
        blobs.ingest(reader, expected=desc.digest, label=reader.label, cancel=cancel,  # type: ignore[arg-type]
                     before_rename=lambda d: lease.add("blob", d))
    finally:
        reader.close()
    return reader


# -- uploads ---------------------------------------------------------------

def start_upload(reg: Registry, repo: str, *, mount: tuple[str, str] | None = None
                 ) -> str | None:
    """Open an upload session; its location, or None when ``mount`` = (digest,
    source repo) was mounted instead."""
    scopes = [push_scope(repo)]
    params = None
    if mount is not None:
        params = {"mount": mount[0], "from": mount[1]}
        scopes.append(pull_scope(mount[1]))
    resp = reg.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes, params=params,
                       content=b"")
    resp.close()
    if resp.status_code == 201 and mount is not None:
        return None
    if resp.status_code != 202:
        raise fail(resp, f"blob upload to {repo}")
    return _location(resp)


def _location(resp: httpx.Response) -> str:
    loc = resp.headers.get("Location")
    if not loc:
        raise RegistryError(f"{resp.request.method} {resp.request.url.path}: the registry "
                            "sent no upload Location")
    return str(resp.url.join(loc))


def _with_digest(location: str, digest: str) -> str:
    return str(httpx.URL(location).copy_merge_params({"digest": digest}))


def put_monolithic(reg: Registry, repo: str, location: str, digest: str, size: int,
                   src: BinaryIO, *, progress: Callable[[int], None] | None = None,
                   cancel: threading.Event | None = None) -> None:
    def body() -> Iterator[bytes]:
        sent = 0
        while chunk := src.read(CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"blob {digest}: cancelled")
            sent += len(chunk)
            if progress is not None:
                progress(sent)
            yield chunk

    resp = reg.request("PUT", _with_digest(location, digest), scopes=[push_scope(repo)],
                       content=body(), headers={"Content-Type": "application/octet-stream",
                                                "Content-Length": str(size)})
    if resp.status_code != 201:
        raise fail(resp, f"blob {digest}")
    resp.close()


def _uploaded_until(reg: Registry, repo: str, location: str) -> tuple[int, str]:
    """(bytes the session holds, its current location) from ``GET`` location."""
    resp = reg.request("GET", location, scopes=[push_scope(repo)])
    if resp.status_code != 204:
        raise fail(resp, "upload status")
    rng = resp.headers.get("Range", "")
    end = rng.removeprefix("bytes=").partition("-")[2]
    return (int(end) + 1 if end.isdigit() else 0), _location(resp) if \
        resp.headers.get("Location") else location


def put_chunked(reg: Registry, repo: str, location: str, digest: str, size: int,
                src: BinaryIO, *, chunk_size: int,
                progress: Callable[[int], None] | None = None,
                cancel: threading.Event | None = None) -> int:
    """Upload in ``PATCH`` chunks, resuming after a dropped chunk; return the
    number of PATCH requests sent."""
    offset, patches, failures = 0, 0, 0
    while offset < size:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"blob {digest}: cancelled")
        src.seek(offset)
        chunk = src.read(min(chunk_size, size - offset))
        if not chunk:
            raise InvalidContent(f"blob {digest}: local file ended at {offset} of {size} bytes")
        end = offset + len(chunk) - 1
        try:
            resp = reg.request("PATCH", location, scopes=[push_scope(repo)], content=chunk,
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Range": f"{offset}-{end}"})
        except RegistryError as err:
            if err.status != 0 or failures >= UPLOAD_RETRIES:
                raise
            failures += 1
            _backoff(failures)
            offset, location = _uploaded_until(reg, repo, location)
            continue
        patches += 1
        if resp.status_code == 416 and failures < UPLOAD_RETRIES:
            failures += 1
            resp.close()
            offset, location = _uploaded_until(reg, repo, location)
            continue
        if resp.status_code != 202:
            raise fail(resp, f"blob {digest}")
        resp.close()
        location = _location(resp)
        offset = end + 1
        if progress is not None:
            progress(offset)
    resp = reg.request("PUT", _with_digest(location, digest), scopes=[push_scope(repo)],
                       content=b"", headers={"Content-Type": "application/octet-stream"})
    if resp.status_code != 201:
        raise fail(resp, f"blob {digest}")
    resp.close()
    return patches


def upload(reg: Registry, repo: str, digest: str, size: int, open_blob: Callable[[], BinaryIO],
           *, location: str | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
           progress: Callable[[int], None] | None = None,
           cancel: threading.Event | None = None) -> None:
    """Upload one blob, in a session already open at ``location`` or a new one.

    A monolithic upload that fails on the network is retried whole in a new
    session; a chunked one resumes inside its session.
    """
    for attempt in range(UPLOAD_RETRIES + 1):
        if location is None:
            location = start_upload(reg, repo)
            assert location is not None
        with open_blob() as src:
            try:
                if size > chunk_size:
                    put_chunked(reg, repo, location, digest, size, src, chunk_size=chunk_size,
                                progress=progress, cancel=cancel)
                else:
                    put_monolithic(reg, repo, location, digest, size, src, progress=progress,
                                   cancel=cancel)
                return
            except RegistryError as err:
                if err.status != 0 or attempt == UPLOAD_RETRIES:
                    raise
                location = None
                _backoff(attempt)
            except httpx.HTTPError as err:  # raised from inside the body generator's send
                if attempt == UPLOAD_RETRIES:
                    raise network_error("PUT", location or "", err) from None
                location = None
                _backoff(attempt)
