"""Side-by-side timing helpers: run each contender the same way, print ratios."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DOCKYARD = [sys.executable, "-m", "engine"]


def timed(fn: Callable[[], None], *, runs: int, setup: Callable[[], None] | None = None
          ) -> list[float]:
    out = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def run(cmd: list[str], **kw) -> None:
    r = subprocess.run(cmd, capture_output=True, cwd=REPO, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr.decode()}")


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


# root here cannot raise rlimits above the host's, and podman asks for more
PODMAN_ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


@contextmanager
def podman(work: Path, archive: Path, runtime: str = "runc") -> Iterator[list[str] | None]:
    """podman on its own storage under ``work`` with ``archive`` loaded, running
    containers with the runtime dockyard uses and cgroupfs (PID 1 is not
    systemd), so both do the same work; None where podman is missing.  Its
    storage is reset afterwards (or its mounts keep ``work`` from going)."""
    if not have("podman"):
        print("(podman is not installed: its rows are left out)")
        yield None
        return
    p = ["podman", "--root", str(work / "podman"), "--runroot", str(work / "podman-run"),
         "--runtime", runtime, "--cgroup-manager", "cgroupfs"]
    try:
        run([*p, "load", "-q", "-i", str(archive)])
        yield p
    finally:
        subprocess.run([*p, "system", "reset", "-f"], capture_output=True)


def report(title: str, results: dict[str, list[float]], baseline: str) -> None:
    print(f"\n{title}")
    base = statistics.median(results[baseline]) if baseline in results else None
    for name, times in results.items():
        med = statistics.median(times)
        spread = (max(times) - min(times)) / 2
        ratio = f"{med / base:5.2f}x {baseline}" if base and name != baseline else ""
        print(f"  {name:<28} median {med * 1000:9.1f} ms  ±{spread * 1000:7.1f}  {ratio}")
