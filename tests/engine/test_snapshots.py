"""Conformance of the overlay snapshotter, with real overlay mounts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import AlreadyExists, Conflict, NotFound
from engine.snapshots import OverlaySnapshotter
from engine.snapshots.mount import is_mountpoint, mount_all, unmount
from engine.store import Store


@pytest.fixture
def snap(root: Path):
    store = Store(str(root))
    yield OverlaySnapshotter(store.db, store.path("snapshots"))
    store.close()


@pytest.fixture
def mnt(tmp_path: Path):
    target = tmp_path / "mnt"
    target.mkdir()
    yield target
    unmount(str(target), detach=True)


def commit_layer(snap: OverlaySnapshotter, name: str, parent: str | None,
                 files: dict[str, bytes]) -> None:
    key = f"extract-{name}"
    snap.prepare(key, parent)
    upper = Path(snap.upper_dir(key))
    for path, data in files.items():
        p = upper / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    snap.commit(name, key)


def test_lifecycle(snap: OverlaySnapshotter) -> None:
    commit_layer(snap, "base", None, {"a": b"1"})
    info = snap.stat("base")
    assert info.kind == "committed" and info.parent is None
    assert snap.usage("base").size == 1
    snap.prepare("c1", "base")
    assert snap.stat("c1").kind == "active"
    with pytest.raises(AlreadyExists):
        snap.prepare("c1", "base")
    with pytest.raises(Conflict):
        snap.prepare("c2", "c1")  # parent must be committed
    with pytest.raises(NotFound):
        snap.prepare("c3", "nope")
    with pytest.raises(Conflict):
        snap.remove("base")  # still the parent of c1
    snap.remove("c1")
    snap.remove("base")
    assert list(snap.walk()) == []
    assert os.listdir(snap.root) == []


def test_overlay_mount_merges_and_upper_is_the_diff(snap: OverlaySnapshotter, mnt: Path) -> None:
    commit_layer(snap, "l1", None, {"etc/a": b"base", "etc/gone": b"x", "keep": b"k"})
    commit_layer(snap, "l2", "l1", {"etc/b": b"second"})
    mounts = snap.prepare("ctr", "l2")
    assert mounts[0].type == "overlay"
    mount_all(mounts, str(mnt))
    assert (mnt / "etc/a").read_bytes() == b"base"
    assert (mnt / "etc/b").read_bytes() == b"second"
    (mnt / "etc/new").write_bytes(b"new")
    (mnt / "etc/gone").unlink()
    unmount(str(mnt))
    upper = Path(snap.upper_dir("ctr"))
    assert (upper / "etc/new").read_bytes() == b"new"
    st = os.lstat(upper / "etc/gone")
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0  # whiteout
    assert not (upper / "keep").exists()


def test_view_of_single_layer_is_a_readonly_bind(snap: OverlaySnapshotter, mnt: Path) -> None:
    commit_layer(snap, "only", None, {"f": b"x"})
    mounts = snap.view("v", "only")
    assert mounts[0].type == "bind"
    mount_all(mounts, str(mnt))
    assert (mnt / "f").read_bytes() == b"x"
    with pytest.raises(OSError):
        (mnt / "g").write_bytes(b"no")


def test_128_layers_mount(snap: OverlaySnapshotter, mnt: Path) -> None:
    parent = None
    for i in range(130):
        commit_layer(snap, f"layer{i}", parent, {f"f{i}": str(i).encode()})
        parent = f"layer{i}"
    opts = ",".join(snap.mounts("layer129")[0].options)
    assert len(opts) > 4096  # would not fit in one mount(2) page
    mount_all(snap.view("v", "layer129"), str(mnt))
    assert is_mountpoint(str(mnt))
    assert sorted(os.listdir(mnt)) == sorted(f"f{i}" for i in range(130))
    assert (mnt / "f0").read_bytes() == b"0" and (mnt / "f129").read_bytes() == b"129"


def test_remove_tree_removes_everything_and_follows_no_symlink(tmp_path: Path) -> None:
    from engine.snapshots.overlay import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    doomed = tmp_path / "doomed"
    (doomed / "a" / "b" / "c").mkdir(parents=True)
    (doomed / "a" / "b" / "c" / "f").write_text("y")
    (doomed / "a" / "link-dir").symlink_to(outside)
    (doomed / "a" / "link-file").symlink_to(outside / "keep")
    os.mkfifo(doomed / "fifo")
    locked = doomed / "locked"
    locked.mkdir()
    (locked / "inner").mkdir()
    (locked / "inner" / "g").write_text("z")
    os.chmod(locked / "inner", 0)
    os.chmod(locked, 0o500)
    remove_tree(str(doomed))
    assert not doomed.exists()
    assert (outside / "keep").read_text() == "x"
    remove_tree(str(doomed))  # gone already: a no-op
    single = tmp_path / "file"
    single.write_text("1")
    remove_tree(str(single))
    assert not single.exists()
