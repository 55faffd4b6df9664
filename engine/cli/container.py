"""``dockyard container …`` and the top-level aliases (run, ps, stop, rm, logs …)."""

from __future__ import annotations

import json
import sys
import time

import click

from ..errors import InvalidArgument, NotFound
from ..humanize import status_text
from . import output, runcmd
from .runcmd import env_file as _env_file  # noqa: F401 - container_more's exec uses it
from .runflags import CREATE_FLAGS, RUN_FLAGS, Flag

PS_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedSince}}\t{{.Status}}\t"
            "{{.Ports}}\t{{.Names}}")
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
              "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Status": "STATUS",
              "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE", "State": "STATE",
              "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}
PS_FILTERS = {"id", "name", "label", "status", "ancestor", "exited", "before", "since",
              "volume", "network", "health", "is-task", "publish", "expose"}


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _click_option(flag: Flag):  # noqa: ANN202
    kw: dict = {"help": flag.help}
    if flag.kind is bool:
        kw["is_flag"] = True
    elif flag.multiple:
        kw["multiple"] = True
    else:
        kw["default"] = flag.default
    if flag.kind not in (bool, str):
        kw["type"] = flag.kind
    return click.option(*flag.spellings, flag.dest, **kw)


def flag_options(flags: tuple[Flag, ...]):  # noqa: ANN201
    """A decorator adding a click option for each row of ``flags``: the table
    in runflags.py, which the click-free parser reads too."""
    def add(f):  # noqa: ANN001, ANN202
        for flag in reversed(flags):
            f = _click_option(flag)(f)
        return f
    return add


create_options = flag_options(CREATE_FLAGS)  # the flags `create` and `run` share


@click.command("create", context_settings={"allow_interspersed_args": False})
@create_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def create_cmd(image, command, **kw):
    """Create a new container."""
    runcmd.create(_engine(), image, command, kw)


@click.command("run", context_settings={"allow_interspersed_args": False})
@flag_options(RUN_FLAGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_cmd(image, command, detach, detach_keys, **kw):
    """Create and run a new container from an image."""
    code = runcmd.run(_engine(), image, command, kw, detach=detach, detach_keys=detach_keys)
    if code is not None:
        sys.exit(code)


@click.command("start")
@click.argument("containers", nargs=-1, required=True)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.option("--detach-keys", default="ctrl-p,ctrl-q")
def start_cmd(containers, attach, interactive, detach_keys):
    """Start one or more stopped containers."""
    eng = _engine()
    if attach or interactive:
        if len(containers) > 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        cid = eng.resolve_container(containers[0])
        cfg = json.loads(eng.container_store.row(cid)["config"])
        client = eng.start(cid, attach=True)
        if client is None:
            client = eng.attach(cid)
        from .stream import pump

        code = pump(client, stdin=interactive, tty=bool(cfg.get("Tty")),
                    detach_keys=detach_keys)
        sys.exit(code or 0)
    output.act_on_each(containers, eng.start)


@click.command("stop")
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before "
              "killing the container")
@click.option("-s", "--signal", default="", help="Signal to send to the container")
def stop_cmd(containers, timeout, signal):
    """Stop one or more running containers."""
    eng = _engine()
    output.act_on_each(containers, lambda ref: eng.stop(ref, timeout=timeout, signal=signal))


@click.command("restart")
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None)
def restart_cmd(containers, timeout):
    """Restart one or more containers."""
    eng = _engine()
    output.act_on_each(containers, lambda ref: eng.restart(ref, timeout=timeout))


@click.command("kill")
@click.argument("containers", nargs=-1, required=True)
@click.option("-s", "--signal", default="KILL", help="Signal to send to the container")
def kill_cmd(containers, signal):
    """Kill one or more running containers."""
    eng = _engine()
    output.act_on_each(containers, lambda ref: eng.kill(ref, signal=signal))


@click.command("pause")
@click.argument("containers", nargs=-1, required=True)
def pause_cmd(containers):
    """Pause all processes within one or more containers."""
    eng = _engine()
    output.act_on_each(containers, eng.pause)


@click.command("unpause")
@click.argument("containers", nargs=-1, required=True)
def unpause_cmd(containers):
    """Unpause all processes within one or more containers."""
    eng = _engine()
    output.act_on_each(containers, eng.unpause)


@click.command("rm")
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes")
def rm_cmd(containers, force, volumes):
    """Remove one or more containers."""
    eng = _engine()
    output.act_on_each(containers,
                       lambda ref: eng.remove_container(ref, force=force, volumes=volumes))


@click.command("wait")
@click.argument("containers", nargs=-1, required=True)
def wait_cmd(containers):
    """Block until one or more containers stop, then print their exit codes."""
    eng = _engine()
    output.act_on_each(containers, eng.wait, show=lambda code: (str(code),))


@click.command("rename")
@click.argument("container")
@click.argument("new_name")
def rename_cmd(container, new_name):
    """Rename a container."""
    _engine().rename(container, new_name)


