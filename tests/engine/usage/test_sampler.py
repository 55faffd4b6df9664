"""The writable-layer sampler against real containers (and a few plain trees).

Each container test writes through the container's own overlay mount (from
inside the container, or through ``containers/<id>/rootfs`` on the host) and
checks the incremental sampler against an independent full scan.
"""

from __future__ import annotations

import os
import stat
import struct
import time
from pathlib import Path

import pytest

from engine.errors import InvalidArgument, NotFound
from engine.usage import inotify
from engine.usage.sampler import WritableSampler, measure
from tests.conftest import MUSL, dockyard
from tests.engine.runtime.conftest import IMAGE


@pytest.fixture
def croot(root: Path):
    """As in tests/engine/runtime: busybox loaded, every container removed afterwards."""
    dockyard(root, "load", "-i", str(MUSL))
    yield root
    ids = dockyard(root, "ps", "-aq", "--no-trunc", check=False).stdout.decode().split()
    if ids:
        dockyard(root, "rm", "-f", *ids, check=False)


def run_d(root: Path, script: str) -> str:
    return dockyard(root, "run", "-d", IMAGE, "sh", "-c", script).stdout.decode().strip()


def wait_for(path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.lexists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def rootfs(root: Path, cid: str) -> Path:
    return root / "containers" / cid / "rootfs"


def usage_of(s) -> tuple:  # noqa: ANN001
    return (s.apparent, s.on_disk, s.files, s.dirs, s.whiteouts)


def test_growing_file_rate_and_top_path(croot, engine) -> None:
    cid = run_d(croot, "mkdir -p /var/log; echo hi > /var/log/other; while true; do "
                       "head -c 10000 /dev/zero >> /var/log/grow.log; sleep 0.05; done")
    upper = engine.snapshots.upper_dir(cid)
    wait_for(upper + "/var/log/grow.log")
    with WritableSampler(upper, top=3) as s:
        first = s.sample()
        assert first.full_scan and first.rate == 0.0 and first.growing == ()
        time.sleep(1.0)
        second = s.sample()
        assert not second.full_scan
        assert second.rate > 0
        assert second.growing[0][0] == "/var/log/grow.log"
        assert second.growing[0][1] == second.apparent - first.apparent
        assert second.changed <= 3  # the one file the container writes (and its dir)
        assert [x.time for x in s.history] == [first.time, second.time]
        dockyard(croot, "stop", "-t", "0", cid)
        assert usage_of(s.sample()) == usage_of(measure(upper))
        dockyard(croot, "rm", cid)
        with pytest.raises(NotFound):
            s.sample()
    with pytest.raises(InvalidArgument):
        s.sample()  # closed


BURST = r"""
mkdir -p /d1/sub /d2 /keep
for i in 1 2 3; do echo $i > /d1/sub/f$i; echo k$i > /keep/k$i; done
echo x > /d2/x; touch /ready
while [ ! -e /go ]; do sleep 0.05; done
mkdir -p /new/a/b && head -c 100000 /dev/zero > /new/a/b/big && echo hi > /new/a/hi
echo more >> /keep/k1 && ln /keep/k1 /keep/k1link
rm /etc/group && rm -rf /var/www /d1
mv /keep/k2 /moved && mv /d2 /d3
echo 'x:x:1:1::/:/bin/sh' >> /etc/passwd
head -c 5000 /dev/zero > /new/tmp && rm /new/tmp
rm /keep/k3 && mkdir /keep/k3 && echo dir > /keep/k3/now-a-dir
touch /done; sleep 600
"""


@pytest.mark.parametrize("max_watches", [None, 1], ids=["inotify", "watch-limit"])
def test_burst_matches_full_scan(croot, engine, max_watches) -> None:
    cid = run_d(croot, BURST)
    upper = engine.snapshots.upper_dir(cid)
    wait_for(upper + "/ready")
    s = WritableSampler(upper, max_watches=max_watches, fallback_every=0)
    try:
        before = s.sample()
        (rootfs(croot, cid) / "go").touch()
        wait_for(upper + "/done")
        after = s.sample()
        full = measure(upper)
        assert usage_of(after) == usage_of(full)
        assert not after.full_scan
        assert after.whiteouts == full.whiteouts == 2  # /etc/group, /var/www
        for wh in ("/etc/group", "/var/www"):
            st = os.lstat(upper + wh)
            assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        grown = dict(after.growing)
        assert after.growing[0] == ("/new/a/b/big", 100_000)
        assert grown["/etc/passwd"] == os.path.getsize(upper + "/etc/passwd")  # copy-up
        assert "/moved" not in grown and "/d3/x" not in grown  # moves add no bytes
        assert after.apparent - before.apparent == sum(
            [100_000, 3, 5, os.path.getsize(upper + "/etc/passwd"), 4, -6, -3])
        if max_watches is None:
            assert after.unwatched == 0 and after.note == ""
            assert after.changed < 40
        else:
            assert after.unwatched > 0 and "max_user_watches" in after.note
        assert usage_of(s.rescan()) == usage_of(full)
    finally:
        s.close()


def test_overflow_falls_back_to_full_rescan(croot, engine) -> None:
    cid = run_d(croot, "mkdir -p /many; touch /ready; sleep 600")
    upper = engine.snapshots.upper_dir(cid)
    wait_for(upper + "/ready")
    many = rootfs(croot, cid) / "many"
    with WritableSampler(upper) as s:
        base = s.sample()
        n = min(inotify.max_queued_events(), 200_000) + 1000
        for i in range(n):  # distinct names: the kernel cannot merge these events
            (many / f"f{i}").write_bytes(b"x" * (i % 7))
        over = s.sample()
        assert over.full_scan and "overflow" in over.note
        assert usage_of(over) == usage_of(measure(upper))
        assert over.files == base.files + n
        assert over.apparent == sum(i % 7 for i in range(n))
        # back to incremental after the rescan, with fresh watches
        with open(many / "f1", "ab") as f:
            f.write(b"y" * 1234)
        nxt = s.sample()
        assert not nxt.full_scan and nxt.changed <= 2
        assert nxt.growing == (("/many/f1", 1234),)
        assert usage_of(nxt) == usage_of(measure(upper))


def test_only_changed_paths_are_restated(croot, engine) -> None:
    cid = run_d(croot, "mkdir /many; i=0; while [ $i -lt 5000 ]; do echo $i > /many/f$i; "
                       "i=$((i+1)); done; touch /ready; "
                       "while [ ! -e /go ]; do sleep 0.05; done; "
                       "echo a >> /many/f1; echo bb >> /many/f2; echo ccc >> /many/f3; "
                       "touch /done; sleep 600")
    upper = engine.snapshots.upper_dir(cid)
    wait_for(upper + "/ready")
    with WritableSampler(upper) as s:
        first = s.sample()
        assert first.changed >= 5000 and first.files >= 5000
        (rootfs(croot, cid) / "go").touch()
        wait_for(upper + "/done")
        nxt = s.sample()
        # the 3 files, plus /go and /done and their parent "/"
        assert nxt.changed <= 6, nxt
        assert dict(nxt.growing) == {"/many/f1": 2, "/many/f2": 3, "/many/f3": 4}
        assert usage_of(nxt) == usage_of(measure(upper))


def test_plain_tree_links_moves_and_replacements(tmp_path: Path) -> None:
    top = tmp_path / "upper"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_bytes(b"x" * 100)
    with WritableSampler(str(top)) as s:
        assert (s.sample().apparent, s.history[-1].files) == (100, 1)
        os.link(top / "a" / "b" / "f", top / "hl")  # hard links count once
        assert s.sample().apparent == 100
        os.rename(top / "a", top / "moved")  # a watched dir keeps its watch when moved
        (top / "moved" / "b" / "g").write_bytes(b"g" * 10)
        smp = s.sample()
        assert (smp.apparent, smp.growing) == (110, (("/moved/b/g", 10),))
        os.unlink(top / "hl")
        (top / "moved" / "b" / "f").unlink()
        (top / "moved" / "b" / "f").mkdir()  # a file replaced by a directory
        (top / "moved" / "b" / "f" / "x").write_bytes(b"1234")
        os.mknod(top / "wh", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        smp = s.sample()
        assert usage_of(smp) == usage_of(measure(str(top)))
        assert (smp.apparent, smp.files, smp.whiteouts) == (14, 2, 1)


def test_without_inotify_every_sample_is_a_full_scan(tmp_path: Path, monkeypatch) -> None:
    def refuse() -> None:
        raise OSError(24, "Too many open files")  # EMFILE: max_user_instances reached

    monkeypatch.setattr(inotify, "Inotify", refuse)
    (tmp_path / "log").write_bytes(b"a" * 10)
    with WritableSampler(str(tmp_path)) as s:
        s.sample()
        with open(tmp_path / "log", "ab") as f:
            f.write(b"b" * 90)
        smp = s.sample()
        assert smp.full_scan and "no inotify" in smp.note
        assert (smp.apparent, smp.growing) == (100, (("/log", 90),))


def test_parse_events() -> None:
    name = b"grow.log\0\0\0\0\0\0\0\0"
    buf = struct.pack("iIII", 3, inotify.IN_MODIFY, 0, len(name)) + name
    buf += struct.pack("iIII", -1, inotify.IN_Q_OVERFLOW, 0, 0)
    assert inotify.parse(buf) == [inotify.Event(3, inotify.IN_MODIFY, 0, b"grow.log"),
                                  inotify.Event(-1, inotify.IN_Q_OVERFLOW, 0, b"")]
