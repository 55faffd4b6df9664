"""``exec`` on real containers: a real pty, exit codes, detached, refusals."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time

from tests.conftest import REPO, dockyard
from tests.engine.runtime.conftest import IMAGE


def _sleeper(root, *args: str) -> str:
    return dockyard(root, "run", "-d", *args, IMAGE, "sleep", "1000").stdout.decode().strip()


class Pty:
    """A child process on a real pseudo-terminal, driven like a user would."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes the CLI, its stdio is the pty slave
            os.chdir(REPO)
            os.execv(argv[0], argv)
        self.buf = b""

    def expect(self, token: bytes, timeout: float = 20) -> bytes:
        end = time.monotonic() + timeout
        while token not in self.buf and time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                self.buf += chunk
        assert token in self.buf, f"{token!r} not seen in {self.buf!r}"
        return self.buf

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 20) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"the CLI did not exit; output so far: {self.buf!r}")


def test_exec_it_through_a_real_pty(croot) -> None:
    cid = _sleeper(croot)
    term = Pty([sys.executable, "-m", "engine", "--root", str(croot), "exec", "-it", cid, "sh"])
    term.expect(b"# ")  # busybox sh prints its prompt only on a terminal
    term.send(b"echo $((6*7))\r")
    out = term.expect(b"42")
    # on its own line; \r\r\n if our side of the pty was not raw yet when it came
    assert re.search(rb"\r\n42\r+\n", out), out
    term.send(b"tty; echo TERM=$TERM\r")
    out = term.expect(b"TERM=xterm")
    assert b"/dev/pts/" in out
    term.send(b"exit\r")
    assert term.wait() == 0
    # the exit status of the shell is the exec's
    term = Pty([sys.executable, "-m", "engine", "--root", str(croot), "exec", "-it", cid, "sh"])
    term.expect(b"# ")
    term.send(b"exit 7\r")
    assert term.wait() == 7


def test_exec_exit_codes_and_options(croot) -> None:
    cid = _sleeper(croot, "--name", "box", "-e", "FROM_RUN=1")
    assert dockyard(croot, "exec", "box", "true").returncode == 0
    assert dockyard(croot, "exec", "box", "false", check=False).returncode == 1
    assert dockyard(croot, "exec", cid[:12], "sh", "-c", "exit 3", check=False).returncode == 3
    r = dockyard(croot, "exec", "box", "nosuch", check=False)
    assert r.returncode == 127
    assert r.stderr.decode().startswith("OCI runtime exec failed")
    assert 'exec: "nosuch": executable file not found in $PATH' in r.stderr.decode()
    r = dockyard(croot, "exec", "box", "/etc/passwd", check=False)
    assert r.returncode == 126 and b"permission denied" in r.stderr
    r = dockyard(croot, "exec", "box", "/bin", check=False)
    assert r.returncode == 126
    # environment: the container's, then -e; working directory; user
    r = dockyard(croot, "exec", "-e", "A=b", "-w", "/tmp", "-u", "nobody", "box", "sh", "-c",
                 'echo "$FROM_RUN $A $(pwd) $(id -u):$(id -g)"')
    assert r.stdout == b"1 b /tmp 65534:65534\n"
    r = dockyard(croot, "exec", "-u", "nosuchuser", "box", "true", check=False)
    assert r.returncode == 126 and b"unable to find user nosuchuser" in r.stderr
    # stdout and stderr stay separate; -i feeds stdin
    r = dockyard(croot, "exec", "box", "sh", "-c", "echo out; echo err >&2")
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")
    r = dockyard(croot, "exec", "-i", "box", "tr", "a-z", "A-Z", input=b"shout\n")
    assert r.stdout == b"SHOUT\n"
    # without -i the process gets no stdin at all (EOF at once)
    r = dockyard(croot, "exec", "box", "cat", input=b"ignored")
    assert r.stdout == b""
    # --privileged: the full capability set (CapEff of a root process)
    plain = dockyard(croot, "exec", "box", "grep", "CapEff", "/proc/self/status").stdout
    full = dockyard(croot, "exec", "--privileged", "box", "grep", "CapEff",
                    "/proc/self/status").stdout
    assert int(full.split()[1], 16) > int(plain.split()[1], 16)


def test_exec_detached_keeps_running(croot) -> None:
    cid = _sleeper(croot)
    r = dockyard(croot, "exec", "-d", cid, "sh", "-c", "echo started > /tmp/mark; sleep 300")
    assert (r.returncode, r.stdout) == (0, b"")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if dockyard(croot, "exec", cid, "cat", "/tmp/mark", check=False).stdout == b"started\n":
            break
        time.sleep(0.1)
    top = dockyard(croot, "top", cid).stdout.decode()
    assert "sleep 300" in top and "sleep 1000" in top


def test_exec_refused_on_stopped_and_paused_containers(croot) -> None:
    cid = dockyard(croot, "create", IMAGE, "sleep", "1000").stdout.decode().strip()
    r = dockyard(croot, "exec", cid, "true", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == f"Error response from daemon: container {cid} is not running\n"
    dockyard(croot, "start", cid)
    dockyard(croot, "pause", cid)
    r = dockyard(croot, "exec", cid, "true", check=False)
    assert r.returncode == 1 and b"is paused, unpause the container before exec" in r.stderr
    dockyard(croot, "unpause", cid)
    assert dockyard(croot, "exec", cid, "true").returncode == 0
    r = dockyard(croot, "exec", "nosuchcontainer", "true", check=False)
    assert r.returncode == 1 and b"No such container: nosuchcontainer" in r.stderr


def test_attach_detach_keys_and_exit_code(croot) -> None:
    cid = dockyard(croot, "run", "-dit", IMAGE, "sh").stdout.decode().strip()
    cli = [sys.executable, "-m", "engine", "--root", str(croot)]
    term = Pty([*cli, "attach", cid])
    # nothing is printed on attach: poke the shell until its prompt answers
    for _ in range(50):
        term.send(b"\r")
        try:
            term.expect(b"# ", timeout=0.5)
            break
        except AssertionError:
            continue
    term.send(b"echo $((6*7))\r")
    term.expect(b"42")
    term.send(b"\x10\x11")  # ctrl-p ctrl-q: detach, the container keeps running
    assert term.wait() == 0
    status = dockyard(croot, "ps", "--format", "{{.State}}", "-f", f"id={cid}").stdout
    assert status == b"running\n"
    term = Pty([*cli, "attach", "--detach-keys", "ctrl-x", cid])
    for _ in range(50):
        term.send(b"\r")
        try:
            term.expect(b"# ", timeout=0.5)
            break
        except AssertionError:
            continue
    term.send(b"exit 4\r")
    assert term.wait() == 4  # the container's exit code is attach's
    r = dockyard(croot, "attach", cid, check=False)
    assert r.returncode == 1
    assert r.stderr == b"Error response from daemon: You cannot attach to a stopped " \
                       b"container, start it first\n"
    # without a TTY: output streams as it comes, --no-stdin, the exit code at the end
    cid = dockyard(croot, "run", "-d", IMAGE, "sh", "-c",
                   "sleep 3; echo out; echo err >&2; exit 3").stdout.decode().strip()
    r = dockyard(croot, "attach", "--no-stdin", cid, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
