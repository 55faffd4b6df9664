"""The per-container monitor (dockyard's conmon): stdlib only, one process.

Imported on its own (``sys.path`` set to this directory), never through the
``engine`` package, so it stays small (target: under 15 MB RSS)::

    python3 -I -S -c "…; from monitor import main; main(sys.argv)" --standby

then reads ``ROOT<tab>CID<tab>[attach]`` on its stdin (launcher.py boots it
ahead of need and hands it the container later).  It daemonizes (fork +
setsid; the first process exits, the last reports readiness on stdout),
becomes a child subreaper, starts the container with ``<runtime> run
--detach`` (so the container's init is re-parented to it),
and then owns the container until it is gone for good:

- copies the container's stdout/stderr into the JSON-lines log
  (``{"log","stream","time"}``, nanosecond RFC 3339 times, rotated by
  ``max-size``/``max-file``) and to attached clients;
- serves the attach socket (``/run/dockyard/<root-hash>/sock/<cid>``: a
  socket path must fit in 108 bytes, a state root's may not): a client sends one JSON line
  ``{"stdin": bool}`` then frames ``[type, 0, 0, 0, len:u32be] payload``
  (0 stdin data, 1 stdin close, 2 resize "rows cols"); it receives frames
  of type 1 stdout, 2 stderr, 3 exit (payload: the exit code as text);
- on exit records exit code, OOM kill and finish time, deletes the runtime
  state, then applies the restart policy or unmounts and ends;
- ``attach`` holds the start until the first client is attached, so
  ``run`` without ``-d`` never misses output.

Everything the engine needs to know about the container at rest is in the
database; the monitor writes its rows directly (``containers``, ``events``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import time

from attachserver import AttachServer  # beside this file, which is on sys.path (see above)
from jsonlog import Log
from portproxy import PortProxy
from procfs import alive
from runtimecalls import RuntimeCalls, start_failure_code

PR_SET_CHILD_SUBREAPER = 36
MNT_DETACH = 2


class Monitor(AttachServer, RuntimeCalls):
    def __init__(self, root: str, cid: str) -> None:
        self.root = root
        self.cid = cid
        self.dir = os.path.join(root, "containers", cid)
        with open(os.path.join(self.dir, "monitor.json")) as f:
            self.conf = json.load(f)  # written by the engine: runtime, policy, log options
        self.db = sqlite3.connect(os.path.join(root, "dockyard.db"), timeout=60,
                                  isolation_level=None)
        self.db.execute("PRAGMA busy_timeout=60000")
        self.db.execute("PRAGMA synchronous=NORMAL")  # as the engine's (store/db.py): WAL
        # commits then cost no fsync, and a crash still cannot corrupt
        self.sel = selectors.DefaultSelector()
        self.clients: dict[socket.socket, bool] = {}  # client → wants stdin
        self.log = Log(os.path.join(self.dir, "container.log"),
                       int(self.conf.get("log_max_size", 0)),
                       int(self.conf.get("log_max_file", 1)))
        self.stdin_w: int | None = None
        self.pty: int | None = None
        self.pid = 0
        self.open_streams = 0
        self.proxy = PortProxy(self.conf.get("ports"))  # published ports, for the whole run

    # -- database --------------------------------------------------------
    def update(self, **cols: object) -> None:
        sets = ", ".join(f"{k} = ?" for k in cols)
        self.db.execute(f"UPDATE containers SET {sets} WHERE id = ?", (*cols.values(), self.cid))

    def emit(self, action: str, **attrs: str) -> None:
        self.db.execute("INSERT INTO events (time_ns, type, action, actor, attrs) "
                        "VALUES (?, 'container', ?, ?, ?)",
                        (time.time_ns(), action, self.cid, json.dumps(attrs, sort_keys=True)))

    def row(self) -> tuple:
        return self.db.execute("SELECT stopped_by_user, restart_count FROM containers "
                               "WHERE id = ?", (self.cid,)).fetchone() or (1, 0)

    def watch(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.sel.register(fd, selectors.EVENT_READ, ("out", stream))
        self.open_streams += 1

    def output(self, key: selectors.SelectorKey) -> None:
        fd = key.fd
        stream = key.data[1]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:  # EIO: the pty's other side is gone
            data = b"" if e.errno == errno.EIO else b""
        if not data:
            self.sel.unregister(fd)
            if fd != self.pty:
                os.close(fd)
            self.open_streams -= 1
            return
        self.log.write(stream, data)
        self.broadcast(1 if stream == "stdout" else 2, data)

    # -- the loop ------------------------------------------------------------
    def reap(self) -> int | None:
        """Exit status of the container's init if it has ended."""
        status = None
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == self.pid:
                code = os.waitstatus_to_exitcode(st)
                status = 128 - code if code < 0 else code  # killed by N → 128+N
        if status is None and self.pid and not alive(self.pid):
            # it exited between our waitpid and this check: it is a zombie
            # child of ours now, so a blocking wait returns its real status
            try:
                _, st = os.waitpid(self.pid, 0)
                code = os.waitstatus_to_exitcode(st)
                status = 128 - code if code < 0 else code
            except ChildProcessError:
                status = 137  # not ours to reap: gone without a status
        return status

    def run_once(self, srv: socket.socket, wake_r: int) -> int:
        """Serve until the container exits; return its exit code."""
        exit_code = None
        deadline = None
        while True:
            timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
            for key, _ in self.sel.select(timeout):
                kind = key.data[0]
                if kind == "accept":
                    self.accept(srv)
                elif kind == "client":
                    self.client_input(key)
                elif kind == "out":
                    self.output(key)
                elif kind == "wake":
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
            if exit_code is None:
                exit_code = self.reap()
                if exit_code is not None:
                    deadline = time.monotonic() + 2.0  # drain what is left in the pipes
            if exit_code is not None and (self.open_streams <= 0 or
                                          time.monotonic() >= (deadline or 0)):
                if self.pty is not None:
                    try:
                        self.sel.unregister(self.pty)
                    except (KeyError, ValueError):
                        pass
                    os.close(self.pty)
                    self.pty = None
                    self.open_streams = 0
                self.log.flush()
                return exit_code

    def should_restart(self, code: int, count: int) -> bool:
        policy = self.conf.get("restart", "no")
        name, _, limit = policy.partition(":")
        stopped, _ = self.row()
        if stopped:
            return False
        if name == "always" or name == "unless-stopped":
            return True
        if name == "on-failure" and code != 0:
            return not limit or count < int(limit)
        return False

    def main(self, wait_attach: bool, report: int) -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        srv = self.serve()
        if wait_attach:
            os.write(report, b"listening\n")
            ready = self.sel.select(30)
            for key, _ in ready:
                if key.data[0] == "accept":
                    self.accept(srv)
        try:
            self.proxy.start()
            self.start()
        except (RuntimeError, OSError) as e:
            self.update(state="exited", exit_code=start_failure_code(str(e)), error=str(e),
                        finished_at=time.time(), monitor_pid=0, pid=0)
            os.write(report, f"error {e}\n".encode())
            os.close(report)
            self.finish(srv, str(start_failure_code(str(e))))
            return
        os.write(report, f"ok {self.pid}\n".encode())
        os.close(report)
        backoff = 0.1
        while True:
            code = self.run_once(srv, wake_r)
            oom = self.oom_killed()
            _, count = self.row()
            restart = self.should_restart(code, count)
            if restart:  # the runtime's state must go before the same id runs again
                self.delete_state()
            self.update(state="exited", exit_code=code, oom_killed=int(oom),
                        finished_at=time.time(), pid=0)
            self.emit("oom") if oom else None
            self.emit("die", exitCode=str(code))
            if not restart:
                break
            self.update(state="restarting", restart_count=count + 1)
            self.emit("restart")
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            try:
                self.start()
            except (RuntimeError, OSError) as e:
                self.update(state="exited", error=str(e), finished_at=time.time())
                code = start_failure_code(str(e))
                break
        self.finish(srv, str(code))

    def finish(self, srv: socket.socket, code: str) -> None:
        """Clean up, *then* tell waiters: once ``monitor_pid`` is 0 or the exit
        frame is out, a new ``start`` of the same ID may begin, and a late
        ``runtime delete`` or unmount would hit the new run.  The network's
        release comes after: it is slow (a whole engine process) and it is
        told which attachment to release."""
        rootfs = os.path.join(self.dir, "rootfs")
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(rootfs.encode(), MNT_DETACH)
        self.proxy.close()  # before the hook releases the ports
        self.delete_state()
        try:  # no more listening (before a new start may bind it again); who
            # comes later finds the end in the database
            os.unlink(self.conf["attach_socket"])
        except OSError:
            pass
        self.update(monitor_pid=0)
        self.accept_pending(srv)  # ...but who came just now gets the exit frame
        self.broadcast(3, code.encode())
        self.sel.unregister(srv)
        srv.close()
        auto_remove = bool(self.conf.get("auto_remove"))
        if auto_remove:  # `run --rm` removes while attached: let it, then see
            self.wait_for_hangups(timeout=30)
        for c in list(self.clients):
            self.drop(c)
        hook = self.conf.get("on_exit") or []
        if hook:  # release the network (the engine side owns netlink); it names
            # this run's attachment, so it spares the next start's (and a new
            # container wanting our ports releases them itself, see bridge.py)
            subprocess.run(hook, capture_output=True, cwd="/",
                           env={**os.environ, "PYTHONPATH": self.conf.get("pythonpath", "")})
        if auto_remove and os.path.isdir(self.dir):
            subprocess.run([sys.executable, "-m", "engine", "--root", self.root, "rm", "-f",
                            self.cid], capture_output=True, cwd=self.conf.get("cwd", "/"),
                           env={**os.environ, "PYTHONPATH": self.conf.get("pythonpath", "")})


def daemonize() -> int:
    """Fork twice; the grandchild continues, returning the fd to report on."""
    report = os.dup(1)
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.chdir("/")
    return report


def main(argv: list[str]) -> None:
    """``--standby``: boot, then wait for ``ROOT\tCID\t[attach]`` on stdin
    (see launcher.py); end-of-file means no container came, so quit."""
    line = sys.stdin.readline()
    if not line:
        return
    root, cid, attach = line.rstrip("\n").split("\t")
    wait_attach = attach == "attach"
    err = os.open(os.path.join(root, "containers", cid, "monitor.err"),
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(err, 2)  # our own tracebacks, if any, land beside the container
    os.close(err)
    report = daemonize()
    mon = Monitor(root, cid)
    try:
        mon.main(wait_attach, report)
    except Exception as e:  # noqa: BLE001 - the monitor must record, not vanish
        try:
            mon.update(state="exited", exit_code=125, error=f"monitor: {e}", monitor_pid=0,
                       finished_at=time.time())
            os.write(report, f"error monitor: {e}\n".encode())
        except Exception:  # noqa: BLE001
            pass
        raise


if __name__ == "__main__":
    main(sys.argv)
