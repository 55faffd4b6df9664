"""A stage's image as it is being built: config, history, layers, variables.

``StageState`` is BuildKit's ``dispatchState`` for one stage: the image
config (only the fields BuildKit's image struct has, so a base image's
extras such as ``Hostname`` are dropped), the history, the DiffIDs and top
ChainID, the cache key of the filesystem so far, and the variables that
expansion sees (image ENV plus declared ARGs, in order).

The metadata instructions (ENV, LABEL, ARG, USER, EXPOSE, VOLUME, CMD,
ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER, and the
config half of WORKDIR) are applied here, each adding the history entry
BuildKit writes (``ENV A=b``, ``CMD ["sh" "-c" "x"]`` …, ``empty_layer``).
``image_json`` renders the final config byte for byte as BuildKit does.
"""

from __future__ import annotations

import copy
import posixpath
import re
import signal
from dataclasses import dataclass, field
from typing import Any

from engine.build import ExpansionError, Lex
from engine.build.events import BuildError
from engine.build.gofmt import (
    duration_string,
    go_json,
    parse_duration,
    quote_list,
    value_list,
)
from engine.build.instructions import Command
from engine.images.config import format_created

__all__ = ["HISTORY_COMMENT", "PROXY_ARGS", "StageState", "image_json"]

HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROXY_ARGS = frozenset(k for p in ("HTTP", "HTTPS", "FTP", "NO", "ALL")
                       for k in (f"{p}_PROXY", f"{p.lower()}_proxy"))
CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
               "Labels", "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell")
HISTORY_KEYS = ("created", "created_by", "author", "comment", "empty_layer")


