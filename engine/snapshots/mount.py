"""Mounting snapshot mounts: the new mount API first, mount(2) as fallback.

Why not just mount(2): its option string must fit in one page, and an
overlay of 128 layers names 128 lower directories.  Linux ≥ 6.8 accepts
``lowerdir+`` once per layer through fsconfig(2), so each path is its own
parameter and the page limit does not apply.  On older kernels we fall back
to mount(2) with paths relative to the snapshots directory (the mount runs
in a child whose cwd is that directory, so no process-wide chdir).
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..errors import Unavailable
from . import Mount

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86_64 and aarch64 share these (syscalls added after the unified table)
SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount = 429, 430, 431, 432
FSOPEN_CLOEXEC = 1
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 0, 1, 6
FSMOUNT_CLOEXEC = 1
MOUNT_ATTR_RDONLY = 1
MOVE_MOUNT_F_EMPTY_PATH = 4
AT_FDCWD = -100
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC = 1, 32, 4096, 16384
MNT_DETACH = 2

_new_api: bool | None = None


def _err(what: str, target: str) -> Unavailable:
    e = ctypes.get_errno()
    return Unavailable(f"mount {target}: {what}: {os.strerror(e)}")


def _syscall(nr: int, *args: object) -> int:
    return _libc.syscall(ctypes.c_long(nr), *args)


def _overlay_new_api(m: Mount, target: str, readonly: bool) -> None:
    fd = _syscall(SYS_fsopen, b"overlay", FSOPEN_CLOEXEC)
    if fd < 0:
        raise _err("fsopen overlay", target)
    try:
        for opt in m.options:
            key, _, value = opt.partition("=")
            if key == "lowerdir":
                for lower in value.split(":"):
                    _fsconfig(fd, "lowerdir+", lower, target)
            elif key in ("ro", "rw"):
                continue
            elif value:
                _fsconfig(fd, key, value, target)
            else:
                if _syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, key.encode(), None, 0) < 0:
                    raise _err(f"option {key}", target)
        if _syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, None, None, 0) < 0:
            raise _err("create overlay", target)
        attrs = MOUNT_ATTR_RDONLY if readonly else 0
        mfd = _syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, attrs)
        if mfd < 0:
            raise _err("fsmount", target)
        try:
            if _syscall(SYS_move_mount, mfd, b"", AT_FDCWD, target.encode(),
                        MOVE_MOUNT_F_EMPTY_PATH) < 0:
                raise _err("move_mount", target)
        finally:
            os.close(mfd)
    finally:
        os.close(fd)


def _fsconfig(fd: int, key: str, value: str, target: str) -> None:
    if _syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0) < 0:
        raise _err(f"option {key}={value}", target)


def _has_new_api() -> bool:
    global _new_api
    if _new_api is None:
        fd = _syscall(SYS_fsopen, b"overlay", FSOPEN_CLOEXEC)
        ok = fd >= 0
        if ok:
            # lowerdir+ arrived in 6.8; probe it on a throwaway context
            ok = _syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, b"lowerdir+", b"/", 0) >= 0
            os.close(fd)
        _new_api = ok
    return _new_api


def _overlay_legacy(m: Mount, target: str, readonly: bool) -> None:
    lowers = next(o.partition("=")[2] for o in m.options if o.startswith("lowerdir="))
    base = os.path.commonpath(lowers.split(":"))
    base = os.path.dirname(base) if os.path.isdir(base) else base
    opts = []
    for opt in m.options:
        key, _, value = opt.partition("=")
        if key in ("lowerdir", "upperdir", "workdir"):
            value = ":".join(os.path.relpath(p, base) for p in value.split(":"))
            opt = f"{key}={value}"
        opts.append(opt)
    if readonly:
        opts.append("ro")
    import subprocess  # the fallback only

    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", ",".join(opts), target],
                       cwd=base, capture_output=True, text=True)
    if r.returncode != 0:
        raise Unavailable(f"mount {target}: overlay: {r.stderr.strip()}")


def mount_all(mounts: list[Mount], target: str, *, readonly: bool = False) -> None:
    """Mount ``mounts`` (as returned by a snapshotter) on ``target``."""
    for m in mounts:
        ro = readonly or "ro" in m.options
        if m.type == "overlay":
            if _has_new_api():
                _overlay_new_api(m, target, ro)
            else:
                _overlay_legacy(m, target, ro)
        elif m.type == "bind":
            _bind(m.source, target, ro)
        else:
            raise Unavailable(f"mount {target}: unsupported mount type {m.type}")


def _bind(source: str, target: str, readonly: bool) -> None:
    flags = MS_BIND | MS_REC
    if _libc.mount(source.encode(), target.encode(), None, flags, None) != 0:
        raise _err(f"bind {source}", target)
    if readonly:
        flags |= MS_REMOUNT | MS_RDONLY
        if _libc.mount(None, target.encode(), None, flags, None) != 0:
            raise _err("remount read-only", target)


def unmount(target: str, *, detach: bool = False) -> None:
    """Unmount ``target``; not mounted is not an error."""
    while True:
        if _libc.umount2(target.encode(), MNT_DETACH if detach else 0) == 0:
            continue  # stacked mounts: peel until nothing is left
        e = ctypes.get_errno()
        if e in (errno.EINVAL, errno.ENOENT):
            return
        if e == errno.EBUSY and not detach:
            detach = True
            continue
        raise Unavailable(f"unmount {target}: {os.strerror(e)}")


def is_mountpoint(path: str) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False
