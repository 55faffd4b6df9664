"""Containers pane against real containers (busybox, crun, a temp root):
every key does what it says, and the engine's state afterwards proves it."""

from __future__ import annotations

import shlex

import pytest
from textual.widgets import Input, Select

from tests.tui.conftest import (
    KANIKO_TAG,
    MUSL_TAG,
    create_container,
    drive,
    make_app,
    open_pane,
    press_on,
    select_ref,
    state,
    tags,
    wait_for,
    wait_selected,
)
from tui.screens.forms import CommitScreen, DeleteContainerScreen
from tui.screens.logs import LogsScreen
from tui.screens.prune import PruneScreen

# The loop exits at once on stop (sh as PID 1 ignores TERM unless it traps it).
LOOP = "trap 'exit 0' TERM; echo hello; echo oops >&2; while :; do sleep 0.2; done"


@pytest.fixture
def ctr(loaded, run_busybox):
    """busybox loaded and one running container "web"; all removed afterwards."""
    return loaded, run_busybox("web", LOOP)


def test_rows_show_status_ports_and_size(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)
        row = pane.current_row()
        assert row.cells[0] == "web" and row.cells[1] == cid[:12]
        assert row.cells[3].plain == "Up 3 minutes"
        assert row.obj.size_rw is not None and row.cells[7] != "—"
        pane.filter_input.value = "status=exited"
        await pilot.pause()
        assert pane.shown == []
        pane.filter_input.value = f"ancestor={MUSL_TAG}"
        await pilot.pause()
        assert [r.key for r in pane.shown] == [cid]
    drive(make_app(engine, clock=lambda: engine.containers()[0].started_at + 180), go,
          size=(160, 48))


def test_stop_start_restart_pause(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)

        async def until(want: str) -> None:
            await wait_for(pilot, lambda: state(engine, cid) == want, want, timeout=20)
            await wait_for(pilot, lambda: pane.current_row().obj.state == want,
                           f"the pane showing {want}", timeout=5)

        await pilot.press("p")
        await until("paused")
        assert "(Paused)" in pane.current_row().cells[3].plain
        await pilot.press("p")
        await until("running")
        await pilot.press("s")
        await until("exited")
        await pilot.press("s")
        await until("running")
        before = next(c.started_at for c in engine.containers() if c.id == cid)
        await pilot.press("r")
        await wait_for(pilot, lambda: next(c.started_at for c in engine.containers()
                                             if c.id == cid) > before, "a restart", 20)
        assert state(engine, cid) == "running"
    drive(make_app(engine), go)


def test_delete_asks_then_removes(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        assert isinstance(await press_on(pilot, cid, "d"), DeleteContainerScreen)
        await pilot.press("n")  # cancel: nothing changes
        assert state(engine, cid) == "running"
        await pilot.press("d", "v")
        assert app.screen.volumes is True
        await pilot.press("y")
        await wait_for(pilot, lambda: not engine.containers(all=True), "removal", 20)
    drive(make_app(engine), go)


def test_logs_screen_tail_follow_and_timestamps(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        screen = await press_on(pilot, cid, "l", log_lines=2)
        assert isinstance(screen, LogsScreen)
        await wait_for(pilot, lambda: len(screen.lines) >= 2, "lines on screen")
        assert [(ln.stream, ln.text.strip()) for ln in screen.lines[:2]] == [
            ("stdout", "hello"), ("stderr", "oops")]
        await pilot.press("t")
        assert screen.timestamps
        assert screen.lines[0].time[:4] in screen.query_one("RichLog").lines[0].text
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)
    drive(make_app(engine), go)


def test_commit_makes_an_image_and_selects_it(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        assert isinstance(await press_on(pilot, cid, "c"), CommitScreen)
        await pilot.press(*"snap:1", "enter", *"from web", "enter")
        await wait_for(pilot, lambda: "snap:1" in tags(engine), "the image")
        await wait_selected(pilot, "snap:1", "the new image selected")
        assert app.main.current == "images"
        img = next(i for i in engine.images() if "snap:1" in i.repo_tags)
        assert engine.history(img.id)[0].comment == "from web"
    drive(make_app(engine), go)


def test_exec_builds_the_cli_command(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)
        argv = app.exec_command(pane.current_container())
        assert argv[-4:] == ["exec", "-it", cid[:12], "sh"]
        assert argv[argv.index("--root") + 1] == str(engine.root)
        # without a real terminal, e says what to run instead of hanging
        await pilot.press("e")
        assert app.focused is pane.table and state(engine, cid) == "running"
    drive(make_app(engine), go)


def test_attach_command_runs_and_needs_a_terminal(loaded, run_busybox):
    """The argv ``a`` hands the terminal to is the real ``dockyard attach``:
    run here without a terminal it streams the container's output until it
    exits.  In the headless test App, ``a`` says what to run instead; on a
    stopped container it says to start it (tmux covers the real terminal)."""
    import subprocess

    cid = run_busybox("tick", "trap 'exit 0' TERM; while :; do echo tick; sleep 0.2; done")
    idle = create_container(loaded, "idle", ["true"])

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)
        argv = pane.attach_command(pane.current_container())
        assert argv[-3:] == ["attach", "--sig-proxy=false", cid[:12]]
        assert argv[argv.index("--root") + 1] == str(loaded.root)
        await pilot.press("a")
        assert app.focused is pane.table and state(loaded, cid) == "running"
        assert any("attach needs a real terminal" in n.message for n in app._notifications)
        pane.select_key(idle)
        await pilot.pause()
        await pilot.press("a")
        assert any("idle is created: start it first" in n.message
                   for n in app._notifications)
        return argv

    argv = drive(make_app(loaded), go)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"tick\n"  # attached: live output
        loaded.stop(cid, timeout=5)
        proc.wait(timeout=20)
        assert proc.returncode == 0  # the container's exit code, as docker attach
    assert state(loaded, cid) == "exited"


def test_disk_prune_previews_exact_bytes_then_frees_them(ctr, tmp_path):
    engine, cid = ctr
    engine.stop(cid, timeout=10)

    async def go(app, pilot):
        await pilot.press("4")
        disk = app.main.disk_pane
        await wait_for(pilot, lambda: disk.usage is not None, "disk usage")
        names = [c.name for c in disk.usage.df.categories]
        assert names[:3] == ["Images", "Containers", "Local Volumes"]
        # nothing dangling: the dialog says so and y does nothing
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, PruneScreen)
        await wait_for(pilot, lambda: screen.report is not None, "the dry run")
        assert screen.report.deleted == []
        # -a: the kaniko image has no container, busybox has one (stopped)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.report is not None, "the -a dry run")
        preview = screen.report
        assert f"untagged: {KANIKO_TAG}" in preview.deleted and preview.reclaimed > 0
        assert tags(engine) == {MUSL_TAG, KANIKO_TAG}  # a dry run changes nothing
        await pilot.press("y")
        await wait_for(pilot, lambda: KANIKO_TAG not in tags(engine), "the prune")
        await wait_for(pilot, lambda: disk.query_one(".disk-freed").display, "freed")
        from engine.humanize import size_text
        assert size_text(preview.reclaimed) in str(disk.query_one(".disk-freed").render())
        # stopped containers
        await pilot.press("p", "c")
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None
                       and screen.kind == "containers", "the containers dry run")
        assert screen.report.deleted == [cid]
        await pilot.press("y")
        await wait_for(pilot, lambda: not engine.containers(all=True), "container prune")
        await wait_for(pilot, lambda: len(disk.shown) == 1, "the pane refreshed")
    drive(make_app(engine), go, size=(100, 30))


