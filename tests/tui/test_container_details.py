"""CPU % and memory in the Containers pane, and the details screen (enter)
against real containers: each section shows what the engine says."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from tests.tui.conftest import (
    create_container,
    drive,
    make_app,
    open_pane,
    press_on,
    screen_text,
    state,
    wait_for,
)
from tui.panes.containers import CPU, MEMORY
from tui.screens.container_details import ContainerDetailsScreen, Growth, change_rows
from tui.screens.logs import LogView
from tui.widgets.chart import TimeChart, bar_rows

BUSY = "trap 'exit 0' TERM; echo started; while :; do :; done"
WRITER = ("trap 'exit 0' TERM; echo hello; echo oops >&2; echo made > /tmp/made.txt; "
          "rm /etc/group; while :; do head -c 4096 /dev/zero >> /var/grow.bin; sleep 0.2; "
          "done")


@pytest.fixture
def busy(loaded, run_busybox):
    """A container spinning a CPU ("busy") and a stopped one ("idle")."""
    cid = run_busybox("busy", BUSY)
    return loaded, cid, create_container(loaded, "idle", ["true"])


@pytest.fixture
def writer(loaded, run_busybox):
    return loaded, run_busybox("writer", WRITER)


def test_cpu_and_memory_columns(busy):
    engine, cid, idle = busy

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)
        assert {"cpu", "memory"} <= {c.key for _, c in pane.visible_columns()}

        def row(key: str):
            return next(r for r in pane.shown if r.key == key)

        await wait_for(pilot, lambda: row(cid).cells[CPU] != "—", "a CPU reading", 15)
        # a busy loop uses most of a core (the worker's reading, as docker stats')
        await wait_for(pilot, lambda: pane.stats[cid].cpu_percent > 20, "a busy CPU", 15)
        cells = row(cid).cells
        assert cells[CPU].endswith("%") and float(cells[CPU].rstrip("%")) > 0
        assert cells[MEMORY].endswith("iB") and pane.stats[cid].mem_usage > 0
        # the engine agrees: same memory limit, the container is the one running
        sample = engine.stats_samples()[cid]
        assert pane.stats[cid].mem_limit == sample.mem_limit
        # what the table draws is what the row says
        table = pane.table
        drawn = table.get_row(cid)
        assert cells[CPU] in {str(c) for c in drawn}
        # stopped: a dash, as lazydocker shows
        assert row(idle).cells[CPU] == row(idle).cells[MEMORY] == "—"
        assert idle not in pane.stats
        # a reading that would change no text on screen rebuilds no rows
        calls: list[int] = []
        orig = pane.set_rows
        pane.set_rows = lambda rows: (calls.append(1), orig(rows))[1]  # type: ignore[method-assign]
        reading = dict(pane.stats)
        pane.show_stats(reading)
        assert calls == []
        pane.show_stats({})  # every reading gone: the columns change
        assert calls == [1]
        del pane.set_rows
        pane.show_stats(reading)
        # sorting by CPU puts the busy one first
        await pilot.press("C")
        assert pane.shown[0].key == cid
        engine.stop(cid, timeout=5)
        await wait_for(pilot, lambda: row(cid).cells[CPU] == "—", "the dash after stop", 15)
    app = make_app(engine)
    app.refresh_interval = 0.5
    drive(app, go)


def test_details_sections_show_real_data(writer):
    engine, cid = writer

    async def go(app, pilot):
        screen = await press_on(pilot, cid, "enter", log_lines=2)
        assert isinstance(screen, ContainerDetailsScreen) and screen.container_id == cid
        assert screen.section == "logs"
        # logs: the LogView, focused
        logs = screen.query_one(LogView)
        await wait_for(pilot, lambda: len(logs.lines) >= 2, "logs")
        assert [ln.text.strip() for ln in logs.lines[:2]] == ["hello", "oops"]
        assert app.focused is logs.richlog
        # stats: samples reach the charts
        await pilot.press("2")
        assert screen.section == "stats"
        cpu = screen.query_one("#chart-cpu", TimeChart)
        mem = screen.query_one("#chart-memory", TimeChart)
        await wait_for(pilot, lambda: len(cpu.values) >= 2, "two stats samples", 15)
        assert screen.stats is not None and screen.stats.pids >= 2  # sh and head/sleep
        assert mem.latest and mem.limit == engine.stats_sample(cid).mem_limit
        assert "CPU" in screen_text(app) and "PIDs" in screen_text(app)
        # inspect: the engine's JSON
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.inspect_data is not None, "inspect")
        assert screen.inspect_data["Id"] == cid
        assert screen.inspect_data == {**engine.container_inspect(cid),
                                       "State": screen.inspect_data["State"]}
        await wait_for(pilot, lambda: cid in screen_text(app), "the ID on screen")
        # files: what the container wrote, the growing file first
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.changes is not None
                       and "/var/grow.bin" in screen.rates, "growth", 15)
        paths = {c.path: c for c in screen.changes}
        assert paths["/tmp/made.txt"].kind == "A" and paths["/tmp/made.txt"].size == 5
        assert paths["/etc/group"].kind == "D"
        assert {c.path for c in engine.diff(cid)} >= {"/tmp/made.txt", "/var/grow.bin"}
        table = screen.query_one("#files-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 2, "file rows")
        first = table.get_row_at(0)
        assert str(first[1]) == "/var/grow.bin" and str(first[3]).endswith("/s")
        assert "/tmp/made.txt" in screen_text(app)
        # tab cycles back round to the logs; esc goes back to the list
        await pilot.press("tab")
        assert screen.section == "logs"
        await pilot.press("escape")
        assert app.screen is app.main
        await wait_for(pilot, lambda: not [w for w in app.workers
                                           if w.node is screen and w.is_running],
                       "the screen's workers stopped")
        assert state(engine, cid) == "running"
    drive(make_app(engine), go, size=(100, 30))


def test_details_of_a_stopped_container(busy):
    engine, cid, idle = busy

    async def go(app, pilot):
        pane = await open_pane(pilot, idle)
        pane.action_details()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ContainerDetailsScreen)
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.samples >= 1, "a stats reading")
        assert screen.stats is None
        assert "idle is not running" in screen_text(app)
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.changes is not None, "the diff")
        assert screen.changes == engine.diff(idle)
        # removed from elsewhere: the screen says so, no error dialogs
        engine.remove_container(idle)
        await wait_for(pilot, lambda: screen.gone, "the screen noticing")
        await wait_for(pilot, lambda: not screen.query_one(LogView).follow, "logs ended")
        await pilot.pause(0.5)
        text = screen_text(app)
        assert app.screen is screen and "removed" in text.splitlines()[1]
        assert "idle was removed: its writable layer is gone" in text
        await pilot.press("q")
        assert app.screen is app.main
    drive(make_app(engine), go)


def test_logs_search_wrap_and_esc(writer):
    engine, cid = writer

    async def go(app, pilot):
        # the same view on its own screen
        view = (await press_on(pilot, cid, "l", log_lines=2)).view
        await wait_for(pilot, lambda: len(view.lines) >= 2, "logs")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"OOPS")  # case-insensitive
        assert view.search == "OOPS" and view.shown == 1
        assert [str(s.text) for s in view.richlog.lines] == ["oops"]
        await pilot.press("enter")  # keeps the search, back to the log
        assert app.focused is view.richlog and view.search == "OOPS"
        await pilot.press("w")
        assert not view.wrap and not view.richlog.wrap
        await pilot.press("escape")  # clears the search first …
        assert view.search == "" and view.shown == len(view.lines)
        await pilot.press("escape")  # … then goes back
        assert app.screen is app.main
    drive(make_app(engine), go)


def test_growth_window_and_file_rows():
    g = Growth(window=5.0)
    g.add(100.0, ())  # the baseline
    g.add(101.0, (("/a", 1000), ("/b", 10)))
    g.add(102.0, (("/a", 3000),))
    assert g.rates() == {"/a": 2000.0, "/b": 5.0}
    for t in range(103, 110):
        g.add(float(t), ())
    assert g.rates() == {}

    from engine.layers import Change

    changes = [Change("A", "/small", 10), Change("C", "/etc", 0), Change("D", "/gone", 0),
               Change("A", "/var/log/very/long/path/app.log", 5000)]
    rows, more = change_rows(changes, {"/small": 50.0}, path_width=12)
    assert [p for p, _ in rows] == ["/small", "/var/log/very/long/path/app.log", "/etc",
                                    "/gone"]
    assert more == 0
    assert str(rows[1][1][1]) == "…" + "/var/log/very/long/path/app.log"[-11:]
    assert str(rows[0][1][3]) == "+50B/s" and str(rows[3][1][2]) == ""


def test_bar_rows_scale_from_zero():
    assert bar_rows([0.0, 50.0, 100.0, None, 1.0], 100.0, 2) == ["  █  ", " ██ ▁"]
    assert bar_rows([0.1], 100.0, 1) == ["▁"]  # above zero always shows
