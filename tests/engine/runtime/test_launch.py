"""How a container's monitor comes and goes: booted on standby by the CLI,
handed its container, and `run --rm` removal shared with the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

from engine.runtime import launcher
from tests.conftest import REPO, dockyard
from tests.engine.runtime.conftest import IMAGE, eventually, holders


def processes_with(marker: str) -> list[int]:
    """PIDs of processes whose environment carries ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_an_unused_standby_monitor_quits(croot) -> None:
    marker = f"DOCKYARD_TEST_{uuid.uuid4().hex}"
    env = {**os.environ, marker: "1"}
    r = subprocess.run([sys.executable, "-m", "engine", "--root", str(croot), "run",
                        "no-such-image:1"], capture_output=True, env=env, cwd=REPO)
    assert r.returncode == 125, r.stderr
    assert eventually(lambda: not processes_with(marker)), processes_with(marker)


def test_standby_reads_eof_and_quits() -> None:
    launcher.standby()
    spare = launcher._spare
    assert spare is not None and spare.poll() is None
    launcher._spare = None
    assert spare.stdin is not None
    spare.stdin.close()  # what our exit does to it
    assert spare.wait(timeout=10) == 0
    assert spare.stdout is not None
    assert spare.stdout.read() == b""  # it said nothing: it had no container
    spare.stdout.close()


def test_run_rm_removes_even_when_the_cli_is_killed(croot) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    cli = subprocess.Popen([sys.executable, "-m", "engine", "--root", str(croot), "run",
                            "--rm", "--name", name, IMAGE, "sleep", "1"], cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert eventually(lambda: dockyard(croot, "ps", "-q", "--filter", f"name={name}").stdout)
    cli.send_signal(signal.SIGKILL)
    cli.wait()
    # the monitor sees its attached client hang up without removing: it removes
    gone = eventually(lambda: not dockyard(croot, "ps", "-aq", "--filter",
                                           f"name={name}").stdout, timeout=15)
    assert gone
    assert eventually(lambda: not holders(croot))


def test_run_rm_leaves_no_monitor_and_no_state(croot) -> None:
    for _ in range(3):
        r = dockyard(croot, "run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                     "echo out; exit 3", check=False)
        assert (r.returncode, r.stdout) == (3, b"out\n")
    assert dockyard(croot, "ps", "-aq").stdout == b""
    assert os.listdir(croot / "containers") == []
    assert eventually(lambda: not holders(croot)), holders(croot)


def test_first_commands_may_probe_the_runtime_at_once(root) -> None:
    """A fresh root: several commands find no runtime verdict and probe together."""
    procs = [subprocess.Popen([sys.executable, "-m", "engine", "--root", str(root), "info"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
             for _ in range(12)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs if p.stderr]
    for p in procs:
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
    assert results == [(0, b"")] * 12
    assert (root / "runtime.json").exists()
    assert [f for f in os.listdir(root) if f.startswith("runtime.json.")] == []
