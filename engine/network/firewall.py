"""iptables rules for a bridge network: outbound NAT and forwarding.

Every rule carries the comment ``dockyard:<network id[:12]>``, so removal
finds exactly our rules by reading ``iptables-save`` — also rules left by a
crash, or ones whose subnet changed since.  Rules go in through
``iptables-restore --noflush`` (one exec per change, the other rules of the
tables untouched).
"""

from __future__ import annotations

import shutil
import subprocess

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
        "nat": [f"-A POSTROUTING -s {subnet} ! -o {bridge} {c} -j MASQUERADE"],
        # FORWARD may default to DROP (Docker's own install sets that)
        "filter": [f"-I FORWARD -i {bridge} {c} -j ACCEPT",
                   f"-I FORWARD -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED "
                   f"{c} -j ACCEPT"],
    }


def _restore(tables: dict[str, list[str]]) -> None:
    if not any(tables.values()):
        return
    exe = shutil.which("iptables-restore")
    if exe is None:
        raise Unavailable("iptables is not installed: bridge networks need it for NAT "
                          "(apt-get install iptables)")
    script = "".join(f"*{t}\n" + "".join(r + "\n" for r in lines) + "COMMIT\n"
                     for t, lines in tables.items() if lines)
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
    text = subprocess.run([exe], capture_output=True).stdout.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            out[table] = []
        elif line.startswith("-A ") and table:
            out[table].append(line)
    return out


def ours(network_id: str = "") -> dict[str, list[str]]:
    """Our rules now in the kernel (one network's, or every dockyard rule)."""
    want = f'--comment "{tag(network_id)}"' if network_id else f'--comment "{TAG}'
    return {t: [r for r in lines if want in r] for t, lines in saved().items()
            if any(want in r for r in lines)}


def add(network_id: str, bridge: str, subnet: str, internal: bool) -> None:
    left = ours(network_id)  # by a crash: gone first, so remove() meets one copy each
    _restore({t: ["-D" + r[2:] for r in lines] for t, lines in left.items()})
    _restore(rules(network_id, bridge, subnet, internal))
    if not internal:
        enable_forwarding()


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
    path = "/proc/sys/net/ipv4/ip_forward"
    with open(path) as f:
        if f.read().strip() == "1":
            return
    with open(path, "w") as f:
        f.write("1\n")
