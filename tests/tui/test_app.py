"""Pilot tests against a real engine: each key does what it says, and the
engine's state afterwards proves it."""

from __future__ import annotations

import json

from textual.widgets import ContentSwitcher, DataTable, Input, Label

from tests.conftest import MUSL_ID
from tests.tui.conftest import (
    KANIKO_TAG,
    MUSL_TAG,
    drive,
    make_app,
    run_command,
    screen_text,
    select_ref,
    tags,
    wait_for,
    wait_screen,
    wait_selected,
)
from tui.screens.dialogs import ConfirmScreen, ErrorScreen, TagScreen
from tui.screens.help import HelpScreen
from tui.screens.viewers import HistoryScreen, InspectScreen


def refs(pane) -> list[str]:
    return [r.obj.ref for r in pane.shown]


def dialog_text(screen) -> str:
    from textual.widgets import Label, Static

    return "\n".join(str(w.render()) for w in screen.query(Static)
                     if isinstance(w, Static | Label))


async def confirm_delete(pilot) -> str:
    """``d`` on the selection: the confirm dialog's text."""
    dialog = await wait_screen(pilot, ConfirmScreen, "the confirm dialog", press="d")
    return dialog_text(dialog)


def test_panes_switch_with_numbers_and_tab(loaded):
    async def go(app, pilot):
        main = app.main
        switcher = app.screen.query_one(ContentSwitcher)
        assert main.current == "images" and switcher.current == "images"
        for key, pane in (("1", "containers"), ("3", "layers"), ("4", "disk"),
                          ("2", "images")):
            await pilot.press(key)
            assert main.current == pane and switcher.current == pane
            # the focused widget is the visible pane's list
            assert app.focused is main.pane(pane).table
        await pilot.press("tab")
        assert main.current == "layers"
        await pilot.press("tab", "tab", "tab")
        assert main.current == "images"
        await pilot.press("shift+tab")
        assert main.current == "containers"
    drive(make_app(loaded), go)


def test_images_pane_shows_the_engine_images(loaded):
    async def go(app, pilot):
        pane = app.main.images_pane
        # newest first, as docker images sorts
        assert refs(pane) == [MUSL_TAG, KANIKO_TAG]
        row = pane.shown[0]
        assert row.cells[2] == MUSL_ID[7:19]
        assert row.cells[3] == "8 months ago"  # the frozen clock
        assert row.cells[4] == "1.51MB"
    drive(make_app(loaded), go)


def test_dangling_image_is_marked_and_filterable(loaded):
    # moving the only tag of busybox to the kaniko image leaves it dangling
    loaded.tag(KANIKO_TAG, MUSL_TAG)

    async def go(app, pilot):
        pane = app.main.images_pane
        dangling = [r for r in pane.shown if r.obj.image.id == MUSL_ID]
        assert len(dangling) == 1
        assert "dangling" in dangling[0].cells[1].plain
        await pilot.press("slash", *"dangling=true")
        assert [r.obj.image.id for r in pane.shown] == [MUSL_ID]
        await pilot.press("enter")
        assert app.focused is pane.table  # enter keeps the filter, back to the list
        assert pane.filter_text == "dangling=true"
        await pilot.press("escape")
        assert pane.filter_text == "" and len(pane.shown) == 3
    drive(make_app(loaded), go)


def test_filter_substring_and_errors(loaded):
    async def go(app, pilot):
        pane = app.main.images_pane
        await pilot.press("slash")
        assert app.focused is pane.query_one(Input)
        await pilot.press(*"kaniko")
        assert refs(pane) == [KANIKO_TAG]
        # keys typed into the box are text, not pane switches or quits
        await pilot.press("1", "q")
        assert app.main.current == "images" and pane.filter_text == "kaniko1q"
        assert pane.shown == []
        assert "match the filter" in pane.empty_text()
        pane.filter_input.value = "reference=busybox*"
        await pilot.pause()
        assert refs(pane) == [MUSL_TAG]
        pane.filter_input.value = "dangling=maybe"
        await pilot.pause()
        assert "Invalid filter" in pane.filter_error
        assert pane.filter_input.has_class("-invalid")
        await pilot.press("escape")
        assert len(pane.shown) == 2 and not pane.filter_input.display
    drive(make_app(loaded), go)


