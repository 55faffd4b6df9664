"""``dockyard image analyze``, ``image layers`` and ``image tree``.

``analyze`` prints dive's figures (``--ci``: dive's rules and report, exit 1
on a failed rule) and what a better Dockerfile would save, step by step.
"""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import InvalidArgument, NotFound
from ..images.digest import short_id
from . import output


def _engine():
    from .group import engine_of

    return engine_of(click.get_current_context())


def _analysis(ref: str):
    from ..usage.analyze import analyze_image

    eng = _engine()
    return analyze_image(eng.store, eng.image_store, eng.snapshots, eng.resolve_image(ref))


def _rules(path: str | None) -> tuple[dict[str, str], str]:
    """The rules of ``path`` (or of ./.dive-ci when there is one, as dive does)."""
    from ..usage.dive_ci import parse_dive_ci

    if path is None:
        if not os.path.isfile(".dive-ci"):
            return {}, "  Using default CI config"
        path = ".dive-ci"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise NotFound(f"CI config {path}: no such file or directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"CI config {path}: {e}") from None
    return parse_dive_ci(text, label=path), f"  Using CI config: {path}"


def _emit(doc: dict, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(output.render([doc], fmt, default_table=""), nl=False)


@click.command("analyze")
@click.argument("image")
@click.option("--format", "fmt", help="Format output: json or a Go template")
@click.option("--ci", is_flag=True, help="Evaluate dive's CI rules; exit 1 if one fails")
@click.option("--ci-config", "ci_config", metavar="FILE",
              help="dive CI rules file (default: ./.dive-ci if present)")
@click.option("--top", default=10, show_default=True,
              help="Inefficient files to show (0: all)")
def analyze_cmd(image, fmt, ci, ci_config, top):
    """Show how efficiently IMAGE's layers store its files (dive's figures),
    and the bytes each step wasted."""
    from ..usage.dive_ci import ci_report, evaluate

    if ci_config and not ci:
        raise click.UsageError("--ci-config needs --ci")
    rules, source = _rules(ci_config) if ci else ({}, "")
    a = _analysis(image)
    result = evaluate(a.dive, rules) if ci else None
    if fmt and fmt != "table":
        doc = a.to_json()
        if result is not None:
            doc["ci"] = result.to_json()
        _emit(doc, fmt)
    elif result is not None:
        click.echo(source)
        click.echo(ci_report(a.dive, result), nl=False)
    else:
        click.echo(_human(a, top), nl=False)
    if result is not None and not result.passed:
        sys.exit(1)


def _human(a, top: int) -> str:
    d = a.dive
    name = a.tags[0] if a.tags else "<none>:<none>"
    pct = f"{d.user_wasted_percent * 100:.4f} %"
    lines = [
        f"Image: {name} ({short_id(a.image_id)})",
        f"  efficiency:          {d.efficiency * 100:.4f} %",
        f"  size:                {output.size_text(d.size_bytes)} ({d.size_bytes} bytes), "
        f"user layers {output.size_text(d.user_size_bytes)}",
        f"  wasted (dive):       {output.size_text(d.wasted_bytes)} ({d.wasted_bytes} bytes), "
        f"{pct} of user bytes",
        f"  reclaimable:         {output.size_text(a.reclaimable_bytes)} "
        f"({a.reclaimable_bytes} bytes); the final image needs "
        f"{output.size_text(a.final_size)}",
        "",
    ]
    files = d.inefficient_files
    shown = files if top <= 0 else files[:top]
    if files:
        rows = "COUNT\tWASTED\tPATH\n" + "".join(
            f"{f.count}\t{output.size_text(f.wasted_bytes)}\t{f.path}\n" for f in shown)
        lines.append("Inefficient files (in 2+ layers):")
        lines.append(output.tabwrite(rows).rstrip("\n"))
        if len(files) > len(shown):
            lines.append(f"… and {len(files) - len(shown)} more (--top 0 shows all)")
    else:
        lines.append("Inefficient files: none")
    if a.by_step:
        lines += ["", "Reclaimable, by the step that wasted it:"]
        for s in a.by_step:
            lines.append(f"  step {s.step}: {output.size_text(s.bytes)}  {_clip(s.created_by)}")
            for c in s.causes:
                paths = ", ".join(w.path for w in c.files[:3])
                more = f" (+{len(c.files) - 3} more)" if len(c.files) > 3 else ""
                lines.append(f"    {output.size_text(c.bytes)} {c.cause}: {paths}{more}")
                lines.append(f"      hint: {c.hint}")
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@click.command("layers")
@click.argument("image")
@click.option("--layer", "index", type=int, help="Only layer N (0 = base; -1 = top)")
@click.option("--format", "fmt", help="Format output: json or a Go template")
def layers_cmd(image, index, fmt):
    """List what each layer of IMAGE added, modified and removed."""
    layers = list(_analysis(image).layers)
    if index is not None:
        if not -len(layers) <= index < len(layers):
            raise InvalidArgument(f"layer {index} out of range: the image has {len(layers)} "
                                  "layers (0 is the base)")
        layers = [layers[index]]
    if fmt and fmt != "table":
        docs = [{"index": lr.index, "step": lr.step, "chain_id": lr.chain_id,
                 "diff_id": lr.diff_id, "created_by": lr.created_by, "size_bytes": lr.size,
                 "changes": [{"kind": c.kind, "path": c.path, "type": c.type,
                              "size_bytes": c.size, **({"link": c.link} if c.link else {})}
                             for c in lr.changes]} for lr in layers]
        if fmt == "json":
            click.echo(json.dumps(docs, indent=2))
        else:
            click.echo(output.render(docs, fmt, default_table=""), nl=False)
        return
    out = []
    for lr in layers:
        out.append(f"LAYER {lr.index}  {short_id(lr.diff_id)}  {output.size_text(lr.size)}  "
                   f"{_clip(lr.created_by)}")
        rows = "".join(f"  {c.kind}\t{_size(c)}\t{_path(c)}\n" for c in lr.changes)
        out.append(output.tabwrite(rows).rstrip("\n") if rows else "  (no changes)")
    click.echo("\n".join(out))


def _path(c) -> str:
    if c.type == "dir":
        return c.path + "/"
    if c.link:
        return f"{c.path} -> {c.link}" if c.type == "symlink" else f"{c.path} => {c.link}"
    return c.path


def _size(c) -> str:
    return "-" if c.type == "dir" and c.kind != "removed" else output.size_text(c.size)


@click.command("tree")
@click.option("-a", "--all-layers", "all_layers", is_flag=True,
              help="One line per layer (default: fold runs of unshared layers)")
@click.option("--format", "fmt", help="Format output: json")
def tree_cmd(all_layers, fmt):
    """Show how images share layers: base layers branching into the images
    built on them."""
    from ..usage.tree import layer_tree, render

    eng = _engine()
    roots = layer_tree(eng.store, eng.image_store)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in roots], indent=2))
    elif fmt and fmt != "table":
        raise InvalidArgument(f"unsupported format {fmt!r} for image tree: use json")
    else:
        click.echo(render(roots, fold=not all_layers), nl=False)


def register(main: click.Group) -> None:
    group = main.commands["image"]
    assert isinstance(group, click.Group)
    for name, cmd in {"analyze": analyze_cmd, "layers": layers_cmd, "tree": tree_cmd}.items():
        group.add_command(cmd, name)
