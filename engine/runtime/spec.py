"""OCI runtime-spec generation: a container's config → ``config.json``.

Defaults are Docker's: its capability set, masked and read-only /proc and
/sys paths, the /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and cgroup
mounts, no-new-privileges, and rlimits taken from the host's own hard limits
(root here cannot raise them: no CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .rootpath import read_file_in

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
ALL_CAPS = DEFAULT_CAPS + (
    "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_LEASE", "CAP_AUDIT_CONTROL", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2,
               "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6,
               "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
               "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12,
               "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
               "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
               "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
               "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24,
               "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
               "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
               "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34,
               "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
               "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40}


def host_caps() -> list[str]:
    """ALL_CAPS within our own bounding set: the runtime cannot grant more
    (here, for one, CAP_SYS_RESOURCE is not ours), so --privileged gets these."""
    try:
        with open("/proc/self/status") as f:
            bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration, ValueError):
        return list(ALL_CAPS)
    return [c for c in ALL_CAPS if bnd >> CAP_NUMBERS.get(c, 0) & 1]


MASKED = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Mount:
    """One entry of the OCI spec's ``mounts``."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"destination": self.destination, "type": self.type, "source": self.source,
                "options": list(self.options)}


@dataclass(frozen=True)
class Resources:
    """The resource limits of ``--memory``, ``--cpus`` …"""

    memory: int = 0  # bytes, 0 = unlimited
    memory_swap: int = 0  # bytes incl. memory; -1 unlimited; 0 = 2 × memory (Docker)
    cpus: float = 0.0
    cpu_shares: int = 0
    pids_limit: int = 0


@dataclass(frozen=True)
class SpecInput:
    """Everything the spec needs, already resolved from image + flags."""

    args: Sequence[str]
    env: Sequence[str]
    cwd: str = "/"
    user: str = ""  # "", "name", "uid", "uid:gid", "name:group"
    hostname: str = ""
    tty: bool = False
    readonly_rootfs: bool = False
    privileged: bool = False
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    mounts: Sequence[Mount] = ()
    resources: Resources = field(default_factory=Resources)
    netns: str | None = ""  # "" = new netns, None = host's, a path = join it
    cgroup_path: str = ""
    stop_signal: str = ""


def normalize_cap(cap: str) -> str:
    c = cap.upper()
    c = c if c.startswith("CAP_") else "CAP_" + c
    if c != "CAP_ALL" and c not in ALL_CAPS:
        raise InvalidArgument(f"unknown capability: {cap!r}")
    return c


def capabilities(s: SpecInput) -> list[str]:
    if s.privileged:
        return host_caps()
    caps = list(DEFAULT_CAPS)
    drops = [normalize_cap(c) for c in s.cap_drop]
    adds = [normalize_cap(c) for c in s.cap_add]
    if "CAP_ALL" in drops:
        caps = []
    caps = [c for c in caps if c not in drops]
    if "CAP_ALL" in adds:
        return [c for c in host_caps() if c not in drops]
    caps += [c for c in adds if c not in caps]
    return caps


def resolve_user(rootfs: str, user: str) -> tuple[int, int, list[int]]:
    """uid, gid and supplementary groups for ``user``, from the image's files."""
    if not user:
        user = "0"
    name, _, group = user.partition(":")
    passwd = _table(read_file_in(rootfs, "/etc/passwd"))
    groups = _table(read_file_in(rootfs, "/etc/group"))
    uid = gid = None
    username = ""
    if name.isdigit():
        uid = int(name)
        for row in passwd:
            if len(row) > 3 and row[2] == name:
                gid, username = _int(row[3]), row[0]
                break
    else:
        for row in passwd:
            if len(row) > 3 and row[0] == name:
                uid, gid, username = _int(row[2]), _int(row[3]), name
                break
        if uid is None:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in "
                                  "passwd file")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [r for r in groups if len(r) > 2 and r[0] == group]
            if not match:
                raise InvalidArgument(f"unable to find group {group}: no matching entries in "
                                      "group file")
            gid = _int(match[0][2])
    gid = gid if gid is not None else 0
    extra = sorted({_int(r[2]) for r in groups if len(r) > 3 and username and
                    username in r[3].split(",") and _int(r[2]) != gid})
    return uid, gid, extra


def _table(data: bytes | None) -> list[list[str]]:
    if not data:
        return []
    return [line.split(":") for line in data.decode(errors="replace").splitlines()
            if line and not line.startswith("#")]


def _int(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        return 0


def host_rlimits() -> list[dict]:
    """RLIMIT_NOFILE as Docker gives it (1048576), capped at the host's hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    return [{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]


def default_mounts(readonly: bool) -> list[Mount]:
    return [
        Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount("/dev/pts", "devpts", "devpts", ("nosuid", "noexec", "newinstance",
                                               "ptmxmode=0666", "mode=0620", "gid=5")),
        Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime",
                                                      "ro")),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777",
                                           "size=67108864")),
    ]


def build_spec(s: SpecInput, rootfs: str) -> dict:
    uid, gid, extra = resolve_user(rootfs, s.user)
    caps = capabilities(s)
    env = list(s.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    if s.tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    if not any(e.startswith("HOSTNAME=") for e in env) and s.hostname:
        env.insert(1, f"HOSTNAME={s.hostname}")
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")]
    if s.netns == "":
        namespaces.append({"type": "network"})
    elif s.netns:
        namespaces.append({"type": "network", "path": s.netns})
    mounts = default_mounts(s.readonly_rootfs)
    if s.privileged:
        mounts = [Mount(m.destination, m.type, m.source,
                        tuple(o for o in m.options if o != "ro")) if m.type == "sysfs" else m
                  for m in mounts]
    dests = {m.destination for m in s.mounts}
    mounts = [m for m in mounts if m.destination not in dests] + list(s.mounts)
    spec: dict = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": s.tty,
            "user": {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})},
            "args": list(s.args),
            "env": env,
            "cwd": s.cwd or "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": host_rlimits(),
            "noNewPrivileges": not s.privileged,
        },
        "root": {"path": rootfs, "readonly": s.readonly_rootfs},
        "hostname": s.hostname,
        "mounts": [m.to_json() for m in mounts],
        "linux": {
            "namespaces": namespaces,
            "resources": _resources(s.resources, s.privileged),
            "cgroupsPath": s.cgroup_path,
            "maskedPaths": [] if s.privileged else list(MASKED),
            "readonlyPaths": [] if s.privileged else list(READONLY),
        },
    }
    if uid != 0:  # Docker clears the effective/permitted set for non-root users
        spec["process"]["capabilities"]["effective"] = []
        spec["process"]["capabilities"]["permitted"] = []
    if not s.hostname:
        del spec["hostname"]
    if s.netns is None:
        spec["hostname"] = os.uname().nodename
    return spec


def _resources(r: Resources, privileged: bool = False) -> dict:
    out: dict = {"devices": [{"allow": privileged, "access": "rwm"}]}
    mem: dict = {}
    if r.memory:
        mem["limit"] = r.memory
        if r.memory_swap == -1:
            mem["swap"] = -1
        else:
            mem["swap"] = r.memory_swap or r.memory * 2
    if mem:
        out["memory"] = mem
    cpu: dict = {}
    if r.cpus:
        cpu["period"] = 100000
        cpu["quota"] = int(r.cpus * 100000)
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit:
        out["pids"] = {"limit": r.pids_limit}
    return out
