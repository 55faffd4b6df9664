"""Content digests as OCI and go-digest define them: ``<algorithm>:<hex>``.

Only the registered algorithms are accepted (sha256, sha384, sha512) and
only lowercase hex of the algorithm's exact length, so one piece of content
has exactly one spelling of its digest — the property every content-addressed
lookup in the store relies on.
"""

from __future__ import annotations

import re

from ..errors import InvalidArgument

__all__ = [
    "Sha256Writer",
    "digest_error",
    "hex_of",
    "sha256_digest",
    "sha256_hex",
    "short_id",
    "validate_digest",
]

# hex length per registered algorithm (go-digest's algorithm.Size() * 2)
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}

# go-digest's DigestRegexp: decides "unsupported" vs "malformed" for unknown algorithms
_ANY_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_LOWER_HEX = re.compile(r"[a-f0-9]+")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)


def sha256_hex(data: bytes) -> str:
    """The sha256 of a small ``data``: from CPython's built-in module, because
    ``hashlib`` loads OpenSSL (~2 ms on every command); streams of layer
    bytes use ``hashlib``, whose OpenSSL code is faster per byte."""
    return _small_sha256(data).hexdigest()


# looked up once: a failed import searches sys.path again on every call
try:
    from _sha256 import sha256 as _small_sha256  # type: ignore[import-not-found]  # 3.11
except ImportError:  # pragma: no cover - 3.12+ calls it _sha2
    try:
        from _sha2 import sha256 as _small_sha256  # type: ignore[import-not-found, no-redef]
    except ImportError:
        from hashlib import sha256 as _small_sha256  # type: ignore[assignment]


def digest_error(s: str) -> str | None:
    """go-digest's ``Digest.Validate`` message for ``s``, or None when valid.

    Kept separate from :func:`validate_digest` because reference parsing
    must surface these exact messages ("invalid checksum digest length").
    """
    algo, sep, encoded = s.partition(":")
    if not sep or not algo or not encoded:
        return "invalid checksum digest format"
    want = ALGORITHMS.get(algo)
    if want is None:
        if not _ANY_DIGEST.fullmatch(s):
            return "invalid checksum digest format"
        return "unsupported digest algorithm"
    if len(encoded) != want:
        return "invalid checksum digest length"
    if not _LOWER_HEX.fullmatch(encoded):
        return "invalid checksum digest format"
    return None


def validate_digest(s: str) -> str:
    """Return ``s`` if it is a well-formed digest, else raise InvalidArgument."""
    if not isinstance(s, str) or digest_error(s) is not None:
        raise InvalidArgument(f'invalid digest "{s}"', digest=s)
    return s


def hex_of(digest: str) -> str:
    """The encoded part of a digest; a bare hex string comes back unchanged."""
    return digest.partition(":")[2] if ":" in digest else digest


def short_id(digest: str) -> str:
    """Docker's short ID: the first 12 hex characters, no algorithm."""
    return hex_of(digest)[:12]


class Sha256Writer:
    """A write-only sink that hashes and counts what passes through it.

    Enough of the file protocol (``write``, ``tell``, ``flush``, ``close``)
    for ``tarfile.open(fileobj=..., mode="w|")`` and ``shutil.copyfileobj``,
    so a DiffID can be computed by streaming a tar without storing it.
    """

    def __init__(self) -> None:
        import hashlib

        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to closed Sha256Writer")
        self._hash.update(data)
        n = memoryview(data).nbytes
        self.size += n
        return n

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        # the digest stays readable after close: callers close via tarfile
        self.closed = True

    @property
    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
