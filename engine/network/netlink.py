"""Kernel side of the bridge driver: netns, bridge and veth over rtnetlink.

A network namespace is created by a short-lived *thread* that unshares its
own network namespace and bind-mounts ``/proc/thread-self/ns/net`` onto the
netns file: no fork, about a millisecond.  A netlink socket opened by a
thread that has entered a netns stays bound to that netns, so the same
trick gives a client (:class:`.rtnl.Rtnl`) that configures the inside of a
container's netns from this process.  :mod:`.rtnl` (pyroute2's messages) is
imported by the first :func:`session`, not with this module.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .rtnl import Rtnl

NETNS_DIR = "/run/dockyard/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread (namespace changes die with the thread)."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            out.append((False, e))

    t = threading.Thread(target=run, name="dockyard-netns")
    t.start()
    t.join()
    ok, value = out[0]
    if not ok:
        raise value
    return value


def _oserror(what: str, path: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}", path)


def create_netns(path: str) -> None:
    """A new, empty network namespace pinned at ``path`` (EEXIST if it exists)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))

    def make() -> None:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise _oserror("unshare", path)
        if _libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None):
            raise _oserror("mount", path)

    try:
        _in_thread(make)
    except BaseException:
        os.unlink(path)
        raise


def remove_netns(path: str) -> None:
    """Unpin a netns; the kernel frees it (and its interfaces) once unused."""
    _libc.umount2(path.encode(), MNT_DETACH)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def host() -> Rtnl:
    """A client on the host's network namespace."""
    from .rtnl import Rtnl

    return Rtnl()


def inside(path: str) -> Rtnl:
    """A client whose socket lives in the netns pinned at ``path``."""
    from .rtnl import Rtnl

    def enter() -> Rtnl:
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise _oserror("setns", path)
        finally:
            os.close(fd)
        return Rtnl()

    return _in_thread(enter)


@contextmanager
def session(netns: str | None = None) -> Iterator[Rtnl]:
    ipr = inside(netns) if netns else host()
    try:
        yield ipr
    finally:
        ipr.close()


def index(ipr: Rtnl, ifname: str) -> int | None:
    return ipr.index(ifname)


def ensure_bridge(ipr: Rtnl, name: str, gateway: str, prefixlen: int) -> None:
    if ipr.index(name) is None:
        ipr.add_link(name, "bridge")
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
            for a in ipr.get_addr(index=ipr.index(name))}
    if (gateway, prefixlen) not in have:
        ipr.add_addr(name, gateway, prefixlen)
    ipr.set_up(name)


def delete_link(ipr: Rtnl, name: str) -> None:
    """Delete link ``name``; one that is not there (or gone meanwhile) is fine."""
    try:
        ipr.del_link(name)
    except OSError as e:
        if getattr(e, "code", None) not in (errno.ENODEV, errno.ENOENT):
            raise


def add_veth(ipr: Rtnl, veth: str, bridge: str, netns: str, ifname: str, mac: str) -> None:
    """A veth pair: ``veth`` on ``bridge`` here and up, ``ifname`` inside ``netns``."""
    fd = os.open(netns, os.O_RDONLY)
    try:
        ipr.add_link(veth, "veth", master=bridge, up=True,
                     peer=[("IFLA_IFNAME", ifname), ("IFLA_NET_NS_FD", fd),
                           ("IFLA_ADDRESS", mac)])
    finally:
        os.close(fd)


def lo_up(ns: Rtnl) -> None:
    if ns.index("lo") is not None:
        ns.set_up("lo")


def configure_inside(ns: Rtnl, ifname: str, ip: str, prefixlen: int,
                     gateway: str | None) -> None:
    """Address ``ifname`` inside the netns, bring it up, route via ``gateway``."""
    ns.add_addr(ifname, ip, prefixlen)
    ns.set_up(ifname)
    if gateway:
        ns.add_default_route(gateway)


def host_networks() -> list[str]:
    """Every IPv4 prefix the host routes or owns, as "a.b.c.d/n" (not the default)."""
    out = []
    with session() as ipr:
        for r in ipr.get_routes(family=socket.AF_INET):
            if r.get("table") == 255 or r.get_attr("RTA_TABLE") == 255:
                continue  # the local table holds only our own addresses (below)
            dst, plen = r.get_attr("RTA_DST"), r["dst_len"]
            if dst and plen:
                out.append(f"{dst}/{plen}")
        for a in ipr.get_addr(family=socket.AF_INET):
            out.append(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
    return out


def link_names() -> list[str]:
    with session() as ipr:
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()]
