"""``dockyard image …`` and its top-level aliases (images, tag, rmi, load …)."""

from __future__ import annotations

import sys
import time

import click

from ..errors import InvalidArgument, NotFound
from ..filters import IMAGE_FILTERS, match_image, parse_filters
from ..images.digest import short_id
from . import output

IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                        "{{.CreatedSince}}\t{{.Size}}")
IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                 "Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                 "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                 "VirtualSize": "VIRTUAL SIZE", "Containers": "CONTAINERS"}
HISTORY_TABLE = ("table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}")
HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


# -- images ----------------------------------------------------------------
@click.command("images")
@click.argument("repository", required=False)
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all images "
              "(default hides intermediate images)")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output (key=value)")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def images_cmd(repository, show_all, quiet, digests, no_trunc, filters, fmt):
    """List images."""
    eng = _engine()
    f = parse_filters(list(filters), IMAGE_FILTERS)
    if repository:
        f = parse_filters([*filters, f"reference={repository}"], IMAGE_FILTERS)
    all_images = eng.images()
    by_id = {i.id: i for i in all_images}
    parents = {i.parent_id for i in all_images if i.parent_id}

    def resolve(ref: str):
        return by_id[eng.resolve_image(ref)]

    shown = []
    for img in all_images:
        if not show_all and img.dangling and img.id in parents:
            continue  # an intermediate image (Docker hides them without -a)
        if f and not match_image(img, f, resolve=resolve):
            continue
        shown.append(img)
    now = time.time()
    if quiet:
        seen = dict.fromkeys(i.id if no_trunc else short_id(i.id) for i in shown)
        click.echo("".join(f"{i}\n" for i in seen), nl=False)
        return
    rows = []
    for img in shown:
        for repo, tag, digest in _image_rows(img, reference_filter=f.get("reference")):
            rows.append({
                "Containers": str(img.containers) if img.containers else "N/A",
                "CreatedAt": output.created_at_text(img.created),
                "CreatedSince": output.since_text(img.created, now) if img.created else "N/A",
                "Digest": digest,
                "ID": img.id if no_trunc else short_id(img.id),
                "Repository": repo, "Tag": tag,
                "SharedSize": "N/A", "UniqueSize": "N/A",
                "Size": output.size_text(img.size, 3),
                "VirtualSize": output.size_text(img.size, 3),
            })
    default = IMAGES_TABLE_DIGESTS if digests else IMAGES_TABLE
    if fmt and fmt.strip() == "table" and digests:
        fmt = None
    click.echo(output.render(rows, fmt, default_table=default, headers=IMAGE_HEADERS), nl=False)


