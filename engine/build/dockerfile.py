"""Parse a Dockerfile exactly as BuildKit's ``frontend/dockerfile/parser`` does.

The pipeline is BuildKit's, step for step, because its quirks are part of
the format users rely on:

1. The text is cut into physical lines that keep their newline (heredoc
   bodies need them); a line over 64 KiB is an error, as with Go's scanner.
2. Leading ``# key=value`` comments are parser directives until the first
   line that is not one (a blank line ends them too).
3. A line ending in the escape token continues on the next line; comment
   lines inside a continuation are dropped, empty ones are skipped with a
   warning, and continuation lines keep their leading whitespace.
4. The joined line is split into keyword, ``--flags`` and rest, and the rest
   goes to the keyword's line parser (``line_parsers``).
5. RUN/COPY/ADD (also behind ONBUILD) in shell form may open heredocs; their
   bodies are read up to the terminator lines, in order.

Then, as BuildKit's instruction layer does before building, any keyword that
is not a Dockerfile instruction is rejected with a did-you-mean suggestion.
"""

from __future__ import annotations

import re
from dataclasses import replace

from engine.build import (
    Dockerfile,
    DockerfileError,
    ExpansionError,
    Heredoc,
    Instruction,
    ParseWarning,
)
from engine.build._go import quote, trim_left_space, trim_space
from engine.build.line_parsers import KEYWORDS, LineError, parse_ignore, split_command
from engine.build.shell import Lex

__all__ = ["dump_instruction", "parse", "parse_heredoc"]

_MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_VALID_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
_EMPTY_CONTINUATION_URL = "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"


class _Scanner:
    """Go's bufio.Scanner with BuildKit's newline-keeping split function."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        last = self.lines.pop()
        self.lines = [line + "\n" for line in self.lines]
        if last:
            self.lines.append(last)
        self.pos = 0
        self.too_long = False

    def scan(self) -> str | None:
        if self.too_long or self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        size = len(line.encode("utf-8", "surrogateescape"))
        # the buffer must hold the line and, for the last one, one more byte
        if size > _MAX_LINE or (size == _MAX_LINE and not line.endswith("\n")):
            self.too_long = True
            return None
        self.pos += 1
        return line


class _Directives:
    """Parser-directive state: the escape token and the directives seen."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.done = False
        self.set_escape("\\")

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise LineError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        e = re.escape(token)
        # An escape at the end continues the line unless it is itself escaped;
        # like BuildKit's RE2 pattern this misses "foo \\\" (three escapes).
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def possible_directive(self, line: str) -> bool:
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(trim_left_space(line[1:]))
        key = m.group(1).lower() if m else ""
        if m is None or key not in _VALID_DIRECTIVES:
            self.done = True
            return False
        if key in self.values:
            raise LineError(f"only one {key} parser directive can be used")
        self.values[key] = m.group(2)
        if key == "escape":
            self.set_escape(m.group(2))
        return True

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """(line without its continuation token, whether the line ends here)."""
        m = self.continuation.search(line)
        if m is None:
            return line, True
        return line[: m.start()] + (m.group(1) or ""), False


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


def _process_line(d: _Directives, raw: str, strip_left: bool) -> tuple[str, bool]:
    token = raw.rstrip("\r\n")
    if strip_left:
        token = trim_left_space(token)
    found = d.possible_directive(token)
    return ("" if _is_comment(token) else token), found


def _new_node(line: str, escape: str, comments: tuple[str, ...] = ()) -> Instruction:
    name, flags, rest = split_command(line, escape)
    keyword = name.lower()
    parsed = KEYWORDS.get(keyword, parse_ignore)(rest, escape)
    sub = _new_node(parsed.sub, escape) if parsed.sub is not None else None
    return Instruction(keyword=keyword, args=tuple(parsed.args), flags=tuple(flags),
                       original=line, json_form=parsed.json_form, next=sub,
                       comments=comments, name=name)


def _can_contain_heredoc(inst: Instruction) -> bool:
    if inst.keyword == "onbuild" and inst.next is not None:
        inst = inst.next
    return inst.keyword in _HEREDOC_KEYWORDS and not inst.json_form


def _fd(digits: str) -> int:
    # strconv.ParseUint errors are ignored: "" is 0, an overflow saturates
    return min(int(digits), 2**64 - 1) if digits else 0


def parse_heredoc(src: str) -> Heredoc | None:
    """A ``<<[-]NAME`` word as a Heredoc (no content), or None if it is not one.

    Raises ExpansionError for a malformed name (an unmatched quote).
    """
    m = _HEREDOC.match(src)
    if m is None or m.group(3) == "":
        return None
    rest = m.group(3)
    # Lex the name with and without quotes: if the quote counts differ, part
    # of the name was quoted and the body must not be expanded.
    words = Lex(skip_unset_env=True).process(rest, {}).words
    if len(words) != 1:
        return None
    raw = Lex(skip_unset_env=True, raw_quotes=True).process(rest, {}).words
    if len(raw) != len(words):
        raise ExpansionError(
            f"internal lexing of heredoc produced inconsistent results: {rest}")
    quoted = raw[0].count("'") + raw[0].count('"')
    plain = words[0].count("'") + words[0].count('"')
    return Heredoc(name=words[0], expand=quoted == plain, chomp=m.group(2) == "-",
                   file_descriptor=_fd(m.group(1)))


