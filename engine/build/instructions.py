"""From the parsed AST to build stages: BuildKit's ``instructions`` package.

``stages(dockerfile)`` checks every instruction the way BuildKit's
``instructions.Parse`` does before anything is built (flags, argument
counts, SHELL in JSON form, HEALTHCHECK options, ONBUILD triggers, stage
names) and splits the file into the meta ARGs before the first FROM and
one ``Stage`` per FROM.  Errors are ``DockerfileError``s naming the line,
with BuildKit's wording (``dockerfile parse error on line 3: Unknown flag:
foo``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.build import Dockerfile, DockerfileError, Heredoc, Instruction
from engine.build.gofmt import parse_duration

__all__ = ["Command", "Stage", "parse_flags", "parse_stages"]

_BOOL, _STR, _STRS = "bool", "string", "strings"
FLAGS: dict[str, dict[str, str]] = {
    "from": {"platform": _STR},
    "run": {"mount": _STRS, "network": _STR, "security": _STR},
    # --parents and --exclude (labs syntax) are not implemented: refused, never ignored
    "copy": {"chown": _STR, "from": _STR, "chmod": _STR, "link": _BOOL},
    "add": {"chown": _STR, "chmod": _STR, "link": _BOOL, "keep-git-dir": _BOOL,
            "checksum": _STR, "unpack": _BOOL},
    "healthcheck": {"interval": _STR, "timeout": _STR, "start-period": _STR,
                    "start-interval": _STR, "retries": _STR},
}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
MIN_DURATION = 1_000_000  # container.MinimumDuration: 1ms


@dataclass
class Command:
    """One instruction of a stage, its flags parsed.

    ``flags`` maps a flag to its value ("true"/"false" for booleans),
    ``multi`` holds repeatable flags (``--mount``); ``onbuild`` marks a
    trigger inherited from the base image.
    """

    inst: Instruction
    flags: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    onbuild: bool = False

    @property
    def keyword(self) -> str:
        return self.inst.keyword

    @property
    def args(self) -> tuple[str, ...]:
        return self.inst.args

    @property
    def line(self) -> int:
        return self.inst.line

    def flag(self, name: str) -> str:
        return self.flags.get(name, "")

    def sources_and_dest(self) -> tuple[list[str], list[Heredoc], str]:
        """COPY/ADD: source paths, inline (heredoc) sources, destination."""
        docs = {d.name: d for d in self.inst.heredocs}
        paths: list[str] = []
        inline: list[Heredoc] = []
        for src in self.args[:-1]:
            name = _heredoc_name(src)
            if name is not None and name in docs:
                inline.append(docs[name])
            else:
                paths.append(src)
        return paths, inline, self.args[-1]


@dataclass
class Stage:
    """One FROM and the commands after it."""

    index: int
    base: str  # the image or stage name, unexpanded
    name: str  # "" or the lower-cased AS name
    platform: str  # the --platform flag, unexpanded
    inst: Instruction
    commands: list[Command] = field(default_factory=list)


def _heredoc_name(word: str) -> str | None:
    from engine.build.dockerfile import parse_heredoc

    doc = parse_heredoc(word)
    return doc.name if doc is not None else None


def _fail(inst: Instruction, message: str, file: str) -> DockerfileError:
    return DockerfileError(message, line=inst.line, end_line=inst.end_line, file=file)


def parse_flags(inst: Instruction, file: str = "Dockerfile") -> Command:
    """BuildKit's ``BFlags.Parse`` for the instruction's keyword."""
    known = FLAGS.get(inst.keyword, {})
    cmd = Command(inst)
    if inst.keyword == "healthcheck" and inst.args and inst.args[0].upper() == "NONE":
        return cmd  # BuildKit never parses the flags of HEALTHCHECK NONE
    for arg in inst.flags:
        if not arg.startswith("--"):
            raise _fail(inst, f"Arg should start with -- : {arg}", file)
        if arg == "--":
            break
        name, eq, value = arg[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            raise _fail(inst, f"Unknown flag: {name}", file)
        if (name in cmd.flags or name in cmd.multi) and kind != _STRS:
            raise _fail(inst, f"Duplicate flag specified: {name}", file)
        if kind == _BOOL:
            if eq and value == "":
                raise _fail(inst, f"Missing a value on flag: {name}", file)
            if value.lower() not in ("", "true", "false"):
                raise _fail(inst, f"Expecting boolean value for flag {name}, not: {value}",
                            file)
            cmd.flags[name] = value.lower() or "true"
        elif not eq:
            raise _fail(inst, f"Missing a value on flag: {name}", file)
        elif kind == _STRS:
            cmd.multi.setdefault(name, []).append(value)
        else:
            cmd.flags[name] = value
    return cmd


def check_command(inst: Instruction, file: str = "Dockerfile") -> Command:
    """Validate one instruction as BuildKit's ``ParseInstruction`` does."""
    kw, args = inst.keyword, inst.args

    def fail(message: str) -> DockerfileError:
        return _fail(inst, message, file)

    upper = kw.upper()
    if kw in ("copy", "add") and len(args) < 2:
        raise fail(f"{upper} requires at least two arguments, but only one was provided. "
                   "Destination could not be determined")
    if kw in ("maintainer", "workdir", "user", "stopsignal") and len(args) != 1:
        raise fail(f"{upper} requires exactly one argument")
    if kw in ("env", "label", "arg", "expose", "volume", "onbuild", "healthcheck") \
            and not args and inst.next is None:
        raise fail(f"{upper} requires at least one argument")
    cmd = parse_flags(inst, file)
    if kw in ("copy", "add") and _heredoc_name(args[-1]) is not None:
        raise fail(f"{upper} cannot accept a heredoc as a destination")
    if kw in ("env", "label"):
        for i in range(0, len(args), 3):
            if args[i] == "":
                raise fail(f"{upper} names can not be blank")
    elif kw == "arg":
        for a in args:
            if a.startswith("="):
                raise fail("ARG names can not be blank")
    elif kw == "shell":
        if not args:
            raise fail("SHELL requires at least one argument")
        if not inst.json_form:
            raise fail("SHELL requires the arguments to be in JSON form")
    elif kw == "volume":
        if any(a.strip() == "" for a in args):
            raise fail("VOLUME specified can not be an empty string")
    elif kw == "healthcheck":
        _check_healthcheck(cmd, fail)
    elif kw == "onbuild":
        sub = inst.next
        trigger = sub.keyword.upper() if sub is not None else ""
        if trigger == "ONBUILD":
            raise fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise fail(f"{trigger} isn't allowed as an ONBUILD trigger")
        if sub is not None:
            check_command(sub, file)
    elif kw == "run":
        net = cmd.flag("network")
        if net not in ("", "default", "none", "host"):
            raise fail(f'unsupported network mode "{net}"')
    return cmd


