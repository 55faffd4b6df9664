"""Network: how a container is connected, behind one small interface.

Modes ``none`` (a fresh netns with only ``lo``) and ``host`` (no netns) are
built into the runtime.  Everything else — the default ``bridge``, user
networks, ``container:NAME`` — goes through a :class:`NetworkDriver`:

Lifecycle (per container start):

1. ``attach(req)`` before the runtime starts: create the netns and its
   interfaces, allocate addresses, set up published ports; return an
   :class:`Attachment` (the netns path for the OCI spec, and the lines for
   the container's /etc/hosts and /etc/resolv.conf).
2. The container runs; across restarts by the monitor the attachment stays.
3. ``detach(cid)`` on ``rm`` and when a crashed monitor is reconciled, and
   ``detach(cid, token=attachment.token)`` by the monitor after the final
   exit: remove everything ``attach`` made.  It must be idempotent (it may
   run twice, or after a partial ``attach``).  With a token it releases only
   that attachment: the monitor's late release must not take down the
   network of the next start of the same container.

The bridge driver (:mod:`.bridge`) keeps its state in the root's database
(``networks``; ``sandboxes``, ``endpoints`` and ``port_bindings`` for live
attachments, see migration 4) and in the kernel (one Linux bridge per network
while it has endpoints, one netns + veth pair per container).  Published
ports are served by a userland proxy in the container's monitor
(``engine/runtime/portproxy.py``), which receives them through
``Attachment.extra["proxy"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class PortMapping:
    """One published (or only exposed) port."""

    host_ip: str
    host_port: int
    container_port: int
    protocol: str = "tcp"

    def __str__(self) -> str:  # one entry of Docker's PORTS column
        if not self.host_port:  # exposed, not published
            return f"{self.container_port}/{self.protocol}"
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class AttachRequest:
    """What a driver needs to attach one container."""

    cid: str
    name: str
    hostname: str
    network: str  # "bridge", a user network name, or "container:<id>"
    aliases: Sequence[str] = ()
    publish: Sequence[str] = ()  # -p specs as given
    publish_all: bool = False
    exposed: Sequence[str] = ()  # the image's EXPOSE ("80/tcp")


@dataclass(frozen=True)
class Attachment:
    """What ``attach`` made: the netns for the spec, the /etc files, the ports."""

    netns: str  # path for the OCI spec's network namespace
    hosts: str = ""  # full /etc/hosts content
    resolv_conf: str = ""  # full /etc/resolv.conf content
    ip: str = ""
    gateway: str = ""
    ports: tuple[PortMapping, ...] = ()
    extra: dict = field(default_factory=dict)  # for inspect's NetworkSettings
    token: str = ""  # names this attachment, for detach(cid, token=...)


class NetworkDriver(Protocol):
    def validate(self, network: str, aliases: Sequence[str] = (),
                 publish: Sequence[str] = (), publish_all: bool = False) -> None:
        """Refuse at ``create`` what ``attach`` would refuse (an unknown network,
        a bad ``-p``), so no container is left that cannot start."""
    def attach(self, req: AttachRequest) -> Attachment: ...
    def detach(self, cid: str, token: str = "") -> None: ...


def driver_factory(store: Store) -> Callable[[], NetworkDriver]:
    """What ``Containers(network=...)`` takes: the bridge driver, made on first use.

    Cheap to call: nothing touches the kernel (or imports pyroute2) until a
    container is attached or detached.
    """
    made: list[NetworkDriver] = []

    def get() -> NetworkDriver:
        if not made:
            from .bridge import BridgeDriver

            made.append(BridgeDriver(store))
        return made[0]

    return get


__all__ = ["AttachRequest", "Attachment", "NetworkDriver", "PortMapping", "driver_factory"]
