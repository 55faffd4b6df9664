"""The TUI benchmark's probe (bench/tui.py starts it in tmux): ``tui.app.run``
with the UI thread's CPU clock read around the refresh handlers and every
repaint, and start-up marks (imports, mount, first load_state, first frame).

    python bench/_tui_probe.py RECORD.json      (DOCKYARD_ROOT names the root)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def probe(record: str) -> None:
    """Inside tmux: ``tui.app.run`` with the UI thread's CPU clock read around the
    refresh handlers and every repaint; the record is written when it quits."""
    marks = {"python": time.time()}
    from textual.screen import Screen

    from tui import app as tui_app
    from tui import workers
    from tui.screens.main import MainScreen

    marks["imported"] = time.time()
    cycles: list[dict] = []
    acc = {"paint": 0.0, "paints": 0, "stats_cpu": 0.0}
    orig_state = tui_app.DockyardApp.on_state_loaded
    orig_stats = tui_app.DockyardApp.on_stats_sampled
    orig_paint = Screen._on_timer_update
    orig_mount, orig_load = tui_app.DockyardApp.on_mount, workers.load_state
    orig_main_mount = MainScreen.on_mount

    def on_main_mount(self) -> None:
        marks.setdefault("main", time.time())
        orig_main_mount(self)

    def on_mount(self) -> None:
        marks.setdefault("mounted", time.time())
        orig_mount(self)

    def load_state(*args, **kw):
        marks.setdefault("load_state", time.time())
        try:
            return orig_load(*args, **kw)
        finally:
            marks.setdefault("loaded", time.time())

    def on_state_loaded(self, message) -> None:
        thread, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
        orig_state(self, message)
        marks.setdefault("applied", time.time())
        current = next((s.current for s in self.screen_stack if hasattr(s, "current")), "")
        cycles.append({**acc, "pane": current, "thread": thread, "process": process,
                       "wall": time.perf_counter() - wall, "cpu": time.thread_time() - thread})

    def on_stats_sampled(self, message) -> None:
        c = time.thread_time()
        orig_stats(self, message)
        acc["stats_cpu"] += time.thread_time() - c

    def paint(self) -> None:
        c = time.thread_time()
        orig_paint(self)
        marks.setdefault("frame", time.time())
        acc["paint"] += time.thread_time() - c
        acc["paints"] += 1

    tui_app.DockyardApp.on_mount = on_mount  # type: ignore[method-assign]
    MainScreen.on_mount = on_main_mount  # type: ignore[method-assign]
    workers.load_state = load_state
    tui_app.DockyardApp.on_state_loaded = on_state_loaded  # type: ignore[method-assign]
    tui_app.DockyardApp.on_stats_sampled = on_stats_sampled  # type: ignore[method-assign]
    Screen._on_timer_update = paint  # type: ignore[method-assign]
    try:
        tui_app.run(os.environ["DOCKYARD_ROOT"])
    finally:
        Path(record).write_text(json.dumps({"cycles": cycles, "marks": marks}))


if __name__ == "__main__":
    probe(sys.argv[1])
