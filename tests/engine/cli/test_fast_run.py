"""``dockyard run``/``create`` through the console script, without click.

The fast path (engine/cli/runcmd.py) must do what the click commands do —
same output, exit codes and one-line errors — and must not import click.
Each failure is run both ways (the console script, and the click group
called directly) and the two must print the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, dockyard

IMAGE = "busybox:1.37.0-musl"
CONSOLE = Path(sys.executable).with_name("dockyard")
# the click group, called as the console script called it before the fast path
VIA_CLICK = "import sys; from engine.cli.group import main; sys.exit(main(prog_name='dockyard'))"


class Ran:
    def __init__(self, r: subprocess.CompletedProcess) -> None:
        lines = r.stderr.decode(errors="replace").splitlines(keepends=True)
        self.code = r.returncode
        self.out = r.stdout.decode(errors="replace")
        self.err = "".join(ln for ln in lines if not ln.startswith("import time:"))
        self.modules = {ln.rsplit("|", 1)[1].strip() for ln in lines
                        if ln.startswith("import time:") and "|" in ln}

    @property
    def used_click(self) -> bool:
        return any(m == "click" or m.startswith("click.") for m in self.modules)


def cli(*args: str, via_click: bool = False, env: dict | None = None,
        user: tuple[str, ...] = ()) -> Ran:
    """The console script (or the click group) in a subprocess, with
    ``-X importtime`` so the test sees what it imported."""
    entry = ["-c", VIA_CLICK] if via_click else [str(CONSOLE)]
    r = subprocess.run([*user, sys.executable, "-X", "importtime", *entry, *args],
                       capture_output=True, cwd=REPO, timeout=120,
                       env={**os.environ, **(env or {})})
    ran = Ran(r)
    assert ran.modules, "no -X importtime output"
    return ran


def test_run_rm_prints_the_output_without_click(croot) -> None:
    r = cli("--root", str(croot), "run", "--rm", "--network", "none", IMAGE,
            "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.code, r.out) == (3, "out\n"), r.err
    assert "err\n" in r.err
    assert not r.used_click
    assert "engine.cli.runcmd" in r.modules
    assert dockyard(croot, "ps", "-aq").stdout == b""  # --rm removed it


def test_run_true_exits_0(croot) -> None:
    r = cli("--root", str(croot), "run", "--rm", "--network", "none", IMAGE, "true")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert not r.used_click


def test_container_create_and_run_detached_print_the_id(croot) -> None:
    r = cli(f"--root={croot}", "container", "create", "--name", "made", "--network=none",
            "-eGREETING=hi", IMAGE, "sh", "-c", "echo $GREETING")
    assert r.code == 0, r.err
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.out) and not r.used_click
    assert dockyard(croot, "start", "-a", "made").stdout == b"hi\n"
    r = cli("--root", str(croot), "run", "-dit", "--network", "none", IMAGE, "sleep", "100")
    assert r.code == 0, r.err
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.out) and not r.used_click
    state = dockyard(croot, "inspect", "-f", "{{.State.Status}} {{.Config.Tty}}",
                     r.out.strip()).stdout
    assert state == b"running true\n"


def test_the_root_comes_from_dockyard_root(croot) -> None:
    r = cli("run", "--rm", "--network", "none", IMAGE, "echo", "there",
            env={"DOCKYARD_ROOT": str(croot)})
    assert (r.code, r.out) == (0, "there\n"), r.err
    assert not r.used_click


@pytest.mark.parametrize("args", [
    ("run", "--rm", "--network", "none", "nope:1"),                # no such image: 125
    ("create", "nope:1"),
    ("run", "--rm", "--log-opt", "colour=red", IMAGE),             # invalid argument
    ("run", "--rm", "--network", "none", "--memory", "lots", IMAGE),
    ("run", "--network", "none", "--name", "taken", IMAGE, "true"),  # name conflict
    ("run", "--rm", "--network", "none", IMAGE, "/no/such/binary"),  # start failed: 127
    ("run", "--rm", "--network", "none", "--env-file", "/no/such/file", IMAGE),
], ids=lambda a: " ".join(a))
def test_errors_read_as_the_group_prints_them(croot, args) -> None:
    dockyard(croot, "create", "--name", "taken", "--network", "none", IMAGE)
    fast = cli("--root", str(croot), *args)
    slow = cli("--root", str(croot), *args, via_click=True)
    assert not fast.used_click and slow.used_click
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err)
    assert fast.code != 0 and fast.err.startswith("Error: ") and fast.err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ("run", "--help"), ("run",), ("run", "--bogus", IMAGE), ("run", "--cpus", "x", IMAGE),
    ("container", "run", "--rm=yes", IMAGE), ("create", "--name"),
], ids=lambda a: " ".join(a))
def test_what_the_fast_parser_refuses_goes_to_click(croot, args) -> None:
    fast = cli("--root", str(croot), *args)
    slow = cli("--root", str(croot), *args, via_click=True)
    assert fast.used_click
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err)
    assert fast.code in (0, 125)


def test_non_root_gets_the_groups_line(root) -> None:
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    fast = cli("--root", str(root), "run", "--rm", IMAGE, user=nobody)
    slow = cli("--root", str(root), "run", "--rm", IMAGE, user=nobody, via_click=True)
    assert not fast.used_click
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err)
    assert fast.code == 1 and "must run as root" in fast.err and fast.err.count("\n") == 1
