"""Rows for the panes: engine objects turned into display cells, sort keys and
filter matching.  Pure functions over data already fetched by a worker, so
the UI thread can re-filter and re-sort without any I/O.

Terms:
- :class:`Col` — one column of a pane: label, the shift+letter that sorts by
  it, and how it takes width (fixed/auto, or ``flex`` for what is left).
- :class:`Row` — one line: a stable ``key`` (cursor and marks follow it across
  refreshes), the cells, one sort value per column, and the object it shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from engine import ContainerSummary, ImageSummary
from engine.cli.output import since_text, size_text
from engine.errors import NotFound
from engine.filters import Filters, match_container
from engine.humanize import status_text
from engine.images.digest import short_id

__all__ = [
    "CONTAINER_FILTERS",
    "Col",
    "ImageRef",
    "Row",
    "container_rows",
    "container_status",
    "image_refs",
    "image_resolver",
    "image_rows",
    "container_matcher",
    "one_line",
    "step_text",
]


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    sort_key: str | None = None  # shift+letter that sorts by this column
    width: int | None = None  # fixed width; None = fit the content
    min: int = 1
    max: int = 40
    flex: int = 0  # > 0: shares the width left over by the other columns
    right: bool = False
    descending: bool = False  # first press sorts descending (sizes, dates)
    hide_below: int = 0  # hidden while the pane is narrower than this


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Any, ...]  # str or rich Text, one per column
    sort: tuple[Any, ...]  # one comparable per column
    text: tuple[str, ...] = ()  # what the free-text filter searches
    obj: Any = field(default=None, compare=False)


def one_line(s: str) -> str:
    return " ".join(s.split())


def created_cell(ts: float, now: float) -> str:
    return since_text(ts, now) if ts else "N/A"


# -- images -------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """One Images row: the image and the name this row stands for (what
    ``rmi``/``tag`` get: "repo:tag", "repo@digest", or the image ID)."""

    image: ImageSummary
    repository: str
    tag: str
    ref: str

    @property
    def by_name(self) -> bool:
        return self.ref != self.image.id


def image_refs(img: ImageSummary) -> list[ImageRef]:
    """The rows ``docker images`` shows for one image: one per tag; a
    digest-only image shows its repository with tag <none>."""
    out = []
    for t in img.repo_tags:
        repo, _, tag = t.rpartition(":")
        out.append(ImageRef(img, repo, tag, t))
    if not out:
        seen: set[str] = set()
        for d in img.repo_digests:
            repo = d.partition("@")[0]
            if repo not in seen:
                seen.add(repo)
                out.append(ImageRef(img, repo, "<none>", d))
    return out or [ImageRef(img, "<none>", "<none>", img.id)]


def image_rows(images: Sequence[ImageSummary], now: float) -> list[Row]:
    rows = []
    for img in images:
        for r in image_refs(img):
            none = "italic yellow"
            repo = Text(r.repository, style=none if r.repository == "<none>" else "")
            tag = Text(r.tag, style=none if r.tag == "<none>" else "")
            if img.dangling:
                tag.append(" dangling", style="dim yellow")
            rows.append(Row(
                key=f"{img.id} {r.ref}",
                cells=(repo, tag, short_id(img.id), created_cell(img.created, now),
                       size_text(img.size, 3), str(img.containers)),
                sort=(r.repository, r.tag, img.id, img.created, img.size, img.containers),
                text=(r.repository, r.tag, img.id.removeprefix("sha256:"),
                      *img.repo_digests),
                obj=r,
            ))
    return rows


def image_resolver(images: Sequence[ImageSummary]) -> Callable[[str], ImageSummary]:
    """Resolve ``before=``/``since=`` values against already-fetched images,
    as ``engine.resolve_image`` would: full or short ID, or a name."""
    def resolve(value: str) -> ImageSummary:
        hexpart = value.removeprefix("sha256:")
        wanted = value if ":" in value.rpartition("/")[2] or "@" in value else value + ":latest"
        for img in images:
            if wanted in img.repo_tags or value in img.repo_digests:
                return img
        if re.fullmatch(r"[0-9a-f]{1,64}", hexpart):
            hits = [i for i in images if i.id.removeprefix("sha256:").startswith(hexpart)]
            if len(hits) == 1:
                return hits[0]
        raise NotFound(f"No such image: {value}", ref=value)
    return resolve


# -- containers ---------------------------------------------------------------

CONTAINER_FILTERS = frozenset({"status", "name", "id", "label", "ancestor", "exited",
                               "before", "since"})


def container_matcher(containers: Sequence[ContainerSummary],
                      images: Sequence[ImageSummary]) -> Callable[[ContainerSummary, Filters],
                                                                    bool]:
    """``engine.filters.match_container`` over already-fetched data, so
    ``ps --filter`` and "/" agree exactly without I/O on the UI thread."""
    def resolve(value: str) -> ContainerSummary:
        for c in containers:
            if value in (c.name, c.id) or c.id.startswith(value):
                return c
        raise NotFound(f"No such container: {value}", ref=value)

    find_image = image_resolver(images)

    def resolve_image(value: str) -> str:
        return find_image(value).id

    def match(c: ContainerSummary, f: Filters) -> bool:
        return match_container(c, f, resolve=resolve, resolve_image=resolve_image)
    return match


def container_status(c: ContainerSummary, now: float) -> str:
    """Docker's STATUS column."""
    return status_text(c.state, c.exit_code, c.started_at, c.finished_at, now,
                       restart_count=c.restart_count)


STATE_STYLE = {"running": "green", "paused": "yellow", "restarting": "yellow",
               "exited": "dim", "dead": "red", "created": ""}


def container_rows(containers: Sequence[ContainerSummary], now: float) -> list[Row]:
    rows = []
    for c in containers:
        status = Text(container_status(c, now), style=STATE_STYLE.get(c.state, ""))
        rw = size_text(c.size_rw) if c.size_rw is not None else "—"
        rows.append(Row(
            key=c.id,
            cells=(c.name, c.id[:12], c.image, status, ", ".join(c.ports), "—", "—", rw),
            sort=(c.name, c.id, c.image, (c.state, c.started_at), c.ports, 0.0, 0,
                  c.size_rw or 0),
            text=(c.name, c.id, c.image, c.state, c.command),
            obj=c,
        ))
    return rows


# -- layers -------------------------------------------------------------------

_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_SH = re.compile(r"^/bin/sh -c\s+")


def step_text(created_by: str) -> str:
    """The Dockerfile step as one line, the way dive shows it: the shell
    wrapper of classic builds removed ("RUN apk add …", "CMD [\"sh\"]")."""
    s = one_line(created_by)
    if _NOP.match(s):
        return _NOP.sub("", s)
    if _SH.match(s):
        return "RUN " + _SH.sub("", s)
    return s
