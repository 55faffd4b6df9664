"""The top-level ``dockyard`` group: global options, errors, lazy commands.

Errors: an :class:`~engine.errors.EngineError` prints ``Error: <one line>``
and exits with its ``exit_code`` (:func:`.handler.one_line_errors`, shared
with the click-free ``run``/``create`` in ``runcmd.py``); a usage error
exits 125 as Docker's does.
"""

from __future__ import annotations

import sys

import click

from ..store import default_root
from .handler import one_line_errors, root_problem


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
        with one_line_errors():
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


@click.group(cls=Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="DOCKYARD_ROOT", default=default_root, show_default=True,
              help="State root (or DOCKYARD_ROOT).")
@click.pass_context
def main(ctx: click.Context, root: str) -> None:
    """Manage images and containers; with no command, open the TUI."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root
    problem = root_problem(ctx.invoked_subcommand)
    if problem:
        raise click.ClickException(problem)
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
