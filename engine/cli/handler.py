"""How a command's failure reaches the user, shared by the click group
(``group.py``) and the click-free ``run``/``create`` (``runcmd.py``).

:func:`one_line_errors` turns what escapes a command into one line on
stderr and an exit code: an :class:`~engine.errors.EngineError` prints
``Error: <one line>`` and exits with its ``exit_code``; an ``OSError``
names its file; a bug prints its type (``DOCKYARD_DEBUG=1`` re-raises it
for the traceback).  Click's own exceptions (usage errors, ``Abort``) stay
in ``Group.main``: this module does not import click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import EngineError

__all__ = ["NO_ROOT_NEEDED", "one_line_errors", "root_problem"]

NO_ROOT_NEEDED = {"version", "login", "logout", None}


def root_problem(command: str | None) -> str | None:
    """Why ``command`` cannot run in this process (it needs root), or None."""
    if command not in NO_ROOT_NEEDED and os.geteuid() != 0:
        return ("dockyard must run as root: the engine mounts overlay filesystems and "
                "creates namespaces (try: sudo dockyard)")
    return None


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Run the body; whatever it raises (but ``SystemExit``) becomes one line
    on stderr and ``sys.exit`` with the matching code."""
    try:
        yield
    except EngineError as e:
        sys.stderr.write(f"Error: {e}\n")
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        sys.exit(130)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"Error: {where}{e.strerror or e}\n")
        sys.exit(1)
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get("DOCKYARD_DEBUG"):
            raise
        sys.stderr.write(f"Error: internal error: {type(e).__name__}: {e} "
                         "(set DOCKYARD_DEBUG=1 for a traceback)\n")
        sys.exit(1)
