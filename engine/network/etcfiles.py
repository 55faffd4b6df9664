"""A container's /etc/hosts and /etc/resolv.conf, as Docker writes them.

hosts: the standard localhost lines, the container's own address and
hostname, then — on user networks only, where Docker's embedded DNS would
answer — one line per other container on the same network with its name,
aliases and short ID.  resolv.conf: the host's, minus nameservers on
127.0.0.0/8 or ::1 (unreachable from another netns), with Google's servers
when none remain; systemd-resolved's stub is looked through as Docker does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

BASE_HOSTS = ("127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\n"
              "ff02::1\tip6-allnodes\n"
              "ff02::2\tip6-allrouters\n")
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
RESOLVED_STUB = "127.0.0.53"
RESOLVED_UPSTREAM = "/run/systemd/resolve/resolv.conf"


def hosts(own: Sequence[tuple[str, str]], peers: Iterable[tuple[str, Sequence[str]]]) -> str:
    """``own``: (ip, hostname) per attached network; ``peers``: (ip, names)."""
    lines = [BASE_HOSTS]
    for ip, hostname in own:
        lines.append(f"{ip}\t{hostname}\n")
    seen: set[str] = set()
    for ip, names in peers:
        uniq = [n for n in dict.fromkeys(names) if n]
        key = ip + " " + " ".join(uniq)
        if uniq and key not in seen:
            seen.add(key)
            lines.append(f"{ip}\t{' '.join(uniq)}\n")
    return "".join(lines)


def _local(ns: str) -> bool:
    return ns.startswith(("127.", "fe80:")) or ns == "::1"


def resolv_conf(host_path: str = "/etc/resolv.conf") -> str:
    text = read_text(host_path)
    servers = _nameservers(text)
    if servers and all(s == RESOLVED_STUB for s in servers) and os.path.exists(RESOLVED_UPSTREAM):
        text = read_text(RESOLVED_UPSTREAM)
    out, kept = [], 0
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "nameserver":
            if len(words) < 2 or _local(words[1]) or ":" in words[1]:
                continue  # IPv6 servers too: the container has no IPv6 route
            kept += 1
        out.append(line)
    body = "\n".join(out).strip("\n")
    if not kept:
        body = (body + "\n" if body else "") + "".join(
            f"nameserver {ns}\n" for ns in DEFAULT_NAMESERVERS)
    return body.rstrip("\n") + "\n"


def _nameservers(text: str) -> list[str]:
    return [w[1] for w in (line.split() for line in text.splitlines())
            if len(w) >= 2 and w[0] == "nameserver"]


def host_nameservers() -> list[str]:
    return _nameservers(read_text("/etc/resolv.conf"))


def read_text(path: str) -> str:
    """A file's text, or "" when it cannot be read (a host without /etc/hosts …)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def rewrite_in_place(path: str, content: str) -> bool:
    """Replace a bind-mounted file's content keeping its inode (a rename would
    leave the container looking at the old file).  False if it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(content)
        f.truncate()
    return True
