"""``cp`` (both directions) and ``export``.

Container paths are resolved the way the container would resolve them:
:func:`~engine.runtime.rootpath.secure_join` on the container's root, so
a symlink to ``/etc`` means the container's /etc and ``../../..`` stops at
its root; the resolved path is then opened one component at a time with
``O_NOFOLLOW`` (:mod:`.fdtar`), so a symlink swapped in by a running
container afterwards makes the copy fail instead of leaving the root.

The root is ``/proc/<pid>/root`` while the container runs (its own mount
namespace: volumes, binds and tmpfs included, as Docker's cp sees them) and
otherwise its snapshot mounted on a temporary directory with its volumes
and binds on top — read-only for reading; read-write for writing.

Copy rules are Docker's: a file onto a missing path is saved there, into a
directory under its own name; a directory onto a missing path becomes that
path, into a directory it goes in whole, or only its contents for
``SRC/.``; a directory never replaces a file.  ``-`` streams a tar (from
stdin into a container directory, or of the source to stdout).  Files
copied in belong to the container's root unless ``archive`` (``-a``)
keeps their owners; files copied out belong to us.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import Conflict, InvalidContent, NotFound
from ..layers import write_layer
from ..snapshots import Mount
from ..snapshots.mount import is_mountpoint, mount_all, unmount
from ..snapshots.overlay import OVERLAY_OPTS
from .containers import LIVE, Containers
from .fdtar import DIR_FLAGS, TarWriter, extract, open_dir
from .procfs import alive
from .rootpath import secure_join

# a live container's kernel filesystems: not part of its files (Docker's cp
# reads the rootfs, where these are empty mount points)
PSEUDO = frozenset({"/proc", "/sys", "/dev"})


@contextlib.contextmanager
def container_root(svc: Containers, cid: str, *, write: bool) -> Iterator[tuple[str, bool]]:
    """(root directory, live) of the container's filesystem as it sees it."""
    row = svc.row(cid)
    if row["state"] in LIVE and row["pid"] and alive(row["pid"]):
        yield f"/proc/{row['pid']}/root", True
        return
    tmp = tempfile.mkdtemp(prefix=f"cp-{cid[:12]}-", dir=svc.store.tmp)
    mounted: list[str] = []
    try:
        if write:
            mount_all(svc.snapshots.mounts(cid), tmp)
        else:
            mount_all(_readonly_view(svc, cid), tmp, readonly=True)
        mounted.append(tmp)
        for m in json.loads(row["host_config"]).get("MountSpecs") or []:
            if m["Type"] not in ("volume", "bind"):
                continue
            source = svc.volumes.path(m["Source"]) if m["Type"] == "volume" else m["Source"]
            target = secure_join(tmp, m["Target"])
            if not os.path.exists(source):
                continue
            if not os.path.lexists(target):
                if not write:
                    continue  # never started: nothing there to copy from yet
                if os.path.isdir(source):
                    os.makedirs(target, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    open(target, "a").close()  # noqa: SIM115 - a mount point
            mount_all([Mount("bind", source, ("rbind",))], target,
                      readonly=not write or m["ReadOnly"])
            mounted.append(target)
        yield tmp, False
    finally:
        for path in reversed(mounted):
            unmount(path, detach=True)
        with contextlib.suppress(OSError):
            os.rmdir(tmp)


def _resolve(root: str, path: str, *, follow: bool) -> list[str]:
    """``path`` inside ``root`` → components relative to root (symlinks resolved)."""
    full = secure_join(root, path, follow_last=follow)
    rel = os.path.relpath(full, os.path.abspath(root))
    return [] if rel == "." else rel.split("/")


def _lstat(base_fd: int, parts: list[str], *, label: str) -> os.stat_result | None:
    if not parts:
        return os.fstat(base_fd)
    try:
        fd = open_dir(base_fd, parts[:-1], label=label)
    except (FileNotFoundError, Conflict):
        return None
    try:
        return os.lstat(parts[-1], dir_fd=fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    finally:
        os.close(fd)


def _pipe(produce, consume) -> None:  # noqa: ANN001
    """produce(writer) in a thread | consume(reader) here; the first error wins."""
    r, w = os.pipe()
    failure: list[BaseException] = []

    def run() -> None:
        with open(w, "wb", buffering=1 << 20) as out:
            try:
                produce(out)
            except BrokenPipeError:
                pass  # the consumer failed: its error is reported
            except BaseException as e:  # noqa: BLE001 - re-raised below
                failure.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        with open(r, "rb", buffering=1 << 20) as src:
            consume(src)
    except BaseException:
        t.join()
        if failure:
            raise failure[0] from None
        raise
    t.join()
    if failure:
        raise failure[0]


def _extract(src: BinaryIO, dest_fd: int, *, label: str, owner) -> None:  # noqa: ANN001
    try:
        extract(src, dest_fd, label=label, owner=owner)
    except tarfile.TarError as e:
        raise InvalidContent(f"{label}: not a valid tar archive: {e}") from None


class _Counter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def copy_from(svc: Containers, cid: str, src: str, dest: str | BinaryIO, *,
              follow_link: bool = False, ref: str = "") -> int:
    """``cp CTR:SRC DEST`` (DEST a host path, or a binary stream for ``-``); bytes copied."""
    ref = ref or cid[:12]
    contents_only = src.endswith("/.") or src == "."
    with container_root(svc, cid, write=False) as (root, live):
        # "dir/" names the directory a symlink points to, as in POSIX
        parts = _resolve(root, src, follow=follow_link or src.endswith(("/", "/.")))
        root_fd = os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW)  # ours: may be /proc/PID/root
        try:
            st = _lstat(root_fd, parts, label=f"{ref}:")
            if st is None:
                raise NotFound(f"Could not find the file {src} in container {ref}")
            is_dir = stat.S_ISDIR(st.st_mode)
            if src.endswith("/") and not is_dir:
                raise Conflict(f"{src}: not a directory")
            parent_fd = open_dir(root_fd, parts[:-1], label=f"{ref}:")
        finally:
            os.close(root_fd)
        name = parts[-1] if parts else "."
        origin = "/" + "/".join(parts)
        skip = PSEUDO if live else frozenset()
        try:
            if not isinstance(dest, str):
                counter = _Counter(dest)
                w = TarWriter(counter, skip=skip)  # type: ignore[arg-type]
                w.add(parent_fd, name, "." if contents_only or not parts else name,
                      origin=origin, contents_only=False)
                w.close()
                return counter.n
            dparent, arcname, contents = _host_target(dest, src, is_dir, contents_only,
                                                      name)
            counted = [0]

            def produce(out: BinaryIO) -> None:
                counter = _Counter(out)
                w = TarWriter(counter, skip=skip)  # type: ignore[arg-type]
                w.add(parent_fd, name, arcname, origin=origin, contents_only=contents)
                w.close()
                counted[0] = counter.n

            dfd = os.open(dparent, DIR_FLAGS & ~os.O_NOFOLLOW)  # the user's own path
            try:
                _pipe(produce, lambda r: _extract(r, dfd, label=f"copying to {dest}",
                                                  owner=lambda ti: None))
            finally:
                os.close(dfd)
            return counted[0]
        finally:
            os.close(parent_fd)


def _host_target(dest: str, src: str, is_dir: bool, contents_only: bool, name: str
                 ) -> tuple[str, str, bool]:
    """(host dir to extract in, name of the copy there, contents only)."""
    if os.path.isdir(dest):
        if is_dir and (contents_only or name == "."):
            return dest, "", True
        return dest, name, False
    if os.path.lexists(dest) and os.path.exists(dest):
        if is_dir:
            raise Conflict(f"cannot copy directory {src} onto the file {dest}")
        return os.path.dirname(os.path.abspath(dest)), os.path.basename(dest), False
    if dest.endswith("/") and not is_dir:
        raise NotFound(f'destination directory "{dest}" does not exist')
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/")))
    if not os.path.isdir(parent):
        raise NotFound(f"lstat {parent}: no such file or directory")
    return parent, os.path.basename(dest.rstrip("/")), False


def copy_to(svc: Containers, cid: str, src: str | BinaryIO, dest: str, *,
            archive: bool = False, follow_link: bool = False, ref: str = "") -> int:
    """``cp SRC CTR:DEST`` (SRC a host path, or a tar stream for ``-``); bytes copied."""
    ref = ref or cid[:12]
    owner = (lambda ti: (ti.uid, ti.gid)) if archive else (lambda ti: (0, 0))
    label = f"copying to {ref}:{dest}"
    if isinstance(src, str):
        try:
            os.stat(src) if follow_link else os.lstat(src)
        except FileNotFoundError:
            raise NotFound(f"lstat {src}: no such file or directory") from None
        src_is_dir = os.path.isdir(src) and (follow_link or not os.path.islink(src))
    with container_root(svc, cid, write=True) as (root, _):
        parts = _resolve(root, dest, follow=True)
        root_fd = os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW)  # ours: may be /proc/PID/root
        try:
            st = _lstat(root_fd, parts, label=f"{ref}:")
            exists_dir = st is not None and stat.S_ISDIR(st.st_mode)
            if not isinstance(src, str):  # a tar stream: DEST must be a directory
                if not exists_dir:
                    raise Conflict(f'destination "{ref}:{dest}" must be a directory')
                fd = open_dir(root_fd, parts, label=f"{ref}:")
                try:
                    _extract(src, fd, label=label, owner=owner)
                finally:
                    os.close(fd)
                return 0
            if exists_dir:
                target, arc = parts, os.path.basename(os.path.abspath(src))
                contents = src_is_dir and (src.endswith("/.") or src == ".")
            elif st is not None:
                if src_is_dir:
                    raise Conflict(f"cannot copy directory {src} onto the file "
                                   f"{ref}:{dest}")
                target, arc, contents = parts[:-1], parts[-1], False
            else:
                if dest.endswith("/") and not src_is_dir:
                    raise NotFound(f'destination directory "{ref}:{dest}" does not exist')
                if _lstat(root_fd, parts[:-1], label=f"{ref}:") is None:
                    raise NotFound(f"Could not find the file {posixpath.dirname(dest)} in "
                                   f"container {ref}")
                target, arc, contents = parts[:-1], parts[-1], False
            fd = open_dir(root_fd, target, label=f"{ref}:")
        finally:
            os.close(root_fd)
        counted = [0]
        sparent = os.path.dirname(os.path.abspath(src))
        sname = os.path.basename(os.path.abspath(src))

        def produce(out: BinaryIO) -> None:
            counter = _Counter(out)
            sfd = os.open(sparent, DIR_FLAGS & ~os.O_NOFOLLOW)
            try:
                w = TarWriter(counter)  # type: ignore[arg-type]
                if follow_link and os.path.islink(src):
                    _add_followed(w, src, "" if contents else arc, contents)
                else:
                    w.add(sfd, sname, "" if contents else arc, contents_only=contents)
                w.close()
            finally:
                os.close(sfd)
            counted[0] = counter.n

        try:
            _pipe(produce, lambda r: _extract(r, fd, label=label, owner=owner))
        finally:
            os.close(fd)
        return counted[0]


