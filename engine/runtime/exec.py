"""``exec``: run another process inside a running container.

The process is described by a ``process.json`` derived from the container's
own bundle (``containers/<id>/config.json``): same capabilities, rlimits,
environment and no-new-privileges, then the exec's overrides (args, user,
env, working directory, terminal).  ``<runtime> exec --process FILE`` runs
it as our child with our stdio inherited: in the foreground runc and crun
allocate the TTY themselves, put our terminal in raw mode and relay it, so
no console socket is needed, and their exit status is the process's.

Paths inside the container (the user's /etc/passwd, the program on $PATH,
the working directory) are looked up through ``/proc/<init pid>/root``: the
container's own mount namespace, volumes included, resolved with
:func:`~engine.runtime.rootpath.secure_join` so no symlink leaves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import tempfile
from collections.abc import Sequence

from ..errors import Conflict, InvalidArgument, StartFailed
from ..store.events import emit
from .bundle import check_command
from .containers import Containers
from .rootpath import secure_join
from .spec import host_caps, resolve_user

OCI_PREFIX = "OCI runtime exec failed: exec failed: unable to start container process: "
def running_root(svc: Containers, cid: str, *, verb: str = "exec") -> tuple[dict, str]:
    """(row, ``/proc/<pid>/root``) of a running container, or Docker's refusal."""
    row = svc.row(cid)
    state = row["state"]
    if state == "paused":
        raise Conflict(f"Container {cid} is paused, unpause the container before {verb}")
    if state == "restarting":
        raise Conflict(f"Container {cid} is restarting, wait until the container is running")
    if state != "running" or not row["pid"]:
        raise Conflict(f"container {cid} is not running")
    return row, f"/proc/{row['pid']}/root"


def merge_env(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``base`` with ``extra``'s KEY=VALUE entries replacing same-named ones."""
    out = list(base)
    index = {e.partition("=")[0]: i for i, e in enumerate(out)}
    for e in extra:
        key = e.partition("=")[0]
        if key in index:
            out[index[key]] = e
        else:
            index[key] = len(out)
            out.append(e)
    return out


def build_process(svc: Containers, cid: str, row: dict, rootfs: str, cmd: Sequence[str], *,
                  tty: bool, env: Sequence[str], workdir: str, user: str,
                  privileged: bool) -> dict:
    with open(os.path.join(svc.dir(cid), "config.json")) as f:
        process = json.load(f)["process"]
    config = json.loads(row["config"])
    try:
        uid, gid, extra = resolve_user(rootfs, user or config.get("User", ""))
    except InvalidArgument as e:
        raise StartFailed(OCI_PREFIX + str(e) + ": unknown", exit_code=126) from None
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(f"the working directory '{workdir}' is invalid, it needs to be "
                              "an absolute path")
    process["args"] = list(cmd)
    process["terminal"] = tty
    process["cwd"] = workdir or process.get("cwd") or "/"
    process["env"] = merge_env(process.get("env") or [], env)
    if tty and not any(e.startswith("TERM=") for e in process["env"]):
        process["env"].append("TERM=xterm")
    process["user"] = {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})}
    caps = process.get("capabilities") or {}
    bounding = host_caps() if privileged else list(caps.get("bounding") or [])
    # Docker: a non-root exec user starts with no effective/permitted capabilities
    granted = bounding if uid == 0 else []
    process["capabilities"] = {"bounding": bounding, "effective": granted,
                               "permitted": granted}
    if privileged:
        process["noNewPrivileges"] = False
    _check_cwd(rootfs, process["cwd"])
    try:
        check_command(rootfs, process)
    except StartFailed as e:
        raise StartFailed(OCI_PREFIX + str(e).removeprefix("failed to create task: ")
                          + ": unknown", exit_code=e.exit_code) from None
    return process


def _check_cwd(rootfs: str, cwd: str) -> None:
    path = secure_join(rootfs, cwd)
    if not os.path.isdir(path):
        why = "not a directory" if os.path.exists(path) else "no such file or directory"
        code = 126 if os.path.exists(path) else 127
        raise StartFailed(f'{OCI_PREFIX}chdir to cwd ("{cwd}") set in config.json failed: '
                          f"{why}: unknown", exit_code=code)


def exec_in(svc: Containers, cid: str, cmd: Sequence[str], *, interactive: bool = False,
            tty: bool = False, detach: bool = False, env: Sequence[str] = (),
            workdir: str = "", user: str = "", privileged: bool = False) -> int:
    """Run ``cmd`` in ``cid``; its exit code (0 once started, with ``detach``)."""
    if not cmd:
        raise InvalidArgument("exec requires at least 2 arguments")
    row, rootfs = running_root(svc, cid)
    # a detached process has nobody to relay a TTY to: runc wants a console
    # socket then, so it gets plain /dev/null stdio instead (output is discarded)
    terminal = tty and not detach
    process = build_process(svc, cid, row, rootfs, cmd, tty=terminal, env=env,
                            workdir=workdir, user=user, privileged=privileged)
    rt = svc.runtime(json.loads(row["host_config"]).get("Runtime", ""))
    path = os.path.join(svc.dir(cid), f"exec-{secrets.token_hex(8)}.json")
    with open(path, "w") as f:
        f.write(json.dumps(process))
    args = rt.cmd("exec", "--process", path, *(["--tty"] if terminal else []),
                  *(["--detach"] if detach else []), cid)
    text = " ".join(cmd)
    with svc.db.write() as c:
        emit(c, "container", f"exec_start: {text}", cid)
    try:
        if detach:
            # the process inherits these: a pipe would kill it once we stop
            # reading (runc relays piped stdio), so its errors go to a file
            with tempfile.TemporaryFile() as err:
                r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err)
                err.seek(0)
                msg = err.read().decode(errors="replace").strip()
            if r.returncode != 0:
                raise StartFailed(OCI_PREFIX + (msg or "runtime exec failed"), exit_code=126)
            return 0
        proc = subprocess.Popen(args, stdin=None if interactive else subprocess.DEVNULL)
        code = _wait(proc)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    with svc.db.write() as c:
        emit(c, "container", "exec_die", cid, execID=os.path.basename(path)[5:-5],
             exitCode=str(code))
    return code


def _wait(proc: subprocess.Popen) -> int:
    # ctrl-c reaches the runtime too (same process group) and it forwards the
    # signal to the process: keep waiting for the exit status it then reports
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue
