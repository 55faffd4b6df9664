"""The Layers pane's family tree and file tree, against a real engine.

Two generated images share a base layer; the second layer of ``fam/app:one``
adds, modifies and removes known files, so every marker and size asserted
here is worked out from the layers below."""

from __future__ import annotations

import pytest

from engine.cli.output import size_text
from engine.images.digest import short_id
from tests.imagegen import layer_tar, write_image
from tests.tui.conftest import drive, make_app, screen_text, select_ref, wait_for
from tui.widgets.familytree import ImageItem, LayerItem
from tui.widgets.filetree import BATCH, FileTree, More

BASE = layer_tar([("etc/conf", b"c" * 10), ("etc/old", b"o" * 50),
                  ("usr/lib/base.bin", b"b" * 40_000),
                  ("var/cache/a", b"a" * 300), ("var/cache/b", b"b" * 200)])
CHANGES = layer_tar([("app/new", b"n" * 400), ("app/sub/deep", b"d" * 5),
                     ("etc/conf", b"C" * 20),  # modified: 10 → 20 bytes
                     ("etc/.wh.old", b""),     # removed: hid 50 bytes
                     ("var/.wh.cache", b"")])  # a removed dir: hid 500 bytes
OTHER = layer_tar([("srv/other", b"x" * 3000)])


def load(engine, tmp_path, tag: str, layers: list[bytes]) -> str:
    out = tmp_path / f"{tag.replace('/', '-').replace(':', '-')}.tar"
    image_id = write_image(out, layers, tag=tag)
    with open(out, "rb") as f:
        engine.load(f)
    return image_id


@pytest.fixture
def fam(engine, tmp_path) -> dict[str, str]:
    return {tag: load(engine, tmp_path, tag, layers) for tag, layers in (
        ("fam/app:one", [BASE, CHANGES]), ("fam/app:two", [BASE, OTHER]))}


async def open_layers(pilot, ref: str, steps: int = 2):
    """The Layers pane showing the ``steps`` layers of ``ref``."""
    await select_ref(pilot, ref)
    await pilot.press("3")
    layers = pilot.app.main.layers_pane
    await wait_for(pilot, lambda: len(layers.shown) == steps, f"{ref}'s layers")
    return layers


async def open_files(pilot, ref: str, index: int):
    """The Layers pane of ``ref`` (two layers) with the stack cursor put on
    layer ``index`` and enter pressed: the pane and its file tree."""
    layers = await open_layers(pilot, ref)
    layers.select_key(layers.shown[index].key)
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: layers.files_key is not None
                   and layers.files_key[1] == index, f"the files of layer {index}")
    await pilot.pause()
    return layers, layers.file_tree


def rows(tree: FileTree) -> list[tuple[str, str, int]]:
    """What the file tree shows, top to bottom: (path, change, size shown)."""
    out = []
    line = 0
    while (node := tree.get_node_at_line(line)) is not None:
        d = node.data
        out.append(("…", "more", d.left) if isinstance(d, More)
                   else (d.path, d.change, tree.shown_size(d)))
        line += 1
    return out


def screen_text_at(app, tree: FileTree, line: int) -> str:
    """The screen once ``line`` of ``tree`` is scrolled into view."""
    tree.scroll_to_line(line, animate=False)
    tree.refresh()
    return screen_text(app)


async def cursor_to(pilot, tree: FileTree, path: str) -> None:
    node = tree.node_for(path)
    assert node is not None, path
    tree.move_cursor(node)
    await pilot.pause()