def _add_followed(w: TarWriter, src: str, arc: str, contents: bool) -> None:
    """``-L`` on the host: archive what the symlink ``src`` points to."""
    real = os.path.realpath(src)
    pfd = os.open(os.path.dirname(real) or "/", DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        w.add(pfd, os.path.basename(real) or ".", arc, contents_only=contents)
    finally:
        os.close(pfd)


def export(svc: Containers, cid: str, out: BinaryIO) -> None:
    """``export``: the container's merged filesystem as a plain tar (no whiteouts)."""
    row = svc.row(cid)
    rootfs = os.path.join(svc.dir(cid), "rootfs")
    if row["state"] in LIVE and is_mountpoint(rootfs):
        # the host's view of its overlay: no /proc, volumes or binds, like Docker's
        write_layer(rootfs, out, whiteouts="none")
        return
    tmp = tempfile.mkdtemp(prefix=f"export-{cid[:12]}-", dir=svc.store.tmp)
    try:
        mount_all(_readonly_view(svc, cid), tmp, readonly=True)
        try:
            write_layer(tmp, out, whiteouts="none")
        finally:
            unmount(tmp, detach=True)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(tmp)  # never rmtree: a failed unmount would take the files along


def _readonly_view(svc: Containers, cid: str) -> list[Mount]:
    """The upper dir as the top lower layer: a read-only view that cannot disturb
    the writable layer, even if the container starts meanwhile."""
    layers = [svc.snapshots.upper_dir(cid), *svc.snapshots.lower_dirs(cid)]
    if len(layers) == 1:
        return [Mount("bind", layers[0], ("ro", "rbind"))]
    return [Mount("overlay", "overlay", ("ro", *OVERLAY_OPTS, "lowerdir=" + ":".join(layers)))]


__all__ = ["container_root", "copy_from", "copy_to", "export"]
