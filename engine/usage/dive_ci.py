"""dive compatibility: its efficiency figures, its ``--ci`` rules, its report.

A port of wagoodman/dive (``dive/filetree/efficiency.go``,
``dive/image/analysis.go``, ``runtime/ci``), kept faithful on purpose so the
numbers match dive's for the same image:

- Each layer is a tree of its tar entries (a missing parent becomes a node
  with an empty payload; ``.wh..wh..opq`` markers are dropped, so dive
  ignores opaque directories).  Only *leaves* are counted, visited depth
  first with names in byte order.
- A leaf adds its header size to its path's total and count; a whiteout
  adds 0, or, when the path was a directory in the layers below (stacked the
  way dive stacks them: opaque dirs ignored), the sizes of everything under
  it.  A whiteout of a path no layer below has makes dive stop counting the
  rest of that layer and leaves a -1 in the minimum sum: ported as is.
- efficiency = Σ per-path minimum / Σ per-path total (1.0 when the total
  is 0); a path counted in 2+ layers is inefficient and its total is
  wasted; user size = every layer's size but the first.

``.dive-ci`` is YAML; only its ``rules:`` mapping is read (the keys
dive reads, in camelCase or dive ≥ 0.13's kebab-case), so a small parser
suffices and no YAML library is needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..errors import InvalidArgument
from .tree import Entry, PathNode

__all__ = [
    "DEFAULT_RULES",
    "CiResult",
    "DiveFigures",
    "InefficientFile",
    "RuleResult",
    "ci_report",
    "dive_figures",
    "evaluate",
    "go_float",
    "humanize_bytes",
    "parse_bytes",
    "parse_dive_ci",
]


@dataclass(frozen=True)
class InefficientFile:
    path: str
    count: int  # layers it was counted in
    wasted_bytes: int  # its total over those layers


@dataclass(frozen=True)
class DiveFigures:
    efficiency: float
    size_bytes: int
    user_size_bytes: int
    wasted_bytes: int
    user_wasted_percent: float  # a ratio, as dive's; inf if waste but no user bytes
    inefficient_files: tuple[InefficientFile, ...]  # dive's report order: largest first

    def to_json(self) -> dict[str, Any]:
        pct = self.user_wasted_percent
        return {
            "efficiency": self.efficiency, "size_bytes": self.size_bytes,
            "user_size_bytes": self.user_size_bytes, "wasted_bytes": self.wasted_bytes,
            "user_wasted_percent": pct if math.isfinite(pct) else None,
            "inefficient_files": [{"path": f.path, "count": f.count,
                                   "wasted_bytes": f.wasted_bytes}
                                  for f in self.inefficient_files],
        }


# -- the efficiency port ------------------------------------------------------------

def _layer_tree(entries: Sequence[Entry]) -> PathNode:
    root = PathNode()
    for e in entries:
        head, _, name = e.path.rpartition("/")
        path = f"{head}/.wh.{name}" if e.kind == "whiteout" else e.path
        root.add(path, e.size, e.kind == "dir")
    return root


def _stack(lower: PathNode, upper: PathNode) -> None:
    for path, node in upper.walk(leaves=False):
        head, _, name = path.rpartition("/")
        if name.startswith(".wh."):
            lower.remove(f"{head}/{name[4:]}")
        else:
            lower.add(path, node.size, node.is_dir)


@dataclass
class _PathData:
    path: str
    total: int = 0
    minimum: int = -1
    count: int = 0


def dive_figures(layers: Sequence[Sequence[Entry]]) -> DiveFigures:
    """dive's analysis of an image whose layers (oldest first) have these entries."""
    trees = [_layer_tree(entries) for entries in layers]
    data: dict[str, _PathData] = {}
    inefficient: list[_PathData] = []
    stacked: PathNode | None = None
    stacked_upto = -1  # layers stacked onto the copy of layer 0

    for i, tree in enumerate(trees):
        for leaf_path, node in tree.walk(leaves=True):
            head, _, name = leaf_path.rpartition("/")
            whiteout = name.startswith(".wh.")
            path = f"{head}/{name[4:]}" if whiteout else leaf_path
            d = data.setdefault(path, _PathData(path))
            if whiteout:
                if stacked is None:
                    stacked = trees[0].copy()
                while stacked_upto < i - 1:  # dive stacks layers 0..i-1 onto layer 0's copy
                    stacked_upto += 1
                    _stack(stacked, trees[stacked_upto])
                below = stacked.get(path)
                if below is None:
                    break  # dive's visitor errors out: the rest of this layer is not counted
                size = below.total() if below.is_dir else 0
            else:
                size = node.size
            d.total += size
            if d.minimum < 0 or size < d.minimum:
                d.minimum = size
            d.count += 1
            if d.count == 2:
                inefficient.append(d)

    minimum = sum(d.minimum for d in data.values())
    total = sum(d.total for d in data.values())
    inefficient.sort(key=lambda d: d.total)  # dive sorts ascending, reports from the end
    sizes = [sum(e.size for e in entries) for entries in layers]
    wasted = sum(d.total for d in inefficient)
    user = sum(sizes[1:])
    return DiveFigures(
        efficiency=1.0 if total == 0 else minimum / total,
        size_bytes=sum(sizes), user_size_bytes=user, wasted_bytes=wasted,
        user_wasted_percent=wasted / user if user else (0.0 if not wasted else math.inf),
        inefficient_files=tuple(InefficientFile(d.path, d.count, d.total)
                                for d in reversed(inefficient)))


