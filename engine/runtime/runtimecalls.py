"""The monitor's calls of the OCI runtime: start, delete, and what they left.

Stdlib only: the monitor imports this module by file name (see monitor.py).
A mixin: :class:`Monitor` owns the selector, the database and the streams;
this part runs ``<runtime> run --detach`` (through a console socket for a
tty), reads the runtime's errors and turns them into Docker's exit codes,
deletes the runtime's state, and reads the cgroup's OOM count.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

from procfs import alive  # beside this file, which is on sys.path (see monitor.py)

__all__ = ["RuntimeCalls", "start_failure_code"]


class RuntimeCalls:
    cid: str
    dir: str
    conf: dict
    pid: int
    pty: int | None
    stdin_w: int | None

    def watch(self, fd: int, stream: str) -> None:
        raise NotImplementedError

    def update(self, **cols: object) -> None:
        raise NotImplementedError

    def emit(self, action: str, **attrs: str) -> None:
        raise NotImplementedError

    def runtime(self, *args: str) -> list[str]:
        # the runtime's own errors go to a file: its stderr is the container's
        errlog = os.path.join(self.dir, "runtime.err")
        log = ["--log", f"file:{errlog}"] if self.conf["runtime_name"] == "crun" else \
            ["--log", errlog]
        return [self.conf["runtime_path"], *log, "--root", self.conf["runtime_state"], *args]

    def delete_state(self) -> None:
        """``<runtime> delete --force``.  For runc and a container whose init
        is gone, do what that would do — remove its (now empty) cgroups and
        its state directory — without the ~10 ms of starting runc; anything
        unexpected (a live init, a busy cgroup) is left to runc itself."""
        state = os.path.join(self.conf["runtime_state"], self.cid)
        if self.conf["runtime_name"] == "runc":
            try:
                with open(os.path.join(state, "state.json")) as f:
                    st = json.load(f)
                if not alive(int(st["init_process_pid"])):
                    for path in sorted(set(st["cgroup_paths"].values()), reverse=True):
                        try:
                            os.rmdir(path)
                        except FileNotFoundError:
                            pass
                    os.unlink(os.path.join(state, "state.json"))
                    os.rmdir(state)
                    return
            except FileNotFoundError:
                if not os.path.exists(state):
                    return  # nothing to delete
            except (OSError, ValueError, KeyError, TypeError):
                pass
        subprocess.run(self.runtime("delete", "--force", self.cid), capture_output=True)

    def start(self) -> None:
        """Create and start the container; raises RuntimeError with runc's words."""
        if os.path.exists(os.path.join(self.conf["runtime_state"], self.cid)):
            self.delete_state()
        tty = bool(self.conf.get("tty"))
        pidfile = os.path.join(self.dir, "pid")
        args = self.runtime("run", "--detach", "--pid-file", pidfile,
                            "--bundle", self.dir, self.cid)
        errfile = os.path.join(self.dir, "runtime.err")
        if os.path.exists(errfile):
            os.unlink(errfile)
        err = os.open(errfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        close_after: list[int] = []
        try:
            if tty:
                sock_path = self.conf["attach_socket"] + ".console"
                if os.path.exists(sock_path):
                    os.unlink(sock_path)
                console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                console.bind(sock_path)
                console.listen(1)
                proc = subprocess.Popen([*args[:-1], "--console-socket", sock_path, args[-1]],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=err)
                console.settimeout(30)
                try:
                    conn, _ = console.accept()
                    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                    conn.close()
                    self.pty = fds[0]
                except OSError:
                    self.pty = None
                console.close()
                os.unlink(sock_path)
                rc = proc.wait()
            else:
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                stdin: int = subprocess.DEVNULL
                if self.conf.get("open_stdin"):
                    in_r, in_w = os.pipe()
                    stdin = in_r
                    self.stdin_w = in_w
                    close_after.append(in_r)
                close_after += [out_w, err_w]
                rc = subprocess.run(args, stdin=stdin, stdout=out_w, stderr=err_w).returncode
                if rc == 0:
                    self.watch(out_r, "stdout")
                    self.watch(err_r, "stderr")
                else:
                    os.close(out_r)
                    os.close(err_r)
        finally:
            for fd in close_after:
                os.close(fd)
            os.close(err)
        if rc != 0:
            raise RuntimeError(_last_error(errfile) or f"runtime exited {rc}")
        with open(pidfile) as f:
            self.pid = int(f.read().strip())
        if self.pty is not None:
            self.watch(self.pty, "stdout")
        now = time.time()
        self.update(state="running", pid=self.pid, started_at=now, finished_at=0,
                    monitor_pid=os.getpid(), error="", exit_code=0, oom_killed=0)
        self.emit("start")

    def oom_killed(self) -> bool:
        cg = self.conf.get("cgroup_path", "")
        for path in (f"/sys/fs/cgroup/memory{cg}/memory.oom_control",
                     f"/sys/fs/cgroup/unified{cg}/memory.events",
                     f"/sys/fs/cgroup{cg}/memory.events"):
            try:
                with open(path) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k == "oom_kill" and int(v) > 0:
                            return True
            except OSError:
                continue
        return False


def _last_error(path: str) -> str:
    """The runtime's last error line (runc writes logfmt or JSON lines)."""
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            rec = json.loads(line)
            if rec.get("level") in ("error", "fatal") or "msg" in rec:
                return str(rec.get("msg", line))
        except ValueError:
            if "msg=" in line:
                return line.split("msg=", 1)[1].strip().strip('"').replace('\\"', '"')
            return line
    return ""


def start_failure_code(msg: str) -> int:
    """Docker's exit codes for a container that could not start."""
    low = msg.lower()
    if "no such file" in low or "not found" in low:
        return 127
    if "permission denied" in low or "is a directory" in low:
        return 126
    return 125
