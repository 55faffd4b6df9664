"""The Images pane's b build, u pull and P push against a real engine (busybox
in a temp root, runc for the RUN steps) and Debian's docker-registry: the
screens show what the CLI shows, and the engine and registry state prove it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest
from textual.widgets import Input

from engine.errors import NotFound
from tests.conftest import MUSL_ID
from tests.engine.registry.conftest import start_registry, stop_registry
from tests.tui.conftest import (
    MUSL_TAG,
    drive,
    make_app,
    run_command,
    select_ref,
    tags,
    wait_for,
    wait_screen,
    wait_selected,
)
from tui.screens.build import BuildFormScreen, BuildScreen
from tui.screens.dialogs import ErrorScreen
from tui.screens.registry import TransferScreen
from tui.state import BuildFinished, BuildProgress, TransferProgress

THREE_STEPS = (f"FROM {MUSL_TAG}\n"
               "COPY greeting.txt /greeting.txt\n"
               "RUN cat /greeting.txt && echo to-stderr >&2\n")


@pytest.fixture
def registry(tmp_path: Path):
    d = tmp_path / "registry"
    d.mkdir()
    reg = start_registry(d)
    yield reg
    stop_registry(reg)


async def settle(pilot) -> None:
    """Stop the live loop and let its last refresh land before the App exits:
    a StateLoaded handled after the main screen is gone raises LookupError."""
    app = pilot.app
    app.stop_live()
    await wait_for(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "live"),
                   "the live loop to stop")
    await pilot.pause()


def context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "greeting.txt").write_text("hello from the context\n")
    return ctx


async def open_form(pilot) -> BuildFormScreen:
    return await wait_screen(pilot, BuildFormScreen, "the build form", press="b")


async def start_build(pilot, ctx: Path | None = None, tag: str | None = None) -> BuildScreen:
    """Fill the form (or keep what it suggests) and press enter."""
    app = pilot.app
    form = await open_form(pilot)
    if ctx is not None:
        form.query_one("#context", Input).value = str(ctx)
    if tag is not None:
        form.query_one("#tags", Input).value = tag
    await pilot.press("enter")
    # the view may already be under the error dialog of a build that failed at once
    return await wait_for(pilot, lambda: next(
        (s for s in app.screen_stack if isinstance(s, BuildScreen)), None), "the build view")


def vertex(view: BuildScreen, title: str, rest: str = "") -> int:
    """The step number BuildKit gave the step ``title`` ("[2/3] COPY …"),
    followed by what matches the pattern ``rest``."""
    for line in view.lines:
        m = re.fullmatch(r"#(\d+) " + re.escape(title) + rest, line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no step {title!r} in {view.lines}")


def test_build_shows_steps_selects_the_image_and_caches(loaded, tmp_path):
    ctx = context(tmp_path, THREE_STEPS)
    seen: list = []

    async def go(app, pilot):
        view = await start_build(pilot, ctx, "built:1")
        await wait_for(pilot, lambda: view.state == "finished", "the build", timeout=60)
        run_step = vertex(view, "[3/3] RUN cat /greeting.txt && echo to-stderr >&2")
        copy_step = vertex(view, "[2/3] COPY greeting.txt /greeting.txt")
        base = vertex(view, f"[1/3] FROM docker.io/library/{MUSL_TAG}", "@sha256:[0-9a-f]{64}")
        assert f"#{base} CACHED" in view.lines and base < copy_step < run_step
        out = [line for line in view.lines if line.startswith(f"#{run_step} ")]
        assert any(re.fullmatch(rf"#{run_step} \d+\.\d{{3}} hello from the context", line)
                   for line in out), out
        assert any(line.endswith(" to-stderr") for line in out)
        assert re.fullmatch(rf"#{run_step} DONE \d+\.\ds", out[-1])
        status = view.status_text().plain
        assert re.fullmatch(r"\[\+\] Building \d+\.\ds \((\d+)/\1\) FINISHED", status)

        image_id = loaded.resolve_image("built:1")
        assert view.image_id == image_id
        await wait_selected(pilot, "built:1", "the new image selected")
        assert app.main.images_pane.current_ref().image.id == image_id
        await pilot.press("escape")
        assert app.screen is app.main and app.main.current == "images"

        # again: the form starts from the last build, and every step is CACHED
        form = await open_form(pilot)
        assert form.query_one("#context", Input).value == str(ctx)
        assert form.query_one("#tags", Input).value == "built:1"
        await pilot.press("enter")
        again = await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen)
                               and app.screen is not view and app.screen, "second build")
        await wait_for(pilot, lambda: again.state == "finished", "the cached build")
        for title in ("[2/3] COPY greeting.txt /greeting.txt",
                      "[3/3] RUN cat /greeting.txt && echo to-stderr >&2"):
            n = vertex(again, title)
            assert f"#{n} CACHED" in again.lines and again.steps[n] == "cached"
        assert not any("hello from the context" in line for line in again.lines)
        assert again.image_id == image_id
        await settle(pilot)
    drive(make_app(loaded), go, message_hook=seen.append)
    kinds = {m.event.kind for m in seen if isinstance(m, BuildProgress)}
    assert {"start", "log", "status", "done", "cached", "result"} <= kinds
    finished = [m for m in seen if isinstance(m, BuildFinished)]
    assert len(finished) == 2 and all(m.image_id and m.error is None for m in finished)
    assert {"built:1", MUSL_TAG} <= tags(loaded)


def test_failing_run_shows_the_exit_code_and_leaves_no_image(loaded, tmp_path):
    ctx = context(tmp_path, f"FROM {MUSL_TAG}\nRUN echo about to fail && exit 3\n")
    before = [img.id for img in loaded.images()]

    async def go(app, pilot):
        view = await start_build(pilot, ctx, "broken:1")
        error = await wait_screen(pilot, ErrorScreen, "the error dialog", timeout=60)
        assert view.state == "failed"
        assert "image: build failed" in str(error.query_one(".dialog-title").render())
        assert "\n" not in error.message
        assert error.message.endswith("did not complete successfully: exit code: 3")
        n = vertex(view, "[2/2] RUN echo about to fail && exit 3")
        assert any(re.fullmatch(rf"#{n} \d+\.\d+ about to fail", line) for line in view.lines)
        assert any(line.startswith(f"#{n} ERROR: ") and line.endswith("exit code: 3")
                   for line in view.lines)
        # buildx's epilogue: the step's output, the Dockerfile excerpt, the error
        assert "Dockerfile:2" in view.lines
        assert any(re.fullmatch(r" +2 \| >>> RUN echo about to fail && exit 3", line)
                   for line in view.lines), view.lines
        assert view.lines[-1].startswith("ERROR: failed to solve: ")
        assert "ERROR" in view.status_text().plain
        await pilot.press("enter")
        assert app.screen is view
        await pilot.press("escape")
        assert app.screen is app.main
        await settle(pilot)
    drive(make_app(loaded), go)
    assert [img.id for img in loaded.images()] == before
    with pytest.raises(NotFound):
        loaded.resolve_image("broken:1")


def test_escape_cancels_a_running_build(loaded, tmp_path):
    ctx = context(tmp_path, f"FROM {MUSL_TAG}\nRUN echo started && sleep 37\n")
    before = [img.id for img in loaded.images()]

    def sleepers() -> list:
        return [p for p in psutil.process_iter(["cmdline"])
                if (p.info["cmdline"] or [])[-2:] == ["sleep", "37"]]

    async def go(app, pilot):
        view = await start_build(pilot, ctx, "slow:1")
        await wait_for(pilot, lambda: any(line.endswith(" started") for line in view.lines),
                       "the RUN step's output", timeout=60)
        await pilot.press("escape")
        assert view.state in ("cancelling", "cancelled") and view.cancel.is_set()
        await wait_for(pilot, lambda: app.screen is app.main, "the view closing",
                       timeout=15)
        assert view.state == "cancelled"
        assert not any(isinstance(s, ErrorScreen) for s in app.screen_stack)
        await settle(pilot)
    drive(make_app(loaded), go)
    assert [img.id for img in loaded.images()] == before
    assert "slow:1" not in tags(loaded)
    assert sleepers() == []
    listed = subprocess.run(loaded.runtime().cmd("list", "-q"), capture_output=True, text=True,
                            check=True).stdout.split()
    assert not [c for c in listed if c.startswith("build-")]  # the step's container is gone


def test_build_form_checks_paths_and_tags(loaded, tmp_path):
    ctx = context(tmp_path, THREE_STEPS)

    async def go(app, pilot):
        form = await open_form(pilot)
        assert form.query_one("#dockerfile", Input).value == "Dockerfile"
        error = form.query_one("#build-error")

        async def submit(field: str, value: str, expect: str) -> None:
            form.query_one(f"#{field}", Input).value = value
            await pilot.press("enter")
            await wait_for(pilot, lambda: expect in str(error.render()), expect)
            assert app.screen is form

        await submit("context", str(tmp_path / "nowhere"),
                     f'unable to prepare context: path "{tmp_path / "nowhere"}" not found')
        form.query_one("#context", Input).value = str(ctx)
        await submit("dockerfile", "Nope.Dockerfile",
                     f"failed to read dockerfile: open {ctx / 'Nope.Dockerfile'}")
        form.query_one("#dockerfile", Input).value = "Dockerfile"
        await submit("tags", "Bad/UPPER:1", 'invalid tag "Bad/UPPER:1"')
        await submit("build-args", 'A="unclosed', "No closing quotation")
        await pilot.press("escape")
        assert app.screen is app.main and app.last_build is None
        await settle(pilot)
    drive(make_app(loaded), go)
    assert len(loaded.images()) == 2


def test_palette_has_build_pull_push(loaded):
    async def go(app, pilot):
        titles = [c.title for c in app.get_system_commands(app.main)]
        assert {"image: build", "image: pull", "image: push"} <= set(titles)
        await pilot.press("1")
        await run_command(pilot, "image: pull")
        screen = await wait_screen(pilot, TransferScreen, "the pull form")
        assert screen.verb == "pull" and app.main.current == "images"
        await pilot.press("escape")
        assert app.screen is app.main
        ids = {b.id for _, bs in app.key_sections() for b in bs}
        assert {"image.build", "image.pull", "image.push", "build.back",
                "transfer.back"} <= ids
        await settle(pilot)
    drive(make_app(loaded), go)


def test_push_to_a_real_registry(loaded, registry):
    ref = f"{registry.host}/tui/busybox:1"
    loaded.tag(MUSL_TAG, ref)
    seen: list = []

    async def go(app, pilot):
        await select_ref(pilot, ref)
        screen = await wait_screen(pilot, TransferScreen, "the push form", press="P")
        assert screen.query_one("#reference", Input).value == ref
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.state == "done", "the push", timeout=60)
        lines = list(screen.lines.values())
        assert lines[0] == f"The push refers to repository [{registry.host}/tui/busybox]"
        assert any(line.endswith(": Pushed") for line in lines)
        m = re.fullmatch(r"1: digest: (sha256:[0-9a-f]{64}) size: \d+", lines[-1])
        assert m, lines
        await pilot.press("escape")
        assert app.screen is app.main
        await settle(pilot)
        return m.group(1)

    digest = drive(make_app(loaded), go, message_hook=seen.append)
    assert any(isinstance(m, TransferProgress) and m.progress.status == "Pushing"
               for m in seen)
    base = f"http://{registry.host}/v2/tui/busybox"
    assert httpx.get(f"{base}/tags/list").json()["tags"] == ["1"]
    r = httpx.get(f"{base}/manifests/1", headers={"Accept": ", ".join((
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"))})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    assert f"{registry.host}/tui/busybox@{digest}" in loaded.image_inspect(ref)["RepoDigests"]


def test_pull_from_a_real_registry(loaded, registry):
    ref = f"{registry.host}/tui/busybox:1"
    loaded.tag(MUSL_TAG, ref)
    loaded.push(ref)
    loaded.remove_image(ref)
    loaded.remove_image(MUSL_TAG)
    with pytest.raises(NotFound):
        loaded.resolve_image(MUSL_ID)
    seen: list = []

    async def go(app, pilot):
        screen = await wait_screen(pilot, TransferScreen, "the pull form", press="u")
        assert screen.query_one("#reference", Input).value == ""
        await pilot.press(*ref, "enter")
        await wait_for(pilot, lambda: screen.state == "done", "the pull", timeout=60)
        lines = list(screen.lines.values())
        assert lines[0] == "1: Pulling from tui/busybox"
        assert any(line.endswith(": Pull complete") for line in lines)
        assert lines[-1] == f"Status: Downloaded newer image for {ref}"
        await wait_selected(pilot, ref, "the pulled image selected")
        assert app.main.images_pane.current_ref().image.id == MUSL_ID
        await settle(pilot)
    drive(make_app(loaded), go, message_hook=seen.append)
    assert any(isinstance(m, TransferProgress) and m.progress.status == "Downloading"
               and m.progress.total > 0 for m in seen)
    assert loaded.resolve_image(ref) == MUSL_ID
    assert any(d.startswith(f"{registry.host}/tui/busybox@sha256:")
               for d in loaded.image_inspect(ref)["RepoDigests"])


def test_pull_error_is_one_line_in_the_error_dialog(loaded, registry):
    before = [img.id for img in loaded.images()]

    async def go(app, pilot):
        screen = await wait_screen(pilot, TransferScreen, "the pull form", press="u")
        await pilot.press(*f"{registry.host}/tui/missing:1", "enter")
        error = await wait_screen(pilot, ErrorScreen, "the error dialog", timeout=30)
        assert "image: pull failed" in str(error.query_one(".dialog-title").render())
        assert error.message and "\n" not in error.message
        assert screen.state == "failed"
        await pilot.press("enter", "escape")
        assert app.screen is app.main
        await settle(pilot)
    drive(make_app(loaded), go)
    assert [img.id for img in loaded.images()] == before


def test_progress_lines_draw_docker_bars():
    from engine.progress import Progress
    from tui.screens.registry import progress_line

    assert progress_line(Progress("", "Digest: sha256:ab")) == "Digest: sha256:ab"
    assert progress_line(Progress("f4255029a25b", "Pull complete")) == \
        "f4255029a25b: Pull complete"
    half = progress_line(Progress("f4255029a25b", "Downloading", 500_000, 1_000_000))
    assert re.fullmatch(r"f4255029a25b: Downloading \[={12}> {11}\] +500kB/1MB", half), half
    assert progress_line(Progress("x", "Pushing", 2_000, 0)) == "x: Pushing 2kB"
