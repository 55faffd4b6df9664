"""``dockyard`` — the Docker-compatible command line over the engine.

One module per noun (image, container, system …); Docker's top-level aliases
(``images``, ``rmi``, ``run`` …) share the same functions.  No arguments
opens the TUI.  The group itself is in :mod:`.group`; this module is only
the entry point, kept light on purpose (see :func:`main`).
"""

from __future__ import annotations

import sys

__all__ = ["main"]

STARTING = {"run", "start", "restart"}
CLICK_FREE = {"run", "create"}  # runcmd.py runs these without importing click


def _command(argv: list[str]) -> str | None:
    """The command word of this command line (``container run`` is ``run``)."""
    words = iter(argv)
    for word in words:
        if word == "--root":
            next(words, None)
        elif not word.startswith("-"):
            return next(words, None) if word == "container" else word
    return None


def main(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """The console script.  A command that will start a container boots its
    monitor first (runtime/launcher.py): that interpreter starts on the other
    core while this one parses the command line.  ``run`` and ``create`` then
    go without click when runflags.py understands their flags (runcmd.py);
    everything else, and every usage error, goes to the click group."""
    argv = args[0] if args else kwargs.get("args")
    if argv is None:
        argv = sys.argv[1:]
    command = _command(argv)
    if command in STARTING:
        from ..runtime import launcher

        launcher.standby()
    if command in CLICK_FREE:
        from .runcmd import fast_main

        if fast_main(argv):
            return None
    from .group import main as group

    return group(*args, **kwargs)
