"""Kernel side of the bridge driver: netns, bridge and veth with pyroute2.

A network namespace is created by a short-lived *thread* that unshares its
own network namespace and bind-mounts ``/proc/thread-self/ns/net`` onto the
netns file: no fork, about a millisecond.  A netlink socket opened by a
thread that has entered a netns stays bound to that netns, so the same
trick gives an ``IPRoute`` that configures the inside of a container's
netns from this process.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

NETNS_DIR = "/run/dockyard/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _iproute_class() -> Any:
    """pyroute2's IPRoute without running ``pyroute2/__init__``.

    That ``__init__`` imports every pyroute2 subsystem (NDB, IPDB, conntrack,
    nl80211 …): ~50 ms of a ~130 ms import, paid by every ``run``.  A package
    module whose ``__init__`` has not run yet lets the submodule import alone;
    the first access to anything else on it runs the real ``__init__``, so
    other users of ``pyroute2`` in this process see the full package.
    """
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is not None and spec.loader is not None and spec.submodule_search_locations:
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
    from pyroute2.iproute.linux import IPRoute

    return IPRoute


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


def _netlink_socket() -> int:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
    return s.detach()


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


def host() -> Any:
    """An IPRoute on the host's network namespace."""
    return _iproute_class()()


def inside(path: str) -> Any:
    """An IPRoute whose socket lives in the netns pinned at ``path``."""
    cls = _iproute_class()

    def enter() -> int:
        fd = os.open(path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise _oserror("setns", path)
        finally:
            os.close(fd)
        return _netlink_socket()

    return cls(fileno=_in_thread(enter))


@contextmanager
def session(netns: str | None = None) -> Iterator[Any]:
    ipr = inside(netns) if netns else host()
    try:
        yield ipr
    finally:
        ipr.close()


def index(ipr: Any, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def ensure_bridge(ipr: Any, name: str, gateway: str, prefixlen: int) -> None:
    if index(ipr, name) is None:
        ipr.link("add", ifname=name, kind="bridge")
    idx = index(ipr, name)
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx)}
    if (gateway, prefixlen) not in have:
        ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
    ipr.link("set", index=idx, state="up")


def delete_link(ipr: Any, name: str) -> None:
    idx = index(ipr, name)
    if idx is None:
        return
    try:
        ipr.link("del", index=idx)
    except Exception as e:  # noqa: BLE001 - gone meanwhile is fine
        if getattr(e, "code", None) not in (errno.ENODEV, errno.ENOENT):
            raise


def add_veth(ipr: Any, veth: str, bridge: str, netns: str, ifname: str, mac: str) -> None:
    """A veth pair: ``veth`` on ``bridge`` here, ``ifname`` inside ``netns``."""
    fd = os.open(netns, os.O_RDONLY)
    try:
        ipr.link("add", ifname=veth, kind="veth",
                 peer={"ifname": ifname, "net_ns_fd": fd, "address": mac})
    finally:
        os.close(fd)
    idx = index(ipr, veth)
    ipr.link("set", index=idx, master=index(ipr, bridge), state="up")


def lo_up(ns: Any) -> None:
    lo = index(ns, "lo")
    if lo is not None:
        ns.link("set", index=lo, state="up")


def configure_inside(ns: Any, ifname: str, ip: str, prefixlen: int,
                     gateway: str | None) -> None:
    """Address ``ifname`` inside the netns, bring it up, route via ``gateway``."""
    idx = index(ns, ifname)
    ns.addr("add", index=idx, address=ip, prefixlen=prefixlen)
    ns.link("set", index=idx, state="up")
    if gateway:
        ns.route("add", dst="0.0.0.0/0", gateway=gateway)


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
