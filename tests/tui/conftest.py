"""TUI fixtures: a real engine in a temp root with real images, an App whose
clock is frozen, and a helper to wait for workers without sleeping blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KANIKO, MUSL
from tests.imagegen import layer_tar, write_image

# 2025-06-15: the fixture images (2024, 2021) read "8 months ago", "4 years ago"
FROZEN_NOW = 1_750_000_000.0
MUSL_TAG = "busybox:1.37.0-musl"
KANIKO_TAG = "dive-test:kaniko-latest"
SHARED_TAGS = ("shared/app:one", "shared/app:two")


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
