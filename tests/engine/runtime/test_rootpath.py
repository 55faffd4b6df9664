"""Walking a container root by fd: no symlink followed, refusals in each caller's words."""

from __future__ import annotations

import os

import pytest

from engine.build.copy import CopyOptions, _Dest, write_inline
from engine.errors import Conflict, EngineError, UnsafeArchive
from engine.runtime.fdtar import open_dir
from engine.runtime.rootpath import DIR_FLAGS, open_dir_at


def _refuse(walked: str, link: bool) -> EngineError:
    return (UnsafeArchive if link else Conflict)(walked)


@pytest.fixture
def rootfd(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "file").write_text("x")
    (tmp_path / "a" / "up").symlink_to("/etc")
    (tmp_path / "a" / "rel").symlink_to("b")
    fd = os.open(tmp_path, DIR_FLAGS)
    yield fd
    os.close(fd)


def test_walks_directories_and_leaves_the_base_open(tmp_path, rootfd) -> None:
    fd = open_dir_at(rootfd, ["a", "b"], refuse=_refuse)
    try:
        assert os.fstat(fd).st_ino == (tmp_path / "a" / "b").stat().st_ino
    finally:
        os.close(fd)
    os.fstat(rootfd)  # still ours
    fd = open_dir_at(rootfd, [], refuse=_refuse)
    assert fd != rootfd
    os.close(fd)


@pytest.mark.parametrize(("parts", "error", "walked"), [
    (["a", "up", "x"], UnsafeArchive, "a/up"),   # absolute symlink
    (["a", "rel"], UnsafeArchive, "a/rel"),      # even one that stays inside
    (["a", "file", "x"], Conflict, "a/file"),
])
def test_refuses_symlinks_and_files(rootfd, parts, error, walked) -> None:
    with pytest.raises(error) as e:
        open_dir_at(rootfd, parts, create=True, refuse=_refuse)
    assert str(e.value) == walked


def test_missing_is_file_not_found_unless_created(tmp_path, rootfd) -> None:
    with pytest.raises(FileNotFoundError):
        open_dir_at(rootfd, ["a", "new"], refuse=_refuse)
    made: list[int] = []
    fd = open_dir_at(rootfd, ["a", "new", "deeper"], create=True, refuse=_refuse,
                     on_create=lambda f: made.append(os.fstat(f).st_ino))
    os.close(fd)
    assert made == [(tmp_path / "a" / "new").stat().st_ino,
                    (tmp_path / "a" / "new" / "deeper").stat().st_ino]


def test_cp_wording(rootfd) -> None:
    with pytest.raises(UnsafeArchive, match=r"^box:a/up: refusing to follow a symbolic link "
                                            r"out of the copy$"):
        open_dir(rootfd, ["a", "up", "x"], label="box:")
    with pytest.raises(Conflict, match=r"^box:a/file: not a directory$"):
        open_dir(rootfd, ["a", "file", "x"], create=True, label="box:")


def test_copy_wording_and_created_parents(tmp_path) -> None:
    opts = CopyOptions(chown=(1234, 5678), label="COPY")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "file").write_text("x")
    with pytest.raises(Conflict, match=r"^COPY: cannot copy to non-directory: /a/file$"):
        write_inline(str(tmp_path), "f", b"x", "/a/file/x", opts)
    (tmp_path / "a" / "up").symlink_to("/etc")
    d = _Dest(str(tmp_path), opts)
    try:  # a symlink swapped in after secure_join resolved the path
        with pytest.raises(UnsafeArchive, match=r"^COPY: /a/up: refusing to follow a "
                                                r"symbolic link$"):
            d.open_dir(["a", "up", "x"])
    finally:
        d.close()
    old = os.umask(0o077)
    try:
        write_inline(str(tmp_path), "f", b"x", "/new/dir/", opts)
    finally:
        os.umask(old)
    for p in (tmp_path / "new", tmp_path / "new" / "dir"):
        st = p.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 5678, 0o755)
    assert not os.path.exists("/etc/x")
