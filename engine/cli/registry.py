"""``dockyard pull | push | login | logout`` (and ``image pull | push``).

Progress is drawn the way Docker's CLI draws a JSON message stream: on a
terminal, one line per layer updated in place with a bar (rich); otherwise
one line per status change and no byte counts, so logs stay readable.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

import click

from ..errors import InvalidArgument
from ..progress import Progress
from . import output

PROGRESS_STATUSES = {"Downloading", "Extracting", "Pushing"}
BAR_WIDTH = 50


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _bar(p: Progress) -> str:
    """Docker's ``[=====>      ]  1.2MB/3.4MB``."""
    if p.total <= 0:
        return f"{p.status} {output.size_text(p.current)}"
    done = min(p.current, p.total)
    filled = int(BAR_WIDTH * done / p.total)
    arrow = ">" if filled < BAR_WIDTH else ""
    bar = "=" * filled + arrow + " " * (BAR_WIDTH - filled - len(arrow))
    return (f"{p.status} [{bar}] {output.size_text(done):>8}/"
            f"{output.size_text(p.total)}")


class Renderer:
    """A ``progress=`` callback that prints what Docker's CLI would."""

    def __init__(self, *, quiet: bool = False, tty: bool | None = None) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.lines: dict[str, str] = {}  # id (or a unique key for id-less lines) → text
        self.lock = threading.Lock()
        self.live: Any = None  # a rich Live on a terminal

    def __enter__(self) -> Renderer:
        if self.tty and not self.quiet:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(highlight=False), refresh_per_second=8,
                             get_renderable=self._render, transient=False)
            self.live.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()

    def _render(self):
        from rich.text import Text

        with self.lock:
            return Text("\n".join(self.lines.values()))

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        with self.lock:
            if self.live is None:
                if p.status in PROGRESS_STATUSES:
                    return
                click.echo(f"{p.id}: {p.status}" if p.id else p.status)
                return
            text = _bar(p) if p.status in PROGRESS_STATUSES else p.status
            key = p.id or f"\0{len(self.lines)}"
            self.lines[key] = f"{p.id}: {text}" if p.id else text


def _tls_option(fn):
    return click.option(
        "--tls-verify", type=click.BOOL, default=True, show_default=True,
        help="Require HTTPS with a verified certificate (loopback registries use HTTP)")(fn)


@click.command("pull")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the "
              "repository")
@click.option("--platform", help="Set platform if server is multi-platform capable")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@_tls_option
def pull_cmd(name, all_tags, platform, quiet, tls_verify):
    """Download an image from a registry."""
    from ..images.reference import parse, parse_platform
    from ..registry import pull

    eng = _engine()
    ref = parse(name)
    plat = parse_platform(platform) if platform else None
    if not all_tags and not ref.tag and not ref.digest and not quiet:
        click.echo("Using default tag: latest")
    with Renderer(quiet=quiet) as show:
        res = pull(eng.store, eng.snapshots, eng.image_store, ref, platform=plat,
                   all_tags=all_tags, tls_verify=tls_verify, progress=show)
    click.echo(res.reference)


@click.command("push")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tags of an image to the "
              "repository")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@_tls_option
def push_cmd(name, all_tags, quiet, tls_verify):
    """Upload an image to a registry."""
    from ..images.reference import parse
    from ..registry import push

    eng = _engine()
    ref = parse(name)
    if not all_tags and not ref.tag and not ref.digest and not quiet:
        click.echo("Using default tag: latest")
    with Renderer(quiet=quiet) as show:
        push(eng.store, eng.snapshots, eng.image_store, ref, all_tags=all_tags,
             tls_verify=tls_verify, progress=show)
    if quiet:
        click.echo(str(ref if all_tags else ref.tagged_or_latest()))


@click.command("login")
@click.argument("server", required=False)
@click.option("-u", "--username", help="Username")
@click.option("-p", "--password", help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@_tls_option
def login_cmd(server, username, password, password_stdin, tls_verify):
    """Log in to a registry (Docker Hub when SERVER is omitted)."""
    from ..registry import login
    from ..registry.credentials import DockerConfig

    if password and password_stdin:
        raise InvalidArgument("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    elif password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
                   err=True)
    interactive = sys.stdin.isatty()
    if not username:
        if not interactive:
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
        username = click.prompt("Username")
    if not password:
        if not interactive:
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
        password = click.prompt("Password", hide_input=True)
    message = login(server, username, password, tls_verify=tls_verify)
    click.echo(f"WARNING! Your password will be stored unencrypted in "
               f"{DockerConfig().path}.\nConfigure a credential helper to remove this warning.",
               err=True)
    click.echo(message)


@click.command("logout")
@click.argument("server", required=False)
def logout_cmd(server):
    """Log out from a registry (Docker Hub when SERVER is omitted)."""
    from ..registry import logout
    from ..registry.credentials import server_key

    key = server_key(server or "docker.io")
    if logout(server):
        click.echo(f"Removing login credentials for {key}")
    else:
        click.echo(f"Not logged in to {key}")


COMMANDS = {"pull": pull_cmd, "push": push_cmd, "login": login_cmd, "logout": logout_cmd}


def register(main: click.Group) -> None:
    """Add the commands; safe to call twice (tests register before the CLI does)."""
    for name, cmd in COMMANDS.items():
        if name not in main.commands:
            main.add_command(cmd, name)
    image = main.commands.get("image")
    if isinstance(image, click.Group):
        for name in ("pull", "push"):
            if name not in image.commands:
                image.add_command(COMMANDS[name], name)