def test_family_tree_shows_the_shared_base(engine, fam):
    from engine.runtime.options import CreateOptions

    ctr = engine.create(CreateOptions(image="fam/app:two", name="uses-two", network="none",
                                      command=["true"]))

    async def go(app, pilot):
        layers = await open_layers(pilot, "fam/app:one")
        await pilot.press("v")
        family = layers.family
        await wait_for(pilot, lambda: family.loaded, "the family tree")
        await pilot.pause()
        base = next(n for n in family.root.children
                    if isinstance(n.data, LayerItem) and len(n.data.images) == 2)
        assert base.data.size == 10 + 50 + 40_000 + 300 + 200
        branches = list(base.children)
        assert len(branches) == 2  # one per image: they diverge after the base
        tops = {n.children[0].data.tags[0]: n for n in branches}
        assert set(tops) == {"fam/app:one", "fam/app:two"}
        assert [len(n.data.images) for n in branches] == [1, 1]
        # the created container uses app:two's layers, base included
        assert base.data.containers == 1
        assert {t: n.data.containers for t, n in tops.items()} == {
            "fam/app:one": 0, "fam/app:two": 1}
        text = screen_text(app)
        assert "family tree  2 images, 3 layers" in text
        base_line = next(line for line in text.splitlines() if line.startswith("▾"))
        assert size_text(base.data.size, 3) in base_line and "2 img" in base_line
        assert base_line.rstrip().endswith("1 ctr")
        assert "◆ fam/app:two" in text
        # moving onto an image selects it, in the Images pane too, and its top layer
        two = tops["fam/app:two"].children[0]
        assert isinstance(two.data, ImageItem)
        family.move_cursor(two)
        await wait_for(pilot, lambda: layers.image is not None
                       and layers.image.id == fam["fam/app:two"], "app:two selected")
        assert app.main.images_pane.current_ref().ref == "fam/app:two"
        await wait_for(pilot, lambda: layers.current_row() is not None
                       and layers.current_row().obj.index == 1, "its top layer")
        # a layer row selects that layer of the image
        family.move_cursor(base)
        await wait_for(pilot, lambda: layers.current_row().obj.index == 0, "the base")
        # enter on an image goes back to its stack
        family.move_cursor(two)
        await pilot.pause()
        await pilot.press("enter")
        assert layers.view == "stack" and app.focused is layers.table
        assert f"fam/app:two {short_id(fam['fam/app:two'])}" in screen_text(app)
    drive(make_app(engine), go)
    engine.remove_container(ctr)


ALL = [("/app", "added", 405), ("/app/new", "added", 400), ("/app/sub", "added", 5),
       ("/app/sub/deep", "added", 5),
       ("/etc", "unchanged", 20), ("/etc/conf", "modified", 20), ("/etc/old", "removed", 50),
       ("/usr", "unchanged", 40_000), ("/usr/lib", "unchanged", 40_000),
       ("/usr/lib/base.bin", "unchanged", 40_000),
       ("/var", "unchanged", 0), ("/var/cache", "removed", 500)]


def paths(tree: FileTree) -> list[str]:
    return [p for p, *_ in rows(tree)]


def test_file_tree_marks_added_modified_removed(engine, fam):
    async def go(app, pilot):
        layers, tree = await open_files(pilot, "fam/app:one", 1)
        assert app.focused is tree and layers.has_class("-files")  # 80 wide: in place
        assert rows(tree) == ALL  # it all fits: every directory opened, as dive does
        text = screen_text(app)
        assert "#1 layer 1  A 4  M 1  D 2" in text
        for marker, name, size in (("A", "app/", "405B"), ("A", "new", "400B"),
                                   ("M", "conf", "20B"), ("D", "old", "50B"),
                                   ("D", "cache/", "500B"), (" ", "base.bin", "40kB")):
            line = next(ln for ln in text.splitlines() if f"{marker} {name}" in ln)
            assert line.rstrip().endswith(size), line
        # the same as the engine says
        got = {c.path: (c.change, c.size) for c in engine.layer_changes("fam/app:one", 1)}
        assert got == {"/app": ("added", 0), "/app/new": ("added", 400),
                       "/app/sub": ("added", 0), "/app/sub/deep": ("added", 5),
                       "/etc/conf": ("modified", 20), "/etc/old": ("removed", 50),
                       "/var/cache": ("removed", 500)}
        # collapse and expand: left/right, enter, space
        await cursor_to(pilot, tree, "/etc")
        await pilot.press("left")
        await cursor_to(pilot, tree, "/app")
        await pilot.press("enter")
        await pilot.pause()
        assert paths(tree) == ["/app", "/etc", "/usr", "/usr/lib", "/usr/lib/base.bin",
                               "/var", "/var/cache"]
        assert "conf" not in screen_text(app)
        await pilot.press("space")
        await cursor_to(pilot, tree, "/etc")
        await pilot.press("right")
        await pilot.pause()
        assert rows(tree) == ALL
        # esc: back to the stack
        await pilot.press("escape")
        assert app.focused is layers.table and not layers.has_class("-files")
    drive(make_app(engine), go)


def test_file_tree_sorts_collapses_and_filters(engine, fam):
    async def go(app, pilot):
        layers, tree = await open_files(pilot, "fam/app:one", 1)
        assert layers.has_class("-wide") and layers.table.display  # side by side
        await cursor_to(pilot, tree, "/etc")
        # S: by size, biggest first, what is open and the cursor kept
        await pilot.press("S")
        await pilot.pause()
        assert paths(tree) == [
            "/usr", "/usr/lib", "/usr/lib/base.bin", "/app", "/app/new", "/app/sub",
            "/app/sub/deep", "/etc", "/etc/old", "/etc/conf", "/var", "/var/cache"]
        assert tree.cursor_node.data.path == "/etc"
        assert "by size" in screen_text(app)
        await pilot.press("S")
        await pilot.pause()
        assert rows(tree) == ALL
        # left from a child goes to its parent, then collapses it
        await cursor_to(pilot, tree, "/etc/conf")
        await pilot.press("left")
        assert tree.cursor_node.data.path == "/etc"
        await pilot.press("left")
        await pilot.pause()
        assert [p for p in paths(tree) if p.startswith("/etc")] == ["/etc"]
        # u: changes only, every changed directory opened
        await pilot.press("u")
        await pilot.pause()
        assert rows(tree) == [r for r in ALL if not r[0].startswith("/usr")]
        assert "changes only" in screen_text(app)
        # a: against the base (one layer above it: the same changes)
        await pilot.press("a")
        await wait_for(pilot, lambda: layers.files_key == (fam["fam/app:one"], 1, True),
                       "aggregated changes")
        assert "vs base" in screen_text(app)
        assert rows(tree) == [r for r in ALL if not r[0].startswith("/usr")]
        # esc gives the stack the keys back
        await pilot.press("escape")
        assert app.focused is layers.table
    drive(make_app(engine), go, size=(160, 48))


def test_a_big_layer_opens_in_batches(engine, tmp_path):
    big = layer_tar([(f"many/f{i:05}", b"") for i in range(10_500)])
    load(engine, tmp_path, "fam/big:1", [BASE, big])

    async def go(app, pilot):
        layers, tree = await open_files(pilot, "fam/big:1", 1)
        assert layers.file_tree.source.changed == 10_501
        many = paths(tree).index("/many")
        assert not tree.node_for("/many").is_expanded  # too big to open by itself
        before = len(rows(tree))
        await cursor_to(pilot, tree, "/many")
        await pilot.press("right")
        await pilot.pause()
        shown = rows(tree)
        assert len(shown) == before + BATCH + 1  # one batch, then "… N more"
        more = many + BATCH + 1
        assert shown[more - 1][0] == "/many/f00499" and shown[more] == ("…", "more", 10_000)
        assert "… 10000 more" in screen_text_at(app, tree, more)
        tree.move_cursor(tree.get_node_at_line(more))
        await pilot.press("enter")
        await pilot.pause()
        shown = rows(tree)
        assert len(shown) == before + 2 * BATCH + 1
        assert shown[more][0] == "/many/f00500"
        assert tree.cursor_node.data.path == "/many/f00500"
    drive(make_app(engine), go)
