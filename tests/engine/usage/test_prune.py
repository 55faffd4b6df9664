"""Prune and df against the real filesystem: dry run == real prune == du."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import MUSL, dockyard
from tests.imagegen import layer_tar, write_image


def du(root) -> int:
    """Bytes under root as du -sb counts them, minus the database (it is not content)."""
    out = subprocess.run(["du", "-sb", "--exclude=dockyard.db*", str(root)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def reclaimed(out: bytes) -> str:
    return out.decode().strip().splitlines()[-1].split(": ")[1]


BASE = layer_tar([(f"base/f{i}", bytes([i]) * 20_000) for i in range(10)])  # 200 kB shared


@pytest.fixture
def store(root, tmp_path):
    """Shared layers, a dangling image, a used image, a stopped container, volumes."""
    for name, extra in (("x:1", b"x" * 50_000), ("y:1", b"y" * 70_000), ("z:1", b"z" * 90_000)):
        path = tmp_path / f"{name.replace(':', '_')}.tar"
        write_image(path, [BASE, layer_tar([("app/file", extra)])], tag=name)
        dockyard(root, "load", "-i", str(path))
    path = tmp_path / "z2.tar"
    write_image(path, [BASE, layer_tar([("app/other", b"q" * 30_000)])], tag="z:1")
    dockyard(root, "load", "-i", str(path))  # the old z:1 is now dangling
    dockyard(root, "load", "-i", str(MUSL))
    dockyard(root, "run", "--name", "stopped", "-v", "/anon", "-v", "named:/named",
             "busybox:1.37.0-musl", "sh", "-c", "head -c 100000 /dev/zero > /big; "
             "head -c 5000 /dev/zero > /anon/a; head -c 7000 /dev/zero > /named/n")
    return root


def test_image_prune_dangling_dry_run_equals_real_equals_du(store) -> None:
    assert len(dockyard(store, "images", "-q", "--filter", "dangling=true").stdout.split()) == 1
    dry = dockyard(store, "image", "prune", "--dry-run")
    assert b"Would delete Images:" in dry.stdout
    before = du(store)
    real = dockyard(store, "image", "prune", "-f")
    assert reclaimed(real.stdout) == reclaimed(dry.stdout)
    freed = before - du(store)
    # the dangling image's own layer (90 kB of data) goes; the shared base stays
    assert 90_000 <= freed <= 90_000 + 4 * 4096 + 2 * 4096  # + dirs + its config blob
    assert dockyard(store, "images", "-q", "--filter", "dangling=true").stdout == b""
    assert len(dockyard(store, "images", "-q").stdout.split()) == 4


def test_image_prune_all_counts_shared_layers_once(store) -> None:
    from engine import Engine
    from engine.usage.prune import prune_images

    eng = Engine(str(store))
    try:
        dry = prune_images(eng, all_images=True, dry_run=True)
        before = du(store)
        real = prune_images(eng, all_images=True)
        assert real.reclaimed == dry.reclaimed == before - du(store)
        assert sorted(real.deleted) == sorted(dry.deleted)
        left = [i.repo_tags for i in eng.images()]
        assert left == [("busybox:1.37.0-musl",)]  # used by the stopped container
    finally:
        eng.close()


def test_container_and_volume_prune(store) -> None:
    before = du(store)
    dry = dockyard(store, "container", "prune", "--dry-run")
    real = dockyard(store, "container", "prune", "-f")
    assert reclaimed(dry.stdout) == reclaimed(real.stdout)
    assert before - du(store) >= 100_000
    assert dockyard(store, "ps", "-aq").stdout == b""
    # anonymous volumes only, unless -a
    dry = dockyard(store, "volume", "prune", "--dry-run").stdout.decode()
    assert "named" not in dry and "Would delete Volumes:" in dry
    dockyard(store, "volume", "prune", "-f")
    vols = dockyard(store, "volume", "ls", "-q", check=False).stdout.decode().split() \
        if _has_volume_ls(store) else ["named"]
    assert vols == ["named"]
    out = dockyard(store, "volume", "prune", "-a", "-f").stdout.decode()
    assert "named" in out


def _has_volume_ls(root) -> bool:
    return dockyard(root, "volume", "ls", "-q", check=False).returncode == 0


def test_df_accounts_for_every_byte(store) -> None:
    from engine import Engine
    from engine.usage.df import disk_usage

    eng = Engine(str(store))
    try:
        d = disk_usage(eng)
        # measured while the same connection is open: the WAL file counts in both
        total_du = int(subprocess.run(["du", "-sb", str(store)], capture_output=True,
                                      text=True, check=True).stdout.split()[0])
    finally:
        eng.close()
    assert abs(sum(c.size for c in d.categories) - total_du) <= total_du * 0.01
    by_id = {i.repo_tags[0] if i.repo_tags else "<none>": i for i in d.images}
    x, y = by_id["x:1"], by_id["y:1"]
    assert x.shared_size == y.shared_size and x.shared_size >= 200_000  # the base, shared
    assert y.unique_size - x.unique_size == 20_000  # 70 kB vs 50 kB of app data
    ctr = d.containers[0]
    assert ctr.size_rw >= 100_000 and ctr.volumes == 2
    assert {v.name: v.size >= 5000 for v in d.volumes}.get("named") is True
    out = dockyard(store, "system", "df").stdout.decode().splitlines()
    assert out[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in out[1:]] == [
        "Images", "Containers", "Local", "Build", "Logs", "Blobs", "Metadata"]
    verbose = dockyard(store, "system", "df", "-v").stdout.decode()
    assert "SHARED SIZE" in verbose and "UNIQUE SIZE" in verbose and "LINKS" in verbose


def test_leases_protect_in_flight_content(store) -> None:
    from engine import Engine
    from engine.usage.prune import prune_images

    eng = Engine(str(store))
    try:
        x = eng.resolve_image("x:1")
        top = eng.image_store.record(x).top_layer
        with eng.store.leases.hold() as lease:
            lease.add("layer", top)
            prune_images(eng, all_images=True)
            assert eng.snapshots.exists(top)  # an in-flight pull still needs it
        prune_images(eng, all_images=True)
    finally:
        eng.close()


def test_layer_sharing_names_images_and_containers(store) -> None:
    from engine import Engine

    eng = Engine(str(store))
    try:
        base = eng.image_layers("x:1")[0]
        others = {eng.resolve_image(r) for r in ("y:1", "z:1")}
        assert others <= set(base.shared_by)  # the base layer, shared three ways
        assert eng.image_layers("x:1")[1].shared_by == ()  # the app layer is x's own
        (musl,) = [layer for layer in eng.image_layers("busybox:1.37.0-musl")
                   if not layer.empty_layer]
        stopped = eng.resolve_container("stopped")
        assert musl.containers == (stopped,)
    finally:
        eng.close()


def test_system_prune_takes_unused_networks_and_stopped_containers(store) -> None:
    dockyard(store, "network", "create", "spare")
    dry = dockyard(store, "system", "prune", "--dry-run").stdout.decode()
    assert "Would delete Networks:\nspare" in dry and "Would delete Containers:" in dry
    assert "spare" in dockyard(store, "network", "ls").stdout.decode()  # dry: still there
    real = dockyard(store, "system", "prune", "-f").stdout.decode()
    assert reclaimed(real.encode()) == reclaimed(dry.encode())
    assert "spare" not in dockyard(store, "network", "ls").stdout.decode()
    assert dockyard(store, "ps", "-aq").stdout == b""