# -- Go and go-humanize formatting -----------------------------------------------

_BYTE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "ki": 2**10, "kib": 2**10,
               "m": 10**6, "mb": 10**6, "mi": 2**20, "mib": 2**20, "g": 10**9, "gb": 10**9,
               "gi": 2**30, "gib": 2**30, "t": 10**12, "tb": 10**12, "ti": 2**40,
               "tib": 2**40, "p": 10**15, "pb": 10**15, "pi": 2**50, "pib": 2**50,
               "e": 10**18, "eb": 10**18, "ei": 2**60, "eib": 2**60}
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)",
                       re.IGNORECASE)


def parse_go_float(s: str) -> float:
    """``strconv.ParseFloat(s, 64)`` for decimal input."""
    if not _GO_FLOAT.fullmatch(s):
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax')
    return float(s)


def parse_bytes(s: str) -> int:
    """go-humanize ``ParseBytes``: "20MB", "20Mb", "1.5 GiB", "1,000", "512"."""
    n = 0
    while n < len(s) and (s[n].isdigit() or s[n] in ".,"):
        n += 1
    num = s[:n].replace(",", "")
    try:
        value = parse_go_float(num)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from None
    unit = s[n:].strip().lower()
    if unit not in _BYTE_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    value *= _BYTE_UNITS[unit]
    if value >= 2.0**64:
        raise ValueError(f"too large: {s}")
    return int(value)


def humanize_bytes(n: int) -> str:
    """go-humanize ``Bytes`` (SI): "0 B", "131 B", "6.4 kB", "13 kB"."""
    if n < 10:
        return f"{n} B"
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    unit = ("B", "kB", "MB", "GB", "TB", "PB", "EB")[e]
    return f"{val:.0f} {unit}" if val >= 10 else f"{val:.1f} {unit}"