@dataclass
class StageState:
    name: str  # shown in step titles ("" when the Dockerfile has one stage)
    escape: str
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    chain: str | None = None
    key: str = ""  # cache key of the filesystem so far
    platform: dict[str, str] = field(default_factory=dict)  # architecture, os, variant
    author: str = ""
    env: dict[str, str] = field(default_factory=dict)  # what expansion sees
    build_args: list[tuple[str, str | None]] = field(default_factory=list)
    cmd_total: int = 0
    cmd_index: int = 0
    cmd_set: bool = False

    @classmethod
    def from_image(cls, raw: dict[str, Any], *, name: str, escape: str) -> StageState:
        cfg = raw.get("config") or {}
        st = cls(name=name, escape=escape)
        st.config = {k: copy.deepcopy(cfg[k]) for k in CONFIG_KEYS if cfg.get(k) not in
                     (None, "", [], {}, False)}
        st.config.pop("OnBuild", None)  # triggers run once, in the stage that uses the image
        st.history = [{k: h[k] for k in HISTORY_KEYS if k in h}
                      for h in raw.get("history") or [] if isinstance(h, dict)]
        st.diff_ids = list((raw.get("rootfs") or {}).get("diff_ids") or [])
        st.platform = {k: raw[k] for k in ("architecture", "os", "variant") if raw.get(k)}
        st.author = raw.get("author") or ""
        st.ensure_path()
        return st

    def derive(self, name: str) -> StageState:
        """A stage whose FROM names this one: the same image, its own progress counter."""
        out = copy.deepcopy(self)
        out.name, out.cmd_total, out.cmd_index, out.cmd_set = name, 0, 0, False
        out.config.pop("OnBuild", None)
        return out

    def ensure_path(self) -> None:
        env = self.config.setdefault("Env", [])
        if not any(e.split("=", 1)[0] == "PATH" for e in env):
            env.append("PATH=" + DEFAULT_PATH)
        for e in env:
            k, _, v = e.partition("=")
            self.env[k] = v

    # -- expansion ---------------------------------------------------------
    def expand(self, word: str, cmd: Command | None = None) -> str:
        try:
            return Lex(self.escape).process(word, self.env).result
        except ExpansionError as e:
            raise self.error(str(e), cmd) from None

    def expand_display(self, text: str) -> str:
        """A step title: variables expanded, quotes and unset names kept (processCmdEnv)."""
        try:
            return Lex(self.escape, raw_quotes=True, skip_unset_env=True).process(
                text, self.env).result
        except ExpansionError:
            return text

    @staticmethod
    def error(reason: str, cmd: Command | None) -> BuildError:
        if cmd is None:
            return BuildError(reason)
        return BuildError(reason, line=cmd.line, end_line=cmd.inst.end_line)

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    @property
    def user(self) -> str:
        return self.config.get("User") or ""

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or ["/bin/sh", "-c"])

    def title(self, text: str, *, onbuild: bool = False) -> str:
        """BuildKit's ``prefixCommand``: ``[stage-1 2/5] RUN …``."""
        if self.cmd_total == 0:
            return text
        self.cmd_index += 1
        width = len(str(self.cmd_total))
        prefix = "[" + (self.name + " " if self.name else "")
        prefix += f"{self.cmd_index:>{width}}/{self.cmd_total}] "
        return prefix + ("ONBUILD " if onbuild else "") + text

    def commit(self, created_by: str, *, layer: bool, buildkit: bool = False,
               created: float | None = None) -> None:
        entry: dict[str, Any] = {"created_by": created_by + (" # buildkit" if buildkit else ""),
                                 "comment": HISTORY_COMMENT, "_new": True}
        if created is not None:
            entry["created"] = format_created(created)
        if not layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def add_layer(self, diff_id: str | None, chain: str | None, created: float,
                  created_by: str, *, buildkit: bool = True) -> None:
        """A layer step's result: its DiffID (None: it changed nothing) and history."""
        if diff_id is not None:
            self.diff_ids.append(diff_id)
            self.chain = chain
            self.commit(created_by, layer=True, buildkit=buildkit, created=created)
        else:
            self.commit(created_by, layer=False, buildkit=buildkit)

    # -- metadata instructions ---------------------------------------------------
    def apply(self, cmd: Command, build_args: dict[str, str], meta: dict[str, str]) -> None:
        getattr(self, "_" + cmd.keyword)(cmd, build_args, meta)

    def _pairs(self, cmd: Command) -> list[tuple[str, str]]:
        a = cmd.args
        return [(self.expand(a[i], cmd), self.expand(a[i + 1], cmd))
                for i in range(0, len(a) - 2, 3)]

    def _env(self, cmd: Command, *_: object) -> None:
        msg = "ENV"
        for k, v in self._pairs(cmd):
            msg += f" {k}={v}"
            self.env.pop(k, None)
            self.env[k] = v
            env = self.config.setdefault("Env", [])
            for i, e in enumerate(env):
                if e.split("=", 1)[0] == k:
                    env[i] = f"{k}={v}"
                    break
            else:
                env.append(f"{k}={v}")
        self.commit(msg, layer=False)

    def _label(self, cmd: Command, *_: object) -> None:
        msg = "LABEL"
        labels = self.config.setdefault("Labels", {})
        for k, v in self._pairs(cmd):
            labels[k] = v
            msg += f" {k}={v}"
        self.commit(msg, layer=False)

    def _arg(self, cmd: Command, build_args: dict[str, str], meta: dict[str, str]) -> None:
        parts = []
        for word in cmd.args:
            key, eq, default = word.partition("=")
            value: str | None = None
            if key in build_args:
                value = build_args[key]
            elif eq:
                value = self.expand(default, cmd)
            elif key in meta:
                value = meta[key]
            if value is not None:
                self.env.pop(key, None)
                self.env[key] = value
            self.build_args.append((key, value))
            parts.append(key if value is None else f"{key}={value}")
        self.commit("ARG " + " ".join(parts), layer=False)

    def _user(self, cmd: Command, *_: object) -> None:
        self.config["User"] = self.expand(cmd.args[0], cmd)
        self.commit(f"USER {self.config['User']}", layer=False)

    def _maintainer(self, cmd: Command, *_: object) -> None:
        self.author = cmd.args[0]
        self.commit(f"MAINTAINER {cmd.args[0]}", layer=False)

    def _expose(self, cmd: Command, *_: object) -> None:
        ports = self.config.setdefault("ExposedPorts", {})
        specs: list[str] = []
        for w in sorted(cmd.args):
            try:
                words = Lex(self.escape).process(w, self.env).words
            except ExpansionError as e:
                raise self.error(str(e), cmd) from None
            for p in words:
                specs.extend(self._port_spec(p, cmd))
        for p in specs:
            ports[p] = {}
        self.commit(f"EXPOSE {value_list(specs)}", layer=False)

    def _port_spec(self, raw: str, cmd: Command) -> list[str]:
        port, _, proto = raw.rsplit(":", 1)[-1].partition("/")
        proto = proto.lower() or "tcp"
        if not port:
            raise self.error(f"no port specified: {raw}<empty>", cmd)
        if proto not in ("tcp", "udp", "sctp"):
            raise self.error("invalid proto: " + proto, cmd)
        lo_s, dash, hi_s = port.partition("-")
        if not (lo_s.isdigit() and (not dash or hi_s.isdigit())) or int(lo_s) > 65535 or \
                (dash and int(hi_s) > 65535):
            raise self.error("invalid containerPort: " + port, cmd)
        lo, hi = int(lo_s), int(hi_s) if dash else int(lo_s)
        if hi < lo:
            raise self.error("invalid containerPort: " + port, cmd)
        return [f"{n}/{proto}" for n in range(lo, hi + 1)]

    def _volume(self, cmd: Command, *_: object) -> None:
        vols = self.config.setdefault("Volumes", {})
        shown = []
        for w in cmd.args:
            v = self.expand(w, cmd).strip()
            if not v:
                raise self.error("VOLUME specified can not be an empty string", cmd)
            vols[v] = {}
            shown.append(v)
        self.commit(f"VOLUME {value_list(shown)}", layer=False)

    def _shell_form(self, cmd: Command) -> list[str]:
        if cmd.inst.json_form:
            return list(cmd.args)
        return self.shell() + [" ".join(cmd.args)]

    def _cmd(self, cmd: Command, *_: object) -> None:
        args = self._shell_form(cmd)
        self.config["Cmd"] = args
        self.config["ArgsEscaped"] = True
        self.cmd_set = True
        self.commit(f"CMD {quote_list(args)}", layer=False)

    def _entrypoint(self, cmd: Command, *_: object) -> None:
        args = self._shell_form(cmd) if cmd.args or not cmd.inst.json_form else []
        if args:
            self.config["Entrypoint"] = args
        else:
            self.config.pop("Entrypoint", None)
        if not self.cmd_set:
            self.config.pop("Cmd", None)
        self.commit(f"ENTRYPOINT {quote_list(args)}", layer=False)

    def _shell(self, cmd: Command, *_: object) -> None:
        self.config["Shell"] = list(cmd.args)
        self.commit(f"SHELL {value_list(list(cmd.args))}", layer=False)

    def _stopsignal(self, cmd: Command, *_: object) -> None:
        sig = self.expand(cmd.args[0], cmd)
        name = sig.upper().removeprefix("SIG")
        if not (name.isdigit() and int(name) > 0) and not hasattr(signal, "SIG" + name) \
                and not re.fullmatch(r"RTMIN(\+\d+)?|RTMAX(-\d+)?", name):
            raise self.error(f"Invalid signal: {sig}", cmd)
        self.config["StopSignal"] = sig
        self.commit(f"STOPSIGNAL {sig}", layer=False)

    def _healthcheck(self, cmd: Command, *_: object) -> None:
        typ = cmd.args[0].upper()
        hc: dict[str, Any]
        if typ == "NONE":
            test, nums, retries = ["NONE"], [0, 0, 0, 0], 0
        else:
            rest = list(cmd.args[1:])
            test = ["CMD", *rest] if cmd.inst.json_form else ["CMD-SHELL", " ".join(rest)]
            nums = [parse_duration(cmd.flag(f)) if cmd.flag(f) else 0
                    for f in ("interval", "timeout", "start-period", "start-interval")]
            retries = int(cmd.flag("retries") or 0)
        hc = {"Test": test}
        for k, v in zip(("Interval", "Timeout", "StartPeriod", "StartInterval"), nums,
                        strict=True):
            if v:
                hc[k] = v
        if retries:
            hc["Retries"] = retries
        self.config["Healthcheck"] = hc
        durs = " ".join(f"{k}:{duration_string(v)}" for k, v in zip(
            ("Interval", "Timeout", "StartPeriod", "StartInterval"), nums, strict=True))
        self.commit(f"HEALTHCHECK {{Test:{value_list(test)} {durs} Retries:{retries}}}",
                    layer=False)

    def _onbuild(self, cmd: Command, *_: object) -> None:
        expr = re.sub(r"(?i)^\s*ONBUILD\s*", "", cmd.inst.original)
        for doc in cmd.inst.heredocs:
            expr += "\n" + doc.content + doc.name
        self.config.setdefault("OnBuild", []).append(expr)
        # BuildKit records no history for ONBUILD

    def set_workdir(self, cmd: Command) -> str:
        path = self.expand(cmd.args[0], cmd)
        wd = posixpath.normpath(posixpath.join(self.workdir, path))
        wd = "/" + wd.lstrip("/") if wd != "/" else "/"
        self.config["WorkingDir"] = wd
        return wd