def _check_healthcheck(cmd: Command, fail) -> None:  # noqa: ANN001
    typ = cmd.args[0].upper()
    rest = cmd.args[1:]
    if typ == "NONE":
        if rest:
            raise fail("HEALTHCHECK NONE takes no arguments")
        return
    if typ != "CMD":
        raise fail(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
    if not rest or (not cmd.inst.json_form and not rest[0].strip()):
        raise fail("Missing command after HEALTHCHECK CMD")
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = cmd.flag(name)
        if not value:
            continue
        try:
            d = parse_duration(value)
        except ValueError as e:
            raise fail(str(e)) from None
        if 0 < d < MIN_DURATION or d < 0:
            raise fail(f'Interval "{name}" cannot be less than 1ms')
    retries = cmd.flag("retries")
    if retries:
        try:
            n = int(retries, 10)
        except ValueError:
            raise fail(f'strconv.ParseInt: parsing "{retries}": invalid syntax') from None
        if n < 0:
            raise fail(f"--retries cannot be negative ({n})")


def parse_stages(df: Dockerfile) -> tuple[list[Command], list[Stage]]:
    """(meta ARGs before the first FROM, stages) or DockerfileError."""
    file = df.file
    meta: list[Command] = []
    stages: list[Stage] = []
    for inst in df.instructions:
        if inst.keyword == "from":
            args = inst.args
            name = ""
            if len(args) == 3 and args[1].lower() == "as":
                name = args[2].lower()
                if not _STAGE_NAME.match(name):
                    raise _fail(inst, f'invalid name for build stage: "{args[2]}", name '
                                "can't start with a number or contain symbols", file)
            elif len(args) != 1:
                raise _fail(inst, "FROM requires either one or three arguments", file)
            cmd = parse_flags(inst, file)
            stages.append(Stage(len(stages), args[0], name, cmd.flag("platform"), inst))
            continue
        cmd = check_command(inst, file)
        if not stages:
            if inst.keyword == "arg":
                meta.append(cmd)
                continue
            raise NoStage(inst, file)
        stages[-1].commands.append(cmd)
    if not stages:
        raise NoStage(None, file)
    return meta, stages


class NoStage(DockerfileError):
    """An instruction before the first FROM (or no FROM at all)."""

    def __init__(self, inst: Instruction | None, file: str) -> None:
        if inst is None:
            super().__init__("dockerfile contains no stages to build", file=file)
            self.message = "dockerfile contains no stages to build"
        else:
            super().__init__("no build stage in current context", line=inst.line,
                             end_line=inst.end_line, file=file)
            self.message = "no build stage in current context"
        self.reason = self.message
