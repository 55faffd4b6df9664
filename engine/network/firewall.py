"""iptables rules for bridge networks: outbound NAT, forwarding, published ports.

Per network (while its bridge is up): MASQUERADE for the subnet going out,
FORWARD accepts (the FORWARD policy may be DROP), and for published ports
reached on 127.0.0.1: ``route_localnet`` on the bridge, MASQUERADE of
loopback sources going into it, and an INPUT rule that keeps containers
from opening connections to the host's 127.0.0.0/8 through that door.

Per container with published IPv4 ports: DNAT in PREROUTING (from outside)
and OUTPUT (from the host, 127.0.0.1 included) to the container's address,
plus a FORWARD accept.  The kernel then carries published traffic at the
speed of a direct connection; the monitor's userland proxy still owns the
host ports (nothing else can take them), serves IPv6 and the container's
own bridge (hairpin), and is the fallback if a rule is missing.

Every rule carries the comment ``dockyard:<network id[:12]>`` (container
rules add ``:<container id[:12]>``), so removal finds exactly our rules by
reading ``iptables-save`` — also rules left by a crash.  Rules go in
through ``iptables-restore --noflush`` (one exec per change).
"""

from __future__ import annotations

import re
import shutil

from ..errors import Unavailable

TAG = "dockyard:"


def tag(network_id: str) -> str:
    return TAG + network_id[:12]


def rules(network_id: str, bridge: str, subnet: str, internal: bool) -> dict[str, list[str]]:
    c = f'-m comment --comment "{tag(network_id)}"'
    if internal:  # no way in or out except to the bridge itself
        return {"filter": [f"-I FORWARD -i {bridge} ! -o {bridge} {c} -j DROP",
                           f"-I FORWARD -o {bridge} ! -i {bridge} {c} -j DROP"]}
    return {
        "nat": [f"-A POSTROUTING -s {subnet} ! -o {bridge} {c} -j MASQUERADE",
                f"-A POSTROUTING -s 127.0.0.0/8 -o {bridge} {c} -j MASQUERADE"],
        "filter": [f"-I FORWARD -i {bridge} {c} -j ACCEPT",
                   f"-I FORWARD -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED "
                   f"{c} -j ACCEPT",
                   # route_localnet would otherwise let a container reach 127.0.0.1
                   f"-I INPUT -i {bridge} -d 127.0.0.0/8 -m conntrack ! --ctstate "
                   f"RELATED,ESTABLISHED {c} -j DROP"],
    }


def port_rules(network_id: str, cid: str, bridge: str, ip: str,
               mappings: list[tuple[str, int, str, int]]) -> dict[str, list[str]]:
    """DNAT for (host_ip, host_port, proto, container_port) IPv4 mappings."""
    c = f'-m comment --comment "{tag(network_id)}:{cid[:12]}"'
    nat, flt = [], []
    for host_ip, host_port, proto, port in mappings:
        dst = "" if host_ip == "0.0.0.0" else f"-d {host_ip} "
        match = f"-p {proto} {dst}-m {proto} --dport {host_port} -m addrtype --dst-type LOCAL"
        to = f"-j DNAT --to-destination {ip}:{port}"
        nat.append(f"-A PREROUTING {match} ! -i {bridge} {c} {to}")
        nat.append(f"-A OUTPUT {match} {c} {to}")
        flt.append(f"-I FORWARD -d {ip}/32 ! -i {bridge} -o {bridge} -p {proto} -m {proto} "
                   f"--dport {port} {c} -j ACCEPT")
    return {"nat": nat, "filter": flt}


def _restore(tables: dict[str, list[str]]) -> None:
    if not any(tables.values()):
        return
    exe = shutil.which("iptables-restore")
    if exe is None:
        raise Unavailable("iptables is not installed: bridge networks need it for NAT "
                          "(apt-get install iptables)")
    script = "".join(f"*{t}\n" + "".join(r + "\n" for r in lines) + "COMMIT\n"
                     for t, lines in tables.items() if lines)
    import subprocess  # here: a run that publishes nothing never needs it

    r = subprocess.run([exe, "--noflush", "-w"], input=script.encode(), capture_output=True)
    if r.returncode != 0:
        raise Unavailable(f"iptables-restore: {r.stderr.decode(errors='replace').strip()}")


def saved() -> dict[str, list[str]]:
    """``iptables-save`` as {table: [rule lines]}."""
    exe = shutil.which("iptables-save")
    if exe is None:
        return {}
    out: dict[str, list[str]] = {}
    table = ""
    import subprocess

    text = subprocess.run([exe], capture_output=True).stdout.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            out[table] = []
        elif line.startswith("-A ") and table:
            out[table].append(line)
    return out


def ours(network_id: str = "", cid: str = "") -> dict[str, list[str]]:
    """Our rules now in the kernel: one container's, one network's (its
    containers' included), or every dockyard rule."""
    net = re.escape(tag(network_id)) if network_id else re.escape(TAG) + "[0-9a-f]*"
    want = re.compile(f'--comment "{net}' + (f':{re.escape(cid[:12])}"' if cid else ""))
    found = {t: [r for r in lines if want.search(r)] for t, lines in saved().items()}
    return {t: lines for t, lines in found.items() if lines}


def add(network_id: str, bridge: str, subnet: str, internal: bool) -> None:
    left = ours(network_id)  # by a crash: gone first, so remove() meets one copy each
    _restore({t: ["-D" + r[2:] for r in lines] for t, lines in left.items()})
    _restore(rules(network_id, bridge, subnet, internal))
    if not internal:
        enable_forwarding()
        _sysctl(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "1")


def add_ports(network_id: str, cid: str, bridge: str, ip: str,
              mappings: list[tuple[str, int, str, int]]) -> None:
    _restore(port_rules(network_id, cid, bridge, ip, mappings))


def remove_ports(cid: str) -> None:
    found = ours(cid=cid)
    _restore({t: ["-D" + r[2:] for r in lines] for t, lines in found.items()})


def remove(network_id: str, bridge: str = "", subnet: str = "", internal: bool = False) -> None:
    """Delete the network's rules: the ones ``add`` made in one exec when they are
    known, then (or else) whatever ``iptables-save`` still shows with our tag."""
    if bridge and subnet:
        made = rules(network_id, bridge, subnet, internal)
        try:
            _restore({t: ["-D" + r[2:] for r in lines] for t, lines in made.items()})
            return
        except Unavailable:
            pass  # some are missing (or changed): fall back to the search
    found = ours(network_id)
    _restore({t: ["-D" + r[2:] for r in lines] for t, lines in found.items()})


def enable_forwarding() -> None:
    """Docker turns routing on and leaves it on; so do we (it is not a rule)."""
    _sysctl("/proc/sys/net/ipv4/ip_forward", "1")


def _sysctl(path: str, value: str) -> None:
    with open(path) as f:
        if f.read().strip() == value:
            return
    with open(path, "w") as f:
        f.write(value + "\n")