def image_json(st: StageState, created_times: list[float]) -> bytes:
    """The image config BuildKit writes: sorted top-level keys, struct-ordered config."""
    del created_times
    history = _fill_created(st.history)
    cfg: dict[str, Any] = {}
    for k in CONFIG_KEYS:
        v = st.config.get(k)
        if v in (None, "", [], {}, False):
            continue
        cfg[k] = dict(sorted(v.items())) if isinstance(v, dict) and k != "Healthcheck" else v
    out: dict[str, Any] = {"architecture": st.platform.get("architecture", "amd64")}
    if st.author:
        out["author"] = st.author
    out["config"] = cfg
    created = next((h["created"] for h in reversed(history) if h.get("created")), None)
    if created:
        out["created"] = created
    out["history"] = history
    out["os"] = st.platform.get("os", "linux")
    out["rootfs"] = {"type": "layers", "diff_ids": list(st.diff_ids)}
    if st.platform.get("variant"):
        out["variant"] = st.platform["variant"]
    return go_json(out)


def _fill_created(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BuildKit's ``normalizeLayersAndHistory`` times for entries without one."""
    created = None
    missing = False
    for h in history:
        if h.get("created"):
            created = h["created"]
            if missing:
                break
        else:
            missing = True
    out = []
    missing = False
    for h in history:
        h = {k: h[k] for k in HISTORY_KEYS if k in h}
        if h.get("created"):
            if missing:
                created = h["created"]
        else:
            missing = True
            if created:
                h = {"created": created, **h}
        out.append({k: h[k] for k in HISTORY_KEYS if k in h})
    return out
