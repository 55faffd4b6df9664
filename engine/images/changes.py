"""``--change`` for import and commit: Dockerfile instructions applied to an
image config (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME, WORKDIR), with Docker's rules and messages."""

from __future__ import annotations

import json
import posixpath
import re
import signal
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidArgument

_COMMIT_COMMANDS = frozenset({"cmd", "entrypoint", "env", "expose", "healthcheck", "label",
                              "onbuild", "stopsignal", "user", "volume", "workdir"})
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VAR_RE = re.compile(r"\$(?:\{(" + _NAME + r")(?:(:?[-+])([^}]*))?\}|(" + _NAME + "))")
_SHELL = ["/bin/sh", "-c"]
_HEALTH_FLAGS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                 "start-interval": "StartInterval", "retries": "Retries"}
_PORT_RE = re.compile(r"(\d+)(?:-(\d+))?(?:/(\w+))?")
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9}


def _words(text: str) -> list[str]:
    """Split on blanks outside quotes, keeping quotes for :func:`_expand` (buildkit parseWords)."""
    words, cur, quote, i = [], "", "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'" and i + 1 < len(text):
            cur, i = cur + text[i:i + 2], i + 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch.isspace():
            if cur:
                words.append(cur)
            cur, i = "", i + 1
            continue
        cur, i = cur + ch, i + 1
    return words + [cur] if cur else words


def _expand(word: str, env: dict[str, str]) -> str:
    """Remove quotes and expand $VAR / ${VAR[:-+]x} as Docker's shell lexer does."""
    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value, op, alt = env.get(name), m.group(2), m.group(3) or ""
        if op == ":-":
            return value if value else alt
        if op == "-":
            return value if value is not None else alt
        if op == ":+":
            return alt if value else ""
        if op == "+":
            return alt if value is not None else ""
        return value or ""

    out, quote, i = "", "", 0
    while i < len(word):
        ch = word[i]
        if quote == "'":
            quote, out = ("", out) if ch == "'" else (quote, out + ch)
        elif ch == "\\" and i + 1 < len(word):
            nxt = word[i + 1]
            out += nxt if not quote or nxt in '"$\\' else ch + nxt
            i += 1
        elif ch == '"' or (ch == "'" and not quote):
            quote = "" if quote == ch else ch
        elif ch == "$" and (m := _VAR_RE.match(word, i)):
            out += var(m)
            i = m.end() - 1
        else:
            out += ch
        i += 1
    return out


def _env_map(env: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (e.partition("=") for e in env)}


def _name_values(cmd: str, rest: str, env: dict[str, str]) -> list[tuple[str, str]]:
    words = _words(rest)
    if not words:
        raise InvalidArgument(f"{cmd} requires at least one argument")
    if "=" not in words[0]:  # legacy "ENV key value with spaces"
        legacy = re.split(r"\s+", rest.strip(), maxsplit=1)
        if len(legacy) < 2:
            raise InvalidArgument(f"{cmd} must have two arguments")
        return [(_expand(legacy[0], env), _expand(legacy[1], env))]
    pairs = []
    for w in words:
        if "=" not in w:
            raise InvalidArgument(f'Syntax error - can\'t find = in "{w}". '
                                  "Must be of the form: name=value")
        key, _, value = w.partition("=")
        pairs.append((_expand(key, env), _expand(value, env)))
    if any(not k for k, _ in pairs):
        raise InvalidArgument(f"{cmd} names can not be blank")
    return pairs


