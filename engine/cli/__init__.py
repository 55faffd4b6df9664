"""``dockyard`` — the Docker-compatible command line over the engine.

One module per noun (image, system); Docker's top-level aliases (``images``,
``rmi``, ``load`` …) share the same functions.  No arguments opens the TUI.
Errors: an :class:`~engine.errors.EngineError` prints ``Error: <one line>``
and exits with its ``exit_code``; a usage error exits 125 as Docker's does.
"""

from __future__ import annotations

import os
import sys

import click

from ..errors import EngineError
from ..store import default_root

NO_ROOT_NEEDED = {"version", "login", "logout", None}


class Group(click.Group):
    """A click group that turns engine and usage errors into one line."""

    def main(self, *args, **kwargs):  # noqa: ANN002, ANN003
        kwargs.setdefault("standalone_mode", False)
        try:
            rv = super().main(*args, **kwargs)
            if isinstance(rv, int):
                sys.exit(rv)
            return rv
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(130)
        except click.UsageError as e:
            cmd = e.ctx.command_path if e.ctx else "dockyard"
            sys.stderr.write(f"{cmd}: {e.format_message()}\nSee '{cmd} --help'.\n")
            sys.exit(125)
        except click.ClickException as e:
            sys.stderr.write(f"Error: {e.format_message()}\n")
            sys.exit(e.exit_code)
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


@click.group(cls=Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="DOCKYARD_ROOT", default=default_root, show_default=True,
              help="State root (or DOCKYARD_ROOT).")
@click.pass_context
def main(ctx: click.Context, root: str) -> None:
    """Manage images and containers; with no command, open the TUI."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root
    if ctx.invoked_subcommand not in NO_ROOT_NEEDED and os.geteuid() != 0:
        raise click.ClickException(
            "dockyard must run as root: the engine mounts overlay filesystems and "
            "creates namespaces (try: sudo dockyard)")
    if ctx.invoked_subcommand is None:
        from ..tui_entry import open_tui

        open_tui(root)


def engine_of(ctx: click.Context):
    """The Engine for this invocation, opened on first use."""
    from .. import Engine

    obj = ctx.find_root().obj
    if "engine" not in obj:
        obj["engine"] = Engine(obj["root"])
        ctx.call_on_close(obj["engine"].close)
    return obj["engine"]


from . import (  # noqa: E402
    analyze,
    build,
    container,
    container_more,
    image,
    network,
    registry,
    system,
    usage,
    volume,
)

image.register(main)
analyze.register(main)  # after image: adds `image analyze/layers/tree`
build.register(main)  # after image: adds `image build`
registry.register(main)
container.register(main)  # after image: its top-level `inspect` covers both
container_more.register(main)  # after container: joins its `container` group
volume.register(main)  # before usage, which adds `volume prune`
system.register(main)
network.register(main)  # after system and container: joins their groups
usage.register(main)  # last: adds `prune` and `df` to the noun groups

__all__ = ["main"]
