"""Registry: the OCI distribution protocol — pull, push, login, logout.

Terms (distribution spec):
- *registry* — one host (``registry-1.docker.io``, ``127.0.0.1:5000``) that
  serves ``/v2/``; a *repository* is a path on it (``library/busybox``).
- *challenge* — the ``WWW-Authenticate`` a registry answers 401 with:
  ``Basic realm=…`` (send the user's password on every request) or
  ``Bearer realm=…,service=…,scope=…`` (trade the password, or nothing for
  anonymous access, for a short-lived token valid for some *scopes* such as
  ``repository:library/busybox:pull``).
- *blob* — content named by its digest (layers, configs); *manifest* — the
  JSON naming one image's blobs; an *index* names one manifest per platform.

Lifecycle of a pull: resolve the reference to a manifest (through an index,
for the platform asked for), fetch the config, download only the layer blobs
the store lacks — every byte hashed on the way in and refused unless it
matches its digest, an interrupted download resumed with a ``Range``
request — then unpack and record the image in one transaction.  Until then
new blobs live under a lease; any failure removes them again, so a pull
that fails leaves the store exactly as it was.

Lifecycle of a push: make the image's manifest (compressing layers made
here, once, see :func:`engine.archive.save.ensure_manifest`), then for each
blob ask the registry whether it has it (``HEAD``), else mount it from
another repository of the same registry it is known to be in, else upload
it (one ``PUT``, or ``PATCH`` chunks for large blobs); the manifest goes last
so the registry never names a tag whose blobs are missing.

Every response is untrusted: digests are checked, sizes bounded, and a
registry's error JSON becomes a one-line :class:`RegistryError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import EngineError

__all__ = [
    "AuthEntry",
    "CredentialStore",
    "PullResult",
    "PushResult",
    "RegistryError",
    "login",
    "logout",
    "pull",
    "push",
]


class RegistryError(EngineError):
    """The registry refused or failed a request; ``str()`` is its own message.

    Context: ``code`` (the first error code of the registry's JSON, such as
    ``MANIFEST_UNKNOWN``, or "" when it sent none) and ``status`` (HTTP
    status, 0 for a network failure).
    """

    @property
    def code(self) -> str:
        return str(self.context.get("code", ""))

    @property
    def status(self) -> int:
        value = self.context.get("status", 0)
        return value if isinstance(value, int) else 0


@dataclass(frozen=True)
class AuthEntry:
    """What one registry's credentials are: a user and password, or the
    identity token a token server issued in exchange for them."""

    username: str
    password: str
    identity_token: str = ""


class CredentialStore(Protocol):
    """Where credentials live between runs, keyed by registry host.

    ``get`` returns None when nothing is stored; ``erase`` returns whether
    something was removed.  The default implementation is
    :class:`engine.registry.credentials.DockerConfig` (``~/.docker/config.json``).
    """

    def get(self, registry: str) -> AuthEntry | None: ...

    def store(self, registry: str, entry: AuthEntry) -> None: ...

    def erase(self, registry: str) -> bool: ...


@dataclass(frozen=True)
class PullResult:
    reference: str  # fully qualified, as Docker prints last: "docker.io/library/busybox:latest"
    image_ids: tuple[str, ...]  # one per tag pulled
    digest: str  # the manifest (or index) digest of the last tag pulled
    updated: bool  # some tag or digest now names a new image ("Downloaded newer image")


@dataclass(frozen=True)
class PushResult:
    tag: str  # the tag (Docker's "latest: digest: …" line)
    digest: str  # manifest digest
    size: int  # manifest size in bytes


from .login import login, logout  # noqa: E402
from .pull import pull  # noqa: E402
from .push import push  # noqa: E402
