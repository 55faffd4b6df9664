"""``system df``, and the prunes: image, container, volume, builder, system.

Every prune takes ``--dry-run``: it lists exactly what would go and the
exact bytes it would free (the real prune then frees exactly that).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from . import output

DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _pct(part: int, whole: int) -> str:
    return f" ({int(part * 100 / whole) if whole else 0}%)"


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def df_cmd(verbose, fmt):
    """Show disk usage: images, containers, volumes, build cache, logs, blobs."""
    from ..usage.df import disk_usage

    du = disk_usage(_engine())
    rows = [{"Type": c.name, "TotalCount": str(c.total), "Active": str(c.active),
             "Size": output.size_text(c.size, 4),
             "Reclaimable": output.size_text(c.reclaimable, 4) +
             ("" if c.name == "Build Cache" else _pct(c.reclaimable, c.size))}
            for c in du.categories]
    if fmt == "json" and verbose:
        click.echo(json.dumps(_verbose_json(du)))
        return
    if not verbose:
        click.echo(output.render(rows, fmt, default_table=DF_TABLE, headers=DF_HEADERS), nl=False)
        return
    now = time.time()
    click.echo("Images space usage:\n")
    img_rows = []
    for i in du.images:
        for tag in i.repo_tags or ("<none>:<none>",):
            repo, _, t = tag.rpartition(":")
            img_rows.append({"Repository": repo, "Tag": t, "ID": i.id[7:19],
                             "CreatedSince": output.since_text(i.created, now) if i.created
                             else "N/A", "Size": output.size_text(i.size, 4),
                             "SharedSize": output.size_text(i.shared_size, 4),
                             "UniqueSize": output.size_text(i.unique_size, 4),
                             "Containers": str(i.containers)})
    click.echo(output.render(img_rows, None, default_table=(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
        "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"),
        headers={"ID": "IMAGE ID", "CreatedSince": "CREATED"}), nl=False)
    click.echo("\nContainers space usage:\n")
    c_rows = [{"ID": c.id[:12], "Image": c.image, "Command": f'"{c.command[:19]}"',
               "LocalVolumes": str(c.volumes), "Size": output.size_text(c.size_rw, 4),
               "CreatedSince": output.since_text(c.created, now),
               "Status": c.state, "Names": c.name, "Logs": output.size_text(c.log_size, 4)}
              for c in du.containers]
    click.echo(output.render(c_rows, None, default_table=(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.Logs}}\t"
        "{{.CreatedSince}}\t{{.Status}}\t{{.Names}}"),
        headers={"ID": "CONTAINER ID", "LocalVolumes": "LOCAL VOLUMES", "Logs": "LOGS",
                 "CreatedSince": "CREATED"}), nl=False)
    click.echo("\nLocal Volumes space usage:\n")
    v_rows = [{"Name": v.name, "Links": str(v.links), "Size": output.size_text(v.size, 4)}
              for v in du.volumes]
    click.echo(output.render(v_rows, None, default_table="table {{.Name}}\t{{.Links}}\t"
                             "{{.Size}}", headers={"Name": "VOLUME NAME", "Links": "LINKS"}),
               nl=False)
    cache = next(c for c in du.categories if c.name == "Build Cache")
    click.echo(f"\nBuild cache usage: {output.size_text(cache.size, 4)}\n")
    extra = [c for c in du.categories if c.name in ("Logs", "Blobs", "Metadata")]
    click.echo("Also on disk (Docker does not show these):\n")
    click.echo(output.render([r for r in rows if r["Type"] in {c.name for c in extra}], None,
                             default_table=DF_TABLE, headers=DF_HEADERS), nl=False)
    click.echo(f"\nTotal: {output.size_text(du.total, 4)} in {_engine().root}")


def _verbose_json(du) -> dict:  # noqa: ANN001
    return {
        "Images": [vars(i) | {"repo_tags": list(i.repo_tags)} for i in du.images],
        "Containers": [vars(c) for c in du.containers],
        "Volumes": [vars(v) for v in du.volumes],
        "Categories": [vars(c) for c in du.categories],
        "Total": du.total,
    }


def _confirm(force: bool, warning: str) -> None:
    if force:
        return
    click.echo(f"WARNING! {warning}")
    if not click.confirm("Are you sure you want to continue?", default=False,
                         show_default=True, err=False):
        sys.exit(0)


def _report(title: str, rep, dry: bool) -> None:  # noqa: ANN001
    if rep.deleted:
        click.echo(f"{'Would delete' if dry else 'Deleted'} {title}:")
        for line in rep.deleted:
            click.echo(line)
        click.echo()


def _total(reclaimed: int, dry: bool) -> None:
    what = "Total space that would be reclaimed" if dry else "Total reclaimed space"
    click.echo(f"{what}: {output.size_text(reclaimed, 4)}")


def _prune(title: str, warning: str, prune: Callable[[], Any], *, force: bool,
           dry_run: bool) -> None:
    """A one-kind prune once its filters are read: ask (unless ``--force`` or
    ``--dry-run``), then ``prune()`` and list what went (or would) and the bytes."""
    if not dry_run:
        _confirm(force, warning)
    rep = prune()
    _report(title, rep, dry_run)
    _total(rep.reclaimed, dry_run)


def prune_options(f):  # noqa: ANN001, ANN201
    f = click.option("--dry-run", is_flag=True, help="Only list what would be removed and "
                     "how many bytes it frees")(f)
    f = click.option("--filter", "filters", multiple=True, help="Provide filter values "
                     "(e.g. until=<timestamp>, label=<key>=<value>)")(f)
    return click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")(f)


@click.command("prune")
@click.option("-a", "--all", "all_images", is_flag=True, help="Remove all unused images, "
              "not just dangling ones")
@prune_options
def image_prune_cmd(all_images, force, filters, dry_run):
    """Remove unused images."""
    from ..usage.prune import parse_prune_filters, prune_images

    f = parse_prune_filters(list(filters), {"until", "label", "label!", "dangling"})
    if f.pop("dangling", ["true"])[-1] == "false":
        all_images = True
    _prune("Images", "This will remove all images without at least one container associated "
           "to them." if all_images else "This will remove all dangling images.",
           lambda: prune_images(_engine(), all_images=all_images, filters=f, dry_run=dry_run),
           force=force, dry_run=dry_run)


@click.command("prune")
@prune_options
def container_prune_cmd(force, filters, dry_run):
    """Remove all stopped containers."""
    from ..usage.prune import parse_prune_filters, prune_containers

    f = parse_prune_filters(list(filters), {"until", "label", "label!"})
    _prune("Containers", "This will remove all stopped containers.",
           lambda: prune_containers(_engine(), filters=f, dry_run=dry_run),
           force=force, dry_run=dry_run)


@click.command("prune")
@click.option("-a", "--all", "all_volumes", is_flag=True, help="Remove all unused volumes, "
              "not just anonymous ones")
@prune_options
def volume_prune_cmd(all_volumes, force, filters, dry_run):
    """Remove unused local volumes."""
    from ..usage.prune import parse_prune_filters, prune_volumes

    f = parse_prune_filters(list(filters), {"label", "label!", "all"})
    if f.pop("all", ["false"])[-1] in ("1", "true"):
        all_volumes = True
    _prune("Volumes", "This will remove all local volumes not used by at least one container."
           if all_volumes else "This will remove anonymous local volumes not used by at least "
           "one container.",
           lambda: prune_volumes(_engine(), all_volumes=all_volumes, filters=f, dry_run=dry_run),
           force=force, dry_run=dry_run)


@click.command("prune")
@prune_options
@click.option("-a", "--all", "all_cache", is_flag=True, help="Remove all unused build cache")
@click.option("--keep-storage", default="0", help="Amount of disk space to keep for cache")
def builder_prune_cmd(force, filters, dry_run, all_cache, keep_storage):
    """Remove build cache."""
    from ..build.cache import prune_cache
    from ..runtime.options import parse_size
    from ..usage.prune import parse_prune_filters

    f = parse_prune_filters(list(filters), {"until", "id"})
    _prune("build cache objects", "This will remove all build cache." if all_cache else
           "This will remove all dangling build cache.",
           lambda: prune_cache(_engine(), all=all_cache, filters=f, dry_run=dry_run,
                               keep_storage=parse_size(keep_storage, what="keep-storage")),
           force=force, dry_run=dry_run)


@click.command("prune")
@prune_options
@click.option("-a", "--all", "all_images", is_flag=True, help="Remove all unused images not "
              "just dangling ones")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes")
def system_prune_cmd(force, filters, dry_run, all_images, volumes):
    """Remove unused data: stopped containers, unused networks, dangling images, build cache."""
    from ..usage.prune import (
        parse_prune_filters,
        prune_containers,
        prune_images,
        prune_networks,
        prune_volumes,
    )

    f = parse_prune_filters(list(filters), {"until", "label", "label!"})
    if not dry_run:
        items = ["all stopped containers", "all networks not used by at least one container"]
        if volumes:
            items.append("all anonymous volumes not used by at least one container")
        items.append("all images without at least one container associated to them"
                     if all_images else "all dangling images")
        items.append("unused build cache" if all_images else "all dangling build cache")
        _confirm(force, "This will remove:\n" + "".join(f"  - {i}\n" for i in items).rstrip())
    eng = _engine()
    total = 0
    rep = prune_containers(eng, filters=f, dry_run=dry_run)
    _report("Containers", rep, dry_run)
    total += rep.reclaimed
    rep = prune_networks(eng, filters={k: v for k, v in f.items() if k != "until"},
                         dry_run=dry_run)
    _report("Networks", rep, dry_run)
    if volumes:
        rep = prune_volumes(eng, filters={k: v for k, v in f.items() if k != "until"},
                            dry_run=dry_run)
        _report("Volumes", rep, dry_run)
        total += rep.reclaimed
    rep = prune_images(eng, all_images=all_images, filters=f, dry_run=dry_run)
    _report("Images", rep, dry_run)
    total += rep.reclaimed
    from ..build.cache import prune_cache

    rep = prune_cache(eng, all=all_images, filters={k: v for k, v in f.items() if k == "until"},
                      dry_run=dry_run)
    _report("build cache objects", rep, dry_run)
    total += rep.reclaimed
    _total(total, dry_run)


def _group(main: click.Group, name: str, help: str) -> click.Group:  # noqa: A002
    if name not in main.commands:
        main.add_command(click.Group(name, help=help))
    group = main.commands[name]
    assert isinstance(group, click.Group)
    return group


def register(main: click.Group) -> None:
    _group(main, "system", "Manage dockyard").add_command(df_cmd, "df")
    _group(main, "system", "Manage dockyard").add_command(system_prune_cmd, "prune")
    _group(main, "image", "Manage images").add_command(image_prune_cmd, "prune")
    _group(main, "container", "Manage containers").add_command(container_prune_cmd, "prune")
    _group(main, "builder", "Manage builds").add_command(builder_prune_cmd, "prune")
    _group(main, "volume", "Manage volumes").add_command(volume_prune_cmd, "prune")