def test_tag_via_the_form(loaded):
    async def go(app, pilot):
        await select_ref(pilot, MUSL_TAG)
        await pilot.press("t")
        assert isinstance(app.screen, TagScreen)
        box = app.screen.query_one(Input)
        assert box.value == "busybox:"  # the repository is suggested
        await pilot.press(*"stable", "enter")
        await wait_for(pilot, lambda: "busybox:stable" in tags(loaded), "the new tag")
        assert loaded.resolve_image("busybox:stable") == MUSL_ID
        # the new row appears and the cursor moves onto it
        await wait_selected(pilot, "busybox:stable", "cursor on new tag")
    drive(make_app(loaded), go)


def test_tag_cancel_changes_nothing(loaded):
    async def go(app, pilot):
        before = tags(loaded)
        await pilot.press("t", *"x", "escape")
        assert not isinstance(app.screen, TagScreen)
        await pilot.pause(0.3)
        assert tags(loaded) == before
    drive(make_app(loaded), go)


def test_bad_tag_shows_the_engine_error(loaded):
    async def go(app, pilot):
        before = tags(loaded)
        await pilot.press("t")
        for bad in ("Bad/UPPER:case", "busybox:", "two words"):
            app.screen.query_one(Input).value = bad
            await pilot.press("enter")
            assert isinstance(app.screen, TagScreen)  # the form stays, and says why
            error = str(app.screen.query_one("#tag-error", Label).render())
            assert "invalid reference format" in error, error
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert tags(loaded) == before
    drive(make_app(loaded), go)


def test_delete_last_tag_deletes_the_image(loaded):
    async def go(app, pilot):
        await select_ref(pilot, KANIKO_TAG)
        text = await confirm_delete(pilot)
        assert f"Delete {KANIKO_TAG}?" in text
        assert "delete image ae16a51058a7" in text and "14 layers" in text
        assert f"Untagged: {KANIKO_TAG}" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: KANIKO_TAG not in tags(loaded), "rmi")
        assert [i.id for i in loaded.images()] == [MUSL_ID]
        pane = app.main.images_pane
        await wait_for(pilot, lambda: refs(pane) == [MUSL_TAG], "the row to go")
    drive(make_app(loaded), go)


def test_delete_one_of_several_tags_only_untags(loaded):
    loaded.tag(MUSL_TAG, "busybox:latest")

    async def go(app, pilot):
        await select_ref(pilot, "busybox:latest")
        text = await confirm_delete(pilot)
        assert "Untag busybox:latest?" in text
        assert f"untag only — image {MUSL_ID[7:19]} keeps {MUSL_TAG}" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: "busybox:latest" not in tags(loaded), "untag")
        assert loaded.resolve_image(MUSL_TAG) == MUSL_ID
    drive(make_app(loaded), go)


def test_delete_cancelled_keeps_everything(loaded):
    async def go(app, pilot):
        await wait_screen(pilot, ConfirmScreen, "dialog", press="d")
        await pilot.press("n")
        await pilot.pause(0.3)
        assert tags(loaded) == {MUSL_TAG, KANIKO_TAG}
    drive(make_app(loaded), go)


def test_marked_rows_are_deleted_together(loaded):
    async def go(app, pilot):
        pane = app.main.images_pane
        await pilot.press("space", "space")  # marks a row and moves down
        assert len(pane.marked) == 2
        assert "Delete 2 images?" in await confirm_delete(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: loaded.images() == [], "both gone")
        await wait_for(pilot, lambda: pane.shown == [], "rows gone")
        assert pane.marked == set()
        assert pane.empty_text().startswith("No images")
    drive(make_app(loaded), go)


