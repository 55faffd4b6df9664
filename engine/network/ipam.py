"""Address management: free subnets for new networks, free addresses in one.

Pure functions over what is taken; the callers read the taken sets from the
database (endpoints) and the kernel (host routes and addresses) under the
network lock, so two allocations never see the same free address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from ..errors import Conflict, InvalidArgument

Net = ipaddress.IPv4Network


def candidate_pools() -> Iterator[Net]:
    """Docker's default pools: 172.17–31.0.0/16, then 10.x.0.0/16."""
    for b in range(17, 32):
        yield ipaddress.IPv4Network(f"172.{b}.0.0/16")
    for b in range(256):
        yield ipaddress.IPv4Network(f"10.{b}.0.0/16")


def parse_subnet(text: str) -> Net:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument("IPv6 networks are not supported (no --ipv6): " + text)
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {text} is too small: it needs room for a gateway "
                              "and a container")
    if str(net) != text and "/" in text:  # Docker keeps host bits out of a pool
        raise InvalidArgument(f"invalid subnet {text}: it should be {net}")
    return net


def overlaps(net: Net, taken: Iterable[str]) -> bool:
    for t in taken:
        try:
            other = ipaddress.ip_network(t, strict=False)
        except ValueError:
            continue
        if isinstance(other, ipaddress.IPv4Network) and net.overlaps(other):
            return True
    return False


def free_subnet(taken: Iterable[str], avoid: Iterable[str] = ()) -> Net:
    """The first default pool that overlaps nothing in ``taken`` and holds no
    address in ``avoid`` (the host's nameservers: a route-less /16 over one would
    still cut the host off from its DNS)."""
    taken = list(taken)
    hosts = [ipaddress.ip_address(a) for a in avoid if _is_v4(a)]
    for net in candidate_pools():
        if not overlaps(net, taken) and not any(h in net for h in hosts):
            return net
    raise Conflict("could not find an available, non-overlapping IPv4 address pool among "
                   "the defaults to assign to the network")


def gateway_of(net: Net, gateway: str = "") -> str:
    if not gateway:
        return str(net.network_address + 1)
    try:
        addr = ipaddress.ip_address(gateway)
    except ValueError:
        raise InvalidArgument(f"invalid gateway address: {gateway}") from None
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    return gateway


def allocate(net: Net, gateway: str, used: Iterable[str]) -> str:
    """The lowest free host address (Docker's default IPAM order)."""
    skip = {*used, gateway}
    for addr in net.hosts():
        if str(addr) not in skip:
            return str(addr)
    raise Conflict(f"no available IPv4 addresses on this network's address pools: {net}")


def mac_for(ip: str) -> str:
    """02:42 + the address, as Docker derived MACs: a reused address keeps its
    MAC, so neighbours' ARP caches stay right."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def _is_v4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False
