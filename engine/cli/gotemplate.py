"""A Go text/template subset with docker/cli's functions, for ``--format``.

Fields (``.A.B``, ``$``, ``$v``), pipelines ``|``, parentheses,
``if``/``else``/``else if``/``range``/``with``/``end``, ``{{-``/``-}}``
trims and ``json split join title lower upper pad truncate index len print
println printf eq ne lt le gt ge not and or``.  A key missing from the row
itself is an error (Docker's rows are structs); a key missing deeper prints
"<no value>".  :class:`Parser` makes a tree, :class:`Exec` runs it on a row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.errors import InvalidArgument

# docker/cli formatter/custom.go and image.go header names.
COMMON_HEADERS: dict[str, str] = {
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Labels": "LABELS", "Name": "NAME", "Description": "DESCRIPTION",
    "Driver": "DRIVER", "Scope": "SCOPE", "State": "STATE", "Status": "STATUS",
    "Ports": "PORTS", "Image": "IMAGE", "Platform": "PLATFORM",
    "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}  # fmt: skip


def _header_name(field: str) -> str:
    return COMMON_HEADERS.get(field) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", field).upper()


# -- Go value printing ----------------------------------------------------------


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()
_UNSET = object()


class Header:
    """The row stand-in while rendering a table header."""


def _go_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is NO_VALUE:
        return "<no value>"
    if isinstance(v, Header):
        return ""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{_go_str(k)}:{_go_str(x)}" for k, x in items) + "]"
    if isinstance(v, list | tuple | set | frozenset):
        return "[" + " ".join(_go_str(x) for x in v) + "]"
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    return None if v is NO_VALUE else v


def _json(v: Any) -> str:
    text = json.dumps(_jsonable(v), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _truth(v: Any) -> bool:
    return v is not NO_VALUE and v is not None and bool(v)


def _sprint(args: Sequence[Any]) -> str:
    # fmt.Sprint: a space between operands when neither is a string.
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _go_str(a)
    return out


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        flags, verb = m.group(1), m.group(2)
        if verb == "%":
            return "%"
        v: Any = next(it, NO_VALUE)
        if verb == "d":
            return ("%" + flags + "d") % int(v)
        if verb == "q":
            return ("%" + flags + "s") % json.dumps(_go_str(v), ensure_ascii=False)
        return ("%" + flags + "s") % _go_str(v)

    return re.sub(r"%([-+# 0]*\d*(?:\.\d+)?)([vsdqt%])", one, fmt)


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, Mapping):
            v = v.get(k, "")  # Go's zero value for map[string]string (Labels)
        elif isinstance(v, list | tuple) and isinstance(k, int):
            if not 0 <= k < len(v):
                raise InvalidArgument(f"error calling index: index out of range: {k}")
            v = v[k]
        else:
            raise InvalidArgument(
                f"error calling index: can't index item of type {type(v).__name__}"
            )
    return v


def _eq(a: Any, *bs: Any) -> bool:
    return any(a == b for b in bs)


def _and(*a: Any) -> Any:
    return next((x for x in a if not _truth(x)), a[-1])


def _or(*a: Any) -> Any:
    return next((x for x in a if _truth(x)), a[-1])


_FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json, "split": lambda s, sep: _go_str(s).split(sep),
    "join": lambda xs, sep: sep.join(_go_str(x) for x in xs),
    "title": lambda s: re.sub(r"(?<!\w)\w", lambda m: m.group().upper(), _go_str(s)),
    "lower": lambda s: _go_str(s).lower(), "upper": lambda s: _go_str(s).upper(),
    "pad": lambda s, p, q: " " * p + _go_str(s) + " " * q if _go_str(s) else "",
    "truncate": lambda s, n: _go_str(s)[:n], "index": _index, "len": len,
    "print": lambda *a: _sprint(a), "println": lambda *a: " ".join(map(_go_str, a)) + "\n",
    "printf": _printf, "eq": _eq, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "not": lambda a: not _truth(a), "and": _and, "or": _or,
}  # fmt: skip
# docker/cli's HeaderFunctions: these print the column name untouched.
_HEADER_IDENTITY = {"json", "split", "join", "title", "lower", "upper", "truncate", "index"}


# -- template parsing -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<chr>'(?:[^'\\]|\\.)+')
    |(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<field>(?:\$\w*)?(?:\.\w+)+|\.|\$\w*)|(?P<ident>[A-Za-z_]\w*)|(?P<sym>:=|[|(),=]))""",
    re.X,
)
_WS = " \t\r\n"


def _parse_error(src: str, pos: int, msg: str) -> InvalidArgument:
    return InvalidArgument(f"template: :{1 + src.count(chr(10), 0, pos)}: {msg}")


