"""Keys are data: the config file remaps bindings by id, sets the refresh
interval and the theme, and never stops the TUI from starting."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.conftest import drive, make_app, screen_text, wait_screen
from tui.config import Config, config_path, load_config
from tui.screens.dialogs import ConfirmScreen
from tui.screens.help import HelpScreen

CONFIG = """
refresh_interval = 1.5
theme = "textual-light"

[keys]
"image.delete" = "x"
"pane.layers" = "L,f3"
"""


def test_missing_file_gives_defaults(tmp_path):
    cfg = load_config(tmp_path / "nope.toml")
    assert cfg == Config()


def test_file_is_read(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text(CONFIG)
    cfg = load_config(p)
    assert cfg.keys == {"image.delete": "x", "pane.layers": "L,f3"}
    assert cfg.refresh_interval == 1.5 and cfg.theme == "textual-light"
    assert cfg.warnings == ()


def test_bad_values_warn_and_keep_defaults(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('refresh_interval = "soon"\ntheme = 3\ncolour = "red"\n'
                 '[keys]\n"image.tag" = 5\n"image.history" = ["h", "f5"]\n')
    cfg = load_config(p)
    assert cfg.refresh_interval == 2.0 and cfg.theme is None
    assert cfg.keys == {"image.history": "h,f5"}
    text = "\n".join(cfg.warnings)
    assert "refresh_interval" in text and "theme" in text and "colour" in text
    assert "keys.image.tag" in text


def test_broken_toml_is_a_warning(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("[keys\n")
    cfg = load_config(p)
    assert cfg.keys == {} and len(cfg.warnings) == 1


def test_config_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "x.toml"))
    assert config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("DOCKYARD_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "dockyard" / "config.toml"


def test_remapped_keys_work_in_the_app(loaded, tmp_path, monkeypatch):
    p = tmp_path / "config.toml"
    p.write_text(CONFIG + '"no.such.binding" = "z"\n')
    monkeypatch.setenv("DOCKYARD_CONFIG", str(p))

    async def go(app, pilot):
        assert app.theme == "textual-light"
        assert app.refresh_interval == 1.5
        assert any("no.such.binding" in n.message for n in app._notifications)
        await pilot.press("d")  # no longer delete
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_screen(pilot, ConfirmScreen, "dialog", press="x")  # the new delete key
        await pilot.press("n")
        assert len(loaded.images()) == 2  # cancelled
        await pilot.press("3")  # the old key does nothing now
        assert app.main.current == "images"
        await pilot.press("L")
        assert app.main.current == "layers"
        await pilot.press("2", "f3")
        assert app.main.current == "layers"
        await pilot.pause()
        assert " L Layers" in screen_text(app)  # the tab line shows the new key
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[3]): str(table.get_row_at(i)[1])
                for i in range(table.row_count)}
        assert rows["image.delete"] == "x"
        assert rows["pane.layers"] == "L, f3"
    drive(make_app(loaded, config=load_config()), go)
