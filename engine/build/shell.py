"""Shell-word expansion exactly as BuildKit's ``frontend/dockerfile/shell`` does it.

A port of BuildKit's ``lex.go``: single and double quotes, the escape token
(``\\`` or the Dockerfile's ``# escape=``), ``$VAR`` and ``${VAR}``, the
modifiers ``:-`` ``-`` ``:+`` ``+`` ``:?`` ``?``, and the pattern modifiers
``#`` ``##`` ``%`` ``%%`` ``/`` ``//`` (see ``shell_patterns``). It is not a
shell: no command substitution, no arithmetic, no globbing.

``process_word`` keeps the spacing of the expanded text (what ENV, WORKDIR,
USER... values get). ``process_words`` splits the result into words on
unquoted whitespace, including whitespace that came out of a variable, but
never inside quotes (what BuildKit's ProcessWords gives). ``Lex`` exposes the
option flags BuildKit's heredoc and raw-expansion paths use, and reports
which variables an expansion read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.build import ExpansionError
from engine.build._go import is_digit, is_letter, is_space, quote
from engine.build.shell_patterns import PatternError, substitute, trim_prefix, trim_suffix

__all__ = [
    "Expansion",
    "Lex",
    "build_envs",
    "process_word",
    "process_words",
]

EnvLike = Mapping[str, str] | Sequence[str]

_EOF = ""  # the scanner's end marker; every real character is one long
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
# Characters a heredoc marker may have between "<<" and its word.
_HEREDOC_SPACE = frozenset(" \t\r")


class _Fail(Exception):
    """An inner lexing error; ``Lex.process`` wraps it as BuildKit does."""


def build_envs(env: EnvLike) -> dict[str, str]:
    """``KEY=VALUE`` strings (or a mapping) as a dict; later keys win."""
    if isinstance(env, Mapping):
        return dict(env)
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


@dataclass(frozen=True)
class Expansion:
    """The result of one expansion: the text, its words, and the names used.

    ``matched`` are variables that were looked up and set, ``unmatched`` those
    looked up and not set; the build cache keys on the build args a step uses.
    """

    result: str
    words: tuple[str, ...]
    matched: frozenset[str] = field(default_factory=frozenset)
    unmatched: frozenset[str] = field(default_factory=frozenset)


class _Scanner:
    """Go's text/scanner in Next/Peek mode over a str."""

    def __init__(self, src: str) -> None:
        # text/scanner drops a byte-order mark at the very start.
        self.src = src[1:] if src.startswith("\ufeff") else src
        self.pos = 0

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else _EOF

    def next(self) -> str:
        if self.pos < len(self.src):
            self.pos += 1
            return self.src[self.pos - 1]
        return _EOF


class _Words:
    """Accumulates words, splitting only on whitespace added with ``add_char``.

    An empty quoted string adds nothing, so ``a '' b`` is two words, as in Go.
    """

    def __init__(self) -> None:
        self.buf = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.buf:
                self.words.append(self.buf)
                self.buf = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, s: str) -> None:
        self.buf += s
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def get(self) -> list[str]:
        if self.buf:
            self.words.append(self.buf)
            self.buf = ""
            self.in_word = False
        return self.words


