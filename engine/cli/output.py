"""Render rows the way the Docker CLI does: ``--format table|json|<template>``.

A row is a mapping of Docker's field names ("Repository", "ID", …) to values
that are already display text. :func:`render` returns exactly what Docker
writes to stdout (every line ends in "\\n"; nothing at all for no rows unless a
table header is due), so callers use ``click.echo(text, nl=False)``.

Templates are a subset of Go's text/template plus docker/cli's functions:
fields (``.A.B``, ``$``, ``$v``), pipelines ``|``, parentheses, ``if``/
``else``/``else if``/``range``/``with``/``end``, ``{{-``/``-}}`` trims and
``json split join title lower upper pad truncate index len print println
printf eq ne lt le gt ge not and or``. A key missing from the row itself is an
error (Docker's rows are structs); a key missing deeper prints "<no value>".
Tables go through Go's tabwriter configured as docker/cli does
(minwidth 10, tabwidth 1, padding 3, padchar ' ').
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from engine.errors import EngineError, InvalidArgument

from .gotemplate import COMMON_HEADERS, Exec, Header, Parser

__all__ = [
    "COMMON_HEADERS",
    "DAEMON_ERROR",
    "act_on_each",
    "created_at_text",
    "render",
    "since_text",
    "size_text",
    "tabwrite",
]



# -- go-units (shared with the TUI in engine/humanize.py) -----------------------
from engine.humanize import human_duration, since_text, size_text  # noqa: E402, F401


def created_at_text(ts: float, tz: tzinfo | None = None) -> str:
    """Go's ``time.Unix(ts, 0).String()``: "2024-09-26 21:31:42 +0000 UTC"
    (local time unless *tz* is given)."""
    dt = datetime.fromtimestamp(int(ts), tz) if tz else datetime.fromtimestamp(int(ts)).astimezone()
    return dt.strftime("%Y-%m-%d %H:%M:%S %z ") + (dt.tzname() or "")



# -- tabwriter (Go's text/tabwriter algorithm: cells are tab-terminated) ----------


def _width(s: str) -> int:
    if s.isascii():
        return len(s)
    import unicodedata  # only for text that needs it

    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in s
    )


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths) and j < len(lines[i]) - 1:
                    out.append(" " * (widths[j] - _width(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column, this = len(widths), line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0, width = this, minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, _width(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    return "".join(out)


# -- render ---------------------------------------------------------------------


def render(
    rows: Sequence[Mapping[str, Any]],
    fmt: str | None,
    *,
    default_table: str,
    quiet_field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Format *rows* as Docker's CLI does for ``--format`` *fmt*.

    None/"table" use *default_table* (or just *quiet_field* per line when
    ``-q`` is in effect); "json" prints one compact JSON object per line;
    "table <tmpl>" prints a header (names from *headers*, then
    COMMON_HEADERS, then the field name upper-cased) and aligned columns;
    anything else is a template run once per row.
    """
    if not fmt or fmt == "table":
        fmt = "{{." + quiet_field + "}}" if quiet_field else default_table
    elif fmt == "json":
        fmt = "{{json .}}"
    table = fmt.startswith("table")
    src = (fmt[5:] if table else fmt).strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    tree = Parser(src).parse()
    body: list[str] = []
    for row in rows:
        Exec(src, row, None).run(tree, row, {}, body)
        body.append("\n")
    if not table:
        return "".join(body)
    head: list[str] = []
    root = Header()
    try:
        Exec(src, root, headers or {}).run(tree, root, {}, head)
    except InvalidArgument:
        pass  # docker/cli ignores header errors and keeps what was written

    return tabwrite("".join(head) + "\n" + "".join(body))


#: how docker/cli starts an error line that passes on the daemon's answer
DAEMON_ERROR = "Error response from daemon: "


def act_on_each(refs: Iterable[str], act: Callable[[str], Any], *,
                show: Callable[[Any], Iterable[str]] | None = None,
                prefix: str = DAEMON_ERROR,
                passed_over: type[EngineError] | tuple[type[EngineError], ...] = ()) -> None:
    """Docker's loop for a verb on many objects (``rm``, ``stop``, ``rmi`` …):
    ``act`` on each ref in turn and print the ref as given (or each line
    ``show`` makes of what ``act`` returned).  A ref whose ``act`` raises one
    of ``passed_over`` is skipped in silence (``network rm -f`` of a missing
    network); any other :class:`EngineError` is one line on stderr after
    ``prefix`` and the loop goes on; exit 1 at the end if any was reported."""
    import sys

    import click

    failed = False
    for ref in refs:
        try:
            result = act(ref)
        except passed_over:
            continue
        except EngineError as e:
            click.echo(f"{prefix}{e}", err=True)
            failed = True
            continue
        for line in ((ref,) if show is None else show(result)):
            click.echo(line)
    if failed:
        sys.exit(1)


def inspect_each(refs: Sequence[str], get: Callable[[str], Mapping[str, Any]],
                 fmt: str | None, *,
                 missing_on: type[Exception] | tuple[type[Exception], ...],
                 prefix: str = "Error: ") -> None:
    """``inspect`` of each ref with ``get``: a ref whose ``get`` raises one of
    ``missing_on`` is reported missing, the rest printed (:func:`print_inspected`)."""
    found, missing = [], []
    for ref in refs:
        try:
            found.append(get(ref))
        except missing_on as e:
            missing.append(str(e))
    print_inspected(found, missing, fmt, prefix=prefix)


def print_inspected(found: Sequence[Mapping[str, Any]], missing: Sequence[str],
                    fmt: str | None, *, prefix: str = "Error: ") -> None:
    """What every ``inspect`` prints: the JSON array (or a template per object),
    then one error line per missing object, and exit 1 if there was any.

    ``prefix`` starts each error line as the Docker CLI words that noun's
    errors: "Error: " for containers and images, "Error response from
    daemon: " where docker/cli passes the daemon's answer on (networks,
    volumes)."""
    import json
    import sys

    if fmt:
        for obj in found:
            sys.stdout.write(render([obj], fmt, default_table=""))
    else:
        sys.stdout.write(json.dumps(found, indent=4) + "\n")
    sys.stdout.flush()
    for m in missing:
        sys.stderr.write(f"{prefix}{m}\n")
    if missing:
        sys.exit(1)
