"""What /proc says about a process.  Stdlib only: the monitor imports this
module by file name (see monitor.py), the engine as ``engine.runtime.procfs``."""

from __future__ import annotations

__all__ = ["alive"]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (exists and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