def _json_list(rest: str) -> list[str] | None:
    """The exec form: ``rest`` as a JSON list of strings, or None (shell form)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value if ok else None


def _command_line(rest: str) -> list[str]:
    listed = _json_list(rest)
    return listed if listed is not None else [*_SHELL, rest]


def _duration(flag: str, text: str) -> int:
    if text == "0":
        return 0
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    ns = sum(int(float(n) * _UNIT_NS[u]) for n, u in parts)
    if ns < 1_000_000:
        raise InvalidArgument(f'Interval "{flag}" cannot be less than 1ms')
    return ns


def _healthcheck(rest: str) -> dict[str, Any]:
    check: dict[str, Any] = {}
    while rest.startswith("--"):
        opt, _, rest = rest.partition(" ")
        flag, _, value = opt[2:].partition("=")
        rest = rest.lstrip()
        if flag not in _HEALTH_FLAGS:
            raise InvalidArgument(f"Unknown flag: {flag}")
        if flag == "retries" and not value.isdigit():
            raise InvalidArgument(f'invalid value "{value}" for --retries')
        check[_HEALTH_FLAGS[flag]] = int(value) if flag == "retries" else _duration(flag, value)
    kind, _, line = rest.partition(" ")
    if kind.upper() == "NONE":
        if check or line.strip():
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD":
        raise InvalidArgument(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not line.strip():
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    listed = _json_list(line.strip())
    test = ["CMD-SHELL", line.strip()] if listed is None else ["CMD", *listed]
    return {"Test": test, **check}


def _exposed(port: str) -> list[str]:
    m = _PORT_RE.fullmatch(port)
    if m is None:
        raise InvalidArgument(f"invalid containerPort: {port}")
    first, last, proto = int(m.group(1)), int(m.group(2) or m.group(1)), m.group(3) or "tcp"
    if proto.lower() not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    if last < first or last > 65535:
        raise InvalidArgument(f"invalid containerPort: {port}")
    return [f"{p}/{proto.lower()}" for p in range(first, last + 1)]


def _one(cmd: str, rest: str, env: dict[str, str]) -> str:
    # Docker takes the whole rest of the line here: "WORKDIR /my dir" is one path
    if not rest:
        raise InvalidArgument(f"{cmd} requires exactly one argument")
    return _expand(rest, env)


def _valid_signal(sig: str) -> None:
    name = sig.upper().removeprefix("SIG")
    if sig.isdigit() and 0 < int(sig) <= signal.SIGRTMAX:
        return
    if "SIG" + name not in signal.Signals.__members__ and not re.fullmatch(
            r"RTM(?:IN\+\d+|AX-\d+|IN|AX)", name):
        raise InvalidArgument(f"Invalid signal: {sig}")


def apply_changes(config_dict: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """Apply ``docker import/commit --change`` lines to a container config dict.

    Returns a new dict with Docker's key names (``Cmd``, ``Env``, …); the
    input is not modified.  Like Docker, an ENTRYPOINT clears ``Cmd``
    unless these changes set CMD too.
    """
    cfg = json.loads(json.dumps(config_dict))  # deep copy of plain JSON data
    cmd_set = False
    for change in changes:
        line = change.strip()
        if not line or line.startswith("#"):
            continue
        word, *tail = line.split(None, 1)
        cmd, rest = word.lower(), tail[0].strip() if tail else ""
        if cmd not in _COMMIT_COMMANDS:
            # Docker's parser lowercases the instruction before this check
            raise InvalidArgument(f"{cmd} is not a valid change command")
        env = _env_map(cfg.get("Env") or [])
        if cmd == "cmd":
            cfg["Cmd"], cmd_set = _command_line(rest), True
        elif cmd == "entrypoint":
            cfg["Entrypoint"] = _command_line(rest)
            if not cmd_set:
                cfg["Cmd"] = None
        elif cmd == "env":
            current = list(cfg.get("Env") or [])
            for key, value in _name_values("ENV", rest, env):
                keys = [e.partition("=")[0] for e in current]
                entry = f"{key}={value}"
                if key in keys:
                    current[keys.index(key)] = entry
                else:
                    current.append(entry)
            cfg["Env"] = current
        elif cmd == "label":
            cfg["Labels"] = {**(cfg.get("Labels") or {}), **dict(_name_values("LABEL", rest, env))}
        elif cmd == "expose":
            ports = [_expand(w, env) for w in _words(rest)]
            if not ports:
                raise InvalidArgument("EXPOSE requires at least one argument")
            exposed = dict(cfg.get("ExposedPorts") or {})
            for port in ports:
                exposed.update({p: {} for p in _exposed(port)})
            cfg["ExposedPorts"] = exposed
        elif cmd == "volume":
            listed = _json_list(rest)
            paths = [_expand(p, env).strip()
                     for p in (listed if listed is not None else rest.split())]
            if not paths or any(not p for p in paths):
                raise InvalidArgument("VOLUME specified can not be an empty string")
            cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{p: {} for p in paths}}
        elif cmd == "user":
            cfg["User"] = _one("USER", rest, env)
        elif cmd == "workdir":
            path = _one("WORKDIR", rest, env)
            if not path.startswith("/"):
                path = "/" + posixpath.normpath(
                    f"{cfg.get('WorkingDir') or '/'}/{path}").lstrip("/")
            cfg["WorkingDir"] = path
        elif cmd == "stopsignal":
            sig = _one("STOPSIGNAL", rest, env)
            _valid_signal(sig)
            cfg["StopSignal"] = sig
        elif cmd == "healthcheck":
            cfg["Healthcheck"] = _healthcheck(rest)
        else:  # onbuild
            trigger = rest.split(None, 1)[0].upper() if rest else ""
            if not trigger:
                raise InvalidArgument("ONBUILD requires at least one argument")
            if trigger == "ONBUILD":
                raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("FROM", "MAINTAINER"):
                raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), rest]
    return cfg