def _image_rows(img, reference_filter=None) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows for one image, as `docker images` makes them."""
    digests: dict[str, str] = {}
    for d in img.repo_digests:
        repo, _, digest = d.partition("@")
        digests.setdefault(repo, digest)
    rows = []
    for t in img.repo_tags:
        repo, _, tag = t.rpartition(":")
        rows.append((repo, tag, digests.get(repo, "<none>")))
    if not rows:
        rows = [(repo, "<none>", digest) for repo, digest in digests.items()]
    if reference_filter and img.repo_tags:
        from ..filters import match_reference

        rows = [r for r in rows if any(match_reference(f"{r[0]}:{r[1]}", pat)
                                       for pat in reference_filter)] or rows
    return rows or [("<none>", "<none>", "<none>")]


# -- tag / rmi ---------------------------------------------------------------
@click.command("tag")
@click.argument("source")
@click.argument("target")
def tag_cmd(source, target):
    """Create a tag TARGET that refers to SOURCE."""
    _engine().tag(source, target)


@click.command("rmi")
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
def rmi_cmd(images, force, no_prune):
    """Remove one or more images."""
    eng = _engine()
    output.act_on_each(images, lambda ref: eng.remove_image(ref, force=force, prune=not no_prune),
                       show=lambda lines: lines, prefix="Error: ")


# -- inspect / history -------------------------------------------------------
@click.command("inspect")
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Format output using a Go template")
def inspect_cmd(images, fmt):
    """Display detailed information on one or more images."""
    eng = _engine()
    output.inspect_each(images, eng.image_inspect, fmt, missing_on=NotFound)


@click.command("history")
@click.argument("image")
@click.option("-H", "--human", default=True, type=bool, help="Print sizes and dates in human "
              "readable format")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("--format", "fmt", help="Format output: table, json, or a Go template")
def history_cmd(image, human, quiet, no_trunc, fmt):
    """Show the history of an image."""
    eng = _engine()
    entries = eng.history(image)
    now = time.time()
    if quiet:
        for e in entries:
            click.echo(e.image_id if no_trunc or e.image_id == "<missing>"
                       else short_id(e.image_id))
        return
    rows = []
    for e in entries:
        created_by = e.created_by.replace("\n", " ").replace("\t", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({
            "ID": e.image_id if no_trunc or e.image_id == "<missing>" else short_id(e.image_id),
            "CreatedSince": (output.since_text(e.created, now) if human
                             else output.created_at_text(e.created)) if e.created else "N/A",
            "CreatedAt": output.created_at_text(e.created),
            "CreatedBy": created_by,
            "Size": output.size_text(e.size, 3) if human else str(e.size),
            "Comment": e.comment,
        })
    click.echo(output.render(rows, fmt, default_table=HISTORY_TABLE, headers=HISTORY_HEADERS),
               nl=False)


# -- load / save / import ----------------------------------------------------
@click.command("load")
@click.option("-i", "--input", "path", help="Read from tar archive file, instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.option("--platform", help="Load only the given platform variant")
def load_cmd(path, quiet, platform):
    """Load images from a tar archive (docker-archive or OCI layout) or STDIN."""
    eng = _engine()
    if path is None and sys.stdin.isatty():
        raise InvalidArgument("requested load from stdin, but stdin is empty")
    try:
        src = open(path, "rb") if path else sys.stdin.buffer  # noqa: SIM115
    except FileNotFoundError:
        raise NotFound(f"open {path}: no such file or directory") from None
    try:
        loaded = eng.load(src, label=path or "stdin", platform=platform)
    finally:
        if path:
            src.close()
    if not quiet:
        for item in loaded:
            if item.tags:
                for t in item.tags:
                    click.echo(f"Loaded image: {t}")
            else:
                click.echo(f"Loaded image ID: {item.id}")


@click.command("save")
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", "path", help="Write to a file, instead of STDOUT")
@click.option("--format", "fmt", default="docker-archive", show_default=True,
              type=click.Choice(["docker-archive", "oci-archive"]), help="Archive format")
def save_cmd(images, path, fmt):
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    import os
    import tempfile

    eng = _engine()
    if path is None:
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag "
                                  "or redirect")
        eng.save(images, sys.stdout.buffer, format=fmt)
        return
    # write beside the target and rename: a failed save leaves no half file
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".dockyard-save-")
    try:
        with os.fdopen(fd, "wb") as out:
            eng.save(images, out, format=fmt)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@click.command("import")
@click.argument("file")
@click.argument("reference", required=False)
@click.option("-c", "--change", "changes", multiple=True,
              help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", help="Set platform if server is multi-platform capable")
def import_cmd(file, reference, changes, message, platform):
    """Import the contents from a tarball to create a filesystem image."""
    eng = _engine()
    if file == "-":
        image_id = eng.import_image(sys.stdin.buffer, source="-", ref=reference,
                                    changes=changes, message=message, platform=platform)
    else:
        try:
            src = open(file, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise NotFound(f"open {file}: no such file or directory") from None
        with src:
            image_id = eng.import_image(src, source=file, ref=reference, changes=changes,
                                        message=message, platform=platform)
    click.echo(image_id)


COMMANDS = {"ls": images_cmd, "tag": tag_cmd, "rm": rmi_cmd, "inspect": inspect_cmd,
            "history": history_cmd, "load": load_cmd, "save": save_cmd, "import": import_cmd}


def register(main: click.Group) -> None:
    group = click.Group("image", help="Manage images")
    for name, cmd in COMMANDS.items():
        group.add_command(cmd, name)
    group.add_command(images_cmd, "list")
    main.add_command(group)
    for name, cmd in {"images": images_cmd, "tag": tag_cmd, "rmi": rmi_cmd,
                      "inspect": inspect_cmd, "history": history_cmd, "load": load_cmd,
                      "save": save_cmd, "import": import_cmd}.items():
        main.add_command(cmd, name)