def _command_cell(cmd: str, no_trunc: bool) -> str:
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    return f'"{cmd}"'


@click.command("ps")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.option("-n", "--last", default=-1, type=int, help="Show n last created containers")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def ps_cmd(show_all, quiet, size, last, latest, no_trunc, filters, fmt):
    """List containers."""
    from ..filters import match_container, parse_filters

    eng = _engine()
    f = parse_filters(list(filters), PS_FILTERS)
    if latest:
        last = 1
    items = eng.containers(all=True)
    if not (show_all or last > 0 or f.get("status") or f.get("exited")):
        items = [c for c in items if c.state in ("running", "paused", "restarting")]
    if f:
        by_id = {c.id: c for c in items}
        items = [c for c in items if match_container(
            c, f, resolve=lambda ref: by_id[eng.resolve_container(ref)],
            resolve_image=eng.resolve_image)]
    if last > 0:
        items = items[:last]
    if quiet:
        click.echo("".join(f"{c.id if no_trunc else c.id[:12]}\n" for c in items), nl=False)
        return
    now = time.time()
    rows = []
    for c in items:
        row = {
            "ID": c.id if no_trunc else c.id[:12], "Image": c.image,
            "Command": _command_cell(c.command, no_trunc),
            "CreatedAt": output.created_at_text(c.created),
            "CreatedSince": output.since_text(c.created, now),
            "RunningFor": output.human_duration(now - c.created),
            "Status": status_text(c.state, c.exit_code, c.started_at, c.finished_at, now),
            "State": c.state, "Ports": _display_ports(c.ports), "Names": c.name,
            "Labels": ",".join(f"{k}={v}" for k, v in c.labels.items()),
            "Mounts": "", "Networks": "",
        }
        if size:
            rw = eng.container_size(c.id)
            row["Size"] = f"{output.size_text(rw[0], 3)} (virtual {output.size_text(rw[1], 3)})"
        rows.append(row)
    default = PS_TABLE + ("\t{{.Size}}" if size else "")
    click.echo(output.render(rows, fmt, default_table=default, headers=PS_HEADERS), nl=False)


@click.command("logs")
@click.argument("container")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--since", default="", help="Show logs since timestamp or relative (e.g. 42m)")
@click.option("--until", default="", help="Show logs before a timestamp or relative")
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end")
@click.option("--details", is_flag=True, help="Show extra details")
def logs_cmd(container, follow, timestamps, since, until, tail, details):
    """Fetch the logs of a container."""
    from ..filters import parse_until

    now = time.time()
    since_ns = int(parse_until(since, now) * 1e9) if since else 0
    until_ns = int(parse_until(until, now) * 1e9) if until else None
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise InvalidArgument(f'invalid value for "tail": "{tail}"')
    n = -1 if tail == "all" or int(tail) < 0 else int(tail)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for line in _engine().logs(container, since_ns=since_ns, until_ns=until_ns, tail=n,
                               follow=follow):
        text = (line.time + " " if timestamps else "") + line.text
        stream = out if line.stream == "stdout" else err
        stream.write(text.encode())
        stream.flush()


@click.command("inspect")
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Format output using a Go template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
def inspect_cmd(containers, fmt, size, any_object=False):
    """Display detailed information on one or more containers."""
    eng = _engine()

    def get(ref: str) -> dict:
        try:
            return eng.container_inspect(ref)
        except NotFound:
            if not any_object:
                raise
        try:  # top-level `inspect`: a container first, then an image
            return eng.image_inspect(ref)
        except NotFound:
            raise NotFound(f"No such object: {ref}") from None

    output.inspect_each(containers, get, fmt, missing_on=NotFound)


@click.command("inspect")
@click.argument("objects", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Format output using a Go template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_context
def inspect_any_cmd(ctx, objects, fmt, size):
    """Return low-level information on containers or images."""
    ctx.invoke(inspect_cmd, containers=objects, fmt=fmt, size=size, any_object=True)


COMMANDS = {"create": create_cmd, "run": run_cmd, "start": start_cmd, "stop": stop_cmd,
            "restart": restart_cmd, "kill": kill_cmd, "pause": pause_cmd,
            "unpause": unpause_cmd, "rm": rm_cmd, "wait": wait_cmd, "rename": rename_cmd,
            "logs": logs_cmd}


def register(main: click.Group) -> None:
    group = click.Group("container", help="Manage containers")
    for name, cmd in COMMANDS.items():
        group.add_command(cmd, name)
        main.add_command(cmd, name)
    group.add_command(ps_cmd, "ls")
    group.add_command(ps_cmd, "list")
    group.add_command(ps_cmd, "ps")
    group.add_command(inspect_cmd, "inspect")
    main.add_command(group)
    main.add_command(inspect_any_cmd, "inspect")
    main.add_command(ps_cmd, "ps")


def _display_ports(ports):  # noqa: ANN001, ANN202 - ps only: run need not load it
    from ..network.ports import display

    return display(ports)
