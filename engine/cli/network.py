"""``dockyard network …``, ``port`` and the hidden ``system release-network``."""

from __future__ import annotations

import re
import sys

import click

from ..errors import EngineError, InvalidArgument
from . import output

LS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
              "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
              "CreatedAt": "CREATED AT"}
LS_FILTERS = {"driver", "id", "label", "name", "scope", "type", "dangling"}


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _networks():
    from ..network.networks import Networks

    return Networks(_engine().store)


def _driver():
    from ..network.bridge import BridgeDriver

    return BridgeDriver(_engine().store)


def _daemon_error(e: EngineError) -> None:
    click.echo(f"Error response from daemon: {e}", err=True)


def _pairs(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} '{item}': expected key=value")
        out[key] = value
    return out


@click.command("create")
@click.argument("name")
@click.option("-d", "--driver", default="bridge", help="Driver to manage the Network")
@click.option("--subnet", multiple=True, help="Subnet in CIDR format")
@click.option("--gateway", multiple=True, help="IPv4 Gateway for the master subnet")
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.option("--label", multiple=True, help="Set metadata on a network")
@click.option("-o", "--opt", multiple=True, help="Set driver specific options")
@click.option("--attachable", is_flag=True, help="Enable manual container attachment")
@click.option("--ipv6", is_flag=True, help="Enable IPv6 networking")
def create_cmd(name, driver, subnet, gateway, internal, label, opt, attachable, ipv6):
    """Create a network."""
    if ipv6:
        raise InvalidArgument("IPv6 networks are not supported")
    if len(subnet) > 1 or len(gateway) > 1:
        raise InvalidArgument("only one --subnet and one --gateway are supported per network")
    try:
        net = _networks().create(name, subnet=subnet[0] if subnet else "",
                                 gateway=gateway[0] if gateway else "", internal=internal,
                                 driver=driver, labels=_pairs(label, "label"),
                                 options=_pairs(opt, "opt"))
    except EngineError as e:
        _daemon_error(e)
        sys.exit(1)
    click.echo(net.id)


def _rows(show_trunc: bool) -> list[dict]:
    from ..images.config import format_created
    from ..network.networks import PREDEFINED, predefined_id

    nets = _networks()
    rows = []
    for n in nets.all_networks():
        rows.append({"ID": n.id if show_trunc else n.id[:12], "Name": n.name,
                     "Driver": n.driver, "Scope": "local", "IPv6": "false",
                     "Internal": str(n.internal).lower(),
                     "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items()),
                     "CreatedAt": format_created(n.created), "_full": n.id,
                     "_builtin": n.name == "bridge", "_labels": n.labels,
                     "_dangling": nets.endpoint_count(n.id) == 0})
    root = _engine().store.root
    for name, driver in PREDEFINED.items():
        nid = predefined_id(root, name)
        rows.append({"ID": nid if show_trunc else nid[:12], "Name": name, "Driver": driver,
                     "Scope": "local", "IPv6": "false", "Internal": "false", "Labels": "",
                     "CreatedAt": "0001-01-01T00:00:00Z", "_full": nid, "_builtin": True,
                     "_labels": {}, "_dangling": False})
    return rows


def _match(row: dict, f) -> bool:  # noqa: ANN001
    from ..filters import match_labels

    if f.values_of("name") and not any(re.search(p, row["Name"]) for p in f.values_of("name")):
        return False
    if f.values_of("id") and not any(row["_full"].startswith(p) for p in f.values_of("id")):
        return False
    if f.values_of("driver") and row["Driver"] not in f.values_of("driver"):
        return False
    if f.values_of("scope") and "local" not in f.values_of("scope"):
        return False
    for t in f.values_of("type"):
        if t not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{t}'")
    if f.values_of("type") and ("builtin" if row["_builtin"] else "custom") \
            not in f.values_of("type"):
        return False
    for d in f.values_of("dangling"):
        if d.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={d}'")
        if (d.lower() in ("true", "1")) != (row["_dangling"] and not row["_builtin"]):
            return False
    return match_labels(row["_labels"], list(f.values_of("label")))


def _natural(name: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@click.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values "
              "(e.g. 'driver=bridge')")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def ls_cmd(quiet, no_trunc, filters, fmt):
    """List networks."""
    from ..filters import parse_filters

    f = parse_filters(list(filters), LS_FILTERS)
    rows = sorted((r for r in _rows(no_trunc) if _match(r, f)), key=lambda r: _natural(r["Name"]))
    shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    click.echo(output.render(shown, fmt, default_table=LS_TABLE,
                             quiet_field="ID" if quiet else None, headers=LS_HEADERS), nl=False)