def go_float(f: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, %e form when the exponent
    is < -4 or ≥ 6 (``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    ds = "".join(map(str, digits))
    dp = len(ds) + int(exp)
    ds = ds.rstrip("0")
    x = dp - 1
    text: str
    if x < -4 or x >= 6:
        mantissa = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        text = f"{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    elif dp <= 0:
        text = "0." + "0" * -dp + ds
    elif dp >= len(ds):
        text = ds + "0" * (dp - len(ds))
    else:
        text = ds[:dp] + "." + ds[dp:]
    return ("-" if sign else "") + text


# -- .dive-ci and the rules -------------------------------------------------------

RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
DEFAULT_RULES = {"lowestEfficiency": "0.9", "highestWastedBytes": "disabled",
                 "highestUserWastedPercent": "0.1"}
_ALIASES = {"lowest-efficiency": "lowestEfficiency",
            "lowest-efficiency-threshold": "lowestEfficiency",
            "highest-wasted-bytes": "highestWastedBytes",
            "highest-user-wasted-percent": "highestUserWastedPercent"}


def _unquote(value: str, where: str) -> str:
    if value[:1] == "'":
        if len(value) < 2 or value[-1] != "'":
            raise InvalidArgument(f"{where}: unterminated quoted string")
        return value[1:-1].replace("''", "'")
    if value[:1] == '"':
        if len(value) < 2 or value[-1] != '"':
            raise InvalidArgument(f"{where}: unterminated quoted string")
        return value[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return value


def _strip_comment(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def parse_dive_ci(text: str, *, label: str = ".dive-ci") -> dict[str, str]:
    """The rules a ``.dive-ci`` file sets, by dive's camelCase name, as
    strings exactly as written ("0.95", "20MB", "disabled")."""
    rules: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    for n, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        where = f"{label}:{n}"
        if "\t" in line[:indent + 1]:
            raise InvalidArgument(f"{where}: tabs are not allowed for indentation")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if body.startswith("- ") or body == "-":
            continue  # a list item (plugins): dive ignores them too
        m = re.fullmatch(r"""("[^"]*"|'[^']*'|[^:]+?)\s*:(?:\s+(.*))?""", body)
        if m is None:
            raise InvalidArgument(f"{where}: expected 'key: value', got {body!r}")
        key, value = _unquote(m.group(1), where), (m.group(2) or "").strip()
        if not value:
            stack.append((indent, key))
            continue
        if [k for _, k in stack] == ["rules"]:
            name = _ALIASES.get(key, key)
            if name in RULES:
                rules[name] = _unquote(value, where)
    return rules


@dataclass(frozen=True)
class RuleResult:
    name: str
    status: str  # PASS | FAIL | SKIP | MISCONFIGURED
    message: str
    threshold: str


@dataclass(frozen=True)
class CiResult:
    passed: bool
    misconfigured: bool
    results: tuple[RuleResult, ...]  # by name, as dive prints them

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "misconfigured": self.misconfigured,
                "rules": [{"name": r.name, "status": r.status, "message": r.message,
                           "threshold": r.threshold} for r in self.results]}


def _validate(name: str, value: str) -> str:
    """dive's config check for one rule: "" or why it is misconfigured."""
    try:
        if name == "highestWastedBytes":
            parse_bytes(value)
            return ""
        x = parse_go_float(value)
    except ValueError as e:
        return f"invalid config value ('{value}'): {e}"
    if x < 0 or x > 1:
        return f"{name} config value is outside allowed range (0-1), given '{value}'"
    return ""


def _check(name: str, value: str, fig: DiveFigures) -> tuple[str, str]:
    if name == "lowestEfficiency":
        limit = parse_go_float(value)
        if limit > fig.efficiency:
            return "FAIL", (f"image efficiency is too low (efficiency={go_float(fig.efficiency)}"
                            f" < threshold={go_float(limit)})")
    elif name == "highestWastedBytes":
        most = parse_bytes(value)
        if fig.wasted_bytes > most:
            return "FAIL", (f"too many bytes wasted (wasted-bytes={fig.wasted_bytes} > "
                            f"threshold={most})")
    else:
        limit = parse_go_float(value)
        if limit < fig.user_wasted_percent:
            return "FAIL", ("too many bytes wasted, relative to the user bytes added "
                            f"(%-user-wasted-bytes={go_float(fig.user_wasted_percent)} > "
                            f"threshold={go_float(limit)})")
    return "PASS", ""


def evaluate(fig: DiveFigures, rules: dict[str, str] | None = None) -> CiResult:
    """dive's CI evaluator: every rule on top of dive's defaults; a rule set
    to "disabled" is skipped; a bad value fails the run as misconfigured."""
    config = {**DEFAULT_RULES, **(rules or {})}
    bad = {n: _validate(n, v) for n, v in config.items() if v != "disabled"}
    results = []
    for name in sorted(RULES):
        value = config[name]
        if value == "disabled":
            results.append(RuleResult(name, "SKIP", "rule disabled", value))
        elif bad.get(name):
            results.append(RuleResult(name, "MISCONFIGURED", bad[name], value))
        elif any(bad.values()):
            results.append(RuleResult(name, "CONFIGURED", "", value))
        else:
            results.append(RuleResult(name, *_check(name, value, fig), value))
    misconfigured = any(bad.values())
    passed = not misconfigured and all(r.status != "FAIL" for r in results)
    return CiResult(passed, misconfigured, tuple(results))


def ci_report(fig: DiveFigures, ci: CiResult) -> str:
    """dive's ``--ci`` text: the figures, inefficient files, rule results."""
    lines = [
        "Analyzing image...",
        f"  efficiency: {fig.efficiency * 100:2.4f} %",
        f"  wastedBytes: {fig.wasted_bytes} bytes ({humanize_bytes(fig.wasted_bytes)})",
        f"  userWastedPercent: {fig.user_wasted_percent * 100:2.4f} %",
        "Inefficient Files:",
        f"{'Count':>5}  {'Wasted Space':>12}  File Path",
    ]
    lines += [f"{f.count:>5}  {humanize_bytes(f.wasted_bytes):>12}  {f.path}"
              for f in fig.inefficient_files] or ["None"]
    lines.append("Results:")
    for r in ci.results:
        lines.append(f"  {r.status}: {r.name}: {r.message}" if r.message
                     else f"  {r.status}: {r.name}")
    if ci.misconfigured:
        lines.append("CI Misconfigured")
    else:
        count = {s: sum(r.status == s for r in ci.results) for s in ("PASS", "FAIL", "SKIP")}
        lines.append(f"Result:{'PASS' if ci.passed else 'FAIL'} [Total:{len(ci.results)}] "
                     f"[Passed:{count['PASS']}] [Failed:{count['FAIL']}] [Warn:0] "
                     f"[Skipped:{count['SKIP']}]")
    return "\n".join(lines) + "\n"
