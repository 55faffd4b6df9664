"""``cp`` both ways and ``export`` on real containers, escape attempts included."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from tests.conftest import dockyard
from tests.engine.runtime.conftest import IMAGE


@pytest.fixture
def box(croot):
    """A running container with a small tree and hostile symlinks in it."""
    cid = dockyard(croot, "run", "-d", "--name", "box", IMAGE, "sleep", "1000"
                   ).stdout.decode().strip()
    dockyard(croot, "exec", cid, "sh", "-c",
             "mkdir -p /srv/d/e && echo one > /srv/d/e/f && echo top > /srv/d/g && "
             "ln /srv/d/g /srv/d/hard && ln -s g /srv/d/rel && "
             "ln -s /etc /evil && ln -s ../../../../../../.. /up && "
             "ln -s /tmp/host-target /dangling")
    return croot, cid


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.getnames()


def make_tar(*entries: tuple[str, str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            if kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, str(data)
                t.addfile(ti)
            elif kind == "link":
                ti.type, ti.linkname = tarfile.LNKTYPE, str(data)
                t.addfile(ti)
            else:
                assert isinstance(data, bytes)
                ti.size, ti.mode, ti.uid = len(data), 0o640, 1234
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_copy_out_follows_docker_rules(box, tmp_path) -> None:
    root, _ = box
    # a file onto a missing path, into a directory, over a file
    dockyard(root, "cp", "box:/srv/d/g", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "top\n"
    (tmp_path / "into").mkdir()
    dockyard(root, "cp", "box:/srv/d/g", str(tmp_path / "into"))
    assert (tmp_path / "into" / "g").read_text() == "top\n"
    (tmp_path / "over.txt").write_text("old")
    dockyard(root, "cp", "box:/srv/d/e/f", str(tmp_path / "over.txt"))
    assert (tmp_path / "over.txt").read_text() == "one\n"
    # a directory onto a missing path becomes it; into a directory it goes whole;
    # SRC/. copies only its contents
    dockyard(root, "cp", "box:/srv/d", str(tmp_path / "newdir"))
    assert (tmp_path / "newdir" / "e" / "f").read_text() == "one\n"
    dockyard(root, "cp", "box:/srv/d", str(tmp_path / "into"))
    assert (tmp_path / "into" / "d" / "g").read_text() == "top\n"
    (tmp_path / "contents").mkdir()
    dockyard(root, "cp", "box:/srv/d/.", str(tmp_path / "contents"))
    assert sorted(os.listdir(tmp_path / "contents")) == ["e", "g", "hard", "rel"]
    # links survive as links: hard links share an inode, symlinks stay symlinks
    st_g, st_h = os.stat(tmp_path / "newdir" / "g"), os.stat(tmp_path / "newdir" / "hard")
    assert st_g.st_ino == st_h.st_ino
    assert os.readlink(tmp_path / "newdir" / "rel") == "g"
    # a directory never replaces a file; a missing source is Docker's error
    r = dockyard(root, "cp", "box:/srv/d", str(tmp_path / "copy.txt"), check=False)
    assert r.returncode == 1 and b"cannot copy directory" in r.stderr
    r = dockyard(root, "cp", "box:/nope", str(tmp_path), check=False)
    assert r.returncode == 1
    assert r.stderr == b"Error response from daemon: Could not find the file /nope in " \
                       b"container box\n"
    # "-" streams a tar of the source, named by its base name
    out = dockyard(root, "cp", "box:/srv/d", "-").stdout
    assert sorted(tar_names(out)) == ["d", "d/e", "d/e/f", "d/g", "d/hard", "d/rel"]


def test_copy_in_follows_docker_rules(box, tmp_path) -> None:
    root, cid = box
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("A")
    (src / "b.txt").write_text("B")
    os.chown(src / "b.txt", 1234, 5678)
    dockyard(root, "cp", str(src / "b.txt"), "box:/srv/new.txt")
    dockyard(root, "cp", str(src), "box:/srv/")
    dockyard(root, "cp", str(src) + "/.", "box:/srv/d")
    out = dockyard(root, "exec", cid, "sh", "-c",
                   "cat /srv/new.txt /srv/src/sub/a.txt /srv/d/b.txt; echo; "
                   "stat -c %u:%g /srv/new.txt").stdout.decode().split()
    # without -a the files belong to the container's root
    assert out == ["BAB", "0:0"]
    dockyard(root, "cp", "-a", str(src / "b.txt"), "box:/srv/owned.txt")
    r = dockyard(root, "exec", cid, "stat", "-c", "%u:%g", "/srv/owned.txt")
    assert r.stdout == b"1234:5678\n"
    # a tar on stdin is extracted into a directory
    dockyard(root, "cp", "-", "box:/srv", input=make_tar(("fromtar/x.txt", "f", b"tar")))
    assert dockyard(root, "exec", cid, "cat", "/srv/fromtar/x.txt").stdout == b"tar"
    r = dockyard(root, "cp", "-", "box:/srv/new.txt", input=make_tar(("y", "f", b"")),
                 check=False)
    assert r.returncode == 1 and b"must be a directory" in r.stderr
    r = dockyard(root, "cp", str(tmp_path / "missing"), "box:/srv", check=False)
    assert r.returncode != 0 and b"no such file or directory" in r.stderr
    r = dockyard(root, "cp", str(src), "box:/srv/new.txt", check=False)
    assert r.returncode == 1 and b"cannot copy directory" in r.stderr


def test_symlinks_in_the_container_never_reach_the_host(box, tmp_path) -> None:
    root, cid = box
    host_secret = tmp_path / "secret"
    host_secret.write_text("host only")
    # reading through /evil (-> /etc) and /up (-> ../../..) reads the container's files
    dockyard(root, "cp", "box:/evil/passwd", str(tmp_path / "passwd"))
    container_passwd = dockyard(root, "exec", cid, "cat", "/etc/passwd").stdout
    assert (tmp_path / "passwd").read_bytes() == container_passwd
    dockyard(root, "cp", "box:/up/etc/hostname", str(tmp_path / "hn"))
    assert (tmp_path / "hn").read_text() == cid[:12] + "\n"
    r = dockyard(root, "cp", f"box:/up{host_secret}", str(tmp_path / "leak"), check=False)
    assert r.returncode == 1 and not (tmp_path / "leak").exists()
    # -L follows the link inside the container, never on the host
    dockyard(root, "cp", "-L", "box:/evil", str(tmp_path / "etc-copy"))
    assert (tmp_path / "etc-copy" / "passwd").read_bytes() == container_passwd
    dockyard(root, "cp", "box:/evil", str(tmp_path / "link-copy"))
    assert os.readlink(tmp_path / "link-copy") == "/etc"
    # writing through them writes into the container
    (tmp_path / "payload").write_text("payload")
    name = f"/tmp/dockyard-cp-test-{cid[:12]}"  # a directory both have
    dockyard(root, "cp", str(tmp_path / "payload"), f"box:/up{name}")
    assert not os.path.exists(name)
    assert dockyard(root, "exec", cid, "cat", name).stdout == b"payload"
    dockyard(root, "cp", str(tmp_path / "payload"), "box:/evil/")
    assert dockyard(root, "exec", cid, "cat", "/etc/payload").stdout == b"payload"
    assert not os.path.exists("/etc/payload")
    dockyard(root, "cp", str(tmp_path / "payload"), "box:/dangling")
    assert not os.path.exists("/tmp/host-target")
    assert dockyard(root, "exec", cid, "cat", "/tmp/host-target").stdout == b"payload"
    assert host_secret.read_text() == "host only"


def test_hostile_tars_are_refused(box, tmp_path) -> None:
    root, cid = box
    outside = tmp_path / "escaped"
    cases = [
        make_tar((f"../../../../../../..{outside}", "f", b"x")),
        make_tar(("l", "sym", str(tmp_path)), ("l/escaped", "f", b"x")),
        make_tar(("l2", "sym", "/"), (f"l2{outside}", "f", b"x")),
        make_tar(("h", "link", f"../../../../..{outside}")),
    ]
    for data in cases:
        r = dockyard(root, "cp", "-", "box:/srv", input=data, check=False)
        assert r.returncode == 1, r.stderr
        msg = r.stderr.decode()
        assert msg.startswith("Error response from daemon: copying to box:/srv:"), msg
        assert msg.count("\n") == 1
        assert not outside.exists()
    # a symlink planted through the archive is refused, not followed, later on
    r = dockyard(root, "cp", "-", "box:/srv", input=make_tar(("evil2", "sym", "/etc")))
    r = dockyard(root, "cp", "-", "box:/srv", input=make_tar(("evil2/x", "f", b"x")),
                 check=False)
    assert r.returncode == 1 and b"symbolic link" in r.stderr
    assert dockyard(root, "exec", cid, "ls", "/etc/x", check=False).returncode == 1


def test_copy_with_a_stopped_container_and_its_volume(croot, tmp_path) -> None:
    dockyard(croot, "run", "--name", "done", "-v", "store:/data", IMAGE, "sh", "-c",
             "echo vol > /data/v.txt; echo layer > /l.txt; ln -s /etc /evil")
    dockyard(croot, "cp", "done:/l.txt", str(tmp_path / "l.txt"))
    dockyard(croot, "cp", "done:/data/v.txt", str(tmp_path / "v.txt"))
    assert (tmp_path / "l.txt").read_text() == "layer\n"
    assert (tmp_path / "v.txt").read_text() == "vol\n"
    (tmp_path / "in.txt").write_text("in")
    dockyard(croot, "cp", str(tmp_path / "in.txt"), "done:/evil/in.txt")
    dockyard(croot, "cp", str(tmp_path / "in.txt"), "done:/data/")
    assert not os.path.exists("/etc/in.txt")
    r = dockyard(croot, "start", "-a", "done", check=False)
    assert r.returncode == 0
    out = dockyard(croot, "run", "--rm", "-v", "store:/data", IMAGE, "cat", "/data/in.txt")
    assert out.stdout == b"in"
    assert b"A /etc/in.txt" in dockyard(croot, "diff", "done").stdout
    # nothing stays mounted after the copies
    with open("/proc/self/mounts") as f:
        assert str(croot / "tmp") not in f.read()


def test_export_is_the_merged_filesystem(croot, tmp_path) -> None:
    dockyard(croot, "run", "--name", "exp", "-v", "/anon", IMAGE, "sh", "-c",
             "echo new > /root/new.txt; rm /etc/localtime; echo v > /anon/v")
    data = dockyard(croot, "export", "exp").stdout
    names = set(tar_names(data))
    assert {"bin/busybox", "etc/passwd", "root/new.txt"} <= names
    assert "etc/localtime" not in names  # deleted: no whiteout, just absent
    assert not any(".wh." in n for n in names)
    assert "anon/v" not in names  # volumes are not part of the export, as in Docker
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        member = t.extractfile("root/new.txt")
        assert member is not None and member.read() == b"new\n"
    dockyard(croot, "export", "-o", str(tmp_path / "out.tar"), "exp")
    assert set(tar_names((tmp_path / "out.tar").read_bytes())) == names
    # a running container exports too
    live = dockyard(croot, "run", "-d", IMAGE, "sh", "-c", "echo up > /up.txt; exec sleep 1000"
                    ).stdout.decode().strip()
    for _ in range(100):
        if "up.txt" in tar_names(dockyard(croot, "export", live).stdout):
            break
    else:
        raise AssertionError("/up.txt never showed in the export")
