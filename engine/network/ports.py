"""Published ports: Docker's ``-p`` grammar, host port choice, and display.

``-p [ip:][hostPort:]containerPort[/proto]`` follows go-connections'
``nat.ParsePortSpec``: ranges on both sides (``8000-8002:80-82``), a host
range for one container port (``8000-8010:80``: the first free one), an
empty host port for a random free one, IPv6 host addresses in brackets.
With no host address a port is published on ``0.0.0.0`` and, when the host
has IPv6, on ``::`` too — as Docker's userland proxy does.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidArgument, StartFailed
from . import PortMapping

PROTOS = ("tcp", "udp", "sctp")
_V6: list[bool] = []  # whether the host has IPv6, probed once


@dataclass(frozen=True)
class PortSpec:
    """One container port and where to publish it."""

    container_port: int
    proto: str
    host_ip: str  # "" = every address
    host_ports: tuple[int, int]  # (0, 0) = any free port; a range = first free in it


def _range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        start = int(lo)
        end = int(hi) if sep else start
    except ValueError:
        raise ValueError(text) from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise ValueError(text)
    return start, end


def parse_spec(raw: str) -> list[PortSpec]:
    parts = raw.split(":")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
    container, _, proto = container.partition("/")
    proto = (proto or "tcp").lower()
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {ip}") from None
    if not container:
        raise InvalidArgument(f"no port specified: {raw}<empty>")
    try:
        start, end = _range(container)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {container}") from None
    hstart = hend = 0
    if host:
        try:
            hstart, hend = _range(host)
        except ValueError:
            raise InvalidArgument(f"invalid hostPort: {host}") from None
        if end - start != hend - hstart and end != start:
            raise InvalidArgument(f"invalid ranges specified for container and host Ports: "
                                  f"{container} and {host}")
    if proto not in PROTOS:
        raise InvalidArgument(f"invalid proto: {proto}")
    if proto == "sctp":
        raise InvalidArgument("sctp ports cannot be published by the userland proxy")
    out = []
    for i in range(end - start + 1):
        if not host:
            hp = (0, 0)
        elif start == end:
            hp = (hstart, hend)
        else:
            hp = (hstart + i, hstart + i)
        out.append(PortSpec(start + i, proto, ip, hp))
    return out


def parse_all(publish: Iterable[str], exposed: Iterable[str] = (),
              publish_all: bool = False) -> list[PortSpec]:
    specs = [s for raw in publish for s in parse_spec(raw)]
    if publish_all:
        have = {(s.container_port, s.proto) for s in specs}
        for e in exposed:
            port, _, proto = e.partition("/")
            key = (int(port), (proto or "tcp").lower())
            if key not in have:
                specs.append(PortSpec(key[0], key[1], "", (0, 0)))
                have.add(key)
    return specs


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def host_ips(spec: PortSpec, v6: bool) -> list[str]:
    if spec.host_ip:
        return [spec.host_ip]
    return ["0.0.0.0", "::"] if v6 else ["0.0.0.0"]


def clashes(ip: str, port: int, proto: str, taken: Iterable[tuple[str, int, str]]) -> str:
    """The taken address that ``ip:port/proto`` would clash with, or ""."""
    fam = ipaddress.ip_address(ip).version
    for tip, tport, tproto in taken:
        if tport != port or tproto != proto or ipaddress.ip_address(tip).version != fam:
            continue
        if tip == ip or ipaddress.ip_address(tip).is_unspecified or \
                ipaddress.ip_address(ip).is_unspecified:
            return tip
    return ""


def can_bind(ip: str, port: int, proto: str) -> OSError | None:
    """Whether the userland proxy will be able to listen there (None = yes)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(fam, kind) as s:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as e:
            return e
    return None


def random_port(ips: list[str], proto: str) -> int:
    """A port free on every address in ``ips`` (the kernel picks, we check the rest)."""
    for _ in range(64):
        fam = socket.AF_INET6 if ":" in ips[0] else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(fam, kind) as s:
            s.bind((ips[0], 0))
            port = s.getsockname()[1]
        if all(can_bind(ip, port, proto) is None for ip in ips[1:]):
            return port
    raise OSError(errno.EADDRINUSE, "no free host port")


