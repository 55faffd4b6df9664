"""``dockyard volume create|ls|inspect|rm`` (``volume prune`` lives in usage.py)."""

from __future__ import annotations

import re
import sys
from datetime import datetime

import click

from ..errors import EngineError, InvalidArgument
from . import output

LS_TABLE = "table {{.Driver}}\t{{.Name}}"
LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
              "Scope": "SCOPE", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
              "CreatedAt": "CREATED AT"}
LS_FILTERS = {"dangling", "name", "label", "label!", "driver"}
# the options Docker's local driver knows (it mounts `type`/`device` with `o`)
LOCAL_OPTS = {"type", "device", "o", "size"}
ANON_LABEL = "com.docker.volume.anonymous"  # how Docker marks anonymous volumes


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or (what == "opt" and not eq):
            raise InvalidArgument(f"invalid {what} '{item}': expected key=value")
        out[key] = value
    return out


def created_at(ts: float) -> str:
    """Go's time.RFC3339 in local time, as Docker shows a volume's CreatedAt."""
    text = datetime.fromtimestamp(int(ts)).astimezone().isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _labels(v) -> dict[str, str]:  # noqa: ANN001
    return {**({ANON_LABEL: ""} if v.anonymous else {}), **v.labels}


def inspect_doc(v) -> dict:  # noqa: ANN001
    return {"CreatedAt": created_at(v.created), "Driver": v.driver, "Labels": _labels(v),
            "Mountpoint": v.mountpoint, "Name": v.name,
            "Options": None if v.anonymous else v.options, "Scope": "local"}


@click.command("create")
@click.argument("name", required=False, default="")
@click.option("--name", "name_opt", default="", hidden=True, help="Volume name")
@click.option("-d", "--driver", default="local", help="Specify volume driver name")
@click.option("--label", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", multiple=True, help="Set driver specific options")
def create_cmd(name, name_opt, driver, label, opt):
    """Create a volume."""
    if name and name_opt and name != name_opt:
        raise InvalidArgument("conflicting options: either specify --name or provide "
                              "positional arg, not both")
    opts = _pairs(opt, "opt")
    if driver == "local":
        for key in opts:
            if key not in LOCAL_OPTS:
                raise InvalidArgument(f'invalid option key: "{key}"')
    labels = _pairs(label, "label")
    try:
        vol = _engine().create_volume(name or name_opt, labels=labels, driver=driver,
                                      options=opts)
    except EngineError as e:
        click.echo(f"{output.DAEMON_ERROR}{e}", err=True)
        sys.exit(1)
    click.echo(vol.name)


def _match(v, links: int, f) -> bool:  # noqa: ANN001
    from ..filters import match_labels

    for value in f.values_of("dangling"):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
        if (value.lower() in ("true", "1")) != (links == 0):
            return False
    if f.values_of("name") and not any(re.search(p, v.name) for p in f.values_of("name")):
        return False
    if f.values_of("driver") and v.driver not in f.values_of("driver"):
        return False
    labels = _labels(v)
    if not match_labels(labels, list(f.values_of("label"))):
        return False
    return not any(match_labels(labels, [x]) for x in f.values_of("label!"))


@click.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. "
              "'dangling=true')")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def ls_cmd(quiet, filters, fmt):
    """List volumes."""
    from ..filters import parse_filters

    eng = _engine()
    f = parse_filters(list(filters), LS_FILTERS)
    links = eng.volume_store.links()
    vols = [v for v in eng.volumes() if _match(v, links.get(v.name, 0), f)]
    vols.sort(key=lambda v: v.name)
    rows = [{"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint, "Scope": "local",
             "Labels": ",".join(f"{k}={val}" for k, val in _labels(v).items()),
             "Links": str(links.get(v.name, 0)), "Size": "N/A",
             "CreatedAt": created_at(v.created)} for v in vols]
    click.echo(output.render(rows, fmt, default_table=LS_TABLE,
                             quiet_field="Name" if quiet else None, headers=LS_HEADERS),
               nl=False)


@click.command("inspect")
@click.argument("volumes", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Format output using a Go template")
def inspect_cmd(volumes, fmt):
    """Display detailed information on one or more volumes."""
    eng = _engine()
    output.inspect_each(volumes, lambda name: inspect_doc(eng.volume(name)), fmt,
                        missing_on=EngineError, prefix=output.DAEMON_ERROR)


@click.command("rm")
@click.argument("volumes", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
def rm_cmd(volumes, force):
    """Remove one or more volumes."""
    eng = _engine()
    output.act_on_each(volumes, lambda name: eng.remove_volume(name, force=force))


def register(main: click.Group) -> None:
    group = main.commands.get("volume")
    if not isinstance(group, click.Group):
        group = click.Group("volume", help="Manage volumes")
        main.add_command(group)
    group.add_command(create_cmd, "create")
    group.add_command(ls_cmd, "ls")
    group.add_command(ls_cmd, "list")
    group.add_command(inspect_cmd, "inspect")
    group.add_command(rm_cmd, "rm")
    group.add_command(rm_cmd, "remove")
