"""Real containers through the real CLI: run, exit codes, stop, restart
policies, limits, mounts, attach — and nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, dockyard
from tests.engine.runtime.conftest import IMAGE, eventually, holders


def inspect(root, ref: str) -> dict:
    return json.loads(dockyard(root, "inspect", ref).stdout)[0]


def test_run_echo_and_exit_codes(croot) -> None:
    r = dockyard(croot, "run", "--rm", IMAGE, "echo", "hello", "world")
    assert r.stdout == b"hello world\n"
    r = dockyard(croot, "run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 3",
                 check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    assert dockyard(croot, "run", "--rm", IMAGE, "false", check=False).returncode == 1
    r = dockyard(croot, "run", "--rm", IMAGE, "nope", check=False)
    assert r.returncode == 127 and b"executable file not found" in r.stderr
    r = dockyard(croot, "run", "--rm", IMAGE, "/etc/passwd", check=False)
    assert r.returncode == 126 and b"permission denied" in r.stderr
    # pid 1 ignores SIGKILL from inside; a child killed by it makes sh exit 137
    r = dockyard(croot, "run", "--rm", IMAGE, "sh", "-c", "sleep 5 & kill -9 $!; wait $!",
                 check=False)
    assert r.returncode == 137
    assert dockyard(croot, "ps", "-aq").stdout == b""  # --rm removed them all


def test_environment_user_workdir_hostname(croot) -> None:
    r = dockyard(croot, "run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "nobody",
                 "--hostname", "box", IMAGE, "sh", "-c", 'echo "$A $(pwd) $(id -u) $(hostname)"')
    assert r.stdout == b"1 /tmp 65534 box\n"
    r = dockyard(croot, "run", "--rm", "-u", "1234:5678", IMAGE, "id")
    assert r.stdout.startswith(b"uid=1234 gid=5678")
    r = dockyard(croot, "run", "--rm", "--entrypoint", "echo", IMAGE, "x")
    assert r.stdout == b"x\n"


def test_detached_logs_and_stop_sigterm_then_sigkill(croot) -> None:
    cid = dockyard(croot, "run", "-d", IMAGE, "sh", "-c",
                   'trap "echo bye; exit 0" TERM; while true; do echo tick; sleep 0.1; '
                   "done").stdout.decode().strip()
    assert len(cid) == 64
    assert inspect(croot, cid)["State"]["Running"] is True
    follow = subprocess.Popen([sys.executable, "-m", "engine", "--root", str(croot), "logs",
                               "-f", cid], stdout=subprocess.PIPE, cwd=REPO)
    time.sleep(0.5)
    dockyard(croot, "stop", cid)
    out, _ = follow.communicate(timeout=20)
    assert b"tick\n" in out and out.endswith(b"bye\n")  # -f ends when the container does
    state = inspect(croot, cid)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)
    # a process that ignores SIGTERM is killed after -t seconds
    cid = dockyard(croot, "run", "-d", IMAGE, "sh", "-c", "trap '' TERM; sleep 60 & wait"
                   ).stdout.decode().strip()
    start = time.monotonic()
    dockyard(croot, "stop", "-t", "1", cid)
    assert time.monotonic() - start >= 1.0
    assert inspect(croot, cid)["State"]["ExitCode"] == 137
    ts = dockyard(croot, "logs", "-t", "--tail", "1", cid).stdout
    assert ts == b""


def test_restart_policy_on_failure(croot) -> None:
    cid = dockyard(croot, "run", "-d", "--restart", "on-failure:3", IMAGE, "sh", "-c",
                   "echo run; exit 1").stdout.decode().strip()
    assert dockyard(croot, "wait", cid).stdout == b"1\n"
    deadline = time.time() + 20
    while time.time() < deadline:
        info = inspect(croot, cid)
        if info["State"]["Status"] == "exited" and info["RestartCount"] == 3:
            break
        time.sleep(0.2)
    assert info["RestartCount"] == 3 and info["State"]["Status"] == "exited"
    assert dockyard(croot, "logs", cid).stdout == b"run\n" * 4


def test_restart_always_until_stopped(croot) -> None:
    cid = dockyard(croot, "run", "-d", "--restart", "always", IMAGE, "sh", "-c",
                   "sleep 0.2; exit 0").stdout.decode().strip()
    time.sleep(1.5)
    assert inspect(croot, cid)["RestartCount"] >= 1
    dockyard(croot, "stop", cid)
    count = inspect(croot, cid)["RestartCount"]
    time.sleep(1)
    info = inspect(croot, cid)
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == count


def test_memory_limit_oom_kill(croot) -> None:
    r = dockyard(croot, "run", "--name", "oom", "-m", "8m", IMAGE, "sh", "-c",
                 'x=a; while true; do x="$x$x"; done', check=False)
    assert r.returncode == 137
    state = inspect(croot, "oom")["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137


def test_pids_limit_and_read_only_root(croot) -> None:
    r = dockyard(croot, "run", "--rm", "--pids-limit", "5", IMAGE, "sh", "-c",
                 "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait", check=False)
    assert b"can't fork" in r.stderr
    r = dockyard(croot, "run", "--rm", "--read-only", IMAGE, "touch", "/x", check=False)
    assert r.returncode == 1 and b"Read-only file system" in r.stderr
    r = dockyard(croot, "run", "--rm", "--read-only", "--tmpfs", "/scratch", IMAGE,
                 "sh", "-c", "touch /scratch/x && echo ok")
    assert r.stdout == b"ok\n"


def test_bind_mounts_and_read_only_binds(croot, tmp_path) -> None:
    host = tmp_path / "share"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    r = dockyard(croot, "run", "--rm", "-v", f"{host}:/data", IMAGE, "sh", "-c",
                 "cat /data/in.txt; echo back > /data/out.txt")
    assert r.stdout == b"from host\n" and (host / "out.txt").read_text() == "back\n"
    r = dockyard(croot, "run", "--rm", "-v", f"{host}:/data:ro", IMAGE, "touch", "/data/x",
                 check=False)
    assert r.returncode == 1 and not (host / "x").exists()


def test_named_volume_survives_rm(croot) -> None:
    dockyard(croot, "run", "--rm", "-v", "keep:/keep", IMAGE, "sh", "-c", "echo 1 > /keep/f")
    r = dockyard(croot, "run", "--rm", "-v", "keep:/keep", IMAGE, "cat", "/keep/f")
    assert r.stdout == b"1\n"


def test_pause_unpause_and_kill(croot) -> None:
    cid = dockyard(croot, "run", "-d", IMAGE, "sleep", "60").stdout.decode().strip()
    dockyard(croot, "pause", cid)
    assert inspect(croot, cid)["State"]["Paused"] is True
    assert b"(Paused)" in dockyard(croot, "ps").stdout
    dockyard(croot, "unpause", cid)
    dockyard(croot, "kill", cid)
    assert dockyard(croot, "wait", cid).stdout == b"137\n"
    r = dockyard(croot, "kill", cid, check=False)
    assert r.returncode == 1 and b"is not running" in r.stderr


def test_names_are_unique_and_rm_refuses_running(croot) -> None:
    dockyard(croot, "create", "--name", "web", IMAGE, "sleep", "60")
    r = dockyard(croot, "create", "--name", "web", IMAGE, check=False)
    assert r.returncode != 0 and b'The container name "/web" is already in use' in r.stderr
    dockyard(croot, "start", "web")
    r = dockyard(croot, "rm", "web", check=False)
    assert r.returncode == 1 and b"stop the container before removing" in r.stderr
    dockyard(croot, "rename", "web", "web2")
    dockyard(croot, "rm", "-f", "web2")
    assert dockyard(croot, "ps", "-aq").stdout == b""


def test_ps_filters_and_formats(croot) -> None:
    dockyard(croot, "run", "--name", "ok", IMAGE, "true")
    dockyard(croot, "run", "--name", "bad", IMAGE, "false", check=False)
    names = lambda *a: sorted(dockyard(croot, "ps", "-a", "--format", "{{.Names}}",  # noqa: E731
                                       *a).stdout.decode().split())
    assert names() == ["bad", "ok"]
    assert names("--filter", "exited=1") == ["bad"]
    assert names("--filter", "status=exited", "--filter", "name=^ok$") == ["ok"]
    assert dockyard(croot, "ps").stdout.decode().splitlines()[0].split()[:3] == [
        "CONTAINER", "ID", "IMAGE"]
    status = dockyard(croot, "ps", "-a", "--filter", "name=bad", "--format", "{{.Status}}")
    assert status.stdout.decode().startswith("Exited (1) ")


def test_ps_is_right_after_the_monitor_dies(croot) -> None:
    cid = dockyard(croot, "run", "-d", IMAGE, "sleep", "60").stdout.decode().strip()
    pid = inspect(croot, cid)
    monitor = int(subprocess.run(["sqlite3", str(croot / "dockyard.db"),
                                  f"select monitor_pid from containers where id='{cid}'"],
                                 capture_output=True, text=True).stdout or 0) \
        if os.path.exists("/usr/bin/sqlite3") else None
    _ = pid
    if monitor is None:
        import sqlite3

        conn = sqlite3.connect(croot / "dockyard.db")
        monitor = conn.execute("select monitor_pid from containers where id=?",
                               (cid,)).fetchone()[0]
        conn.close()
    os.kill(monitor, 9)
    time.sleep(0.2)
    state = inspect(croot, cid)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 255


def test_attach_and_detach_keys(croot) -> None:
    import pty

    cid = dockyard(croot, "run", "-d", "-i", "-t", IMAGE, "sh").stdout.decode().strip()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "engine", "--root", str(croot),
                                  "attach", cid])
    out = b""

    def read_until(token: bytes, timeout: float = 10) -> bytes:
        nonlocal out
        end = time.time() + timeout
        while token not in out and time.time() < end:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
        return out

    time.sleep(0.5)
    os.write(fd, b"echo $((6*7))\r")
    assert b"42" in read_until(b"42")
    os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert inspect(croot, cid)["State"]["Running"] is True
    os.close(fd)


@pytest.mark.slow
def test_200_cycles_leave_nothing_behind(croot) -> None:
    def mounts() -> int:
        with open("/proc/self/mounts") as f:
            return f.read().count(str(croot))

    mounts_before = mounts()
    for i in range(200):
        if i % 2:
            dockyard(croot, "run", "--rm", IMAGE, "true")
        else:
            cid = dockyard(croot, "run", "-d", IMAGE, "sleep", "30").stdout.decode().strip()
            dockyard(croot, "stop", "-t", "0", cid)
            dockyard(croot, "rm", cid)
    assert mounts() == mounts_before
    assert os.listdir(croot / "containers") == []
    leftover = [d for d in os.listdir("/sys/fs/cgroup/memory/dockyard")
                if len(d) == 64] if os.path.isdir("/sys/fs/cgroup/memory/dockyard") else []
    ours = [d for d in leftover if os.path.exists(croot / "containers" / d)]
    assert ours == []
    # no monitor (nor anything else) holds a file of the root any more; the
    # last monitor may still be closing its files
    assert eventually(lambda: not holders(croot)), holders(croot)
    snaps = [s for s in os.listdir(croot / "snapshots")]
    assert len(snaps) == 1  # only the image's layer


def test_stdin_is_forwarded_with_i(croot) -> None:
    r = dockyard(croot, "run", "--rm", "-i", IMAGE, "cat", input=b"piped input\n")
    assert r.stdout == b"piped input\n"
    r = dockyard(croot, "run", "--rm", IMAGE, "cat", input=b"not forwarded\n")
    assert r.stdout == b""


def test_log_rotation(croot) -> None:
    cid = dockyard(croot, "run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3",
                   IMAGE, "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; "
                   "i=$((i+1)); done").stdout.decode().strip()
    assert dockyard(croot, "wait", cid).stdout == b"0\n"
    files = sorted(p.name for p in (croot / "containers" / cid).glob("container.log*"))
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all((croot / "containers" / cid / f).stat().st_size <= 2048 for f in files)
    lines = dockyard(croot, "logs", cid).stdout.decode().splitlines()
    assert lines[-1] == "line 299" and 0 < len(lines) < 300  # the oldest were rotated away
    assert [int(x.split()[1]) for x in lines] == list(range(300 - len(lines), 300))
    tail = dockyard(croot, "logs", "-t", "--tail", "2", cid).stdout.decode().splitlines()
    assert len(tail) == 2 and tail[1].endswith("Z line 299")
    record = json.loads((croot / "containers" / cid / "container.log").read_text()
                        .splitlines()[-1])
    assert set(record) == {"log", "stream", "time"} and record["stream"] == "stdout"
    assert len(record["time"].split(".")[1]) == 10  # nanoseconds + "Z"


def test_create_then_start_attached(croot) -> None:
    cid = dockyard(croot, "create", IMAGE, "echo", "created").stdout.decode().strip()
    assert inspect(croot, cid)["State"]["Status"] == "created"
    r = dockyard(croot, "start", "-a", cid)
    assert r.stdout == b"created\n"
    assert dockyard(croot, "start", cid).stdout.decode().strip() == cid  # again, detached


def test_cpu_and_memory_limits_reach_the_cgroup(croot) -> None:
    cid = dockyard(croot, "run", "-d", "--cpus", "0.5", "-m", "64m", "--cpu-shares", "512",
                   IMAGE, "sleep", "30").stdout.decode().strip()
    cg = f"/dockyard/{cid}"
    quota = f"/sys/fs/cgroup/cpu{cg}/cpu.cfs_quota_us"
    if not os.path.exists(quota):  # cgroup v2 host
        from pathlib import Path

        assert Path(f"/sys/fs/cgroup{cg}/cpu.max").read_text().startswith("50000 100000")
        return
    with open(quota) as f:
        assert f.read().strip() == "50000"
    with open(f"/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes") as f:
        assert int(f.read()) == 64 << 20
    with open(f"/sys/fs/cgroup/cpu{cg}/cpu.shares") as f:
        assert f.read().strip() == "512"
    dockyard(croot, "rm", "-f", cid)
    assert not os.path.exists(f"/sys/fs/cgroup/memory{cg}")  # cleaned up with the container


def test_info_names_the_runtime(croot) -> None:
    info = dockyard(croot, "info").stdout.decode()
    assert "Runtime: crun" in info or "Runtime: runc" in info
    assert "RuntimeReason: " in info


def test_rmi_refuses_an_image_a_container_uses(croot) -> None:
    dockyard(croot, "create", "--name", "user", IMAGE, "true")
    r = dockyard(croot, "rmi", IMAGE, check=False)
    assert r.returncode == 1
    assert b'unable to remove repository reference "busybox" (must force)' in r.stderr
    assert b"is using its referenced image" in r.stderr
    r = dockyard(croot, "rmi", "-f", IMAGE)
    assert r.stdout == b"Untagged: busybox:1.37.0-musl\n"  # forced: untag only, image stays
    assert dockyard(croot, "images", "-q").stdout.strip()
    dockyard(croot, "rm", "user")
    image_id = dockyard(croot, "images", "-q", "--no-trunc").stdout.decode().strip()
    out = dockyard(croot, "rmi", image_id).stdout.decode()
    assert f"Deleted: {image_id}" in out


def test_privileged_and_capabilities(croot) -> None:
    mount = "mkdir -p /x && mount -t tmpfs t /x && echo mounted"
    r = dockyard(croot, "run", "--rm", IMAGE, "sh", "-c", mount, check=False)
    assert r.returncode != 0  # no CAP_SYS_ADMIN by default
    r = dockyard(croot, "run", "--rm", "--privileged", IMAGE, "sh", "-c", mount)
    assert r.stdout == b"mounted\n"
    r = dockyard(croot, "run", "--rm", "--cap-add", "SYS_ADMIN", IMAGE, "sh", "-c",
                 "grep CapEff /proc/self/status")
    r2 = dockyard(croot, "run", "--rm", IMAGE, "sh", "-c", "grep CapEff /proc/self/status")
    assert r.stdout != r2.stdout
    r = dockyard(croot, "run", "--rm", "--cap-drop", "CHOWN", IMAGE, "chown", "1", "/tmp",
                 check=False)
    assert r.returncode == 1