def test_live_writable_layer_panel(loaded, run_busybox):
    cid = run_busybox("grow", "trap 'exit 0' TERM; while :; do "
                              "head -c 2048 /dev/zero >> /tmp/grow.bin; sleep 0.2; done")

    async def go(app, pilot):
        pane = await open_pane(pilot, cid)
        await pilot.press("w")
        assert pane.sampling == cid
        await wait_for(pilot, lambda: pane.last_sample is not None
                       and any(p.endswith("/tmp/grow.bin")
                               for p, _ in pane.last_sample.growing), "growth", 15)
        assert pane.query_one(".rw-spark").data
        # the panel agrees with a full scan of the same layer, give or take
        # what the loop wrote in between
        real = loaded.writable_usage(cid).apparent
        assert 0 < pane.last_sample.apparent <= real
        await pilot.press("w")
        assert pane.sampling is None and not pane.query_one(".rw-live").display
    drive(make_app(loaded), go, size=(100, 30))


def test_run_form_creates_and_starts_a_container(loaded, root):
    """On the default (bridge) network; removed through the CLI."""
    from tests.conftest import dockyard
    from tui.screens.forms import RunScreen

    async def go(app, pilot):
        await select_ref(pilot, MUSL_TAG)
        await pilot.press("n")  # from the Images pane: that image
        form = app.screen
        assert isinstance(form, RunScreen)
        assert form.query_one("#image", Input).value == MUSL_TAG
        await pilot.press("escape")
        await pilot.press("1", "n")  # from the Containers pane: the same suggestion
        form = app.screen
        assert isinstance(form, RunScreen)
        assert form.query_one("#image", Input).value == MUSL_TAG
        form.query_one("#name", Input).value = "api"
        form.query_one("#command", Input).value = f"sh -c {shlex.quote(LOOP)}"
        form.query_one("#env", Input).value = "A=1, B=two"
        form.query_one("#restart", Select).value = "unless-stopped"
        await pilot.pause()
        await pilot.click("#ok")
        await wait_for(pilot, lambda: any(c.name == "api" and c.state == "running"
                                          for c in loaded.containers()), "api running", 20)
        data = loaded.container_inspect("api")
        assert {"A=1", "B=two"} <= set(data["Config"]["Env"])
        assert data["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        ctrs = app.main.containers_pane
        await wait_for(pilot, lambda: ctrs.current_container() is not None
                       and ctrs.current_container().name == "api", "api selected")

    try:
        drive(make_app(loaded), go, size=(100, 40))
    finally:
        ids = [c.id for c in loaded.containers(all=True)]
        if ids:
            dockyard(root, "rm", "-f", *ids, check=False)


def test_palette_container_verbs_and_image_prune_key(ctr):
    engine, cid = ctr

    async def go(app, pilot):
        await open_pane(pilot, cid)
        await pilot.press("2")
        commands = {c.title: c for c in app.get_system_commands(app.main)}
        assert {"container: run", "container: logs", "image: prune"} <= set(commands)
        commands["container: stop/start"].callback()  # from another pane
        assert app.main.current == "containers"
        await wait_for(pilot, lambda: state(engine, cid) == "exited", "stopped", 20)
        await pilot.press("2", "p")
        assert isinstance(app.screen, PruneScreen) and app.screen.kind == "images"
        await pilot.press("n")
    drive(make_app(engine), go)
