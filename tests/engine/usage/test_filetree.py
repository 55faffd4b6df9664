"""``layer_changes`` / ``file_tree``: one layer's added, modified and removed
files over the layers below it, dive's way, and the tree with directory sizes.

Every expected entry is worked out by hand from the layers built here."""

from __future__ import annotations

import threading

import pytest

from engine.errors import Cancelled, InvalidArgument
from engine.usage.analyze import analyze_image
from engine.usage.filetree import FileChange, file_tree, layer_changes
from tests.engine.usage.test_analyze import docker_archive, layer, load

L0 = layer(("f", "bin/sh", b"s" * 1000), ("f", "etc/conf", b"c" * 10),
           ("f", "etc/old", b"o" * 50), ("f", "var/cache/a", b"a" * 300),
           ("f", "var/cache/b", b"b" * 200), ("d", "opt", 0o755), ("f", "opt/x", b"x" * 7))
L1 = layer(("f", "app/new", b"n" * 400), ("f", "app/sub/deep", b"d" * 5),
           ("f", "etc/conf", b"C" * 20),       # new content: modified
           ("w", "etc/old"),                  # removed, hid 50 bytes
           ("w", "var/cache"),                # a removed dir, hid 500 bytes
           ("d", "opt", 0o700))               # chmod: the dir is modified, opt/x is not
L2 = layer(("f", "srv/y", b"y" * 7), ("o", "app"), ("f", "app/again", b"g" * 3))
STEPS = ["ADD rootfs /", "#CMD [\"sh\"]", "RUN make app", "COPY y /srv/"]


@pytest.fixture
def image(engine, tmp_path) -> str:
    image_id = docker_archive(tmp_path / "c.tar", [L0, L1, L2], STEPS, tag="changes:1")
    load(engine, tmp_path / "c.tar")
    return image_id


def changes(engine, image_id: str, index: int, **kw) -> list[tuple[str, str, str, int]]:
    return [(c.path, c.change, c.type, c.size)
            for c in layer_changes(engine.image_store, engine.snapshots, image_id, index, **kw)]


def test_layer_changes(engine, image) -> None:
    assert changes(engine, image, 1) == [
        ("/app", "added", "dir", 0),
        ("/app/new", "added", "file", 400),
        ("/app/sub", "added", "dir", 0),
        ("/app/sub/deep", "added", "file", 5),
        ("/etc/conf", "modified", "file", 20),
        ("/etc/old", "removed", "file", 50),
        ("/opt", "modified", "dir", 0),
        ("/var/cache", "removed", "dir", 500),
    ]
    # the base layer: everything is added; -1 is the top layer
    assert [c[:2] for c in changes(engine, image, 0)][:3] == [
        ("/bin", "added"), ("/bin/sh", "added"), ("/etc", "added")]
    assert changes(engine, image, -1) == [
        ("/app", "modified", "dir", 0),              # opaque: hides what L1 put there
        ("/app/again", "added", "file", 3),
        ("/app/new", "removed", "file", 400),
        ("/app/sub", "removed", "dir", 5),
        ("/srv", "added", "dir", 0),
        ("/srv/y", "added", "file", 7),
    ]


def test_agrees_with_image_layers(engine, image) -> None:
    """The same classification as ``image layers`` (analyze), path for path."""
    a = analyze_image(engine.store, engine.image_store, engine.snapshots, image)
    for report in a.layers:
        mine = changes(engine, image, report.index)
        theirs = [(c.path, c.kind, c.type, c.size) for c in report.changes]
        assert sorted(mine) == sorted(theirs), report.index


