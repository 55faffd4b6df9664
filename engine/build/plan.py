"""Which stages a build runs, and what their FROM lines mean.

BuildKit's planning before any step runs: the global ARGs (those before the
first FROM, plus the platform ARGs it predefines) are evaluated with the
``--build-arg`` values; every FROM is expanded with them (``FROM
${BASE}``); the target is the last stage or ``--target``; and only the
stages the target needs are built — its base stage, the stages it copies
from (``COPY --from``) or mounts (``RUN --mount from=``), recursively.
"""

from __future__ import annotations

from engine.build.events import BuildError, BuildOptions
from engine.build.instructions import Command, Stage
from engine.build.stage import StageState
from engine.images.reference import default_platform, parse_platform

__all__ = ["Plan"]


class Plan:
    def __init__(self, opts: BuildOptions, stages: list[Stage], escape: str) -> None:
        self.opts = opts
        self.stages = stages
        self.escape = escape
        self.meta: dict[str, str] = {}

    def meta_args(self, meta_cmds: list[Command]) -> None:
        """Global ARGs (before the first FROM) plus the platform ARGs BuildKit predefines."""
        host = default_platform()
        plat = parse_platform(self.opts.platform) if self.opts.platform else host
        defaults = {"BUILDPLATFORM": str(host), "BUILDOS": host.os,
                    "BUILDARCH": host.architecture, "BUILDVARIANT": host.variant,
                    "TARGETPLATFORM": str(plat),
                    "TARGETOS": plat.os, "TARGETARCH": plat.architecture,
                    "TARGETVARIANT": plat.variant, "TARGETSTAGE": self.opts.target}
        args = self.opts.build_args
        self.meta = {k: args.get(k, v) for k, v in defaults.items()}
        scratch = StageState(name="", escape=self.escape)
        for cmd in meta_cmds:
            for word in cmd.args:
                key, eq, default = word.partition("=")
                if key in args:
                    self.meta[key] = args[key]
                elif eq:
                    scratch.env = dict(self.meta)
                    self.meta[key] = scratch.expand(default, cmd)

    def expand_meta(self, word: str, stage: Stage) -> str:
        """A FROM word expanded with the global ARGs."""
        st = StageState(name="", escape=self.escape, env=dict(self.meta))
        return st.expand(word, Command(stage.inst))

    def target(self) -> Stage:
        """Expand every FROM and find the stage to build."""
        names = {}
        for stage in self.stages:
            base = self.expand_meta(stage.base, stage)
            if not base:
                raise BuildError(f"base name ({stage.base}) should not be blank",
                                 line=stage.inst.line)
            stage.base = base
            if stage.name:
                if stage.name in names:
                    raise BuildError(f'duplicate stage name "{stage.name}"', line=stage.inst.line)
                names[stage.name] = stage
        if not self.opts.target:
            return self.stages[-1]
        found = names.get(self.opts.target.lower())
        if found is None:
            raise BuildError(f'target stage "{self.opts.target}" could not be found')
        return found

    def stage_named(self, name: str, before: int) -> Stage | None:
        """The stage ``name`` (or index) refers to, if it is an earlier stage."""
        if name.isdigit():
            i = int(name)
            if i >= len(self.stages):
                raise BuildError(f"invalid stage index {i}")
            return self.stages[i]
        for stage in self.stages[:before]:
            if stage.name == name.lower():
                return stage
        return None

    @staticmethod
    def sources(cmds: list[Command]) -> list[str]:
        """The names a stage's commands read from: stages, or images."""
        out = []
        for cmd in cmds:
            if cmd.keyword == "copy" and cmd.flag("from"):
                out.append(cmd.flag("from"))
            for spec in cmd.multi.get("mount", []):
                fields = {k.strip().lower(): v for k, _, v in
                          (part.partition("=") for part in spec.split(","))}
                if fields.get("from") and fields.get("type", "bind") in ("bind", "cache"):
                    out.append(fields["from"])
        return out

    def reachable(self, target: Stage) -> set[int]:
        """The stages the target needs, itself included."""
        needed: set[int] = set()
        todo = [target]
        while todo:
            stage = todo.pop()
            if stage.index in needed:
                continue
            needed.add(stage.index)
            base = self.stage_named(stage.base, stage.index) if not stage.base.isdigit() \
                else None
            if base is not None:
                todo.append(base)
            for ref in self.sources(stage.commands):
                src = self.stage_named(ref, len(self.stages))
                if src is not None:
                    todo.append(src)
        return needed
