"""Takes an idle network's bridge down shortly after its last endpoint left.

Deleting a Linux bridge costs ~50 ms of kernel time (an RCU grace period)
and its iptables rules another exec; creating them again on the next
``run`` costs more.  So the last ``detach`` does not delete them itself: it
touches the network's stamp under ``/run/dockyard/reap`` and, unless a
reaper already holds that stamp's lock, starts this small detached process.
The reaper waits until the stamp is :data:`LINGER` seconds old (each later
detach pushes that back) and then, under the network lock, removes the
bridge and its rules if the network still has no endpoints.  A burst of
short containers keeps one bridge and one reaper; an idle host keeps none,
whatever happens to the state root (a test's temporary root may be gone by
then: everything needed is in argv).

    python -m engine.network.reaper ROOT NETWORK_ID BRIDGE SUBNET INTERNAL
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import time

LINGER = 2.0
REAP_DIR = "/run/dockyard/reap"


def spawn(root: str, network_id: str, bridge: str, subnet: str, internal: bool) -> None:
    os.makedirs(REAP_DIR, mode=0o700, exist_ok=True)
    fd = os.open(_stamp(network_id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.utime(fd)  # the idle time counts from now
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a reaper waits already, and will see the new time
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": pkg_root}
    # `setsid -f` forks the reaper off and returns at once: no child of ours is
    # left to reap (a long-lived caller such as the TUI would collect zombies).
    # posix_spawn, not subprocess: its import would cost every `run --rm`.
    pid = os.posix_spawnp("setsid", [
        "setsid", "-f", sys.executable, "-m", "engine.network.reaper", root, network_id,
        bridge, subnet, "1" if internal else "0"], env, file_actions=[
            (os.POSIX_SPAWN_OPEN, n, os.devnull, os.O_RDWR, 0) for n in (0, 1, 2)])
    os.waitpid(pid, 0)


def _stamp(network_id: str) -> str:
    return os.path.join(REAP_DIR, network_id[:12])


def idle(root: str, network_id: str) -> bool:
    """No endpoints on the network (or no root/row left to have any)."""
    path = os.path.join(root, "dockyard.db")
    if not os.path.exists(path):
        return True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT COUNT(*) FROM endpoints WHERE network_id = ?",
                               (network_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # unsure: keep the bridge, the next detach tries again
    return not row or row[0] == 0


def reap(root: str, network_id: str, bridge: str, subnet: str, internal: bool) -> None:
    from . import firewall, netlink
    from .lock import network_lock

    with network_lock():
        if not idle(root, network_id):
            return
        with netlink.session() as ipr:
            netlink.delete_link(ipr, bridge)
        firewall.remove(network_id, bridge, subnet, internal)


def main(argv: list[str]) -> None:
    root, network_id, bridge, subnet, internal = argv[1:6]
    os.chdir("/")
    os.makedirs(REAP_DIR, mode=0o700, exist_ok=True)
    fd = os.open(_stamp(network_id), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # a reaper for this network is already waiting; it will look again
    while (left := os.fstat(fd).st_mtime + LINGER - time.time()) > 0:
        time.sleep(left)
    reap(root, network_id, bridge, subnet, internal == "1")
    try:
        os.unlink(_stamp(network_id))
    except FileNotFoundError:
        pass
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv)
