"""End to end in a real terminal: tmux runs ``dockyard``, keys go in with
send-keys, capture-pane shows the screen, and the engine state proves it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, dockyard, need_tool
from tests.tui.conftest import KANIKO_TAG, MUSL_TAG


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "dy")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "dy", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "dy"],
                              capture_output=True).returncode == 0


def dockyard_command() -> list[str]:
    script = Path(sys.executable).parent / "dockyard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine"]


@pytest.fixture
def terminal() -> None:
    """Skips unless tmux is installed and we are root (dockyard runs as root)."""
    need_tool("tmux")
    if os.geteuid() != 0:
        pytest.skip("dockyard runs as root")


@contextmanager
def dockyard_in_tmux(root: Path, tmp_path: Path, name: str) -> Iterator[Tmux]:
    """``dockyard`` on ``root`` in a 100×30 tmux session of its own (socket
    ``dockyard-NAME-PID``), once the first state is on screen; the tmux
    server is killed afterwards."""
    home = tmp_path / "home"
    home.mkdir()
    tmux = Tmux(f"dockyard-{name}-{os.getpid()}")
    env = {"DOCKYARD_ROOT": str(root), "HOME": str(home), "TERM": "xterm-256color",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    cmd = " ".join([*(f"{k}={v}" for k, v in env.items()), *dockyard_command()])
    tmux("new-session", "-d", "-s", "dy", "-x", "100", "-y", "30", "-c", str(REPO), cmd)
    try:
        tmux.wait_for(KANIKO_TAG.split(":")[0])
        yield tmux
    finally:
        if shutil.which("tmux"):
            subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)


@pytest.mark.slow
def test_delete_an_image_in_a_real_terminal(terminal, loaded, root, tmp_path):
    with dockyard_in_tmux(root, tmp_path, "test") as tmux:
        # the panes
        tmux.keys("1")
        tmux.wait_for("No containers — press n to run one")
        tmux.keys("3")
        tmux.wait_for("BusyBox 1.37.0 (musl)")  # the selected image's layer
        tmux.keys("2")
        tmux.wait_for("Images  2 images")
        # filter down to the kaniko image, then delete it with the dialog;
        # wait for each screen like a person would (keys sent in one burst
        # reach the widget focused before the burst)
        tmux.keys("/")
        tmux.wait_for("filter: text")
        tmux.keys("-l", "kaniko")
        tmux.wait_for("filter kaniko")
        tmux.keys("Enter")
        tmux.wait_for("d delete")  # the footer: focus is back on the list
        screen = tmux.wait_for("1 of 2 images")
        assert "busybox" not in screen.split("Repository", 1)[1]
        tmux.keys("d")
        screen = tmux.wait_for(f"Delete {KANIKO_TAG}?")
        assert "delete image ae16a51058a7" in screen and "14 layers" in screen
        tmux.keys("y")
        tmux.wait_for("No images match the filter")
        assert [t for i in loaded.images() for t in i.repo_tags] == [MUSL_TAG]
        tmux.keys("Escape")
        screen = tmux.wait_for("1 image, 1 row")
        assert "1.37.0-musl" in screen and "dive-test" not in screen
        tmux.keys("q")
        deadline = time.monotonic() + 10
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive(), "q did not quit dockyard"


@pytest.mark.slow
def test_exec_stop_and_commit_a_container_in_a_real_terminal(terminal, loaded, root,
                                                             tmp_path):
    """``e`` hands the terminal to ``dockyard exec -it ID sh`` and comes
    back; ``s`` stops the container; ``c`` commits it."""
    loop = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
    cid = dockyard(root, "run", "-d", "--name", "web", "--network", "none", MUSL_TAG,
                   "sh", "-c", loop).stdout.decode().strip()
    try:
        with dockyard_in_tmux(root, tmp_path, "exec") as tmux:
            tmux.keys("1")
            tmux.wait_for("Up ")
            tmux.keys("e")
            tmux.wait_for("/ #")  # busybox sh, in the container
            tmux.keys("-l", "echo from-exec > /tmp/mark; exit")
            tmux.keys("Enter")
            tmux.wait_for("Containers  1 container")  # back in the TUI
            assert any(c.path == "/tmp/mark" for c in loaded.diff(cid))
            tmux.keys("s")
            tmux.wait_for("Exited (0)")
            assert loaded.containers()[0].state == "exited"
            tmux.keys("c")
            tmux.wait_for("Commit web")
            tmux.keys("-l", "snap:exec")
            tmux.wait_for("snap:exec")
            tmux.keys("Enter")  # on to the message, as a person would: then Enter again
            time.sleep(0.5)
            tmux.keys("-l", "via tmux")
            tmux.wait_for("via tmux")
            tmux.keys("Enter")
            deadline = time.monotonic() + 10
            while "snap:exec" not in {t for i in loaded.images() for t in i.repo_tags}:
                assert time.monotonic() < deadline, f"no commit; the screen:\n{tmux.screen()}"
                time.sleep(0.1)
            tmux.wait_for("Images")
            tmux.keys("q")
    finally:
        dockyard(root, "rm", "-f", cid, check=False)


@pytest.mark.slow
def test_attach_detach_and_exit_in_a_real_terminal(terminal, loaded, root, tmp_path):
    """``a`` hands the terminal to ``dockyard attach`` on a ``-it`` container:
    what we type reaches its shell, ctrl-p ctrl-q detaches back to the TUI
    with the container still running; ``exit`` ends it and comes back too."""
    cid = dockyard(root, "run", "-dit", "--name", "box", "--network", "none", MUSL_TAG,
                   "sh").stdout.decode().strip()

    def state() -> str:
        return next(c.state for c in loaded.containers() if c.id == cid)

    try:
        with dockyard_in_tmux(root, tmp_path, "attach") as tmux:
            tmux.keys("1")
            tmux.wait_for("Up ")
            tmux.keys("a")
            tmux.wait_for("attached to box: ctrl-p ctrl-q detaches")
            tmux.keys("Enter")  # sh printed its prompt before we attached: ask again
            tmux.wait_for("/ #")
            tmux.keys("-l", "echo attached > /tmp/mark; echo $((6*7))")
            tmux.keys("Enter")
            screen = tmux.wait_for("\n42")
            assert "echo attached > /tmp/mark" in screen
            tmux.keys("C-p", "C-q")  # detach: back in the TUI, the container runs on
            tmux.wait_for("Containers  1 container")
            tmux.wait_for("Up ")
            assert state() == "running"
            assert any(c.path == "/tmp/mark" for c in loaded.diff(cid))
            # attach again and end the shell: the TUI comes back, the container exited
            tmux.keys("a")
            tmux.wait_for("attached to box")
            tmux.keys("-l", "exit 3")
            tmux.keys("Enter")
            tmux.wait_for("Exited (3)")
            assert state() == "exited" and loaded.containers()[0].exit_code == 3
            tmux.keys("q")
    finally:
        dockyard(root, "rm", "-f", cid, check=False)
