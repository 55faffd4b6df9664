"""A small synchronous rtnetlink client: pyroute2's messages on our socket.

pyroute2's ``IPRoute`` runs each call through an asyncio event loop and its
import pulls in asyncio and pyroute2's async core (~60 ms); its message
classes alone import in ~15 ms.  :class:`Rtnl` keeps those classes for
encoding and decoding and talks to the kernel itself, one request at a time,
on a plain ``NETLINK_ROUTE`` socket:

- a request is sent with ``NLM_F_REQUEST | NLM_F_ACK`` and a fresh sequence
  number; the kernel answers with the object asked for, if any, then an
  ``NLMSG_ERROR`` whose error is 0 (the ACK) or ``-errno``, raised as
  :class:`NetlinkError`;
- a dump (``NLM_F_DUMP``) answers in multi-part messages, over as many reads
  as it takes, and ends with ``NLMSG_DONE``.

Replies whose sequence number is not the current one (left over from an
interrupted call) are skipped.  The socket belongs to the network namespace
of the thread that opened it, for its whole life (``netlink.inside``).
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any


def _skip_package_init() -> None:
    """Let pyroute2's submodules import without running ``pyroute2/__init__``.

    That ``__init__`` imports every pyroute2 subsystem (NDB, IPDB, conntrack,
    nl80211 …) and the asyncio core: most of a ~130 ms import, paid by every
    ``run``.  A package module whose ``__init__`` has not run yet lets the
    submodule import alone; the first access to anything else on it runs the
    real ``__init__``, so other users of ``pyroute2`` in this process see the
    full package.
    """
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    pkg = importlib.util.module_from_spec(spec)
    pkg_dir = list(spec.submodule_search_locations)[0]
    state = {"loaded": False}

    def __getattr__(name: str) -> Any:  # noqa: N807 - PEP 562 hook
        if state["loaded"] or name.startswith("__"):
            raise AttributeError(name)
        base = os.path.join(pkg_dir, name)
        if os.path.exists(base + ".py") or os.path.isdir(base):
            # `from pyroute2 import config` inside pyroute2 asks for a submodule
            return importlib.import_module(f"pyroute2.{name}")
        state["loaded"] = True
        assert spec.loader is not None
        spec.loader.exec_module(pkg)
        return getattr(pkg, name)

    pkg.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["pyroute2"] = pkg


_skip_package_init()
from pyroute2.netlink import (  # noqa: E402
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_MIN_TYPE,
)
from pyroute2.netlink.rtnl import (  # noqa: E402
    RTM_DELLINK,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    rt_proto,
    rt_scope,
    rt_type,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP, ifinfmsg  # noqa: E402
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402

HEADER = struct.Struct("=IHHII")  # struct nlmsghdr: length, type, flags, seq, port id
ERROR = struct.Struct("=i")  # what follows the header of NLMSG_ERROR and NLMSG_DONE
RECV_SIZE = 1 << 16  # a dump's part is at most 32 KiB
RT_TABLE_MAIN = 254
NEW = NLM_F_CREATE | NLM_F_EXCL  # `ip … add`: create, refuse an existing one

Attrs = Sequence[tuple[str, Any]]


class NetlinkError(OSError):
    """A request the kernel refused; ``code`` is its errno (as pyroute2's).

    ``strerror`` names the request and its object in one line, e.g.
    ``RTM_NEWLINK veth1234: File exists``.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code


class Rtnl:
    """One rtnetlink socket, opened in the calling thread's network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  socket.NETLINK_ROUTE)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    # -- links ----------------------------------------------------------------
    def index(self, ifname: str) -> int | None:
        """The index of link ``ifname``, or None if there is none."""
        try:
            found = self._call(f"RTM_GETLINK {ifname}", RTM_GETLINK, _link(ifname), ifinfmsg)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        return int(found[0]["index"])

    def _require(self, ifname: str) -> int:
        """The index of link ``ifname``, which must exist (ENODEV)."""
        idx = self.index(ifname)
        if idx is None:
            raise NetlinkError(errno.ENODEV, f"RTM_GETLINK {ifname}: {os.strerror(errno.ENODEV)}")
        return idx

    def get_links(self) -> list[Any]:
        return self._call("RTM_GETLINK", RTM_GETLINK, ifinfmsg(), ifinfmsg, dump=True)

    def add_link(self, ifname: str, kind: str, *, peer: Attrs = (), master: str | None = None,
                 up: bool = False) -> None:
        """Create link ``ifname`` of ``kind``; ``peer``: a veth peer's IFLA_* attributes.

        ``master`` and ``up`` are set by the same request: the kernel removes
        the new link again if it cannot enslave it.
        """
        info: list[tuple[str, Any]] = [("IFLA_INFO_KIND", kind)]
        if peer:
            info.append(("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": peer})]}))
        msg = _link(ifname, ("IFLA_LINKINFO", {"attrs": info}))
        if master is not None:
            msg["attrs"].append(("IFLA_MASTER", self._require(master)))
        if up:
            msg["flags"] = msg["change"] = IFF_UP
        self._call(f"RTM_NEWLINK {ifname}", RTM_NEWLINK, msg, flags=NEW)

    def set_up(self, ifname: str) -> None:
        """Bring link ``ifname`` up (``ip link set … up``)."""
        msg = _link(ifname)
        msg["flags"] = msg["change"] = IFF_UP
        self._call(f"RTM_NEWLINK {ifname} up", RTM_NEWLINK, msg)

    def del_link(self, ifname: str) -> None:
        self._call(f"RTM_DELLINK {ifname}", RTM_DELLINK, _link(ifname))

    # -- addresses and routes ---------------------------------------------------
    def get_addr(self, family: int = socket.AF_UNSPEC, index: int | None = None) -> list[Any]:
        """Every address of ``family`` (all by default), or those of link ``index``."""
        msg = ifaddrmsg()
        msg["family"] = family
        found = self._call("RTM_GETADDR", RTM_GETADDR, msg, ifaddrmsg, dump=True)
        return [a for a in found if index is None or a["index"] == index]

    def add_addr(self, ifname: str, address: str, prefixlen: int) -> None:
        """IPv4 ``address/prefixlen`` on link ``ifname``."""
        msg = ifaddrmsg()
        msg["family"], msg["prefixlen"] = socket.AF_INET, prefixlen
        msg["index"] = self._require(ifname)
        msg["attrs"] = [("IFA_ADDRESS", address), ("IFA_LOCAL", address)]
        self._call(f"RTM_NEWADDR {address}/{prefixlen} dev {ifname}", RTM_NEWADDR, msg, flags=NEW)

    def get_routes(self, family: int = socket.AF_UNSPEC) -> list[Any]:
        """Every route of ``family`` (all by default), from every table."""
        msg = rtmsg()
        msg["family"] = family
        return self._call("RTM_GETROUTE", RTM_GETROUTE, msg, rtmsg, dump=True)

    def add_default_route(self, gateway: str) -> None:
        """An IPv4 default route via ``gateway`` in the main table (``proto static``)."""
        msg = rtmsg()
        msg["family"], msg["table"] = socket.AF_INET, RT_TABLE_MAIN
        msg["proto"], msg["scope"] = rt_proto["static"], rt_scope["universe"]
        msg["type"] = rt_type["unicast"]
        msg["attrs"] = [("RTA_GATEWAY", gateway)]
        self._call(f"RTM_NEWROUTE default via {gateway}", RTM_NEWROUTE, msg, flags=NEW)

    # -- transport ------------------------------------------------------------
    def _call(self, what: str, kind: int, msg: Any, reply: type | None = None, *,
              flags: int = 0, dump: bool = False) -> list[Any]:
        """Send ``msg`` as message type ``kind``; the objects answered, decoded as ``reply``.

        A dump ends with NLMSG_DONE; anything else asks for an ACK.  Either
        may carry an error, raised as :class:`NetlinkError`.
        """
        self.seq += 1
        flags |= NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        msg["header"].update(type=kind, flags=flags, sequence_number=self.seq, pid=0)
        msg.encode()
        self.sock.send(msg.data)
        out: list[Any] = []
        while True:
            data = self.sock.recv(RECV_SIZE)
            offset = 0
            while offset + HEADER.size <= len(data):
                length, mtype, _, seq, _ = HEADER.unpack_from(data, offset)
                if length < HEADER.size:
                    raise NetlinkError(errno.EPROTO, f"{what}: malformed reply")
                if seq == self.seq:
                    if mtype in (NLMSG_ERROR, NLMSG_DONE):
                        code = 0
                        if length >= HEADER.size + ERROR.size:
                            code = -ERROR.unpack_from(data, offset + HEADER.size)[0]
                        if code:
                            raise NetlinkError(code, f"{what}: {os.strerror(code)}")
                        return out
                    if mtype >= NLMSG_MIN_TYPE and reply is not None:
                        obj = reply(data, offset=offset)
                        obj.decode()
                        out.append(obj)
                offset += (length + 3) & ~3


def _link(ifname: str, *attrs: tuple[str, Any]) -> Any:
    """An ifinfmsg naming its link by ``ifname`` (the kernel looks it up when index is 0)."""
    msg = ifinfmsg()
    msg["attrs"] = [("IFLA_IFNAME", ifname), *attrs]
    return msg