def _lex(src: str) -> list[tuple[str, str, int]]:
    """Split *src* into ("text", s, pos) and ("action", inner, pos) items."""
    items: list[tuple[str, str, int]] = []
    i = 0
    while (j := src.find("{{", i)) >= 0:
        text, start = src[i:j], j + 2
        if src[start : start + 1] == "-" and src[start + 1 : start + 2] in tuple(_WS):
            text, start = text.rstrip(_WS), start + 1
        k, quote = start, ""
        while k < len(src) and (quote or not src.startswith("}}", k)):
            c = src[k]
            if quote and c == "\\" and quote != "`":
                k += 1
            elif quote and c == quote:
                quote = ""
            elif not quote and c in "\"`'":
                quote = c
            k += 1
        if k >= len(src):
            raise _parse_error(src, j, "unclosed action")
        end, i = k, k + 2
        if end - 2 >= start and src[end - 1] == "-" and src[end - 2] in _WS:
            end -= 1
            while i < len(src) and src[i] in _WS:
                i += 1
        items += [("text", text, 0), ("action", src[start:end], start)]
    items.append(("text", src[i:], 0))
    return items


class Parser:
    def __init__(self, src: str) -> None:
        self.src, self.items, self.i = src, _lex(src), 0

    def parse(self) -> list[Any]:
        nodes, kw, pos, _ = self.block()
        if kw:
            raise _parse_error(self.src, pos, f"unexpected {{{{{kw}}}}}")
        return nodes

    def block(self) -> tuple[list[Any], str, int, list[Any]]:
        """Nodes up to an else/end action (returned with its tokens) or EOF."""
        nodes: list[Any] = []
        while self.i < len(self.items):
            kind, text, pos = self.items[self.i]
            self.i += 1
            if kind == "text":
                if text:
                    nodes.append(("text", text))
                continue
            if text.strip().startswith("/*"):
                continue
            toks = self.tokens(text, pos)
            kw = toks[0][1] if toks and toks[0][0] == "ident" else ""
            if kw in ("else", "end"):
                return nodes, kw, pos, toks[1:]
            if kw in ("if", "range", "with"):
                nodes.append(self.control(kw, toks[1:], pos))
            elif kw in ("define", "template", "block", "break", "continue"):
                raise _parse_error(self.src, pos, f'"{kw}" is not supported')
            else:
                nodes.append(("pipe", self.pipe(toks, pos)))
        return nodes, "", len(self.src), []

    def control(self, kw: str, toks: list[Any], pos: int) -> tuple[Any, ...]:
        pipe = self.pipe(toks, pos)
        body, end, epos, rest = self.block()
        other: list[Any] = []
        if end == "else" and rest:  # {{else if x}} / {{else with x}}: shares our {{end}}
            if rest[0][1] != kw:
                raise _parse_error(self.src, epos, "unexpected tokens after else")
            other, end = [self.control(kw, rest[1:], epos)], "end"
        elif end == "else":
            other, end, epos, _ = self.block()
        if end != "end":
            raise _parse_error(self.src, epos, "unexpected EOF")
        return (kw, pipe, body, other)

    def tokens(self, text: str, base: int) -> list[tuple[str, str, int]]:
        toks, pos = [], 0
        while text[pos:].strip():
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise _parse_error(
                    self.src, base + pos, f"unexpected {text[pos:].strip()!r} in command"
                )
            kind = m.lastgroup or ""
            toks.append((kind, m.group(kind), base + m.start(kind)))
            pos = m.end()
        return toks

    def pipe(self, toks: list[Any], pos: int) -> tuple[list[str], list[list[Any]]]:
        decls: list[str] = []
        if any(t[1] == ":=" for t in toks):
            while toks and toks[0][1] != ":=":
                if toks[0][1] != ",":
                    decls.append(toks[0][1])
                toks = toks[1:]
            toks = toks[1:]
        cmds: list[list[Any]] = [[]]
        while toks:
            tok, toks = toks[0], toks[1:]
            if tok[1] == "|":
                cmds.append([])
            elif tok[1] == "(":
                depth, j = 1, 0
                while j < len(toks) and depth:
                    depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "sym" else 0
                    j += 1
                if depth:
                    raise _parse_error(self.src, tok[2], "unclosed left paren")
                cmds[-1].append(("sub", self.pipe(toks[: j - 1], tok[2])))
                toks = toks[j:]
            else:
                cmds[-1].append(self.operand(tok))
        if not all(cmds):
            raise _parse_error(self.src, pos, "missing value for command")
        return decls, cmds

    def operand(self, tok: tuple[str, str, int]) -> tuple[Any, ...]:
        kind, text, pos = tok
        if kind == "str":
            try:
                return ("lit", json.loads(text))
            except ValueError:
                raise _parse_error(self.src, pos, f"bad string {text}") from None
        if kind == "chr":
            return ("lit", ord(text[1]) if len(text) == 3 else text[1:-1])
        if kind == "raw":
            return ("lit", text[1:-1])
        if kind == "num":
            return ("lit", float(text) if re.search(r"[.eE]", text) else int(text))
        if kind == "field":
            var, _, rest = text.partition(".") if text.startswith("$") else ("", "", text[1:])
            return ("field", var, [n for n in rest.split(".") if n], pos, text)
        if kind == "ident":
            if text in ("true", "false", "nil"):
                return ("lit", {"true": True, "false": False, "nil": None}[text])
            if text not in _FUNCS:
                raise _parse_error(self.src, pos, f'function "{text}" not defined')
            return ("func", text)
        raise _parse_error(self.src, pos, f"unexpected {text!r} in command")