def test_unchanged_and_aggregated(engine, image) -> None:
    full = changes(engine, image, 1, unchanged=True)
    assert ("/bin/sh", "unchanged", "file", 1000) in full
    assert ("/opt/x", "unchanged", "file", 7) in full
    assert ("/etc", "unchanged", "dir", 0) in full
    assert [p for p, *_ in full] == sorted(p for p, *_ in full)  # depth first, by name
    # aggregated: layers 1 and 2 together, against the base
    assert changes(engine, image, 2, aggregated=True) == [
        ("/app", "added", "dir", 0),
        ("/app/again", "added", "file", 3),
        ("/etc/conf", "modified", "file", 20),
        ("/etc/old", "removed", "file", 50),
        ("/opt", "modified", "dir", 0),
        ("/srv", "added", "dir", 0),
        ("/srv/y", "added", "file", 7),
        ("/var/cache", "removed", "dir", 500),
    ]
    assert changes(engine, image, 0, aggregated=True) == changes(engine, image, 0)


def test_errors(engine, image) -> None:
    with pytest.raises(InvalidArgument, match="layer 3 out of range: the image has 3 layers"):
        layer_changes(engine.image_store, engine.snapshots, image, 3)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        layer_changes(engine.image_store, engine.snapshots, image, 1, cancel=stop)
    # the facade resolves a reference
    assert [c.path for c in engine.layer_changes("changes:1", 2)][:2] == ["/app", "/app/again"]


def test_file_tree_sizes(engine, image) -> None:
    root = file_tree(layer_changes(engine.image_store, engine.snapshots, image, 1,
                                   unchanged=True))
    assert root.children is not None
    assert list(root.children) == ["app", "bin", "etc", "opt", "var"]
    app, etc, var = root.children["app"], root.children["etc"], root.children["var"]
    assert (app.change, app.size, app.changed_size, app.changed) == ("added", 405, 405, 3)
    # etc keeps conf (20, modified); old is removed: its 50 bytes are not counted
    assert (etc.change, etc.size, etc.changed_size, etc.changed) == ("unchanged", 20, 20, 2)
    old = etc.children["old"] if etc.children else None
    assert old is not None and (old.change, old.size, old.is_dir) == ("removed", 50, False)
    assert (var.size, var.changed) == (0, 1)
    cache = var.children["cache"] if var.children else None
    assert cache is not None and (cache.change, cache.size, cache.children) == \
        ("removed", 500, {})
    assert (root.size, root.changed_size, root.changed) == (1000 + 405 + 20 + 7, 425, 8)


def test_file_tree_adds_missing_parents() -> None:
    root = file_tree([FileChange("/a/b/c", "added", "file", 9),
                      FileChange("/a/d", "removed", "file", 4)])
    assert root.children is not None
    a = root.children["a"]
    assert (a.change, a.type, a.size, a.changed) == ("unchanged", "dir", 9, 2)
    assert a.children is not None and a.children["b"].path == "/a/b"


def test_many_files(engine, tmp_path) -> None:
    """A layer of 20k files, the size the Layers pane must stay responsive with."""
    big = layer(*[("f", f"usr/lib/d{i % 40}/f{i}", b"") for i in range(20_000)])
    image_id = docker_archive(tmp_path / "big.tar", [L0, big], ["ADD /", "COPY lib /"],
                              tag="big:1")
    load(engine, tmp_path / "big.tar")
    got = layer_changes(engine.image_store, engine.snapshots, image_id, 1)
    assert len(got) == 20_000 + 40 + 2  # files, their 40 dirs, /usr and /usr/lib
    root = file_tree(got)
    assert root.changed == len(got)


def test_agrees_with_image_layers_on_kaniko(engine) -> None:
    """dive's own test image (hard links, chmods, moves, rm -rf), layer by layer."""
    from tests.conftest import KANIKO

    load(engine, KANIKO)
    image_id = engine.images()[0].id
    a = analyze_image(engine.store, engine.image_store, engine.snapshots, image_id)
    assert len(a.layers) == 14
    for report in a.layers:
        mine = changes(engine, image_id, report.index)
        assert sorted(mine) == sorted((c.path, c.kind, c.type, c.size)
                                      for c in report.changes), report.index
