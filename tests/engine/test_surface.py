"""The engine's public surface and its promises about imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import engine
from tests.conftest import REPO


def test_engine_never_imports_textual() -> None:
    code = ("import sys, engine, engine.cli, engine.archive.load, engine.archive.save, "
            "engine.store.check; print('textual' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_all_names_exist() -> None:
    for name in engine.__all__:
        assert hasattr(engine, name), name
    assert sorted(engine.__all__) == sorted(set(engine.__all__))


def test_every_error_is_one_engine_error_tree() -> None:
    from engine import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.EngineError)
        assert name in (errors.__doc__ or ""), f"{name} missing from the drawn tree"


def test_skips_fail_under_ci(tmp_path) -> None:
    (tmp_path / "conftest.py").write_text(
        (REPO / "tests" / "conftest.py").read_text().split("@pytest.fixture")[0]
        .replace("REPO = Path(__file__).resolve().parents[1]", f"REPO = Path({str(REPO)!r})"))
    (tmp_path / "test_x.py").write_text(textwrap.dedent("""
        import pytest
        def test_skipped():
            pytest.skip("no tool")
    """))
    env = {**os.environ, "CI": "true"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert "1 failed" in r.stdout
    env["CI"] = ""
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0 and "1 skipped" in r.stdout


def test_the_monitor_is_stdlib_only() -> None:
    """The monitor boots as ``python -I -S`` with only engine/runtime on its path
    (launcher.py): it must import nothing else, and stay small."""
    here = REPO / "engine" / "runtime"
    code = (f"import sys; sys.path.insert(0, {str(here)!r}); import monitor; "
            "print('\\n'.join(sorted(m for m in sys.modules)))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                       text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert {"monitor", "attachserver", "jsonlog", "portproxy", "runtimecalls", "procfs"} <= loaded
    assert not {m for m in loaded if m.split(".")[0] in ("engine", "click", "pyroute2",
                                                          "textual", "httpx")}


def test_the_entry_point_imports_almost_nothing() -> None:
    """`dockyard run` boots the monitor before the CLI loads (cli/__init__.py):
    what comes before it — `engine`, `engine.cli` and the launcher — must stay
    cheap (`typing` and `dataclasses` alone would delay it by ~15 ms)."""
    code = ("import sys; import engine.cli, engine.runtime.launcher; "
            "print('\\n'.join(sorted(m for m in sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    heavy = {"click", "sqlite3", "dataclasses", "json", "engine.api", "engine.store",
             "subprocess", "typing", "signal", "engine.runtime.summary"}
    assert loaded.isdisjoint(heavy), loaded & heavy


def test_run_and_create_need_no_click() -> None:
    """`dockyard run`/`create` go without click (cli/runcmd.py): the modules
    they use must not import it, even after running a parse."""
    code = ("import sys; import engine.cli.runcmd, engine.cli.handler; "
            "from engine.cli.runflags import parse_command_line as p; "
            "assert p(['--root=/x', 'container', 'run', '-it', 'busybox', 'sh'])[1] == 'run'; "
            "print('click' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
