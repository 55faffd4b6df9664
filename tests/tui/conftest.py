"""TUI fixtures: a real engine in a temp root with real images and busybox
containers, an App whose clock is frozen, a driver that starts it headless,
and helpers that wait for workers and screens without sleeping blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.command import CommandPalette

from engine.runtime.options import CreateOptions
from tests.conftest import KANIKO, MUSL
from tests.imagegen import layer_tar, write_image

# 2025-06-15: the fixture images (2024, 2021) read "8 months ago", "4 years ago"
FROZEN_NOW = 1_750_000_000.0
MUSL_TAG = "busybox:1.37.0-musl"
KANIKO_TAG = "dive-test:kaniko-latest"
SHARED_TAGS = ("shared/app:one", "shared/app:two")

S = TypeVar("S")


def load_fixtures(engine, tmp: Path, shared: bool = False) -> None:
    """busybox (musl) and the kaniko image; with ``shared``, two generated
    images that share their base layer, so the Layers pane has sharing."""
    for path in (MUSL, KANIKO):
        with open(path, "rb") as f:
            engine.load(f)
    if shared:
        base = layer_tar([("usr/lib/base.bin", b"b" * 40_000)])
        for i, tag in enumerate(SHARED_TAGS):
            out = tmp / f"shared{i}.tar"
            write_image(out, [base, layer_tar([(f"app/{tag[-3:]}", b"a" * (5_000 * (i + 1)))])],
                        tag=tag)
            with open(out, "rb") as f:
                engine.load(f)


@pytest.fixture
def loaded(engine, tmp_path):
    load_fixtures(engine, tmp_path)
    return engine


def tags(engine) -> set[str]:
    return {t for img in engine.images() for t in img.repo_tags}


def create_container(engine, name: str, command: list[str]) -> str:
    # network "none": these containers need no network (the bridge has its own tests)
    return engine.create(CreateOptions(image=MUSL_TAG, command=command, name=name,
                                       network="none"))


def start_container(engine, name: str, script: str) -> str:
    """busybox running ``sh -c script`` as ``name``; returns its ID."""
    cid = create_container(engine, name, ["sh", "-c", script])
    engine.start(cid)
    return cid


def state(engine, cid: str) -> str:
    return next(c.state for c in engine.containers(all=True) if c.id == cid)


def cleanup(engine) -> None:
    """Remove every container, stopping live ones gracefully first: ``rm -f``
    of a container that exits on TERM at that moment can race runc's kill."""
    for c in engine.containers(all=True):
        if c.state in ("running", "paused", "restarting"):
            engine.stop(c.id, timeout=10)
        engine.remove_container(c.id, force=True)


@pytest.fixture
def run_busybox(loaded) -> Iterator[Callable[[str, str], str]]:
    """``start_container`` on the loaded engine; every container is removed
    afterwards (``cleanup``)."""
    yield lambda name, script: start_container(loaded, name, script)
    cleanup(loaded)


def make_app(engine, **kw):
    from tui.app import DockyardApp

    kw.setdefault("clock", lambda: FROZEN_NOW)
    kw.setdefault("poll_interval", 0.1)
    return DockyardApp(engine, **kw)


async def wait_for(pilot, predicate: Callable[[], Any], what: str = "condition",
                   timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def wait_loaded(pilot) -> None:
    """Until the first state reached the panes (the Images pane has rows)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.main.images_pane.loaded, "the first refresh")
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (all screens composed)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def run(coro: Coroutine) -> Any:
    return asyncio.run(coro)


def drive(app, steps: Callable[[Any, Any], Awaitable[Any]], *,
          size: tuple[int, int] = (80, 24), message_hook: Callable | None = None) -> Any:
    """Run ``app`` headless at ``size``, wait until its panes have the first
    state (``wait_loaded``), then ``await steps(app, pilot)``; returns what
    ``steps`` returns, once the App has exited."""
    async def go() -> Any:
        async with app.run_test(size=size, message_hook=message_hook) as pilot:
            await wait_loaded(pilot)
            return await steps(app, pilot)
    return run(go())


async def wait_screen(pilot, cls: type[S], what: str, *, press: str | tuple[str, ...] = (),
                      timeout: float = 10.0) -> S:
    """Press the key (or keys) ``press``, then wait until the top screen is a
    ``cls`` and return it."""
    app = pilot.app
    await pilot.press(*((press,) if isinstance(press, str) else press))
    return await wait_for(pilot, lambda: isinstance(app.screen, cls) and app.screen, what,
                          timeout)


async def select_ref(pilot, ref: str) -> None:
    """Put the Images pane's cursor on the row of ``ref`` (once it is there)."""
    pane = pilot.app.main.images_pane
    await wait_for(pilot, lambda: any(r.obj.ref == ref for r in pane.shown), ref)
    pane.select_key(next(r.key for r in pane.shown if r.obj.ref == ref))
    await pilot.pause()
    assert pane.current_ref().ref == ref


async def wait_selected(pilot, ref: str, what: str) -> None:
    """Until the Images pane's cursor is on ``ref`` (the App moved it there)."""
    pane = pilot.app.main.images_pane
    await wait_for(pilot, lambda: pane.current_ref() is not None
                   and pane.current_ref().ref == ref, what)


async def run_command(pilot, title: str, key: str = "colon") -> None:
    """Open the command palette with ``key``, type ``title``, run the match."""
    await pilot.press(key)
    await wait_for(pilot, lambda: CommandPalette.is_open(pilot.app), f"the palette ({key})")
    await pilot.press(*title)
    await pilot.pause(0.3)
    await pilot.press("enter")


async def open_pane(pilot, cid: str):
    """The Containers pane with its cursor on ``cid``; returns the pane."""
    await pilot.press("1")
    pane = pilot.app.main.containers_pane
    await wait_for(pilot, lambda: pane.current_row() is not None, "a container row")
    pane.select_key(cid)
    await pilot.pause()
    return pane


async def press_on(pilot, cid: str, key: str, *, log_lines: int = 0):
    """The Containers pane on ``cid``; once the container has written
    ``log_lines`` log lines, press ``key``. Returns the screen on top then."""
    await open_pane(pilot, cid)
    if log_lines:
        engine = pilot.app.engine
        await wait_for(pilot, lambda: len(list(engine.logs(cid))) >= log_lines, "log lines")
    await pilot.press(key)
    return pilot.app.screen
