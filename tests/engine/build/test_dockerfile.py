"""The Dockerfile parser against BuildKit's corpus and BuildKit's own tests."""

from __future__ import annotations

import pytest

from engine.build import Dockerfile, DockerfileError, Heredoc, Instruction, parse
from engine.build.dockerfile import parse_heredoc
from engine.build.line_parsers import parse_words
from engine.errors import InvalidArgument
from tests.engine.build.conftest import BUILDKIT

CASES = sorted((BUILDKIT / "parser").iterdir())


def _read(path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def test_corpus_is_there() -> None:
    assert len(CASES) >= 17


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_buildkit_parser_corpus(case) -> None:
    text = _read(case / "Dockerfile")
    result = case / "result"
    if not result.exists():  # a case with no result is one BuildKit rejects
        with pytest.raises(DockerfileError):
            parse(text)
        return
    assert parse(text).dump() + "\n" == _read(result)


# -- files BuildKit rejects ---------------------------------------------------------------

REJECTED = [
    ("empty-file", "", 0, "file with no instructions"),
    ("only-blank-lines", "\n\n  \n", 3, "file with no instructions"),
    ("only-comments", "# one\n# two\n", 2, "file with no instructions"),
    ("env-no-value", "FROM busybox\nENV PATH\n", 2, "ENV must have two arguments"),
    ("label-no-value", "FROM busybox\nLABEL foo\n", 2, "LABEL must have two arguments"),
    ("env-missing-equals", "FROM x\nENV a=b c\n", 2,
     "Syntax error - can't find = in \"c\". Must be of the form: name=value"),
    ("nested-json", 'FROM x\nCMD [ "echo", [ "nested json" ] ]\n', 2,
     "when using JSON array syntax, arrays must be comprised of strings only"),
    ("json-number", 'FROM x\nRUN ["a", 1]\n', 2,
     "when using JSON array syntax, arrays must be comprised of strings only"),
    ("json-null", 'FROM x\nVOLUME [null]\n', 2,
     "when using JSON array syntax, arrays must be comprised of strings only"),
    ("unknown", "FROM x\nFOO bar\n", 2, "unknown instruction: FOO (did you mean FROM?)"),
    ("unknown-lower", "from x\ncopyy a b\n", 2, "unknown instruction: copyy (did you mean copy?)"),
    ("unknown-upper", "FROM x\nRUNN a\n", 2, "unknown instruction: RUNN (did you mean RUN?)"),
    ("unknown-far", "FROM x\nXYZZY a\n", 2, "unknown instruction: XYZZY"),
    ("unknown-continued", "FROM x\nRUN a\nBOGUS a \\\n b\n", 3, "unknown instruction: BOGUS"),
    ("duplicate-escape", "# escape=`\n# escape=\\\nFROM x\n", 2,
     "only one escape parser directive can be used"),
    ("bad-escape-token", "# escape=x\nFROM x\n", 1,
     "invalid escape token 'x' does not match ` or \\"),
    ("unterminated-heredoc", "FROM x\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc"),
]


@pytest.mark.parametrize("text,line,message", [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_rejected_files_name_the_line(text: str, line: int, message: str | None) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text, file="build/Dockerfile.dev")
    err = info.value
    assert isinstance(err, InvalidArgument)
    assert err.line == line
    assert err.file == "build/Dockerfile.dev"
    if line:
        assert str(err).startswith(f"dockerfile parse error on line {line}: ")
        assert err.location == f"build/Dockerfile.dev:{line}"
    if message is not None:
        assert err.reason == message
    assert "\n" not in str(err)


def test_unbalanced_quote_hides_a_heredoc() -> None:
    # the line cannot be lexed at all, so BuildKit finds no heredoc in it
    df = parse("FROM x\nRUN <<'EOF\nRUN <<EOF'\nRUN b\n")
    assert [i.heredocs for i in df.instructions] == [(), (), (), ()]


def test_unknown_keywords_kept_when_not_strict() -> None:
    df = parse("FROM x\nFOO bar\nONBUILD BAR baz\n", strict=False)
    assert df.dump() == '(from "x")\n(foo "")\n(onbuild (bar ""))'
    # an unknown ONBUILD trigger only fails when the trigger runs, as in BuildKit
    assert parse("FROM x\nONBUILD BAR baz\n").instructions[1].next.keyword == "bar"


def test_line_longer_than_go_scanner_buffer() -> None:
    with pytest.raises(DockerfileError) as info:
        parse("FROM image\nLABEL test=" + "a" * 65536 + "\n")
    assert info.value.reason == "dockerfile line greater than max allowed size of 65535"
    assert info.value.line == 2
    parse("FROM image\nLABEL t=" + "a" * (65535 - len("LABEL t=")) + "\n")  # fits exactly


# -- structure ------------------------------------------------------------------------------

def test_line_numbers_cover_continuations_comments_and_heredocs() -> None:
    text = (
        "# leading comment\n"     # 1
        "\n"                      # 2
        "FROM busybox AS base\n"  # 3
        "RUN a \\\n"              # 4
        "# inside\n"              # 5
        "\n"                      # 6
        "  b\n"                   # 7
        "COPY <<A <<B /x/\n"      # 8
        "one\n"                   # 9
        "A\n"                     # 10
        "two\n"                   # 11
        "B\n"                     # 12
        "CMD [\"sh\"]\n"          # 13
    )
    df = parse(text)
    assert [(i.keyword, i.line, i.end_line) for i in df.instructions] == [
        ("from", 3, 3), ("run", 4, 7), ("copy", 8, 12), ("cmd", 13, 13)]
    run = df.instructions[1]
    assert run.args == ("a   b",)
    assert run.original == "RUN a   b"
    assert [w.line for w in df.warnings] == [7]
    assert df.warnings[0].message == "Empty continuation line found in: RUN a   b"
    assert df.instructions[0].comments == ("leading comment",)
    assert df.instructions[3].json_form and df.instructions[3].args == ("sh",)


def test_empty_continuation_warnings_like_buildkit() -> None:
    text = ("\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n"
            "    following \\\n\n    more\n\nRUN another \\\n\n    thing\n\n"
            "RUN non-indented \\\n# this is a comment\n   after-comment\n\n"
            "RUN indented \\\n    # this is an indented comment\n    comment\n\t")
    warnings = parse(text).warnings
    assert len(warnings) == 2
    assert "RUN something     following     more" in warnings[0].message
    assert "RUN another     thing" in warnings[1].message
    assert "will become errors in a future release" in warnings[0].detail


def test_parser_directives() -> None:
    df = parse("\ufeff# syntax=docker/dockerfile:1\n#  check = skip=all;error=true \n"
               "# Escape=`\nFROM x\nRUN a `\n  b\n")
    assert df.directives == {"syntax": "docker/dockerfile:1",
                             "check": "skip=all;error=true", "escape": "`"}
    assert df.escape == "`"
    assert df.instructions[1].args == ("a   b",)
    assert df.instructions[0].comments == ()  # directives are not comments


def test_directives_stop_at_the_first_other_line() -> None:
    df = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n")
    assert df.directives == {}
    assert df.escape == "\\"
    df = parse("\n# escape=`\nFROM x\n")
    assert df.directives == {}
    assert df.instructions[0].comments == ("escape=`",)
    df = parse("# unknown=1\n# escape=`\nFROM x\n")
    assert df.directives == {}


def test_comments_before_an_instruction() -> None:
    df = parse("# stage one\n# ARG foo the foo\nARG foo\n#\n# reset above\nFROM x\nRUN a\n")
    assert [i.comments for i in df.instructions] == [
        ("stage one", "ARG foo the foo"), ("reset above",), ()]


def test_flags_and_forms() -> None:
    df = parse(
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "COPY --from=build --chown=1:1 --chmod=755 /out /bin/app\n"
        "RUN --mount=type=cache,target=/root/.cache go build\n"
        "ADD --link [\"a b\", \"/c\"]\n"
        "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1\n"
        "HEALTHCHECK NONE\n"
        "HEALTHCHECK CMD [\"true\"]\n"
        "MAINTAINER Jane Doe <jane@example.com>\n"
        "ARG A B=2 C=\"3 4\"\n"
        "LABEL a=b \"c d\"=e\n"
        "ENV X 1 2\n"
        "SHELL [\"bash\", \"-c\"]\n"
        "STOPSIGNAL SIGTERM\n"
        "EXPOSE 80/tcp 443\n"
        "ONBUILD RUN echo hi\n"
        "ONBUILD --x COPY --from=a . /\n"
        "USER app:app\n"
        "WORKDIR /src\n"
        "ENTRYPOINT exec app\n"
        "VOLUME /a /b\n")
    assert df.dump().splitlines() == [
        '(from ["--platform=$BUILDPLATFORM"] "golang:1.22" "AS" "build")',
        '(copy ["--from=build" "--chown=1:1" "--chmod=755"] "/out" "/bin/app")',
        '(run ["--mount=type=cache,target=/root/.cache"] "go build")',
        '(add ["--link"] "a b" "/c")',
        '(healthcheck ["--interval=5s" "--retries=3"] "CMD" "curl -f http://x/ || exit 1")',
        '(healthcheck "NONE")',
        '(healthcheck "CMD" "true")',
        '(maintainer "Jane Doe <jane@example.com>")',
        '(arg "A" "B=2" "C=\\"3 4\\"")',
        '(label "a" "b" "=" "\\"c d\\"" "e" "=")',
        '(env "X" "1 2" "")',
        '(shell "bash" "-c")',
        '(stopsignal "SIGTERM")',
        '(expose "80/tcp" "443")',
        '(onbuild (run "echo hi"))',
        '(onbuild ["--x"] (copy ["--from=a"] "." "/"))',
        '(user "app:app")',
        '(workdir "/src")',
        '(entrypoint "exec app")',
        '(volume "/a" "/b")',
    ]
    health = df.instructions[6]
    assert health.json_form and health.args == ("CMD", "true")
    onbuild = df.instructions[15]
    assert onbuild.args == () and isinstance(onbuild.next, Instruction)
    assert onbuild.next.keyword == "copy" and onbuild.next.line == onbuild.line
    assert df.instructions[0].name == "FROM"


def test_invalid_json_falls_back_to_shell_form() -> None:
    df = parse("CMD [\"a\", NaN]\nCMD [\"a\"] trailing\nCMD {\"a\": 1}\nCOPY [a b] c\nRUN [\n")
    assert [(i.json_form, i.args) for i in df.instructions] == [
        (False, ('["a", NaN]',)),
        (True, ("a",)),  # Go's json.Decoder stops after the first value
        (False, ('{"a": 1}',)),
        (False, ("[a", "b]", "c")),
        (False, ("[",)),
    ]


def test_crlf_and_backtick_escape() -> None:
    df = parse("# escape=`\r\nFROM x\r\nRUN dir c:\\ `\r\n  /s\r\n")
    assert df.instructions[1].args == ("dir c:\\   /s",)


def test_flag_bytes_are_latin1_like_buildkit() -> None:
    # BuildKit's flag scanner reads bytes, so UTF-8 comes out as Latin-1 runes
    df = parse("FROM x\nCOPY --chown=jörg a b\n")
    assert df.instructions[1].flags == ("--chown=jÃ¶rg",)


# -- heredocs (BuildKit's parser_heredoc_test.go) ---------------------------------------

HEREDOC_FILE = """
FROM alpine:3.6

ENV NAME=me

RUN ls

USER <<INVALID
INVALID

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN "<<NOHEREDOC"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-EXPAND
\texpand $NAME
EXPAND

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COPY
echo hello world
echo foo bar
COPY

RUN <<COMMENT
# internal comment
echo hello world
echo foo bar # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<EOF /quotes
"foo"
'bar'
EOF

COPY <<X <<Y /dest
Y
X
X
Y

RUN <<COMPLEX python3
print('hello world')
COMPLEX

COPY <<file.txt /dest
hello world
file.txt

RUN <<eo'f'
echo foo
eof

RUN <<eo\\'f
echo foo
eo'f

RUN <<'e'o\\'f
echo foo
eo'f

RUN <<'one two'
echo bar
one two

RUN <<$EOF
$EOF

RUN <<  EOF
EOF

RUN <<  EOF  > foo
EOF
\t"""

H = Heredoc
HEREDOC_EXPECTED = [
    (), (), (), (),
    (H("EMPTY"),),
    (H("EMPTY2", file_descriptor=3),),
    (),
    (H("INDENT", "\tfoo\n\tbar\n"),),
    (H("UNINDENT", "\tbaz\n\tquux\n", chomp=True),),
    (H("UNINDENT2", "\tbaz\n\tquux\n", chomp=True),),
    (H("EXPAND", "\texpand $NAME\n", chomp=True),),
    (H("NOEXPAND", "\tdon't expand $NAME\n", expand=False, chomp=True),),
    (H("COPY", "echo hello world\necho foo bar\n"),),
    (H("COMMENT", "# internal comment\necho hello world\necho foo bar # trailing comment\n"),),
    (H("MOUNT", "echo hello\n"),),
    (H("FILE1", "content 1\n"), H("FILE2", "content 2\n")),
    (H("EOF", "\"foo\"\n'bar'\n"),),
    (H("X", "Y\n"), H("Y", "X\n")),
    (H("COMPLEX", "print('hello world')\n"),),
    (H("file.txt", "hello world\n"),),
    (H("eof", "echo foo\n", expand=False),),
    (H("eo'f", "echo foo\n"),),
    (H("eo'f", "echo foo\n", expand=False),),
    (H("one two", "echo bar\n", expand=False),),
    (H("$EOF"),),
    (H("EOF"),),
    (H("EOF"),),
]


def test_heredocs_like_buildkit() -> None:
    df = parse(HEREDOC_FILE, strict=False)  # "INVALID" is an instruction line
    got = [i.heredocs for i in df.instructions[1:]]
    assert got == HEREDOC_EXPECTED
    assert df.instructions[9].heredocs[0].chomped() == "baz\nquux\n"


def test_json_form_has_no_heredocs() -> None:
    df = parse('FROM alpine:3.6\nRUN ["whoami"]\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n')
    assert all(i.heredocs == () for i in df.instructions)


def test_onbuild_heredoc() -> None:
    df = parse("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN true\n")
    onbuild = df.instructions[1]
    assert onbuild.heredocs == (H("EOF", "echo hi\n"),)
    assert (onbuild.line, onbuild.end_line) == (2, 4)
    assert df.instructions[2].line == 5


@pytest.mark.parametrize("src", ["<<EOF", "<<'EOF'", '<<"EOF"', "<<-EOF", "<<-'EOF'",
                                 '<<-"EOF"', '<<EO"F"', "<< EOF", "<<- EOF"])
def test_parse_heredoc_valid(src: str) -> None:
    doc = parse_heredoc(src)
    assert doc is not None and doc.name == "EOF"


@pytest.mark.parametrize("src", ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"])
def test_parse_heredoc_not_heredoc(src: str) -> None:
    assert parse_heredoc(src) is None


@pytest.mark.parametrize("src", ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"'])
def test_parse_heredoc_invalid(src: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_heredoc(src)


# -- parseWords (BuildKit's TestParseWords) ------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("foo", ["foo"]),
    ("foo bar", ["foo", "bar"]),
    ("foo\\ bar", ["foo\\ bar"]),
    ("foo=bar", ["foo=bar"]),
    ("foo bar 'abc xyz'", ["foo", "bar", "'abc xyz'"]),
    ('foo bar "abc xyz"', ["foo", "bar", '"abc xyz"']),
    ("àöû", ["àöû"]),
    ('föo bàr "âbc xÿz"', ["föo", "bàr", '"âbc xÿz"']),
])
def test_parse_words(text: str, words: list[str]) -> None:
    assert parse_words(text, "\\") == words


def test_dockerfile_value_is_frozen() -> None:
    df = parse("FROM x\n")
    assert isinstance(df, Dockerfile)
    with pytest.raises(AttributeError):
        df.escape = "`"  # type: ignore[misc]
