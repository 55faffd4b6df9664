"""Snapshot tests of the Images and Layers panes at 80×24 and 160×48.

The data is real (fixture images loaded into a temp root); what would drift
is pinned: the clock ("N years ago"), the root path and the disk free shown
in the header.  Update after a deliberate change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.runtime.options import CreateOptions
from tests.tui.conftest import (
    FROZEN_NOW,
    KANIKO_TAG,
    MUSL_TAG,
    SHARED_TAGS,
    load_fixtures,
    make_app,
    wait_for,
)

SIZES = [(80, 24), (160, 48)]
PINNED_IDS = {"web": "a1b2c3d4e5f6" * 6, "job": "0f1e2d3c4b5a" * 6}


class PinnedEngine:
    """The real engine, except for the two facts of this machine the header shows."""

    def __init__(self, real) -> None:
        self._real = real
        self._ids: dict[str, str] = {}

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def containers(self, **kw) -> list:
        """Containers with pinned IDs and times (the ones ``ctrs`` made)."""
        out = []
        for n, c in enumerate(self._real.containers(**kw)):
            pinned = PINNED_IDS.get(c.name, f"{n:x}" * 64)[:64]
            self._ids[pinned] = c.id
            up = c.state in ("running", "paused")
            out.append(replace(c, id=pinned, created=FROZEN_NOW - 3600,
                               started_at=FROZEN_NOW - 180 if up else FROZEN_NOW - 3600,
                               finished_at=0.0 if up else FROZEN_NOW - 600))
        return out

    def container_size(self, ref: str) -> tuple[int, int]:
        return self._real.container_size(self._ids.get(ref, ref))

    def stats_samples(self, **kw) -> dict:
        """Readings of the running containers under their pinned IDs, with
        pinned counters: 1.00% CPU and 1.5MiB each."""
        self._ticks = getattr(self, "_ticks", 0) + 1
        pinned = {real: fake for fake, real in self._ids.items()}
        return {pinned[cid]: replace(s, id=pinned[cid], cpu_ns=self._ticks * 10_000_000,
                                     system_ns=self._ticks * 1_000_000_000, online_cpus=1,
                                     mem_usage=3 << 19)
                for cid, s in self._real.stats_samples(**kw).items() if cid in pinned}

    def info(self) -> dict:
        return {**self._real.info(), "DockyardRootDir": "/var/lib/dockyard",
                "DiskFree": 50_000_000_000, "Runtime": "runc"}


@pytest.fixture
def pinned(engine, tmp_path):
    load_fixtures(engine, tmp_path, shared=True)
    return PinnedEngine(engine)


def select(ref: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.main.images_pane.loaded, "images")
        pane = app.main.images_pane
        pane.select_key(next(r.key for r in pane.shown if r.obj.ref == ref))
        await pilot.pause()
    return run_before


def layers_of(ref: str, steps: int):
    async def run_before(pilot) -> None:
        await select(ref)(pilot)
        await pilot.press("3")
        layers = pilot.app.main.layers_pane
        await wait_for(pilot, lambda: len(layers.shown) == steps, "layers")
        await wait_for(pilot, lambda: layers.analysis is not None, "the analysis")
        await wait_for(pilot, lambda: layers.files_key is not None, "the layer's files")
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_images_pane(snap_compare, pinned, size):
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=select(KANIKO_TAG))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_layers_pane(snap_compare, pinned, size):
    assert snap_compare(make_app(pinned), terminal_size=size,
                        run_before=layers_of(KANIKO_TAG, 15))


def test_layers_pane_shared(snap_compare, pinned):
    assert snap_compare(make_app(pinned), terminal_size=(80, 24),
                        run_before=layers_of(SHARED_TAGS[0], 2))


def layer_files(ref: str, steps: int, row: int, keys: tuple[str, ...] = ()):
    """The file tree of step ``row`` (enter; narrow, it takes the stack's place)."""
    async def run_before(pilot) -> None:
        await layers_of(ref, steps)(pilot)
        layers = pilot.app.main.layers_pane
        layers.select_key(layers.shown[row].key)
        await pilot.pause()
        await pilot.press("enter", *keys)
        await wait_for(pilot, lambda: files_shown(layers), "the layer's files")
        await pilot.pause()
    return run_before


def files_shown(layers) -> bool:
    """The file tree shows the layer under the stack's cursor."""
    cur = layers.current_layer()
    return cur is not None and layers.files_key == (layers.image.id, cur[0], layers.aggregated)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_layers_files(snap_compare, pinned, size):
    """kaniko's ``RUN rm -rf /root/example/`` step, changes only."""
    assert snap_compare(make_app(pinned), terminal_size=size,
                        run_before=layer_files(KANIKO_TAG, 15, 10, ("u",)))


def layers_tree(ref: str, steps: int):
    async def run_before(pilot) -> None:
        await layers_of(ref, steps)(pilot)
        layers = pilot.app.main.layers_pane
        await pilot.press("v")
        await wait_for(pilot, lambda: layers.family.loaded, "the family tree")
        await wait_for(pilot, lambda: files_shown(layers), "the picked layer's files")
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_layers_tree(snap_compare, pinned, size):
    assert snap_compare(make_app(pinned), terminal_size=size,
                        run_before=layers_tree(SHARED_TAGS[0], 2))


def disk_pane():
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.main.images_pane.loaded, "images")
        await pilot.press("4")
        await wait_for(pilot, lambda: len(app.main.disk_pane.shown) == 4, "disk rows")
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_disk_pane(snap_compare, pinned, size):
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=disk_pane())


@pytest.fixture
def ctrs(pinned):
    """A running container "web" and an exited one "job" (network none)."""
    real = pinned._real
    web = real.create(CreateOptions(image=MUSL_TAG, name="web", network="none", command=[
        "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]))
    real.start(web)
    job = real.create(CreateOptions(image=MUSL_TAG, name="job", network="none",
                                    command=["true"]))
    real.start(job)
    real.wait(job)
    yield pinned
    for c in real.containers(all=True):
        real.remove_container(c.id, force=True)


def containers_pane():
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.main.images_pane.loaded, "images")
        await pilot.press("1")
        pane = app.main.containers_pane
        await wait_for(pilot, lambda: len(pane.shown) == 2, "container rows")
        await wait_for(pilot, lambda: pane.stats, "CPU % and memory")
        await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_containers_pane(snap_compare, ctrs, size):
    assert snap_compare(make_app(ctrs), terminal_size=size, run_before=containers_pane())