class Lex:
    """BuildKit's ``shell.Lex`` with its option flags.

    raw_quotes keeps quote characters in the output, raw_escapes keeps escape
    tokens, skip_process_quotes treats quotes as plain characters, and
    skip_unset_env leaves references to unset variables as written.
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_process_quotes: bool = False,
                 skip_unset_env: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process(self, word: str, env: EnvLike) -> Expansion:
        """Expand ``word``; raise ExpansionError where BuildKit fails."""
        run = _Run(self, word, build_envs(env))
        try:
            result, words = run.stop_on(_EOF, self.raw_escapes)
        except _Fail as e:
            raise ExpansionError(f"failed to process {quote(word)}: {e}", word=word) from None
        return Expansion(result, tuple(words), frozenset(run.matched),
                         frozenset(run.unmatched))


class _Run:
    """One pass of the lexer over one word (BuildKit's ``shellWord``)."""

    def __init__(self, lex: Lex, word: str, env: dict[str, str]) -> None:
        self.lex = lex
        self.escape = lex.escape
        self.env = env
        self.scan = _Scanner(word)
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def stop_on_closed(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """:meth:`stop_on`'s word; at the end of the input, BuildKit's "syntax
        error: missing …" instead of the scanner's own complaint."""
        try:
            word, _ = self.stop_on(stop, raw_escapes)
        except _Fail:
            if self.scan.peek() == _EOF:
                raise _Fail(f"syntax error: missing {missing}") from None
            raise
        return word

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        scan = self.scan
        quotes = not self.lex.skip_process_quotes
        while (ch := scan.peek()) != _EOF:
            if stop != _EOF and ch == stop:
                scan.next()
                return "".join(result), words.get()
            if ch == "$":
                tmp = self.dollar()
                result.append(tmp)
                words.add_string(tmp)  # an expanded value splits on its spaces
            elif ch == "<":
                tmp = self.possible_heredoc()
                result.append(tmp)
                words.add_raw(tmp)
            elif quotes and ch == "'":
                tmp = self.single_quote()
                result.append(tmp)
                words.add_raw(tmp)
            elif quotes and ch == '"':
                tmp = self.double_quote()
                result.append(tmp)
                words.add_raw(tmp)
            else:
                ch = scan.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    ch = scan.next()
                    if ch == _EOF:
                        break  # a trailing escape is dropped
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop != _EOF:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get()

    def single_quote(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped.
        result: list[str] = []
        ch = self.scan.next()
        if self.lex.raw_quotes:
            result.append(ch)
        while True:
            ch = self.scan.next()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def double_quote(self) -> str:
        # Literal except $ and the escape token, which only escapes " $ and itself.
        result: list[str] = []
        scan = self.scan
        ch = scan.next()
        if self.lex.raw_quotes:
            result.append(ch)
        while True:
            peek = scan.peek()
            if peek == _EOF:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                ch = scan.next()
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if peek == "$":
                result.append(self.dollar())
                continue
            ch = scan.next()
            if ch == self.escape:
                if self.raw_escapes:
                    result.append(ch)
                nxt = scan.peek()
                if nxt == _EOF:
                    continue  # the missing closing quote is reported next round
                if nxt in ('"', "$", self.escape):
                    ch = scan.next()
            result.append(ch)

    def possible_heredoc(self) -> str:
        # "<<" swallows the blanks after it so "<< EOF" stays one word.
        self.scan.next()
        if self.scan.peek() != "<":
            return "<"
        self.scan.next()
        out = ["<<"]
        while self.scan.peek() in _HEREDOC_SPACE:
            out.append(self.scan.next())
        return "".join(out)

    def name(self) -> str:
        scan = self.scan
        out: list[str] = []
        while (ch := scan.peek()) != _EOF:
            if not out and is_digit(ch):
                # positional parameter: all the digits, never set
                while scan.peek() != _EOF and is_digit(scan.peek()):
                    out.append(scan.next())
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                return scan.next()
            if not (is_letter(ch) or is_digit(ch) or ch == "_"):
                break
            out.append(scan.next())
        return "".join(out)

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        scan = self.scan
        scan.next()
        if scan.peek() != "{":
            name = self.name()
            if name == "":
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value

        scan.next()
        peek = scan.peek()
        if peek == _EOF:
            raise _Fail("syntax error: missing '}'")
        if peek in ("{", "}", ":"):
            raise _Fail("syntax error: bad substitution")
        name = self.name()
        ch = scan.next()
        chs = ch if ch != _EOF else "\ufffd"  # Go's string(EOF)
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = scan.next()
            chs += ch if ch != _EOF else "\ufffd"
        elif ch == "/":
            return self.substitute(name)
        elif ch not in ("+", "-", "?", "#", "%"):
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        return self.modifier(name, ch, chs, null_is_unset)

    def modifier(self, name: str, ch: str, chs: str, null_is_unset: bool) -> str:
        raw = ch in ("#", "%")
        if null_is_unset and raw:
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        word = self.stop_on_closed("}", raw, "'}'")
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + chs + word + "}"
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            # one # or % is the shortest match, a doubled one the longest
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            try:
                if ch == "%":
                    return trim_suffix(word, value, greedy)
                return trim_prefix(word, value, greedy)
            except PatternError as e:
                raise _Fail(str(e)) from None
        raise _Fail(f"unsupported modifier ({chs}) in substitution")

    def substitute(self, name: str) -> str:
        replace_all = self.scan.peek() == "/"
        if replace_all:
            self.scan.next()
        pattern = self.stop_on_closed("/", True, "'/' in ${}")
        replacement = self.stop_on_closed("}", True, "'}'")
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        try:
            return substitute(pattern, value, replacement, replace_all)
        except PatternError as e:
            raise _Fail(str(e)) from None


def process_word(word: str, env: EnvLike, *, escape: str = "\\") -> str:
    """Expand one word the way ENV, LABEL, WORKDIR, USER... values are."""
    return Lex(escape).process(word, env).result


def process_words(word: str, env: EnvLike, *, escape: str = "\\") -> list[str]:
    """Expand and split into words the way BuildKit's ProcessWords does."""
    return list(Lex(escape).process(word, env).words)