def test_escape_clears_marks(loaded):
    async def go(app, pilot):
        await pilot.press("space")
        assert app.main.images_pane.marked
        await pilot.press("escape")
        assert not app.main.images_pane.marked
    drive(make_app(loaded), go)


def test_shift_letter_sorts_by_column(loaded):
    async def go(app, pilot):
        pane = app.main.images_pane
        await pilot.press("R")  # repository, ascending
        assert refs(pane) == [MUSL_TAG, KANIKO_TAG]
        await pilot.press("R")  # again: reversed
        assert refs(pane) == [KANIKO_TAG, MUSL_TAG]
        await pilot.press("S")  # size: biggest first
        assert refs(pane) == [MUSL_TAG, KANIKO_TAG]
        header = pane.table.columns["size"].label
        assert "▼" in header.plain
    drive(make_app(loaded), go)


def test_history_and_inspect_screens(loaded):
    async def go(app, pilot):
        await select_ref(pilot, KANIKO_TAG)
        screen = await wait_screen(pilot, HistoryScreen, "history", press="enter")
        table = screen.query_one(DataTable)
        assert table.row_count == len(loaded.history(KANIKO_TAG)) == 15
        await pilot.press("escape")
        assert app.screen is app.main
        screen = await wait_screen(pilot, InspectScreen, "inspect", press="i")
        assert json.loads(screen.json_text)[0]["Id"] == loaded.resolve_image(KANIKO_TAG)
        await wait_for(pilot, lambda: "sha256:ae16a51058a7" in screen_text(app), "the JSON")
        await pilot.press("escape")
        assert app.screen is app.main
    drive(make_app(loaded), go)


def test_command_palette_runs_noun_verb_entries(loaded):
    async def go(app, pilot):
        titles = [c.title for c in app.get_system_commands(app.main)]
        assert "image: delete" in titles and "pane: layers" in titles
        assert all(": " in t for t in titles)
        await run_command(pilot, "image: inspect")
        await wait_screen(pilot, InspectScreen, "inspect")
        await pilot.press("escape")
        await run_command(pilot, "pane: disk", key="ctrl+p")
        await wait_for(pilot, lambda: app.main.current == "disk", "disk pane")
    drive(make_app(loaded), go)


