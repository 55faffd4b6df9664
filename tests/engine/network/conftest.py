"""Helpers for real networking tests: what a root has left on the host."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

from engine.network import firewall, netlink
from tests.engine.runtime.conftest import croot  # noqa: F401 - the real-container root

TABLES = ("sandboxes", "endpoints", "port_bindings")


def rows(root: Path) -> dict[str, int]:
    conn = sqlite3.connect(root / "dockyard.db")
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def networks(root: Path) -> list[tuple[str, str]]:
    """(id, bridge) of every network of the root."""
    conn = sqlite3.connect(root / "dockyard.db")
    try:
        return [tuple(r) for r in conn.execute("SELECT id, bridge FROM networks")]
    finally:
        conn.close()


def leftovers(root: Path, cids: list[str] = ()) -> dict[str, list]:
    """Everything the root's containers or networks still hold on the host."""
    links = set(netlink.link_names())
    nets = networks(root)
    out: dict[str, list] = {
        "bridges": [b for _, b in nets if b in links],
        "rules": [r for nid, _ in nets for lines in firewall.ours(nid).values() for r in lines],
        "netns": [c for c in cids if os.path.exists(os.path.join(netlink.NETNS_DIR, c))],
        "veths": [],
        "rows": [f"{t}={n}" for t, n in rows(root).items() if n],
    }
    from engine.network.bridge import veth_name

    out["veths"] = [veth_name(c, nid) for c in cids for nid, _ in nets
                    if veth_name(c, nid) in links]
    return {k: v for k, v in out.items() if v}


def wait_clean(root: Path, cids: list[str] = (), timeout: float = 15.0) -> dict[str, list]:
    """Leftovers once idle bridges have been reaped (see engine/network/reaper.py)."""
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(root, list(cids))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 0.0.0.0 and :: alike (what -p HOST:... needs)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6, kind) as s6:
                s6.bind(("::", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def container_ip(root: Path, cid: str) -> str:
    with open(root / "containers" / cid / "network.json") as f:
        return json.load(f)["ip"]

