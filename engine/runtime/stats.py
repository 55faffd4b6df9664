"""``top`` and ``stats``: a running container's processes and resource use.

``top`` asks the runtime for the container's PIDs (``<runtime> ps``) and
describes each from ``/proc`` the way ``ps -ef`` does (Docker's default),
or runs the host's ``ps`` with the caller's options and keeps the rows of
those PIDs (what Docker does with ``docker top CTR OPTIONS``).

``stats`` reads the container's cgroups wherever the kernel keeps them: the
paths come from ``/proc/<init pid>/cgroup`` and the mount points from
``/proc/self/mountinfo``, so cgroup v1, v2 and the hybrid layout all work.
CPU % needs two samples (:class:`Sample`), as Docker's does: the
container's CPU time delta over the host's, times the online CPUs.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Conflict, EngineError, InvalidArgument
from .containers import Containers

if TYPE_CHECKING:
    import sqlite3

CLK_TCK = os.sysconf("SC_CLK_TCK")
PS_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


# -- top -----------------------------------------------------------------------
def pids(svc: Containers, cid: str) -> list[int]:
    """Host PIDs of the container's processes (a paused one's too, as Docker's top)."""
    row = svc.row(cid)
    if row["state"] not in ("running", "paused") or not row["pid"]:
        raise Conflict(f"container {cid} is not running")
    rt = svc.runtime(json.loads(row["host_config"]).get("Runtime", ""))
    return [int(p) for p in rt.ps(cid)]


def top(svc: Containers, cid: str, ps_args: Sequence[str] = ()
        ) -> tuple[list[str], list[list[str]]]:
    """(titles, rows) like ``docker top``."""
    found = pids(svc, cid)
    if ps_args:
        return _host_ps(list(ps_args), found)
    now = time.time()
    boot = _boot_time()
    rows = [r for r in (_ps_row(p, now, boot) for p in sorted(found)) if r]
    return list(PS_TITLES), rows


