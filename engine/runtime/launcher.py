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
import sys

TYPE_CHECKING = False  # typing's flag without importing typing: mypy knows the name
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["Spawned", "launch", "standby"]

_HERE = os.path.dirname(os.path.abspath(__file__))
# imported, not run as a script, so its bytecode is cached between launches
_BOOT = (f"import os,sys;os.chdir('/');sys.path.insert(0,{_HERE!r});"
         "from monitor import main;main(sys.argv)")
_spare: Spawned | None = None


class Spawned:
    """A child with pipes on its stdin and stdout: the part of
    ``subprocess.Popen`` used here, without importing subprocess (and its
    selectors, threading, signal and locale) on the way to every ``run``."""

    def __init__(self, argv: list[str]) -> None:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        null = os.open(os.devnull, os.O_WRONLY)
        try:  # our fds are close-on-exec: the child gets only these three
            self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, null, 2)])
        except BaseException:
            for fd in (in_w, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, null):
                os.close(fd)
        self.stdin: BinaryIO | None = os.fdopen(in_w, "wb", buffering=0)
        self.stdout: BinaryIO | None = os.fdopen(out_r, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Reap the child; with ``timeout``, TimeoutError if it outlives it."""
        if timeout is not None:
            import time

            deadline = time.monotonic() + timeout
            while self.poll() is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"process {self.pid} still runs")
                time.sleep(0.005)
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _spawn(*args: str) -> Spawned:
    return Spawned([sys.executable, "-I", "-S", "-c", _BOOT, *args])


def standby() -> None:
    """Boot a monitor now, to be handed a container later by :func:`launch`."""
    global _spare
    if _spare is None:
        try:
            _spare = _spawn("--standby")
        except OSError:  # no spare is only slower
            _spare = None


def launch(root: str, cid: str, *, wait_attach: bool = False) -> Spawned:
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


def _hand(proc: Spawned, line: bytes) -> bool:
    """Tell ``proc`` its container; False if it is gone."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(line)
        proc.stdin.close()
        return True
    except OSError:
        return False
