"""Whiteouts in both target forms, lower-layer lookups, overlay semantics, diff."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from engine.errors import InvalidContent
from engine.layers import Change, apply_layer, changes, diff_id_of

from .helpers import info, tar_bytes

DIR, REG, SYM, LNK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def apply(path: Path, members, **kw):
    path.mkdir(exist_ok=True)
    return apply_layer(io.BytesIO(tar_bytes(members)), str(path), label="layer t", **kw)


BASE = [
    info("etc/", DIR), info("etc/keep", data=b"keep"), info("etc/gone", data=b"gone"),
    info("var/", DIR), info("var/cache/", DIR), info("var/cache/old", data=b"old"),
    info("var/cache/sub/", DIR), info("var/cache/sub/deep", data=b"deep"),
    info("root/", DIR, mode=0o700), info("root/.profile", data=b"p"),
    info("bin/", DIR), info("bin/busybox", data=b"BUSYBOX", mode=0o755),
]
DELETE_LAYER = [
    info("etc/", DIR), info("etc/.wh.gone"),
    info("var/", DIR), info("var/cache/", DIR),
    info("var/cache/new", data=b"new"),  # written before the marker: survives
    info("var/cache/.wh..wh..opq"),
    info("var/cache/later", data=b"later"),
    info("nothing/.wh.there"),  # deleting under a missing dir is a no-op
]


def is_whiteout(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_overlay_form(tmp_path: Path) -> None:
    apply(tmp_path / "l0", BASE)
    r = apply(tmp_path / "l1", DELETE_LAYER, parents=[str(tmp_path / "l0")])
    l1 = tmp_path / "l1"
    assert is_whiteout(l1 / "etc" / "gone")
    assert os.getxattr(l1 / "var" / "cache", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(l1 / "var" / "cache")) == ["later", "new"]
    assert not os.path.lexists(l1 / "nothing")  # nothing below to hide
    assert r.files == len(DELETE_LAYER)
    # the lower layer is untouched
    assert (tmp_path / "l0" / "etc" / "gone").read_bytes() == b"gone"


def test_delete_form_and_opaque_keeps_own_entries(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    apply(root, BASE, whiteouts="delete")
    apply(root, DELETE_LAYER, whiteouts="delete")
    assert not os.path.lexists(root / "etc" / "gone")
    assert (root / "etc" / "keep").read_bytes() == b"keep"
    assert sorted(os.listdir(root / "var" / "cache")) == ["later", "new"]
    assert not os.path.lexists(root / "nothing")


def test_delete_whole_dir_and_recreate(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    apply(root, BASE, whiteouts="delete")
    apply(root, [info(".wh.var"), info("etc/.wh.keep"), info("etc/keep/", DIR),
                 info("etc/keep/x", data=b"x")], whiteouts="delete")
    assert not os.path.lexists(root / "var")
    assert (root / "etc" / "keep" / "x").read_bytes() == b"x"


def test_real_overlay_mount_sees_deletions(tmp_path: Path) -> None:
    l0, l1, mnt = tmp_path / "l0", tmp_path / "l1", tmp_path / "mnt"
    apply(l0, BASE)
    apply(l1, DELETE_LAYER, parents=[str(l0)])
    mnt.mkdir()
    opts = f"lowerdir={l1}:{l0},redirect_dir=off,metacopy=off,index=off"
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(mnt)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:
        assert not os.path.lexists(mnt / "etc" / "gone")
        assert (mnt / "etc" / "keep").read_bytes() == b"keep"
        assert sorted(os.listdir(mnt / "var" / "cache")) == ["later", "new"]
        assert not os.path.lexists(mnt / "nothing")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_hardlink_to_lower_layer_is_copied_up(tmp_path: Path) -> None:
    apply(tmp_path / "l0", BASE)
    l1 = tmp_path / "l1"
    r = apply(l1, [info("bin/sh", LNK, linkname="bin/busybox")], parents=[str(tmp_path / "l0")])
    assert os.path.samefile(l1 / "bin" / "sh", l1 / "bin" / "busybox")
    assert (l1 / "bin" / "sh").read_bytes() == b"BUSYBOX"
    assert os.stat(l1 / "bin" / "busybox").st_mode & 0o777 == 0o755
    assert r.size == 7  # the copied-up file is in this layer now
    assert os.stat(tmp_path / "l0" / "bin" / "busybox").st_nlink == 1


def test_hardlink_to_deleted_lower_file(tmp_path: Path) -> None:
    apply(tmp_path / "l0", BASE)
    apply(tmp_path / "l1", [info("etc/.wh.gone")], parents=[str(tmp_path / "l0")])
    with pytest.raises(InvalidContent, match='entry "x": hard link target "etc/gone" does not'):
        apply(tmp_path / "l2", [info("x", LNK, linkname="etc/gone")],
              parents=[str(tmp_path / "l1"), str(tmp_path / "l0")])


def test_missing_parent_takes_lower_metadata(tmp_path: Path) -> None:
    apply(tmp_path / "l0", BASE)
    l1 = tmp_path / "l1"
    apply(l1, [info("root/.bashrc", data=b"b"), info("new/dir/f", data=b"f")],
          parents=[str(tmp_path / "l0")])
    assert os.stat(l1 / "root").st_mode & 0o7777 == 0o700  # as copy-up would keep it
    assert os.stat(l1 / "new").st_mode & 0o7777 == 0o755


def test_root_entry_and_dir_mtimes(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    apply(dest, [info("./", DIR, mode=0o711, mtime=1000), info("a/", DIR, mtime=2000),
                 info("a/b", data=b"b", mtime=3000), info("a/l", SYM, linkname="b", mtime=4000)])
    assert os.stat(dest).st_mode & 0o7777 == 0o711
    assert os.stat(dest).st_mtime == 1000
    assert os.stat(dest / "a").st_mtime == 2000  # set after its children were written
    assert os.lstat(dest / "a" / "l").st_mtime == 4000


def test_dir_over_dir_is_merged(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    apply(dest, [info("a/", DIR), info("a/x", data=b"x"), info("a/", DIR, mode=0o700)])
    assert (dest / "a" / "x").read_bytes() == b"x"
    assert os.stat(dest / "a").st_mode & 0o777 == 0o700


def test_changes(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    apply(lower, [info("etc/hosts", data=b"h"), info("etc/passwd", data=b"p"),
                  info("var/log/x", data=b"x"), info("opt/d/f", data=b"f"),
                  info("opt/d/g", data=b"g")])
    apply(upper, [info("etc/hosts", data=b"hosts!"), info("etc/new", data=b"n"),
                  info("var/log/.wh.x"), info("opt/d/.wh..wh..opq"),
                  info("opt/d/g", data=b"gg")], parents=[str(lower)])
    assert changes(str(upper), [str(lower)]) == [
        Change("C", "/etc", 0), Change("C", "/etc/hosts", 6), Change("A", "/etc/new", 1),
        Change("C", "/opt", 0), Change("C", "/opt/d", 0), Change("A", "/opt/d/g", 2),
        Change("C", "/var", 0), Change("C", "/var/log", 0), Change("D", "/var/log/x", 0),
    ]


def test_layer_dir_diff_id_is_stable(tmp_path: Path) -> None:
    apply(tmp_path / "l0", BASE)
    apply(tmp_path / "l1", DELETE_LAYER, parents=[str(tmp_path / "l0")])
    assert diff_id_of(str(tmp_path / "l1")) == diff_id_of(str(tmp_path / "l1"))


def test_dir_recreated_over_whiteout_is_opaque(tmp_path: Path) -> None:
    """kaniko order: ".wh.cache" then "cache/new": the old contents must stay hidden."""
    l0, l1, l2, mnt = (tmp_path / n for n in ("l0", "l1", "l2", "mnt"))
    apply(l0, BASE)
    apply(l1, [info("var/.wh.cache"), info("var/cache/", DIR), info("var/cache/new", data=b"n")],
          parents=[str(l0)])
    apply(l2, [info("etc/.wh.keep"), info("etc/keep/x", data=b"x")], parents=[str(l1), str(l0)])
    assert os.getxattr(l1 / "var" / "cache", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(l2 / "etc" / "keep", "trusted.overlay.opaque") == b"y"
    root = tmp_path / "flat"
    apply(root, BASE, whiteouts="delete")
    apply(root, [info("var/.wh.cache"), info("var/cache/", DIR),
                 info("var/cache/new", data=b"n")], whiteouts="delete")
    assert os.listdir(root / "var" / "cache") == ["new"]
    mnt.mkdir()
    opts = f"lowerdir={l1}:{l0},redirect_dir=off,metacopy=off,index=off"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(mnt)], check=True)
    try:
        assert os.listdir(mnt / "var" / "cache") == ["new"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