def reserve(specs: list[PortSpec], taken: list[tuple[str, int, str]], why: str
            ) -> list[PortMapping]:
    """Host ports for ``specs`` given the ``taken`` (ip, port, proto) of this root,
    or Docker's error (``why``: its "driver failed … on endpoint …" prefix)."""
    if not _V6:
        _V6.append(ipv6_available())
    taken = list(taken)
    out = []
    for s in specs:
        ips = host_ips(s, _V6[0])
        lo, hi = s.host_ports
        port = 0
        if not lo:
            for _ in range(64):
                port = random_port(ips, s.proto)
                if not any(clashes(ip, port, s.proto, taken) for ip in ips):
                    break
        for cand in range(lo, hi + 1) if lo else ():
            clash = next((ip for ip in ips if clashes(ip, cand, s.proto, taken)), "")
            if clash:
                if lo == hi:
                    raise StartFailed(f"{why}: Bind for {clash}:{cand} failed: port is "
                                      "already allocated", exit_code=125)
                continue
            busy = next(((ip, e) for ip in ips
                         if (e := can_bind(ip, cand, s.proto)) is not None), None)
            if busy:
                if lo == hi:
                    raise StartFailed(f"{why}: Error starting userland proxy: "
                                      + go_listen_error(busy[0], cand, s.proto, busy[1]),
                                      exit_code=125)
                continue
            port = cand
            break
        if not port:
            raise StartFailed(f"{why}: all ports are allocated", exit_code=125)
        for ip in ips:
            out.append(PortMapping(ip, port, s.container_port, s.proto))
            taken.append((ip, port, s.proto))
    return out


def go_listen_error(ip: str, port: int, proto: str, err: OSError) -> str:
    """Go's words for a failed listen, as docker-proxy reports them."""
    fam = "6" if ":" in ip else "4"
    addr = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    why = "address already in use" if err.errno == errno.EADDRINUSE else \
        (err.strerror or str(err)).lower()
    return f"listen {proto}{fam} {addr}: bind: {why}"


# -- display ------------------------------------------------------------------
def _parse(entry: str) -> tuple[str, int, int, str]:
    """(ip, public, private, proto) from one PortMapping string."""
    left, arrow, right = entry.partition("->")
    if not arrow:
        port, _, proto = left.partition("/")
        return "", 0, int(port), proto
    ip, _, public = left.rpartition(":")
    port, _, proto = right.partition("/")
    return ip, int(public), int(port), proto


def parse_entry(entry: str) -> PortMapping:
    """The PortMapping a ``str(PortMapping)`` came from (network.json keeps strings)."""
    ip, public, private, proto = _parse(entry)
    return PortMapping(ip, public, private, proto)


def display(entries: Iterable[str]) -> str:
    """docker/cli's ``DisplayablePorts``: the PORTS column, consecutive ports grouped."""
    ports = sorted((_parse(e) for e in entries), key=lambda p: (p[2], p[0], p[1], p[3]))
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for ip, public, private, proto in ports:
        key = proto
        if ip:
            if public != private:
                mappings.append(f"{ip}:{public}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
            order.append(key)
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_group(key, *group))
            groups[key] = [private, private]
    result += [_group(key, *groups[key]) for key in order]
    return ", ".join(result + mappings)


def _group(key: str, first: int, last: int) -> str:
    ip, sep, proto = key.rpartition("/")
    text = str(first) if first == last else f"{first}-{last}"
    if sep and ip:
        text = f"{ip}:{text}->{text}"
    return f"{text}/{proto}"


def join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def port_lines(ports: Iterable[PortMapping], private: str = "") -> list[str]:
    """``docker port`` output: all mappings, or the host side of one private port."""
    published = sorted((p for p in ports if p.host_port),
                       key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port))
    if not private:
        return [f"{p.container_port}/{p.protocol} -> {join_host_port(p.host_ip, p.host_port)}"
                for p in published]
    port, _, proto = private.partition("/")
    proto = proto or "tcp"
    return [join_host_port(p.host_ip, p.host_port) for p in published
            if str(p.container_port) == port and p.protocol == proto]
