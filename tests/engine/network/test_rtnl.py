"""The rtnetlink client against the real kernel, in a throwaway network namespace."""

from __future__ import annotations

import errno
import os
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from engine.network import netlink
from engine.network.rtnl import NetlinkError, Rtnl

IFF_UP = 1


@pytest.fixture
def ns() -> Iterator[Rtnl]:
    """A client inside a fresh, empty netns (only ``lo``), removed afterwards."""
    path = os.path.join(netlink.NETNS_DIR, "rtnl-test-" + secrets.token_hex(6))
    netlink.create_netns(path)
    try:
        with netlink.session(path) as client:
            yield client
    finally:
        netlink.remove_netns(path)


def names(client: Rtnl) -> list[str]:
    return [link.get_attr("IFLA_IFNAME") for link in client.get_links()]


def veth_pair(client: Rtnl, **kw: Any) -> tuple[str, str]:
    a, b = "ra" + secrets.token_hex(4), "rb" + secrets.token_hex(4)
    client.add_link(a, "veth", peer=[("IFLA_IFNAME", b)], **kw)
    return a, b


def test_a_link_is_made_looked_up_and_deleted_inside_the_netns(ns: Rtnl) -> None:
    a, b = veth_pair(ns)
    ia, ib = ns.index(a), ns.index(b)
    assert isinstance(ia, int) and isinstance(ib, int) and ia != ib
    assert sorted(names(ns)) == sorted(["lo", a, b])
    with netlink.session() as host:  # the socket was opened inside: the host has none
        assert host.index(a) is None
    ns.del_link(a)  # a veth's peer goes with it
    assert ns.index(a) is None and ns.index(b) is None
    assert names(ns) == ["lo"]


def test_deleting_a_missing_link_raises_enodev_in_one_line(ns: Rtnl) -> None:
    with pytest.raises(NetlinkError) as caught:
        ns.del_link("nope0")
    e = caught.value
    assert isinstance(e, OSError)
    assert e.code == e.errno == errno.ENODEV
    assert e.strerror == "RTM_DELLINK nope0: No such device"
    assert "\n" not in str(e)
    # the error was the whole answer: the next request gets its own
    assert ns.index("lo") == 1
    netlink.delete_link(ns, "nope0")  # the driver's delete tolerates it


def test_creating_an_existing_link_raises_eexist(ns: Rtnl) -> None:
    a, _ = veth_pair(ns)
    with pytest.raises(NetlinkError) as caught:
        ns.add_link(a, "veth", peer=[("IFLA_IFNAME", "other0")])
    assert caught.value.code == errno.EEXIST
    assert caught.value.strerror == f"RTM_NEWLINK {a}: File exists"
    assert ns.index("other0") is None


class CountingSocket:
    """The client's socket, counting its reads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.reads = sock, 0

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def recv(self, size: int) -> bytes:
        self.reads += 1
        return self.sock.recv(size)

    def close(self) -> None:
        self.sock.close()


def test_a_dump_returns_every_link_over_several_reads(ns: Rtnl) -> None:
    made = ["lo"]
    for _ in range(60):
        made.extend(veth_pair(ns))
    counting = CountingSocket(ns.sock)
    ns.sock = counting  # type: ignore[assignment]
    found = names(ns)
    assert counting.reads > 1  # a multi-part dump, not one datagram
    assert sorted(found) == sorted(made)
    assert names(ns) == found  # and nothing of it is left for the next request


def test_master_and_up_are_set_with_the_link(ns: Rtnl) -> None:
    ns.add_link("br0", "bridge")
    a, b = veth_pair(ns, master="br0", up=True)
    (link,) = [x for x in ns.get_links() if x.get_attr("IFLA_IFNAME") == a]
    assert link.get_attr("IFLA_MASTER") == ns.index("br0")
    assert link["flags"] & IFF_UP
    (peer,) = [x for x in ns.get_links() if x.get_attr("IFLA_IFNAME") == b]
    assert not peer["flags"] & IFF_UP and not peer.get_attr("IFLA_MASTER")


def test_a_missing_master_refuses_the_link(ns: Rtnl) -> None:
    with pytest.raises(NetlinkError) as caught:
        veth_pair(ns, master="nobr0")
    assert caught.value.code == errno.ENODEV
    assert caught.value.strerror == "RTM_GETLINK nobr0: No such device"
    assert names(ns) == ["lo"]


def test_addresses_and_the_default_route(ns: Rtnl) -> None:
    ns.add_link("br0", "bridge")
    ns.add_addr("br0", "10.123.0.1", 24)
    ns.set_up("br0")
    ns.set_up("lo")
    ns.add_default_route("10.123.0.254")
    br = ns.index("br0")
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"], a["index"])
            for a in ns.get_addr(family=socket.AF_INET)}
    assert have == {("10.123.0.1", 24, br), ("127.0.0.1", 8, 1)}
    assert [a.get_attr("IFA_ADDRESS") for a in ns.get_addr(family=socket.AF_INET, index=br)] \
        == ["10.123.0.1"]
    routes = ns.get_routes(family=socket.AF_INET)
    assert [r.get_attr("RTA_GATEWAY") for r in routes if r["dst_len"] == 0] == ["10.123.0.254"]
    assert any(r.get_attr("RTA_TABLE") == 255 for r in routes)  # dumps hold the local table
    with pytest.raises(NetlinkError) as caught:
        ns.add_addr("br0", "10.123.0.1", 24)
    assert caught.value.strerror == "RTM_NEWADDR 10.123.0.1/24 dev br0: File exists"
    with pytest.raises(NetlinkError) as caught:
        ns.add_default_route("10.123.0.254")
    assert caught.value.code == errno.EEXIST
