"""More ``dockyard container …`` verbs: exec, top, stats, diff, commit, export, cp, attach.

Registered top-level and under ``container`` (Docker's aliases).  Errors
the daemon would send are printed as Docker prints them
(``Error response from daemon: …``) with its exit code.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import partial

import click

from ..errors import EngineError, InvalidArgument, StartFailed
from ..humanize import size_text
from . import output

STATS_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
               "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
                 "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                 "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _daemon(fn: Callable[[], object]) -> object:
    """Run ``fn``; an engine error is the daemon's answer, shown as Docker shows it."""
    try:
        return fn()
    except EngineError as e:
        click.echo(f"Error response from daemon: {e}", err=True)
        sys.exit(e.exit_code)


class GoBoolCommand(click.Command):
    """Docker's boolean flags also take a value: ``--pause=false``."""

    negations = {"-p": "--no-pause", "--pause": "--no-pause",
                 "--sig-proxy": "--no-sig-proxy"}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out = []
        for a in args:
            flag, eq, value = a.partition("=")
            if eq and flag in self.negations and value.lower() in (
                    "false", "0", "f", "true", "1", "t"):
                out.append(self.negations[flag] if value.lower() in ("false", "0", "f")
                           else flag)
            else:
                out.append(a)
        return super().parse_args(ctx, out)


# -- exec ------------------------------------------------------------------------
@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the "
              "background")
@click.option("--detach-keys", default="", help="Accepted for Docker compatibility; an exec "
              "cannot be detached from (the runtime relays its terminal)")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-u", "--user", default="", help="Username or UID (format: "
              "\"<name|uid>[:<group|gid>]\")")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_cmd(container, command, detach, detach_keys, env, env_file, interactive, privileged,
             tty, user, workdir):
    """Execute a command in a running container."""
    from .container import _env_file

    if tty and interactive and not detach and not sys.stdin.isatty():
        click.echo("the input device is not a TTY", err=True)
        sys.exit(1)
    envs = [e for f in env_file for e in _env_file(f)]
    for e in env:
        if "=" in e:
            envs.append(e)
        elif e in os.environ:  # -e NAME takes the value from our environment
            envs.append(f"{e}={os.environ[e]}")
    eng = _engine()
    cid = _daemon(lambda: eng.resolve_container(container))
    saved = None
    if tty and interactive and not detach and sys.stdin.isatty():
        # raw before the runtime starts (it sets raw mode too, but later): no
        # keystroke typed meanwhile is echoed or cooked by our terminal
        import termios
        import tty as ttymod

        saved = termios.tcgetattr(sys.stdin.fileno())
        ttymod.setraw(sys.stdin.fileno(), termios.TCSANOW)
    try:
        try:
            code = eng.exec(str(cid), list(command), interactive=interactive, tty=tty,
                            detach=detach, env=envs, workdir=workdir, user=user,
                            privileged=privileged)
        finally:
            if saved is not None:  # restored before any error is printed
                import termios

                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except StartFailed as e:  # the runtime could not start the process: 126/127
        click.echo(str(e), err=True)
        sys.exit(e.exit_code)
    except EngineError as e:
        click.echo(f"Error response from daemon: {e}", err=True)
        sys.exit(e.exit_code)
    sys.exit(code)


# -- top / stats --------------------------------------------------------------------
@click.command("top", context_settings={"allow_interspersed_args": False,
                                        "ignore_unknown_options": True})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
def top_cmd(container, ps_args):
    """Display the running processes of a container."""
    eng = _engine()
    titles, rows = _daemon(lambda: eng.top(container, ps_args))  # type: ignore[misc]
    text = "".join("\t".join(line) + "\n" for line in [titles, *rows])
    # docker/cli: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    click.echo(output.tabwrite(text, minwidth=20, padding=3), nl=False)


def bytes_size(n: float) -> str:
    """go-units ``BytesSize``: binary units, 4 significant digits ("1.953MiB")."""
    size, i = float(n), 0
    while size >= 1024.0 and i < len(_BINARY) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{_BINARY[i]}"