@click.command("inspect")
@click.argument("networks", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Format output using a Go template")
@click.option("-v", "--verbose", is_flag=True, help="Verbose output for diagnostics")
def inspect_cmd(networks, fmt, verbose):
    """Display detailed information on one or more networks."""
    from ..network.networks import PREDEFINED

    nets = _networks()
    output.inspect_each(networks, lambda ref: nets.inspect_predefined(ref) if ref in PREDEFINED
                        else nets.inspect(nets.get(ref)), fmt, missing_on=EngineError,
                        prefix=output.DAEMON_ERROR)


@click.command("rm")
@click.argument("networks", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Do not error if the network does not exist")
def rm_cmd(networks, force):
    """Remove one or more networks."""
    from ..errors import NotFound

    output.act_on_each(networks, _networks().remove, passed_over=NotFound if force else ())


@click.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values "
              "(e.g. 'label=<key>=<value>')")
def prune_cmd(force, filters):
    """Remove all unused networks."""
    from ..filters import match_labels, parse_filters

    f = parse_filters(list(filters), {"label", "label!", "until"})
    if not force:
        click.echo("WARNING! This will remove all custom networks not used by at least one "
                   "container.")
        if not click.confirm("Are you sure you want to continue?", default=False,
                             show_default=True):
            sys.exit(0)
    nets = _networks()
    cands = [n for n in nets.prune(dry_run=True)
             if match_labels(n.labels, list(f.values_of("label")))
             and not any(match_labels(n.labels, [x]) for x in f.values_of("label!"))]
    gone = []
    for n in cands:
        try:
            nets.remove(n.id)
            gone.append(n.name)
        except EngineError:
            continue
    if gone:
        click.echo("Deleted Networks:\n" + "".join(f"{g}\n" for g in gone))


@click.command("connect")
@click.argument("network")
@click.argument("container")
@click.option("--alias", multiple=True, help="Add network-scoped alias for the container")
def connect_cmd(network, container, alias):
    """Connect a container to a network."""
    try:
        _driver().connect(network, container, list(alias))
    except EngineError as e:
        _daemon_error(e)
        sys.exit(1)


@click.command("disconnect")
@click.argument("network")
@click.argument("container")
@click.option("-f", "--force", is_flag=True, help="Force the container to disconnect")
def disconnect_cmd(network, container, force):
    """Disconnect a container from a network."""
    try:
        _driver().disconnect(network, container)
    except EngineError as e:
        _daemon_error(e)
        sys.exit(1)


@click.command("port")
@click.argument("container")
@click.argument("private_port", required=False, default="")
def port_cmd(container, private_port):
    """List port mappings or a specific mapping for the container."""
    from ..network.ports import parse_entry, port_lines

    eng = _engine()
    cid = eng.resolve_container(container)
    row = eng.container_store.row(cid)
    live = row["state"] in ("running", "paused", "restarting")
    mappings = [parse_entry(e) for e in eng.container_store.ports(cid)] if live else []
    if private_port:
        port, _, proto = private_port.partition("/")
        if not port.isdigit() or (proto and proto not in ("tcp", "udp", "sctp")):
            raise InvalidArgument(f"Invalid port: {private_port}")
    lines = port_lines(mappings, private_port)
    if private_port and not lines:
        proto = private_port if "/" in private_port else private_port + "/tcp"
        raise EngineError(f"No public port '{proto}' published for {container}")
    for line in lines:
        click.echo(line)


@click.command("release-network", hidden=True)
@click.argument("cid")
@click.option("--token", default="", help="Release only the attachment with this token")
def release_network_cmd(cid, token):
    """Release a container's network (run by its monitor after the final exit)."""
    # network.json stays: `run` may have returned already, and the container's
    # files must not change under it after the exit; `rm` removes it
    _driver().detach(cid, token=token)


def register(main: click.Group) -> None:
    group = main.commands.get("network")
    if not isinstance(group, click.Group):
        group = click.Group("network", help="Manage networks")
        main.add_command(group)
    for name, cmd in (("create", create_cmd), ("ls", ls_cmd), ("list", ls_cmd),
                      ("inspect", inspect_cmd), ("rm", rm_cmd), ("remove", rm_cmd),
                      ("prune", prune_cmd), ("connect", connect_cmd),
                      ("disconnect", disconnect_cmd)):
        group.add_command(cmd, name)
    main.add_command(port_cmd, "port")
    container = main.commands.get("container")
    if isinstance(container, click.Group):
        container.add_command(port_cmd, "port")
    system = main.commands.get("system")
    if not isinstance(system, click.Group):
        system = click.Group("system", help="Manage dockyard")
        main.add_command(system)
    system.add_command(release_network_cmd, "release-network")
