"""A real terminal for the TUI benchmark: a tmux server of our own."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import REPO

__all__ = ["Term", "out"]


def out(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout.strip()


class Term:
    """One tmux server of our own; each ``start`` is a fresh session running ``cmd``."""

    def __init__(self, size: tuple[int, int], env: dict[str, str]) -> None:
        self.socket, self.size, self.env = f"dockyard-bench-tui-{os.getpid()}", size, env

    def __call__(self, *args: str) -> str:
        return out(["tmux", "-L", self.socket, *args])

    def start(self, cmd: list[str]) -> float:
        line = " ".join(["exec", "env", *(f"{k}={v}" for k, v in self.env.items()), *cmd])
        t = time.time()  # wall clock: the probe's marks are compared with it
        self("new-session", "-d", "-s", "dy", "-x", str(self.size[0]), "-y", str(self.size[1]),
             "-c", str(REPO), line)
        return t

    def pid(self) -> int:
        return int(self("display-message", "-p", "-t", "dy", "#{pane_pid}"))

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "dy")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "dy", *keys)

    def wait(self, ok: Callable[[str], bool], what: str, timeout: float = 60.0) -> float:
        deadline = time.time() + timeout
        while True:
            screen = self.screen()
            if ok(screen):
                return time.time()
            if time.time() > deadline:
                raise SystemExit(f"{what} never showed; the screen was:\n{screen}")
            time.sleep(0.02)

    def quit(self) -> None:
        self.keys("q")
        deadline = time.monotonic() + 15
        while subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "dy"],
                             capture_output=True).returncode == 0:
            if time.monotonic() > deadline:
                self("kill-session", "-t", "dy")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the server and remove its socket (kill-server leaves the file)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        Path(tmpdir, f"tmux-{os.getuid()}", self.socket).unlink(missing_ok=True)