# -- template execution -----------------------------------------------------------


class Exec:
    def __init__(self, src: str, root: Any, headers: Mapping[str, str] | None) -> None:
        self.src, self.root, self.headers = src, root, headers

    def fail(self, pos: int, node: str, msg: str) -> InvalidArgument:
        line = 1 + self.src.count("\n", 0, pos)
        col = pos - (self.src.rfind("\n", 0, pos) + 1)
        return InvalidArgument(f'template: :{line}:{col}: executing "" at <{node}>: {msg}')

    def run(self, nodes: list[Any], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "pipe":
                value = self.pipe(node[1], dot, env)
                if not node[1][0]:
                    out.append(_go_str(value))
            elif kind in ("if", "with"):
                value = self.pipe(node[1], dot, env)
                if _truth(value):
                    self.run(node[2], value if kind == "with" else dot, env, out)
                else:
                    self.run(node[3], dot, env, out)
            else:
                self.range(node, dot, env, out)

    def range(self, node: tuple[Any, ...], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        decls, cmds = node[1]
        value = self.pipe(([], cmds), dot, env)
        if isinstance(value, Mapping):
            pairs = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or value is NO_VALUE or isinstance(value, Header):
            pairs = []
        else:
            raise InvalidArgument(f"template: range can't iterate over {_go_str(value)}")
        for key, elem in pairs:
            scope = dict(env)
            if decls:
                scope[decls[-1]] = elem
                if len(decls) > 1:
                    scope[decls[0]] = key
            self.run(node[2], elem, scope, out)
        if not pairs:
            self.run(node[3], dot, env, out)

    def pipe(self, pipe: tuple[list[str], list[list[Any]]], dot: Any, env: dict[str, Any]) -> Any:
        decls, cmds = pipe
        value: Any = _UNSET
        for cmd in cmds:
            value = self.command(cmd, dot, env, value)
        for name in decls:
            env[name] = value
        return value

    def command(self, cmd: list[Any], dot: Any, env: dict[str, Any], prev: Any) -> Any:
        head = cmd[0]
        if head[0] != "func":
            if len(cmd) > 1 or prev is not _UNSET:
                raise InvalidArgument("template: can't give argument to non-function")
            return self.arg(head, dot, env)
        args = [self.arg(a, dot, env) for a in cmd[1:]]
        if prev is not _UNSET:
            args.append(prev)
        name = head[1]
        if self.headers is not None and name in _HEADER_IDENTITY and args:
            return args[0]
        try:
            return _FUNCS[name](*args)
        except InvalidArgument:
            raise
        except (TypeError, ValueError, IndexError, StopIteration) as e:
            raise InvalidArgument(f"template: error calling {name}: {e}") from None

    def arg(self, op: tuple[Any, ...], dot: Any, env: dict[str, Any]) -> Any:
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "func":
            return self.command([op], dot, env, _UNSET)
        if kind == "sub":
            return self.pipe(op[1], dot, env)
        _, var, names, pos, text = op
        if var == "$":
            value = self.root
        elif var:
            if var not in env:
                raise InvalidArgument(f'template: :1: undefined variable "{var}"')
            value = env[var]
        else:
            value = dot
        if names and isinstance(value, Header):
            return (self.headers or {}).get(names[-1]) or _header_name(names[-1])
        for name in names:
            if value is NO_VALUE:
                return NO_VALUE
            if isinstance(value, Mapping):
                if name in value:
                    value = value[name]
                elif value is self.root:
                    raise self.fail(pos, text, f'map has no entry for key "{name}"')
                else:
                    value = NO_VALUE
            elif value is None:
                raise self.fail(pos, text, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.fail(
                    pos, text, f"can't evaluate field {name} in type {type(value).__name__}"
                )
        return value
