"""The idle-bridge reaper: one per network, waiting until the network has been
idle for LINGER seconds, however many detaches touch it meanwhile."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from engine.network import reaper
from tests.engine.runtime.conftest import eventually


def reapers(network_id: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"engine.network.reaper" in argv and network_id.encode() in argv:
            out.append(int(pid))
    return out


def test_one_reaper_waits_for_the_last_detach(tmp_path: Path) -> None:
    nid = uuid.uuid4().hex + uuid.uuid4().hex
    stamp = Path(reaper.REAP_DIR) / nid[:12]
    args = (str(tmp_path / "gone-root"), nid, f"dyt{nid[:8]}", "10.254.0.0/24", False)
    reaper.spawn(*args)
    assert eventually(lambda: len(reapers(nid)) == 1)
    first = reapers(nid)
    time.sleep(reaper.LINGER / 2)
    reaper.spawn(*args)  # a later detach: no second reaper, a later deadline
    touched = stamp.stat().st_mtime
    time.sleep(0.3)
    assert reapers(nid) == first
    # the reaper is still there past the first deadline, and leaves after the second
    assert eventually(lambda: time.time() > touched + reaper.LINGER - 0.5, timeout=10)
    assert reapers(nid) == first
    assert eventually(lambda: not reapers(nid), timeout=15)
    assert not stamp.exists()
