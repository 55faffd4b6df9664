"""``dockyard build`` (also ``builder build`` and ``image build``).

Progress goes to stderr as BuildKit prints it: ``--progress=plain`` is its
plain text, ``tty`` (the default on a terminal) a live rich view of the
steps, ``quiet`` (or ``-q``) nothing, with the image ID on stdout.  A
failed build prints the failing step's output, the Dockerfile excerpt and
``ERROR: failed to solve: …`` and exits 1.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from typing import Any

import click

from ..build.events import BuildError, BuildEvent, BuildOptions
from ..errors import InvalidArgument


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _pairs(values: tuple[str, ...], what: str, *, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {v!r}")
        if eq:
            out[key] = value
        elif from_env:
            if key in os.environ:  # --build-arg NAME takes the caller's variable, if set
                out[key] = os.environ[key]
        else:
            out[key] = ""
    return out


class TtyRenderer:
    """A live view of the steps (rich), like BuildKit's tty progress."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.start = time.monotonic()
        self.steps: dict[int, dict[str, Any]] = {}
        self.console = Console(stderr=True, highlight=False)
        self.live = Live(console=self.console, refresh_per_second=8,
                         get_renderable=self._render, transient=False)
        self.live.start()

    def __call__(self, ev: BuildEvent) -> None:
        if ev.vertex == 0:
            return
        step = self.steps.setdefault(ev.vertex, {"name": ev.name, "state": "run", "t": 0.0,
                                                 "logs": [], "t0": time.monotonic()})
        if ev.kind == "log":
            step["logs"] = (step["logs"] + [ev.text])[-6:]
        elif ev.kind in ("done", "cached", "error"):
            step["state"], step["t"] = ev.kind, ev.elapsed

    def _render(self):  # noqa: ANN202
        from rich.text import Text

        now = time.monotonic()
        done = sum(1 for s in self.steps.values() if s["state"] != "run")
        out = Text(f"[+] Building {now - self.start:.1f}s ({done}/{len(self.steps)})\n",
                   style="bold")
        for s in self.steps.values():
            t = s["t"] if s["state"] != "run" else now - s["t0"]
            mark = {"cached": "=> CACHED ", "error": "=> ERROR "}.get(s["state"], "=> ")
            style = {"run": "cyan", "error": "red"}.get(s["state"], "blue")
            out.append(f" {mark}{s['name']}", style=style)
            out.append(f"  {t:.1f}s\n", style="dim")
            if s["state"] in ("run", "error"):
                for line in s["logs"]:
                    out.append(f" => => # {line}\n", style="dim")
        return out

    def close(self) -> None:
        self.live.refresh()
        self.live.stop()


@click.command("build")
@click.argument("context")
@click.option("-t", "--tag", "tags", multiple=True, help='Name and optionally a tag '
              '(format: "name:tag")')
@click.option("-f", "--file", "dockerfile", help='Name of the Dockerfile (default: '
              '"PATH/Dockerfile")')
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--target", default="", help="Set the target build stage to build")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--iidfile", help="Write the image ID to a file")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print "
              "image ID on success")
@click.option("--network", default="default", type=click.Choice(["default", "none", "host"]),
              help='Set the networking mode for the "RUN" instructions during build')
@click.option("--progress", default="auto", type=click.Choice(["auto", "plain", "tty",
                                                               "quiet"]),
              help="Set type of progress output")
@click.option("--pull", is_flag=True, help="Always attempt to pull all referenced images")
@click.option("--platform", default="", help="Set target platform for build")
@click.option("--secret", "secrets", multiple=True, help='Secret to expose to the build '
              '(format: "id=mysecret[,src=/local/secret]" or "id=x,env=VAR")')
@click.option("--ssh", "ssh", multiple=True, help='SSH agent socket to expose to the build '
              '(format: "default|<id>[=<socket>]")')
def build_cmd(context, tags, dockerfile, build_args, target, no_cache, labels, iidfile, quiet,
              network, progress, pull, platform, secrets, ssh):
    """Build an image from a Dockerfile."""
    from ..build.executor import build
    from ..build.plain import PlainRenderer, error_text
    from ..build.session import parse_secret_flag, parse_ssh_flag
    from ..images.reference import parse

    for t in tags:
        try:
            parse(t)
        except InvalidArgument:
            raise click.BadParameter(f'invalid reference format: "{t}"',
                                     param_hint="'-t' / '--tag'") from None
    with ExitStack() as stack:
        text = None
        if context == "-":
            data = sys.stdin.buffer.read()
            context = stack.enter_context(tempfile.TemporaryDirectory(prefix="dockyard-ctx-"))
            if _is_tar(data):
                _untar(data, context)
            else:
                text = data.decode("utf-8", "surrogateescape")
        elif dockerfile == "-":
            text = sys.stdin.read()
            dockerfile = ""
        if not os.path.isdir(context):
            raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
        if dockerfile and not os.path.isabs(dockerfile) and not os.path.exists(dockerfile):
            dockerfile = os.path.join(context, dockerfile)
        opts = BuildOptions(context=context, dockerfile=dockerfile or "", dockerfile_text=text,
                            tags=tags, build_args=_pairs(build_args, "build-arg",
                                                         from_env=True),
                            target=target, no_cache=no_cache,
                            labels=_pairs(labels, "label", from_env=False), network=network,
                            pull=pull, platform=platform,
                            secrets=dict(parse_secret_flag(v) for v in secrets),
                            ssh=dict(parse_ssh_flag(v) for v in ssh))
        mode = "quiet" if quiet else progress
        if mode == "auto":
            mode = "tty" if sys.stderr.isatty() else "plain"
        show = lambda ev: None  # noqa: E731
        tty = None
        if mode == "plain":
            show = PlainRenderer(lambda s: (sys.stderr.write(s), sys.stderr.flush()))
        elif mode == "tty":
            tty = TtyRenderer()
            show = tty
        image_id = ""
        try:
            for ev in build(_engine(), opts):
                show(ev)
                if ev.kind == "result":
                    image_id = ev.image_id
        except BuildError as e:
            if tty is not None:
                tty.close()
                tty = None
            sys.stderr.write(error_text(e))
            sys.stderr.flush()
            sys.exit(e.exit_code or 1)
        finally:
            if tty is not None:
                tty.close()
    if iidfile:
        with open(iidfile, "w") as f:
            f.write(image_id)
    if quiet:
        click.echo(image_id)


def _is_tar(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b" or data[257:262] == b"ustar"


def _untar(data: bytes, dest: str) -> None:
    import io

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        tar.extractall(dest, filter="data")


def register(main: click.Group) -> None:
    """``build`` at the top level and under ``builder`` and ``image``."""
    main.add_command(build_cmd, "build")
    for name, help_text in (("builder", "Manage builds"), ("image", "Manage images")):
        if name not in main.commands:
            main.add_command(click.Group(name, help=help_text))
        group = main.commands[name]
        assert isinstance(group, click.Group)
        group.add_command(build_cmd, "build")
