"""Building tars and comparing trees for the layer tests."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes]


def info(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"", mode: int = 0o644,
         linkname: str = "", uid: int = 0, gid: int = 0, mtime: int = 1_700_000_000,
         **pax: str) -> Member:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname = kind, mode, linkname
    ti.uid, ti.gid, ti.mtime = uid, gid, mtime
    ti.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    ti.pax_headers = dict(pax)
    return ti, data


def tar_bytes(members: Iterable[Member]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for ti, data in members:
            tar.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def snapshot(root: Path, *, skip: Iterable[str] = ()) -> dict[str, tuple]:
    """Everything observable about a tree except its root and inode numbers."""
    skip = set(skip)
    out: dict[str, tuple] = {}
    first: dict[tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if os.path.relpath(os.path.join(dirpath, d), root) not in skip)
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            content = None
            if stat.S_ISREG(kind):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(kind):
                content = os.readlink(path)
            xattrs = {}
            for key in sorted(os.listxattr(path, follow_symlinks=False)):
                xattrs[key] = os.getxattr(path, key, follow_symlinks=False)
            link = None
            if not stat.S_ISDIR(kind) and st.st_nlink > 1 and not stat.S_ISCHR(kind):
                link = first.setdefault((st.st_dev, st.st_ino), rel)
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                        st.st_mtime_ns // 1_000_000_000, st.st_size if content else 0,
                        content, st.st_rdev, tuple(xattrs.items()), link, st.st_nlink)
    return out