def stats_row(s, given: str, no_trunc: bool) -> dict[str, str]:  # noqa: ANN001
    return {"Container": given or s.id[:12], "ID": s.id if no_trunc else s.id[:12],
            "Name": s.name, "CPUPerc": f"{s.cpu_percent:.2f}%",
            "MemUsage": f"{bytes_size(s.mem_usage)} / {bytes_size(s.mem_limit)}",
            "MemPerc": f"{s.mem_percent:.2f}%",
            "NetIO": f"{size_text(s.net_rx, 3)} / {size_text(s.net_tx, 3)}",
            "BlockIO": f"{size_text(s.block_read, 3)} / {size_text(s.block_write, 3)}",
            "PIDs": str(s.pids)}


@click.command("stats")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers (default "
              "shows just running)")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats and only pull the "
              "first result")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "fmt", help="Format output using a custom template")
@click.argument("containers", nargs=-1)
def stats_cmd(show_all, no_stream, no_trunc, fmt, containers):
    """Display a live stream of container(s) resource usage statistics."""
    from ..runtime.stats import compute

    eng = _engine()

    def targets() -> list[tuple[str, str]]:
        if containers:
            return [(str(_daemon(partial(eng.resolve_container, r))), r)
                    for r in containers]
        return [(c.id, "") for c in eng.containers(all=show_all)]

    def render(items: list[tuple[str, str]], readings) -> str:  # noqa: ANN001
        rows = [stats_row(s, given, no_trunc) for s, (_, given) in zip(readings, items,
                                                                        strict=True)]
        return output.render(rows, fmt, default_table=STATS_TABLE, headers=STATS_HEADERS)

    if no_stream:
        items = targets()
        readings = _daemon(lambda: eng.stats([cid for cid, _ in items]))
        click.echo(render(items, readings), nl=False)
        return
    prev: dict[str, object] = {}
    while True:
        items = targets()
        readings = []
        for cid, _ in items:
            cur = _daemon(partial(eng.stats_sample, cid))
            readings.append(compute(prev.get(cid), cur))  # type: ignore[arg-type]
            prev[cid] = cur
        # clear the screen and redraw in place, as docker stats does
        click.echo("\033[2J\033[H" + render(items, readings), nl=False)
        sys.stdout.flush()
        time.sleep(1.0)


# -- diff / commit / export -------------------------------------------------------------
@click.command("diff")
@click.argument("container")
def diff_cmd(container):
    """Inspect changes to files or directories on a container's filesystem."""
    eng = _engine()
    for c in _daemon(lambda: eng.diff(container)):  # type: ignore[attr-defined]
        click.echo(f"{c.kind} {c.path}")


@click.command("commit", cls=GoBoolCommand)
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith '
              '<hannibal@a-team.com>")')
@click.option("-c", "--change", multiple=True, help="Apply Dockerfile instruction to the "
              "created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause/--no-pause", default=True, help="Pause container during commit "
              "(default true; --pause=false to disable)")
@click.argument("container")
@click.argument("repository", required=False)
def commit_cmd(author, change, message, pause, container, repository):
    """Create a new image from a container's changes."""
    eng = _engine()
    image_id = _daemon(lambda: eng.commit(container, repository, message=message,
                                          author=author, changes=change, pause=pause))
    click.echo(image_id)