def test_help_lists_every_key(loaded):
    async def go(app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        listed = {str(table.get_row_at(i)[3]) for i in range(table.row_count)}
        ids = {b.id for _, bs in app.key_sections() for b in bs if b.id}
        assert ids <= listed
        assert {"image.delete", "image.tag", "pane.layers", "list.filter",
                "images.sort.size"} <= ids
        await pilot.press("escape")
        assert app.screen is app.main
    drive(make_app(loaded), go)


def test_layers_pane_follows_the_selected_image(engine, tmp_path):
    from tests.tui.conftest import SHARED_TAGS, load_fixtures

    load_fixtures(engine, tmp_path, shared=True)

    async def go(app, pilot):
        await select_ref(pilot, KANIKO_TAG)
        await pilot.press("3")
        layers = app.main.layers_pane
        await wait_for(pilot, lambda: len(layers.shown) == 15, "kaniko's 15 steps")
        empty = [r for r in layers.shown if r.obj.empty_layer]
        assert len(empty) == 1 and "dim" in str(empty[0].cells[1].style)
        assert layers.shown[1].cells[1].plain == 'CMD ["sh"]'
        await pilot.press("2")
        await select_ref(pilot, SHARED_TAGS[0])
        await pilot.press("3")
        await wait_for(pilot, lambda: len(layers.shown) == 2, "the shared image")
        base, top = layers.shown
        assert base.cells[3].plain.endswith("2 images")
        assert top.cells[3].plain.endswith("1 image")
    drive(make_app(engine), go)


def test_layers_pane_shows_efficiency_and_waste(loaded):
    async def go(app, pilot):
        await select_ref(pilot, KANIKO_TAG)
        await pilot.press("3")
        layers = app.main.layers_pane
        await wait_for(pilot, lambda: layers.analysis is not None, "the analysis")
        want = loaded.image_analyze(KANIKO_TAG)
        got = layers.analysis
        assert (got.dive.efficiency, got.dive.wasted_bytes, got.reclaimable_bytes) == (
            want.dive.efficiency, want.dive.wasted_bytes, want.reclaimable_bytes)
        assert want.reclaimable_bytes > 0
        text = screen_text(app)
        assert f"Efficiency {want.dive.efficiency * 100:.1f}%" in text
        worst = max(want.by_step, key=lambda s: s.bytes)
        assert f"#{worst.step} " in text
    drive(make_app(loaded), go)


def test_containers_and_disk_panes(loaded):
    async def go(app, pilot):
        await pilot.press("1")
        pane = app.main.containers_pane
        assert pane.shown == [] and pane.empty_text() == "No containers — press n to run one"
        assert [c.key for _, c in pane.visible_columns()] == [  # 80 wide: no ID, no ports
            "name", "image", "status", "cpu", "memory", "size"]
        await pilot.press("4")
        disk = app.main.disk_pane
        await wait_for(pilot, lambda: len(disk.shown) == 2, "disk rows")
        df = disk.usage.df
        assert df.categories == loaded.disk_usage().categories
        assert {u.unique_size for u in df.images} == {u.size for u in df.images}
        assert "Local Volumes" in screen_text(app)
    drive(make_app(loaded), go)


def test_live_updates_from_another_process(loaded, root):
    """A tag made by the CLI in another process shows up through the
    engine's event log, and the cursor stays on its row."""
    from tests.conftest import dockyard

    async def go(app, pilot):
        pane = app.main.images_pane
        await select_ref(pilot, KANIKO_TAG)
        dockyard(root, "tag", MUSL_TAG, "aaa/first:1")
        await wait_for(pilot, lambda: "aaa/first:1" in refs(pane), "the CLI's tag",
                       timeout=5)
        assert pane.current_ref().ref == KANIKO_TAG
        assert app.screen.query_one("#status-header").render()
    drive(make_app(loaded), go)


def test_worker_messages_via_message_hook(loaded):
    from tui.state import LayersLoaded, StateLoaded

    seen: list = []

    async def go(app, pilot):
        await pilot.press("3")
        await wait_for(pilot, lambda: any(isinstance(m, LayersLoaded) for m in seen),
                       "layers")
    drive(make_app(loaded), go, message_hook=seen.append)
    states = [m for m in seen if isinstance(m, StateLoaded)]
    assert states and len(states[0].state.images) == 2
    layers = next(m for m in seen if isinstance(m, LayersLoaded))
    assert layers.image_id == MUSL_ID and layers.total_images == 2


def test_mouse_click_on_a_tab_switches_pane(loaded):
    async def go(app, pilot):
        x = screen_text(app).splitlines()[1].index("4 Disk")
        await pilot.click("#pane-tabs", offset=(x, 0))
        await wait_for(pilot, lambda: app.main.current == "disk", "disk pane")
    drive(make_app(loaded), go)


def test_live_loop_errors_become_one_dialog(loaded, monkeypatch):
    from engine.errors import Unavailable

    calls = []

    def broken(last_id, **kw):
        calls.append(last_id)
        raise Unavailable("database is locked")

    async def go(app, pilot):
        monkeypatch.setattr(loaded, "events_after", broken)
        screen = await wait_screen(pilot, ErrorScreen, "the error dialog")
        assert screen.message == "database is locked"
        await wait_for(pilot, lambda: len(calls) > 3, "more polls")
        errors = [s for s in app.screen_stack if isinstance(s, ErrorScreen)]
        assert len(errors) == 1  # reported once, the loop keeps trying
    drive(make_app(loaded), go)
