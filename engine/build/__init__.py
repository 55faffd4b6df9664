"""The Dockerfile builder: parsing, word expansion and the build context filter.

Lifecycle and terms, in BuildKit's words:

- ``parse(text)`` turns a Dockerfile into a ``Dockerfile``: its parser
  directives (``# escape=``, ``# syntax=``, ``# check=``), its escape token,
  and one ``Instruction`` per logical line. A logical line is a physical line
  plus its continuation lines (escape token at the end of a line), with
  comment lines inside the continuation dropped, plus any heredoc bodies it
  opens. Arguments are kept as BuildKit's AST keeps them: unexpanded, quotes
  included, so expansion can happen later with the right environment.
- ``Dockerfile.dump()`` is BuildKit's ``Node.Dump()`` text of that AST.
- ``process_word`` / ``process_words`` expand ``$VAR``, ``${VAR:-x}``, quotes
  and escapes in one argument, against the variables in scope at that step.
- ``read_patterns`` / ``matches`` / ``walk_context`` apply a ``.dockerignore``
  to the build context the way BuildKit's file sync does.

Building (``executor.build(engine, BuildOptions)``, a generator of
``BuildEvent``s ending with ``result``): ``plan`` picks the stages the
target needs, ``stage`` keeps each stage's image config and history,
``steps`` runs RUN and WORKDIR and ``addcopy`` COPY/ADD in ``layer``
workspaces (``run`` for the containers, with the secrets and SSH agents of
``session``; ``copy`` for files from a ``context`` tree, or from a URL or
git repository fetched by ``remote``), ``cache`` keys and records every
layer step, ``plain`` renders BuildKit's plain progress.  A failed build
raises ``BuildError`` (message, Dockerfile excerpt, the failing step's last
output).

Errors: ``DockerfileError`` for a Dockerfile BuildKit rejects (it names the
file and line), ``ExpansionError`` for a word BuildKit cannot expand. Both are
``InvalidArgument``s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile BuildKit would refuse; ``line`` is 1-based (0: no line)."""

    def __init__(self, message: str, *, line: int = 0, end_line: int = 0,
                 file: str = "Dockerfile") -> None:
        text = (f"dockerfile parse error on line {line}: {message}" if line > 0
                else f"dockerfile parse error: {message}")
        super().__init__(text, file=file, line=line)
        self.reason = message
        self.line = line
        self.end_line = max(end_line, line)
        self.file = file

    @property
    def location(self) -> str:
        """``Dockerfile:3``, the way BuildKit titles its error excerpt."""
        return f"{self.file}:{self.line}" if self.line > 0 else self.file


class ExpansionError(InvalidArgument):
    """``$VAR`` expansion failed: bad syntax, or a ``${VAR?message}`` check."""


@dataclass(frozen=True)
class Heredoc:
    """One ``<<NAME`` body attached to a RUN, COPY or ADD.

    ``content`` is exactly the lines between the marker and the terminator,
    newlines included and leading tabs kept even for ``<<-`` (``chomp``);
    ``expand`` is False when any part of the name was quoted (``<<'EOF'``).
    """

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    file_descriptor: int = 0

    def chomped(self) -> str:
        """The content with leading tabs removed from each line if ``<<-``."""
        if not self.chomp:
            return self.content
        return re.sub(r"(?m)^\t+", "", self.content)


@dataclass(frozen=True)
class ParseWarning:
    """Something BuildKit accepts but warns about (empty continuation lines)."""

    message: str
    line: int
    detail: str = ""
    url: str = ""


@dataclass(frozen=True)
class Instruction:
    """One logical line of a Dockerfile, as BuildKit's AST holds it.

    ``keyword`` is lowercase; ``args`` are BuildKit's argument nodes, still
    unexpanded: for ENV and LABEL they come in triples (key, value, "=" or ""
    for the legacy ``KEY value`` form), for HEALTHCHECK the first is the type
    (CMD/NONE), for exec (JSON) form ``json_form`` is True and each element is
    one argument, for shell form the whole command is one argument. ``flags``
    are the leading ``--name=value`` words. ONBUILD has no args: its trigger is
    the nested instruction in ``next``. ``line``/``end_line`` are 1-based and
    include continuation and heredoc lines; ``original`` is the joined line.
    """

    keyword: str
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    line: int = 0
    end_line: int = 0
    original: str = ""
    json_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    next: Instruction | None = None
    comments: tuple[str, ...] = ()
    name: str = ""  # the keyword as written, for messages

    def dump(self) -> str:
        """This instruction in BuildKit's AST dump syntax, without parentheses."""
        from engine.build.dockerfile import dump_instruction

        return dump_instruction(self)


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: directives, escape token and instructions in order."""

    instructions: tuple[Instruction, ...]
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    warnings: tuple[ParseWarning, ...] = ()
    file: str = "Dockerfile"

    def dump(self) -> str:
        """BuildKit's ``Node.Dump()`` of the whole file (no trailing newline)."""
        return "\n".join(f"({inst.dump()})" for inst in self.instructions)


# The implementations import the classes above, so they load last.
from engine.build.dockerfile import parse  # noqa: E402
from engine.build.dockerignore import (  # noqa: E402
    ignore_file_for,
    matches,
    read_patterns,
    walk_context,
)
from engine.build.events import BuildError, BuildEvent, BuildOptions  # noqa: E402
from engine.build.shell import Expansion, Lex, process_word, process_words  # noqa: E402

__all__ = [
    "BuildError",
    "BuildEvent",
    "BuildOptions",
    "Dockerfile",
    "DockerfileError",
    "Expansion",
    "ExpansionError",
    "Heredoc",
    "Instruction",
    "Lex",
    "ParseWarning",
    "ignore_file_for",
    "matches",
    "parse",
    "process_word",
    "process_words",
    "read_patterns",
    "walk_context",
]
