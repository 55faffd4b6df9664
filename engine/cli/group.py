"""The top-level ``dockyard`` group: global options, errors, lazy commands.

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
    """The top-level group: loads command modules on demand (see ``NEEDS``) and
    turns engine and usage errors into one line."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        _load(NEEDS.get(cmd_name, MODULES))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load()
        return super().list_commands(ctx)

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


# Command modules, in the order they must register: later ones join groups
# that earlier ones create.  They are imported on demand — `run` does not
# pay for the registry client or the builder.
MODULES = ("image", "analyze", "build", "registry", "container", "container_more",
           "volume", "system", "network", "usage")
_CONTAINER = ("container",)
NEEDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("run", "create", "start", "stop", "restart", "kill", "pause", "unpause",
                     "rm", "wait", "rename", "logs", "ps"), _CONTAINER),
    **dict.fromkeys(("exec", "top", "stats", "diff", "commit", "export", "cp", "attach"),
                    ("container", "container_more")),
    **dict.fromkeys(("images", "tag", "rmi", "history", "load", "save", "import"), ("image",)),
    "inspect": ("image", "container"),
    **dict.fromkeys(("pull", "push", "login", "logout"), ("image", "registry")),
    "build": ("image", "build"),
    **dict.fromkeys(("info", "version", "events"), ("system",)),
    "port": ("container", "network"),
}
_registered: list[str] = []


def _load(names: tuple[str, ...] = MODULES) -> None:
    import importlib

    for name in MODULES:
        if name in names and name not in _registered:
            importlib.import_module(f"{__package__}.{name}").register(main)
            _registered.append(name)


__all__ = ["engine_of", "main"]
