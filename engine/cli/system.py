"""``dockyard system …``, ``info``, ``version`` and ``events``."""

from __future__ import annotations

import json
import platform
import sys
import time

import click

from ..errors import InvalidArgument
from ..images.config import format_created
from . import output


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


@click.command("version")
@click.option("-f", "--format", "fmt", help="Format output using a Go template or json")
def version_cmd(fmt):
    """Show the dockyard version information."""
    from .. import __version__

    info = {"Version": __version__, "ApiVersion": "1.45", "GoVersion": "",
            "Python": platform.python_version(), "Os": "linux", "Arch": platform.machine()}
    if fmt:
        click.echo(output.render([info], fmt, default_table=""), nl=False)
        return
    click.echo(f"dockyard version {__version__}\nPython {info['Python']}\n"
               f"OS/Arch: linux/{info['Arch']}")


@click.command("info")
@click.option("-f", "--format", "fmt", help="Format output using a Go template or json")
def info_cmd(fmt):
    """Display system-wide information."""
    info = _engine().info()
    if fmt:
        click.echo(output.render([info], fmt, default_table=""), nl=False)
        return
    lines = [
        f" Containers: {info['Containers']}",
        f" Images: {info['Images']}",
        f" Layers: {info['Layers']}",
        f" Server Version: {info['ServerVersion']}",
        f" Storage Driver: {info['Driver']}",
        f" Dockyard Root Dir: {info['DockyardRootDir']}",
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" OSType: {info['OSType']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Total Memory: {output.size_text(info['MemTotal'])}",
        f" Disk Free: {output.size_text(info['DiskFree'])}",
    ]
    for key in ("Runtime", "RuntimeVersion", "RuntimeReason"):
        if key in info:
            lines.append(f" {key}: {info[key]}")
    click.echo("\n".join(lines))


def _when(value: str | None, now: float) -> int | None:
    if not value:
        return None
    from ..filters import parse_until

    return int(parse_until(value, now) * 1e9)


@click.command("events")
@click.option("--since", help="Show all events created since timestamp")
@click.option("--until", help="Stream events until this timestamp")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output (type=, event=, "
              "image=)")
@click.option("--format", "fmt", help="Format output: json or a Go template")
def events_cmd(since, until, filters, fmt):
    """Get real time events from the engine."""
    now = time.time()
    wanted: dict[str, set[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument("bad format of filter (expected name=value)")
        if key not in ("type", "event", "image", "container"):
            raise InvalidArgument(f"invalid filter '{key}'")
        wanted.setdefault(key, set()).add(value)
    since_ns = _when(since, now) or 0
    until_ns = _when(until, now)
    eng = _engine()
    follow = until_ns is None or until_ns > time.time_ns()
    for ev in eng.events(since_ns=since_ns, until_ns=until_ns, follow=follow):
        if "type" in wanted and ev.type not in wanted["type"]:
            continue
        if "event" in wanted and ev.action not in wanted["event"]:
            continue
        if "image" in wanted and not ({ev.actor, ev.attrs.get("name", "")} & wanted["image"]):
            continue
        row = {"Type": ev.type, "Action": ev.action, "Actor": {"ID": ev.actor,
               "Attributes": ev.attrs}, "time": ev.time_ns // 10**9, "timeNano": ev.time_ns,
               "scope": "local"}
        if fmt == "json" or (fmt and fmt.strip() == "{{json .}}"):
            click.echo(json.dumps(row, separators=(",", ":")))
        elif fmt:
            click.echo(output.render([row], fmt, default_table=""), nl=False)
        else:
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attrs.items()))
            stamp = format_created(ev.time_ns / 1e9)
            click.echo(f"{stamp} {ev.type} {ev.action} {ev.actor}" +
                       (f" ({attrs})" if attrs else ""))
        sys.stdout.flush()


@click.command("check")
@click.option("--repair", is_flag=True, help="Remove orphaned files, snapshots and leases")
def check_cmd(repair):
    """Verify blobs against their digests and records against files."""
    rep = _engine().check(repair=repair)
    for p in rep.problems:
        click.echo(f"problem: {p}")
    for o in rep.orphans:
        click.echo(f"orphan: {o}")
    for r in rep.repaired:
        click.echo(f"removed: {r}")
    click.echo(f"checked {rep.images} images, {rep.snapshots} snapshots, {rep.blobs} blobs: "
               f"{len(rep.problems)} problems, {len(rep.orphans)} orphans"
               + (f", {len(rep.repaired)} removed" if repair else ""))
    if not rep.ok:
        sys.exit(1)


def register(main: click.Group) -> None:
    system = click.Group("system", help="Manage dockyard")
    system.add_command(info_cmd, "info")
    system.add_command(events_cmd, "events")
    system.add_command(check_cmd, "check")
    main.add_command(system)
    main.add_command(info_cmd, "info")
    main.add_command(version_cmd, "version")
    main.add_command(events_cmd, "events")
