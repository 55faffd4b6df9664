"""Launching monitors, and keeping one on standby.

A monitor (see ``monitor.py``) is a fresh ``python -I -S`` process; booting
it is the largest fixed cost of ``run`` after the runtime itself.  A command
that is about to start a container calls :func:`standby` first thing: the
interpreter then boots on the other core while the command parses its
flags, opens the store, creates the container and mounts its rootfs.
:func:`launch` hands the spare the container — one line on its stdin — or
spawns a monitor the slow way when there is none.

Lifecycle of a spare: spawned by :func:`standby` (at most one per process)
→ waits on its stdin → either taken by :func:`launch` (it becomes that
container's monitor) or, when this process exits without starting a
container, reads end-of-file and quits.  Nothing of it touches the store
before it is taken.
"""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["launch", "standby"]

_HERE = os.path.dirname(os.path.abspath(__file__))
# imported, not run as a script, so its bytecode is cached between launches
_BOOT = f"import sys;sys.path.insert(0,{_HERE!r});from monitor import main;main(sys.argv)"
_spare: subprocess.Popen | None = None


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-I", "-S", "-c", _BOOT, *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, close_fds=True, cwd="/")


def standby() -> None:
    """Boot a monitor now, to be handed a container later by :func:`launch`."""
    global _spare
    if _spare is None:
        try:
            _spare = _spawn("--standby")
        except OSError:  # no spare is only slower
            _spare = None


def launch(root: str, cid: str, *, wait_attach: bool = False) -> subprocess.Popen:
    """A monitor for ``cid``, already told which; read its report on ``stdout``.

    The monitor daemonizes: the returned process exits at once, and its
    grandchild keeps ``stdout`` to report ``ok PID`` or ``error MESSAGE``
    (after ``listening`` with ``wait_attach``)."""
    global _spare
    proc, _spare = _spare, None
    line = "\t".join((root, cid, "attach" if wait_attach else "")).encode() + b"\n"
    if proc is not None and proc.poll() is None and _hand(proc, line):
        return proc
    if proc is not None:  # it died before it was taken: start one the slow way
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    proc = _spawn("--standby")
    if not _hand(proc, line):
        raise OSError("the container monitor did not start")
    return proc


def _hand(proc: subprocess.Popen, line: bytes) -> bool:
    """Tell ``proc`` its container; False if it is gone."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(line)
        proc.stdin.close()
        return True
    except OSError:
        return False
