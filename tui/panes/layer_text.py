"""What the Layers pane draws from data already fetched: the stack's rows,
dive's figures with the steps that wasted bytes, and the file tree's title."""

from __future__ import annotations

from rich.text import Text

from engine.cli.output import size_text
from engine.usage import LayerInfo
from engine.usage.analyze import Analysis

from ..model import Col, Row, step_text
from ..widgets.bars import ratio_bar

__all__ = ["COLUMNS", "analysis_text", "family_title", "files_title", "layer_rows"]

BAR = 10
COLUMNS = (
    Col("index", "#", "X", width=3, right=True),
    Col("step", "Step", "B", flex=1, min=16),
    Col("size", "Size", "S", min=7, right=True, descending=True),
    Col("shared", "Shared by", "H", width=BAR + 10, descending=True),
)


def layer_rows(image_id: str, layers: list[LayerInfo], total_images: int) -> list[Row]:
    rows = []
    total = max(total_images, 1)
    for lay in layers:
        dim = "dim" if lay.empty_layer else ""
        if lay.empty_layer:
            shared = Text("metadata only", style="dim italic")
            users = -1
        else:
            users = 1 + len(lay.shared_by)
            shared = ratio_bar(users / total, BAR, style="cyan" if users > 1 else "green")
            shared.append(f" {users} image{'s' if users != 1 else ''}")
        size = "" if lay.empty_layer else size_text(lay.size, 3)
        rows.append(Row(
            key=f"{image_id}:{lay.index}",
            cells=(Text(str(lay.index), style=dim), Text(step_text(lay.created_by), style=dim),
                   Text(size, style=dim), shared),
            sort=(lay.index, step_text(lay.created_by), lay.size, users),
            text=(lay.created_by, lay.comment, lay.chain_id, lay.diff_id),
            obj=lay,
        ))
    return rows


def analysis_text(a: Analysis | None, max_steps: int = 3) -> Text:
    """dive's figures and the steps whose later changes wasted bytes."""
    if a is None:
        return Text("Analysing…", style="dim")
    d = a.dive
    t = Text.assemble(("Efficiency ", "bold"),
                      (f"{d.efficiency * 100:.1f}%",
                       "green" if d.efficiency >= 0.95 else "yellow"),
                      ("  wasted ", "bold"), size_text(d.wasted_bytes),
                      ("  reclaimable ", "bold"), size_text(a.reclaimable_bytes),
                      ("  final ", "dim"), (size_text(a.final_size), "dim"))
    steps = sorted(a.by_step, key=lambda s: -s.bytes)
    for s in steps[:max_steps]:
        cause = s.causes[0] if s.causes else None
        t.append(f"\n  {size_text(s.bytes):>8}  ", style="magenta")
        t.append(f"#{s.step} {step_text(s.created_by)}", style="")
        if cause is not None:
            t.append(f"  {cause.cause}", style="yellow")
            if cause.files:
                t.append(f" {cause.files[0].path}", style="dim")
    if len(steps) > max_steps:
        t.append(f"\n  … {len(steps) - max_steps} more steps wasted bytes", style="dim")
    t.no_wrap, t.overflow = True, "ellipsis"
    return t


def files_title(step: int, index: int, counts: dict[str, int] | None, *, aggregated: bool,
                by_size: bool, changes_only: bool) -> Text:
    """The line over the file tree: the step and layer, what changed (None:
    still loading), what it is compared with, the order and the filter."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"#{step} ", style="bold")
    t.append(f"layer {index}  ", style="dim")
    if counts is None:
        t.append("loading files…", style="dim")
        return t
    for change, mark, style in (("added", "A", "green"), ("modified", "M", "yellow"),
                                ("removed", "D", "red")):
        t.append(f"{mark} {counts.get(change, 0)}  ", style=style)
    t.append("vs base" if aggregated else "vs below", style="cyan")
    t.append(" · by size" if by_size else " · by name", style="dim")
    if changes_only:
        t.append(" · changes only", style="magenta")
    return t


def family_title(title: str, totals: tuple[int, int, int, int] | None) -> Text:
    """The pane's title line in the tree view: what the family tree holds."""
    t = Text.assemble((title, "bold"), "  ", ("family tree", "cyan"))
    if totals is None:
        t.append("  loading…", style="dim")
        return t
    images, layers, stored, shared = totals
    t.append(f"  {images} image{'s' if images != 1 else ''}, {layers} layer"
             f"{'s' if layers != 1 else ''}, {size_text(stored, 3)} stored, "
             f"{size_text(shared, 3)} shared", style="dim")
    return t
