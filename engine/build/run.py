"""RUN: a short-lived container on the step's workspace, run in the foreground.

The step's active snapshot is already mounted (``layer.Workspace``); we
write an OCI bundle next to it (Docker's defaults from ``runtime.spec``,
hostname ``buildkitsandbox``, no network unless ``host`` is asked for),
start ``<runtime> run --bundle B <id>`` with its stdout and stderr on
pipes, and hand every output line to the caller as it comes.

The runtime creates mount points that the image lacks (``/proc``,
``/etc/hosts`` …) in the writable layer.  They are not the step's work, so
afterwards they are removed again (BuildKit's ``MountStubsCleaner``), along
with directories overlayfs copied up only to hold them.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import stat
import subprocess
import threading
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from engine.build.layer import Workspace, scratch_dir
from engine.build.session import Attached, SecretFile, SshSocket
from engine.errors import Cancelled
from engine.layers.merged import is_opaque
from engine.network.etcfiles import read_text
from engine.runtime.rootpath import secure_join
from engine.runtime.spec import Mount, SpecInput, build_spec, default_mounts
from engine.snapshots import Mount as FsMount
from engine.snapshots.mount import mount_all, unmount
from engine.snapshots.overlay import remove_tree

__all__ = ["RunSpec", "run_step"]

HOSTNAME = "buildkitsandbox"
HOSTS = f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


@dataclass
class RunSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""
    network: str = "none"  # none | host
    binds: list[Mount] = field(default_factory=list)  # cache, bind and tmpfs mounts
    overlays: list[tuple[str, str]] = field(default_factory=list)  # (lower dir, target): rw binds
    locks: list[str] = field(default_factory=list)  # files to flock (sharing=locked)
    secrets: list[SecretFile] = field(default_factory=list)  # type=secret mounts
    sockets: list[SshSocket] = field(default_factory=list)  # type=ssh mounts


def _stubs(rootfs: str, destinations: Sequence[str]) -> list[str]:
    """For each mount point, the missing path components (what runc will create)."""
    out: list[str] = []
    for dest in destinations:
        parts = [p for p in dest.split("/") if p]
        for i in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:i])
            try:
                os.lstat(secure_join(rootfs, path, follow_last=False))
            except OSError:
                out.extend(p for p in ("/" + "/".join(parts[:j])
                                       for j in range(i, len(parts) + 1)) if p not in out)
                break
    return out


def _clean_stubs(ws: Workspace, stubs: list[str]) -> None:
    upper, lowers = ws.upper, ws.lowers()
    for path in sorted(stubs, key=lambda p: -p.count("/")):
        full = upper + path
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if os.listdir(full):
                continue  # the step put something there: it is its work now
            os.rmdir(full)
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(full)
        else:
            continue
        _drop_copied_up(upper, lowers, os.path.dirname(path))


def _drop_copied_up(upper: str, lowers: list[str], path: str) -> None:
    """Remove empty parents that overlayfs copied up only for a stub."""
    from engine.layers.merged import lookup

    while path not in ("", "/"):
        full = upper + path
        try:
            st = os.lstat(full)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode) or os.listdir(full) or is_opaque(full):
            return
        try:
            found = lookup(lowers, path.strip("/").split("/"))
        except Exception:  # noqa: BLE001 - a symlink on the way: leave it
            return
        if found is None:
            return
        low = found[1]
        if (st.st_mode, st.st_uid, st.st_gid) != (low.st_mode, low.st_uid, low.st_gid):
            return
        os.rmdir(full)
        path = os.path.dirname(path)


def run_step(runtime, ws: Workspace, spec: RunSpec,  # noqa: ANN001
             cancel: threading.Event | None = None) -> Generator[tuple[int, str], None, int]:
    """Run the step; yields (stream, line) as the process writes; returns its exit code."""
    bundle = scratch_dir(ws.store, "run")
    files = {"hosts": HOSTS, "resolv.conf": read_text("/etc/resolv.conf"),
             "hostname": HOSTNAME + "\n"}
    mounts = []
    for name, content in files.items():
        with open(os.path.join(bundle, name), "w") as f:
            f.write(content)
        mounts.append(Mount(f"/etc/{name}", "bind", os.path.join(bundle, name),
                            ("rbind", "rprivate", "ro" if name != "hosts" else "rw")))
    overlay_targets: list[str] = []
    lock_fds: list[int] = []
    cid = f"build-{uuid.uuid4().hex[:20]}"
    stubs: list[str] = []
    attached = Attached(spec.secrets, spec.sockets)
    try:
        attached.open()
        for i, (lower, target) in enumerate(spec.overlays):
            d = os.path.join(bundle, f"rw{i}")
            for sub in ("upper", "work", "merged"):
                os.makedirs(os.path.join(d, sub))
            merged = os.path.join(d, "merged")
            mount_all([FsMount("overlay", "overlay", (
                f"lowerdir={lower}", f"upperdir={d}/upper", f"workdir={d}/work"))], merged)
            overlay_targets.append(merged)
            mounts.append(Mount(target, "bind", merged, ("rbind", "rprivate")))
        mounts.extend(spec.binds)
        mounts.extend(attached.mounts)
        for path in spec.locks:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            lock_fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        rootfs = ws.rootfs
        config = build_spec(SpecInput(
            args=spec.args, env=spec.env + attached.env, cwd=spec.cwd or "/", user=spec.user,
            hostname=HOSTNAME, mounts=mounts, netns=None if spec.network == "host" else "",
            cgroup_path=f"/dockyard/{cid}"), rootfs)
        config["process"]["env"] = [e for e in config["process"]["env"]
                                    if not e.startswith("HOSTNAME=") or e in spec.env]
        config["hostname"] = HOSTNAME
        with open(os.path.join(bundle, "config.json"), "w") as f:
            f.write(json.dumps(config))
        stubs = _stubs(rootfs, [m.destination for m in default_mounts(False)] +
                       [m.destination for m in mounts])
        code = yield from _run(runtime, bundle, cid, cancel)
        return code
    finally:
        attached.close()
        for fd in lock_fds:
            os.close(fd)
        for target in overlay_targets:
            unmount(target)
        ws.unmount()
        _clean_stubs(ws, stubs)
        remove_tree(bundle)


def _run(runtime, bundle: str, cid: str,  # noqa: ANN001
         cancel: threading.Event | None) -> Generator[tuple[int, str], None, int]:
    proc = subprocess.Popen(runtime.cmd("run", "--bundle", bundle, cid), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    pending = {1: b"", 2: b""}
    sel.register(proc.stdout, selectors.EVENT_READ, 1)
    sel.register(proc.stderr, selectors.EVENT_READ, 2)
    open_streams = 2
    killed = False
    try:
        while open_streams:
            if cancel is not None and cancel.is_set() and not killed:
                killed = True
                subprocess.run(runtime.cmd("kill", "--all", cid, "KILL"), capture_output=True)
            for key, _ in sel.select(timeout=0.2):
                stream = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    if pending[stream]:
                        yield stream, pending[stream].decode(errors="replace")
                        pending[stream] = b""
                    continue
                data = pending[stream] + chunk
                *lines, pending[stream] = data.split(b"\n")
                for line in lines:
                    yield stream, line.decode(errors="replace").rstrip("\r")
        code = proc.wait()
    finally:
        sel.close()
        if proc.poll() is None:
            subprocess.run(runtime.cmd("kill", "--all", cid, "KILL"), capture_output=True)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        subprocess.run(runtime.cmd("delete", "--force", cid), capture_output=True)
    if killed:
        raise Cancelled("build cancelled")
    return code