def _host_ps(args: list[str], wanted: list[int]) -> tuple[list[str], list[list[str]]]:
    try:
        r = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise EngineError(f"ps: {e.strerror}") from None
    if r.returncode != 0:
        raise EngineError(f"Error running ps: {r.stderr.strip()}")
    lines = r.stdout.splitlines()
    if not lines:
        return [], []
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    col = titles.index("PID")
    keep = set(wanted)
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in keep:
            rows.append(fields)
    return titles, rows


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _ps_row(pid: int, now: float, boot: float) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fb:
            cmdline = fb.read()
        with open(f"/proc/{pid}/status") as f:
            uid = next(int(line.split()[2]) for line in f if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None  # exited meanwhile
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    ppid, tty_nr = int(fields[1]), int(fields[4])
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    started = boot + int(fields[19]) / CLK_TCK
    elapsed = max(now - started, 1e-9)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    return [user, str(pid), str(ppid), str(min(int(cpu * 100 / elapsed), 99)),
            _stime(started, now), _tty(tty_nr), _cputime(cpu), " ".join(args) or f"[{comm}]"]


def _stime(started: float, now: float) -> str:
    s, n = time.localtime(started), time.localtime(now)
    if now - started < 24 * 3600 and s.tm_yday == n.tm_yday:
        return time.strftime("%H:%M", s)
    if s.tm_year == n.tm_year:
        return time.strftime("%b%d", s)
    return str(s.tm_year)


def _tty(nr: int) -> str:
    major, minor = (nr >> 8) & 0xFFF, (nr & 0xFF) | ((nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"pts/{(major - 136) * 256 + minor}"
    if major == 4 and nr:
        return f"tty{minor}"
    return "?"


def _cputime(secs: float) -> str:
    s = int(secs)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}-{text}" if days else text


# -- stats ---------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """Raw counters of one container at one moment."""

    id: str
    name: str
    running: bool
    cpu_ns: int = 0  # container CPU time
    system_ns: int = 0  # host CPU time (all CPUs), as Docker's system_cpu_usage
    online_cpus: int = 1
    mem_usage: int = 0  # without the inactive page cache, as Docker's CLI shows it
    mem_limit: int = 0
    net_rx: int = 0
    net_tx: int = 0
    block_read: int = 0
    block_write: int = 0
    pids: int = 0


@dataclass(frozen=True)
class ContainerStats:
    """One row of ``docker stats``."""

    id: str
    name: str
    cpu_percent: float
    mem_usage: int
    mem_limit: int
    mem_percent: float
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int


def sample(svc: Containers, cid: str) -> Sample:
    return _sample_row(svc.row(cid), None, None)


def sample_all(svc: Containers, *, io: bool = True) -> dict[str, Sample]:
    """Raw counters of every running or paused container, by ID, in one pass:
    one query, one read of the mount table and of ``/proc/stat`` however many
    containers there are (a UI sampling 100 of them each refresh).  Without
    ``io`` the network and block I/O counters stay 0 (two reads fewer each)."""
    rows = [svc.reconcile(r) for r in svc.db.query(
        "SELECT * FROM containers WHERE state IN ('running', 'paused')")]
    rows = [r for r in rows if r["state"] in ("running", "paused") and r["pid"]]
    if not rows:
        return {}
    mounts, system_ns, cpus = _mountpoints(), _system_ns(), os.cpu_count() or 1
    return {r["id"]: _sample_row(r, mounts, system_ns, cpus=cpus, io=io) for r in rows}


def _sample_row(row: sqlite3.Row, mounts: dict[str, str] | None, system_ns: int | None, *,
                cpus: int = 0, io: bool = True) -> Sample:
    cid = row["id"]
    if row["state"] not in ("running", "paused") or not row["pid"]:
        return Sample(cid, row["name"], False)
    pid = row["pid"]
    groups = _cgroups(pid, mounts)
    if not groups:
        return Sample(cid, row["name"], False)
    mem, limit = _memory(groups)
    rx = tx = rd = wr = 0
    if io and json.loads(row["host_config"]).get("NetworkMode") != "host":
        rx, tx = _net(pid)  # Docker reports nothing for the host's own network
    if io:
        rd, wr = _blkio(groups)
    return Sample(cid, row["name"], True, cpu_ns=_cpu(groups),
                  system_ns=_system_ns() if system_ns is None else system_ns,
                  online_cpus=cpus or os.cpu_count() or 1, mem_usage=mem, mem_limit=limit,
                  net_rx=rx, net_tx=tx, block_read=rd, block_write=wr, pids=_pids(groups))


def compute(prev: Sample | None, cur: Sample) -> ContainerStats:
    cpu = 0.0
    if prev is not None and prev.running and cur.running:
        dc, ds = cur.cpu_ns - prev.cpu_ns, cur.system_ns - prev.system_ns
        if dc > 0 and ds > 0:
            cpu = dc / ds * cur.online_cpus * 100.0
    mem_pct = cur.mem_usage / cur.mem_limit * 100.0 if cur.mem_limit else 0.0
    return ContainerStats(cur.id, cur.name, cpu, cur.mem_usage, cur.mem_limit, mem_pct,
                          cur.net_rx, cur.net_tx, cur.block_read, cur.block_write, cur.pids)


def stats(svc: Containers, cids: Sequence[str], *, interval: float = 1.0
          ) -> list[ContainerStats]:
    """One ``--no-stream`` reading: two samples ``interval`` apart, like Docker's."""
    first = {cid: sample(svc, cid) for cid in cids}
    if interval > 0 and any(s.running for s in first.values()):
        time.sleep(interval)
    return [compute(first[cid], sample(svc, cid)) for cid in cids]


def _mountpoints() -> dict[str, str]:
    """cgroup controller (or "" for the v2 tree) → where it is mounted."""
    out: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, opts = (post.split() + ["", "", ""])[:3]
            where = pre.split()[4]
            if fstype == "cgroup2":
                out.setdefault("", where)
            elif fstype == "cgroup":
                for opt in opts.split(","):
                    if opt in ("cpu", "cpuacct", "memory", "pids", "blkio"):
                        out.setdefault(opt, where)
    return out


def _cgroups(pid: int, mounts: dict[str, str] | None = None) -> dict[str, str]:
    """controller → cgroup directory of ``pid`` ("" = its v2 cgroup)."""
    lines = _read(f"/proc/{pid}/cgroup").splitlines()
    if not lines:
        return {}
    if mounts is None:
        mounts = _mountpoints()
    out: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for ctl in controllers.split(",") if controllers else [""]:
            if ctl in mounts:
                out[ctl] = mounts[ctl] + path
    return out


def _read(path: str) -> str:
    """A small cgroup or /proc file ("" if unreadable).  os.read costs a third
    of a text-mode open(), which counts at 7 files × 100 containers a refresh."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _memory(g: dict[str, str]) -> tuple[int, int]:
    host = _host_memory()
    if "memory" in g:
        usage = _int(_read(os.path.join(g["memory"], "memory.usage_in_bytes")))
        limit = _int(_read(os.path.join(g["memory"], "memory.limit_in_bytes")))
        inactive = _kv(os.path.join(g["memory"], "memory.stat")).get("total_inactive_file", 0)
    elif "" in g and os.path.exists(os.path.join(g[""], "memory.current")):
        usage = _int(_read(os.path.join(g[""], "memory.current")))
        raw = _read(os.path.join(g[""], "memory.max")).strip()
        limit = host if raw == "max" else _int(raw)
        inactive = _kv(os.path.join(g[""], "memory.stat")).get("inactive_file", 0)
    else:
        return 0, host
    if inactive < usage:
        usage -= inactive
    # an unlimited cgroup reports a huge number: Docker shows the host's memory
    return usage, min(limit, host) if limit > 0 else host


def _cpu(g: dict[str, str]) -> int:
    if "cpuacct" in g:
        return _int(_read(os.path.join(g["cpuacct"], "cpuacct.usage")))
    if "" in g:
        return _kv(os.path.join(g[""], "cpu.stat")).get("usage_usec", 0) * 1000
    return 0


def _system_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 1_000_000_000 // CLK_TCK


def _pids(g: dict[str, str]) -> int:
    for key in ("pids", ""):
        if key in g:
            text = _read(os.path.join(g[key], "pids.current"))
            if text:
                return _int(text)
    return 0


def _blkio(g: dict[str, str]) -> tuple[int, int]:
    rd = wr = 0
    if "blkio" in g:
        for line in _read(os.path.join(g["blkio"],
                                       "blkio.throttle.io_service_bytes_recursive")).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2].isdigit():
                rd += int(parts[2]) if parts[1].lower() == "read" else 0
                wr += int(parts[2]) if parts[1].lower() == "write" else 0
        return rd, wr
    if "" in g:
        for line in _read(os.path.join(g[""], "io.stat")).splitlines():
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                rd += int(value) if key == "rbytes" else 0
                wr += int(value) if key == "wbytes" else 0
    return rd, wr


def _net(pid: int) -> tuple[int, int]:
    rx = tx = 0
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, data = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = data.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx
