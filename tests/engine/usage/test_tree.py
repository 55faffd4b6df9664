"""``image tree``: base layers branching into the images built on them."""

from __future__ import annotations

import json

from engine.humanize import size_text
from engine.images.digest import short_id
from engine.usage.tree import layer_tree, render
from tests.engine.usage.test_analyze import cli, docker_archive, layer, load

BASE = layer(("f", "bin/sh", b"s" * 1000))
L1 = layer(("f", "app/a", b"a" * 200))
L2 = layer(("f", "app/b", b"b" * 30))
L3 = layer(("f", "srv/c", b"c" * 4000))
L4 = layer(("f", "srv/d", b"d" * 5))
STEP = {id(BASE): "ADD rootfs /", id(L1): "COPY a /app/", id(L2): "COPY b /app/",
        id(L3): "COPY c /srv/", id(L4): "COPY d /srv/"}


def test_family_tree(engine, root, tmp_path) -> None:
    ids = {}
    for tag, layers in {"base:1": [BASE], "app:1": [BASE, L1], "app:2": [BASE, L1, L2],
                        "srv:1": [BASE, L3, L4]}.items():
        path = tmp_path / f"{tag.replace(':', '-')}.tar"
        ids[tag] = docker_archive(path, layers, [STEP[id(x)] for x in layers], tag=tag)
        load(engine, path)
    roots = layer_tree(engine.store, engine.image_store)
    assert len(roots) == 1
    base = roots[0]
    assert (base.size, base.users, base.created_by) == (1000, 4, "ADD rootfs /")
    assert [i for i, _ in base.images] == [ids["base:1"]]
    assert [(c.size, c.users) for c in base.children] == [(200, 2), (4000, 1)]
    app = base.children[0]
    assert app.images == ((ids["app:1"], ("app:1",)),)
    assert app.children[0].images == ((ids["app:2"], ("app:2",)),)

    def d(data: bytes) -> str:
        import hashlib

        return short_id("sha256:" + hashlib.sha256(data).hexdigest())

    # the unshared run L3, L4 (one child each, no image of its own) folds into one line
    assert render(roots) == (
        f"{d(BASE)}  1kB  ADD rootfs /  [4 images]\n"
        f"├── base:1 ({short_id(ids['base:1'])})\n"
        f"├── {d(L1)}  200B  COPY a /app/  [2 images]\n"
        f"│   ├── app:1 ({short_id(ids['app:1'])})\n"
        f"│   └── {d(L2)}  30B  COPY b /app/\n"
        f"│       └── app:2 ({short_id(ids['app:2'])})\n"
        f"└── {d(L3)}..{d(L4)}  2 layers  {size_text(4005, 3)}  COPY c /srv/ … COPY d /srv/\n"
        f"    └── srv:1 ({short_id(ids['srv:1'])})\n"
        "\n"
        f"4 images, 5 layers, {size_text(5235, 3)} stored, 1.2kB in layers shared by 2+ images\n")
    assert f"└── {d(L3)}  4kB  COPY c /srv/\n    └── {d(L4)}  5B  COPY d /srv/\n" in \
        render(roots, fold=False)

    engine.close()
    text = cli(root, "image", "tree").stdout.decode()
    assert text == render(roots)
    doc = json.loads(cli(root, "image", "tree", "--format", "json").stdout)
    assert doc[0]["images_using"] == 4 and doc[0]["size_bytes"] == 1000
    assert [c["size_bytes"] for c in doc[0]["children"]] == [200, 4000]
    assert doc[0]["children"][1]["children"][0]["images"] == [{"id": ids["srv:1"],
                                                               "tags": ["srv:1"]}]
    assert "-a" in cli(root, "image", "tree", "--help").stdout.decode()


def test_empty_store(engine) -> None:
    assert layer_tree(engine.store, engine.image_store) == []
    assert render([]) == "\n0 images, 0 layers, 0B stored, 0B in layers shared by 2+ images\n"