@click.command("export")
@click.option("-o", "--output", "out", default="", help="Write to a file, instead of STDOUT")
@click.argument("container")
def export_cmd(out, container):
    """Export a container's filesystem as a tar archive."""
    eng = _engine()
    if not out:
        if sys.stdout.isatty():
            raise click.ClickException("cowardly refusing to save to a terminal. Use the -o "
                                       "flag or redirect")
        _daemon(lambda: eng.export(container, sys.stdout.buffer))
        sys.stdout.flush()
        return
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            _daemon(lambda: eng.export(container, f))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)  # a partial tar never takes the name
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- cp ------------------------------------------------------------------------------------
def split_cp_arg(arg: str) -> tuple[str, str]:
    """("container", "path") or ("", local path), as docker/cli's splitCpArg."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg  # an absolute or explicitly relative local path may contain ":"
    ctr, _, path = arg.partition(":")
    return ctr, path


@click.command("cp")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid "
              "information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in "
              "SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.argument("src")
@click.argument("dest")
def cp_cmd(archive, follow_link, quiet, src, dest):
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a
    directory destination in a container; use '-' as the destination to stream
    a tar archive of a container source to stdout.
    """
    sctr, spath = split_cp_arg(src)
    dctr, dpath = split_cp_arg(dest)
    if sctr and dctr:
        raise InvalidArgument("copying between containers is not supported")
    if not sctr and not dctr:
        raise InvalidArgument("must specify at least one container source")
    eng = _engine()
    if sctr:
        if not spath:
            raise InvalidArgument("source path cannot be empty")
        target = sys.stdout.buffer if dpath == "-" else dpath
        n = _daemon(lambda: eng.copy_from(sctr, spath, target, follow_link=follow_link))
        shown = dpath
    else:
        if not dpath:
            raise InvalidArgument("destination path cannot be empty")
        source = sys.stdin.buffer if spath == "-" else spath
        if spath != "-" and not os.path.lexists(spath):
            raise InvalidArgument(f"lstat {os.path.abspath(spath)}: no such file or directory")
        n = _daemon(lambda: eng.copy_to(dctr, source, dpath, archive=archive,
                                        follow_link=follow_link))
        shown = f"{dctr}:{dpath}"
    # Docker shows progress only on a terminal, and never with a tar on stdout
    if not quiet and dpath != "-" and spath != "-" and sys.stderr.isatty():
        click.echo(f"Successfully copied {size_text(int(n), 4)} to {shown}", err=True)


# -- attach ----------------------------------------------------------------------------
@click.command("attach", cls=GoBoolCommand)
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Override the key sequence for "
              "detaching a container")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy all received signals to "
              "the process")
@click.argument("container")
def attach_cmd(detach_keys, no_stdin, sig_proxy, container):
    """Attach local standard input, output, and error streams to a running container."""
    from .stream import parse_detach_keys, pump

    eng = _engine()
    parse_detach_keys(detach_keys)  # refuse a bad sequence before attaching
    cid = str(_daemon(lambda: eng.resolve_container(container)))
    row = eng.container_store.row(cid)
    if row["state"] == "paused":
        click.echo("Error response from daemon: You cannot attach to a paused container, "
                   "unpause it first", err=True)
        sys.exit(1)
    if row["state"] not in ("running", "restarting"):
        click.echo("Error response from daemon: You cannot attach to a stopped container, "
                   "start it first", err=True)
        sys.exit(1)
    config = json.loads(row["config"])
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not no_stdin
    client = _daemon(lambda: eng.attach(cid, stdin=stdin))
    if sig_proxy and not tty:
        # Docker's --sig-proxy: our SIGINT/SIGTERM go to the container's process
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda n, _f: _forward(eng, cid, n))
    code = pump(client, stdin=stdin, tty=tty, detach_keys=detach_keys)  # type: ignore[arg-type]
    if code is None:  # detached with the key sequence: the container keeps running
        return
    if client.exit_code is None:  # type: ignore[attr-defined]
        code = eng.wait(cid)
    sys.exit(code)


def _forward(eng, cid: str, signum: int) -> None:  # noqa: ANN001
    try:
        eng.kill(cid, signal=signal.Signals(signum).name)
    except EngineError:
        pass


COMMANDS = {"exec": exec_cmd, "top": top_cmd, "stats": stats_cmd, "diff": diff_cmd,
            "commit": commit_cmd, "export": export_cmd, "cp": cp_cmd, "attach": attach_cmd}


def register(main: click.Group) -> None:
    group = main.commands["container"]
    for name, cmd in COMMANDS.items():
        group.add_command(cmd, name)  # type: ignore[attr-defined]
        main.add_command(cmd, name)
