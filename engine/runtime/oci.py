"""The OCI runtime driver: crun preferred, runc as the fallback.

Probing: crun 1.8 refuses hosts with cgroup v1 hierarchies *and* cgroup2
controllers ("cgroups in hybrid mode not supported") unless hugetlb is a v1
hierarchy, while runc accepts them.  So we do not trust ``--version``: we
create a throwaway container with each candidate and keep the first that
works.  The verdict is cached per (runtime binaries, kernel, cgroup layout)
in ``<root>/runtime.json``; a binary is known by its stat (an upgrade changes
it), not by running ``--version``, which would cost every command ~10 ms.
``dockyard info`` shows the verdict and why.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..errors import EngineError, NotFound, Unavailable

if TYPE_CHECKING:
    import subprocess

CANDIDATES = ("crun", "runc")


@dataclass(frozen=True)
class RuntimeInfo:
    """The OCI runtime chosen for this host, and why."""

    name: str
    path: str
    version: str
    reason: str  # why this one was chosen


def _version(path: str) -> str:
    try:
        import subprocess  # here and below: `run` itself never needs it

        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.split("version", 1)[-1].strip() or first


def _identity(path: str | None) -> list[int] | None:
    """What changes when the binary is replaced: inode, size, mtime."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _cgroup_layout() -> str:
    try:
        with open("/proc/self/mounts") as f:
            return "|".join(sorted(line.split()[1] for line in f if " cgroup" in line))
    except OSError:
        return ""


def _try(path: str, state: str) -> str | None:
    """None if ``path`` can create a container here, else its complaint."""
    import subprocess
    import tempfile  # only when probing: most commands find the verdict cached

    with tempfile.TemporaryDirectory(prefix="probe-", dir=state) as bundle:
        os.mkdir(os.path.join(bundle, "rootfs"))
        # runc stats the program at create time; it never runs
        with open(os.path.join(bundle, "rootfs", "probe"), "w") as f:
            os.fchmod(f.fileno(), 0o755)
        spec = {"ociVersion": "1.0.2", "process": {"args": ["/probe"], "cwd": "/",
                "user": {"uid": 0, "gid": 0}}, "root": {"path": "rootfs"},
                "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
                "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")],
                          "cgroupsPath": f"/dockyard/probe-{os.getpid()}"}}
        with open(os.path.join(bundle, "config.json"), "w") as f:
            f.write(json.dumps(spec))
        cid = f"dockyard-probe-{os.getpid()}"
        # the created container keeps our stdio: use a file, a pipe would never close
        with tempfile.TemporaryFile(mode="w+") as err:
            r = subprocess.run([path, "--root", state, "create", "--bundle", bundle, cid],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, timeout=30)
            err.seek(0)
            complaint = err.read().strip()
        subprocess.run([path, "--root", state, "delete", "-f", cid], capture_output=True,
                       timeout=30)
        if r.returncode == 0:
            return None
        return (complaint.splitlines() or ["failed"])[-1]


def _which(name: str) -> str | None:
    """``shutil.which`` (whose import costs every ``run``)."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def probe(root: str, state_dir: str, *, prefer: str | None = None) -> RuntimeInfo:
    cache = os.path.join(root, "runtime.json")
    names = (prefer,) if prefer else CANDIDATES
    found = [(n, _which(n)) for n in names]
    key = json.dumps([[n, p, _identity(p)] for n, p in found] +
                     [os.uname().release, _cgroup_layout()])
    try:
        with open(cache) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return RuntimeInfo(**cached["runtime"])
    except (OSError, ValueError, TypeError):
        pass
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    refusals = []
    for name, path in found:
        if not path:
            refusals.append(f"{name} is not installed")
            continue
        complaint = _try(path, state_dir)
        if complaint is None:
            why = "preferred" if name == names[0] else "; ".join(refusals)
            info = RuntimeInfo(name, path, _version(path),
                               f"{name} works here" + (f" ({why})" if why != "preferred"
                                                       else ""))
            tmp = f"{cache}.{os.getpid()}.tmp"  # several first commands may probe at once
            with open(tmp, "w") as f:
                f.write(json.dumps({"key": key, "runtime": asdict(info)}))
            os.replace(tmp, cache)
            return info
        refusals.append(f"{name} refused this host: {complaint}")
    if prefer:
        raise Unavailable(f"runtime {prefer}: " + "; ".join(refusals))
    raise Unavailable("no usable OCI runtime: " + "; ".join(refusals) +
                      " (apt-get install crun runc)")


class Runtime:
    """Thin wrapper over the runtime binary's command line."""

    def __init__(self, info: RuntimeInfo, state_dir: str) -> None:
        self.info = info
        self.state_dir = state_dir

    def cmd(self, *args: str) -> list[str]:
        return [self.info.path, "--root", self.state_dir, *args]

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        import subprocess

        return subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def state(self, cid: str) -> dict | None:
        r = self._run("state", cid)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def kill(self, cid: str, signal: str = "TERM", *, all_procs: bool = False) -> None:
        args = ["kill", *(["--all"] if all_procs else []), cid, signal]
        r = self._run(*args)
        if r.returncode != 0:
            msg = r.stderr.strip()
            if "not running" in msg or "does not exist" in msg or "container not" in msg:
                raise NotFound(f"container {cid[:12]} is not running")
            raise EngineError(f"kill {cid[:12]}: {msg}")

    def delete(self, cid: str, *, force: bool = True) -> None:
        if not os.path.exists(os.path.join(self.state_dir, cid)):
            return  # no state: nothing to delete (and no runtime process to start)
        self._run("delete", *(["--force"] if force else []), cid)

    def pause(self, cid: str) -> None:
        self._check(self._run("pause", cid), "pause", cid)

    def resume(self, cid: str) -> None:
        self._check(self._run("resume", cid), "unpause", cid)

    def ps(self, cid: str) -> list[int]:
        r = self._run("ps", "--format", "json", cid)
        self._check(r, "top", cid)
        return json.loads(r.stdout or "[]")

    @staticmethod
    def _check(r: subprocess.CompletedProcess, what: str, cid: str) -> None:
        if r.returncode != 0:
            raise EngineError(f"{what} {cid[:12]}: {r.stderr.strip() or 'failed'}")
