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


def _starts_container(argv: list[str]) -> bool:
    """Whether this command line starts a container (so a monitor should boot)."""
    words = iter(argv or ())
    for word in words:
        if word == "--root":
            next(words, None)
        elif not word.startswith("-"):
            return word in STARTING or (word == "container" and next(words, "") in STARTING)
    return False


def main(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """The console script.  A command that will start a container boots its
    monitor first (runtime/launcher.py): that interpreter starts on the other
    core while this one imports click and the command modules."""
    if _starts_container(kwargs.get("args") or sys.argv[1:]):
        from ..runtime import launcher

        launcher.standby()
    from .group import main as group

    return group(*args, **kwargs)
