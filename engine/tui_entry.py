"""Open the TUI without making the engine import Textual.

The engine must never import ``textual`` (a test checks it); the TUI lives
in the ``tui`` package and is imported only here, only when asked for.
"""

from __future__ import annotations


def open_tui(root: str) -> None:
    try:
        from tui.app import run
    except ImportError:
        # no TUI installed yet: show what the Images pane would
        import subprocess
        import sys

        subprocess.run([sys.executable, "-m", "engine", "--root", root, "images"], check=False)
        return
    run(root)