def _heredocs_in(line: str) -> list[Heredoc]:
    lex = Lex(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process(line, {}).words
    except ExpansionError:
        return []  # BuildKit ignores this error and finds no heredocs
    found = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            found.append(doc)
    return found


def parse(text: str | bytes, *, file: str = "Dockerfile", strict: bool = True) -> Dockerfile:
    """Parse Dockerfile text; raise DockerfileError where BuildKit fails.

    Bytes are decoded as UTF-8, invalid sequences kept (and dumped as ``\\x``
    escapes, as Go does). With ``strict=False`` unknown keywords stay in the
    result (with one empty argument), as in BuildKit's bare AST; a build
    always parses strictly.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    d = _Directives()
    scanner = _Scanner(text)
    current = 0
    out: list[Instruction] = []
    warnings: list[ParseWarning] = []
    comments: list[str] = []

    def fail(message: str, line: int, end: int = 0) -> DockerfileError:
        return DockerfileError(message, line=line, end_line=end, file=file)

    while (raw := scanner.scan()) is not None:
        if current == 0:
            raw = raw.removeprefix("\ufeff")
        if _is_comment(raw):
            comment = trim_space(raw[1:])
            comments = comments + [comment] if comment else []
        try:
            line, directive = _process_line(d, raw, strip_left=True)
        except LineError as e:
            # BuildKit reports this one line early (0-based); we name the line
            raise fail(str(e), current + 1) from None
        if directive:
            comments = comments[:-1]  # a directive is not a comment for the AST
        current += 1
        start = current
        line, end_of_line = d.trim_continuation(line)
        if end_of_line and line == "":
            continue
        parts = [line]
        empty_continuation = False
        while not end_of_line and (raw := scanner.scan()) is not None:
            cont, _ = _process_line(d, raw, strip_left=False)
            current += 1
            if _is_comment(raw):
                continue
            if trim_left_space(cont) == "":
                empty_continuation = True
                continue
            cont, end_of_line = d.trim_continuation(cont)
            parts.append(cont)
        line = "".join(parts)
        if empty_continuation:
            warnings.append(ParseWarning(
                message=f"Empty continuation line found in: {line}", line=current,
                detail="Empty continuation lines will become errors in a future release",
                url=_EMPTY_CONTINUATION_URL))
        try:
            inst = _new_node(line, d.escape, tuple(comments))
            docs = _heredocs_in(line) if _can_contain_heredoc(inst) and "<<" in line else []
        except (LineError, ExpansionError) as e:
            raise fail(str(e), start, current) from None
        bodies: list[Heredoc] = []
        for doc in docs:
            content: list[str] = []
            while (body := scanner.scan()) is not None:
                current += 1
                end = body.rstrip("\r\n")
                if doc.chomp:
                    end = end.lstrip("\t")
                if end == doc.name:
                    break
                content.append(body)
            else:
                raise fail("unterminated heredoc", start, current)
            bodies.append(Heredoc(name=doc.name, content="".join(content), expand=doc.expand,
                                  chomp=doc.chomp, file_descriptor=doc.file_descriptor))
        out.append(_place(inst, start, current, tuple(bodies)))
        comments = []

    if not out:
        raise fail("file with no instructions", current)
    if scanner.too_long:
        # BuildKit points at the last line it read; we name the long one
        raise fail(f"dockerfile line greater than max allowed size of {_MAX_LINE - 1}",
                   current + 1)
    for inst in out if strict else ():
        if inst.keyword not in KEYWORDS:
            raise fail(_unknown_instruction(inst.name), inst.line, inst.end_line)
    return Dockerfile(instructions=tuple(out), directives=dict(d.values), escape=d.escape,
                      warnings=tuple(warnings), file=file)


def _place(inst: Instruction, start: int, end: int, docs: tuple[Heredoc, ...]) -> Instruction:
    # an ONBUILD trigger has no lines of its own; it takes its parent's
    sub = inst.next
    if sub is not None:
        sub = replace(sub, line=start, end_line=end)
    return replace(inst, line=start, end_line=end, heredocs=docs, next=sub)


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _unknown_instruction(name: str) -> str:
    """BuildKit's message, with its suggestion (edit distance under 3)."""
    message = f"unknown instruction: {name}"
    val = name.lower()
    best, best_dist = "", 3
    for opt in sorted(KEYWORDS):
        dist = _levenshtein(val, opt)
        if dist < best_dist:
            best, best_dist = opt, dist
    if not best:
        return message
    # all-upper input gets an upper-case suggestion, anything else lower case
    shown = best.upper() if name != name.lower() and name == name.upper() else best
    return f"{message} (did you mean {shown}?)"


def dump_instruction(inst: Instruction) -> str:
    """BuildKit's ``Node.Dump()`` for one instruction (without parentheses)."""
    out = inst.keyword
    if inst.flags:
        out += " [" + " ".join(quote(f) for f in inst.flags) + "]"
    if inst.next is not None:
        out += " (" + dump_instruction(inst.next) + ")"
    for arg in inst.args:
        out += " " + quote(arg)
    return trim_space(out)
