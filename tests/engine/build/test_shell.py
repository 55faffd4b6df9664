"""Word expansion against BuildKit's envVarTest/wordsTest corpora and lex_test.go."""

from __future__ import annotations

import pytest

from engine.build import ExpansionError, Lex, process_word, process_words
from engine.build._go import trim_space
from engine.build.shell_patterns import pattern_regex, reverse_pattern
from engine.errors import InvalidArgument
from tests.engine.build.conftest import BUILDKIT

ENV = ["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]


def _env_var_cases() -> list:
    """envVarTest lines that apply on Unix: (A)ll platforms and (U)nix."""
    cases = []
    lines = (BUILDKIT / "envVarTest").read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        line = trim_space(line)
        if not line:
            continue
        fields = line.split("|")
        assert len(fields) == 3, f"envVarTest line {number}: {line!r}"
        platform, source, expected = (trim_space(f) for f in fields)
        assert platform in ("A", "U", "W"), f"envVarTest line {number}: bad tag"
        if platform != "W":
            cases.append(pytest.param(source, expected, id=f"L{number}:{source}"))
    return cases


def _words_cases() -> list:
    """wordsTest lines; ``ENV k=v`` lines extend the environment of later lines."""
    cases = []
    env: list[str] = []
    lines = (BUILDKIT / "wordsTest").read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            env.append(line[3:].lstrip(" "))
            continue
        fields = line.split("|")
        assert len(fields) == 2, f"wordsTest line {number}: {line!r}"
        source = trim_space(fields[0])
        expected = fields[1].lstrip(" ").split(",")
        cases.append(pytest.param(source, list(env), expected, id=f"L{number}:{source}"))
    return cases


ENV_VAR_CASES = _env_var_cases()
WORDS_CASES = _words_cases()


def test_corpora_are_there() -> None:
    assert len(ENV_VAR_CASES) == 228
    assert len(WORDS_CASES) == 24


@pytest.mark.parametrize("source,expected", ENV_VAR_CASES)
def test_env_var_corpus(source: str, expected: str) -> None:
    if expected == "error":
        with pytest.raises(ExpansionError):
            process_word(source, ENV)
        with pytest.raises(InvalidArgument):
            process_word(source, dict(e.split("=", 1) for e in ENV))
    else:
        assert process_word(source, ENV) == expected
        assert process_word(source, dict(e.split("=", 1) for e in ENV)) == expected


@pytest.mark.parametrize("source,env,expected", WORDS_CASES)
def test_words_corpus(source: str, env: list[str], expected: list[str]) -> None:
    try:
        result = process_words(source, env)
    except ExpansionError:
        result = ["error"]
    assert result == expected


# -- lex_test.go: TestProcessWithMatches -------------------------------------------------

MATCH_CASES = [
    ("x", {"DUMMY": "dummy"}, "x", set(), set()),
    ("x ${UNUSED}", {"DUMMY": "dummy"}, "x ", set(), {"UNUSED"}),
    ("x ${FOO}", {"FOO": "y"}, "x y", {"FOO"}, set()),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc",
     {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc",
     {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:-}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${FOO:-}", {}, "", set(), {"FOO"}),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb ",
     {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  ",
     {"FOO", "BAR"}, {"BAZ"}),
    ("${FOO?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${BAR?bbb}", {"FOO": "xxx", "BAR": ""}, "", {"BAR"}, set()),
    ("${BAZ?ccc}", {"FOO": "xxx", "BAR": ""}, None, set(), {"BAZ"}),
    ("${FOO:?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx", {"FOO"}, set()),
    ("${BAR:?bbb}", {"FOO": "xxx", "BAR": ""}, None, None, None),
    ("${BAZ:?ccc}", {"FOO": "xxx", "BAR": ""}, None, None, None),
    ("${BAZ:?}", {"FOO": "xxx", "BAR": ""}, None, None, None),
    ("${FOO=aaa}", {"FOO": "xxx", "BAR": ""}, None, None, None),
    ("${FOO=:aaa}", {"FOO": "xxx", "BAR": ""}, None, None, None),
    ("${FOO=}", {}, None, None, None),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x", {"FOO"}, set()),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx", {"FOO"}, set()),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y", {"FOO"}, set()),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy", {"FOO", "BAR"}, set()),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}, set()),
    ("${FOO#}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy", {"FOO"}, set()),
    ("${FOO##}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y", {"FOO"}, set()),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy.", {"FOO"}, {"ABC"}),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a", {"FOO"}, set()),
    ("${FOO%}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy", {"FOO", "BAR"}, set()),
    ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
     "/foo.*/*.txt - /foo..*.txt", {"FOO", "NEEDLE"}, set()),
    ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
     "/tmp/bar.txt - /bar.txt", {"FOO", "NEEDLE"}, set()),
    ("${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
     {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"},
     "/foo/b/c.txt - /foo/c.txt", {"FOO", "NEEDLE", "REPLACEMENT"}, set()),
    ("${FOO/$NEEDLE/$REPLACEMENT}",
     {"FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"},
     "https://google.de", {"FOO", "NEEDLE", "REPLACEMENT"}, set()),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt", {"FOO"}, set()),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy", {"FOO", "BAR"}, set()),
    ("${FOO//ww}", {"FOO": "xxyy"}, None, None, None),
    ("${FOO//}", {"FOO": "xxyy"}, None, None, None),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy", {"FOO"}, set()),
    ("${FOO///}", {}, "", set(), {"FOO"}),
    # not in lex_test.go: the modifiers bash lacks, and Go's replace-all rules
    ("${FOO:#x}", {"FOO": "xy"}, None, None, None),
    ("${FOO:%y}", {"FOO": "xy"}, None, None, None),
    ("${FOO#\\x}", {"FOO": "xy"}, None, None, None),
    ("${FOO//*/y}", {"FOO": "abc"}, "y", {"FOO"}, set()),
    ("${FOO//b*/[\\$0]}", {"FOO": "abc"}, "a[\\bc]", {"FOO"}, set()),
    ("${FOO//b/$$}", {"FOO": "abc"}, "ac", {"FOO"}, {"$"}),  # $$ is a (special) variable
]


@pytest.mark.parametrize("word,env,expected,matched,unmatched", MATCH_CASES,
                         ids=[f"{i}:{c[0]}" for i, c in enumerate(MATCH_CASES)])
def test_process_with_matches(word: str, env: dict[str, str], expected: str | None,
                              matched: set[str] | None, unmatched: set[str] | None) -> None:
    if expected is None:
        with pytest.raises(ExpansionError) as info:
            Lex().process(word, env)
        assert str(info.value).startswith("failed to process ")
        return
    result = Lex().process(word, env)
    assert result.result == expected
    assert result.matched == matched
    assert result.unmatched == unmatched


def test_release_name_with_platform_args() -> None:
    word = ("something-${VERSION}.${TARGETOS}-${TARGETARCH}"
            "${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz")
    env = {"VERSION": "v1.2.3", "TARGETOS": "linux", "TARGETARCH": "arm", "TARGETVARIANT": "v7"}
    result = Lex().process(word, env)
    assert result.result == "something-v1.2.3.linux-arm-v7.tar.gz"
    assert result.matched == set(env)
    del env["TARGETVARIANT"]
    assert Lex().process(word, env).result == "something-v1.2.3.linux-arm.tar.gz"


def test_mandatory_env_vars() -> None:
    no_empty, no_unset = "${VAR:?message here$ARG}", "${VAR?message here$ARG}"
    set_envs, empty_envs, unset_envs = ["VAR=plain", "ARG=x"], ["VAR=", "ARG=x"], ["ARG=x"]
    assert process_word(no_empty, set_envs) == "plain"
    for env in (empty_envs, unset_envs):
        with pytest.raises(ExpansionError, match="VAR: message herex"):
            process_word(no_empty, env)
    assert process_word(no_unset, set_envs) == "plain"
    assert process_word(no_unset, empty_envs) == ""
    with pytest.raises(ExpansionError, match="VAR: message herex"):
        process_word(no_unset, unset_envs)
    with pytest.raises(ExpansionError) as info:
        process_word("${VAR:?}", empty_envs)
    assert str(info.value) == 'failed to process "${VAR:?}": VAR: is not allowed to be empty'


def test_error_messages_are_buildkits() -> None:
    for word, message in [
        ("he${}", 'failed to process "he${}": syntax error: bad substitution'),
        ("${aaa", "failed to process \"${aaa\": unsupported modifier (\ufffd) in substitution"),
        ("${aaa:-bbb", "failed to process \"${aaa:-bbb\": syntax error: missing '}'"),
        ("'abc", 'failed to process "\'abc": unexpected end of statement while looking for '
                 "matching single-quote"),
        ('"abc', 'failed to process "\\"abc": unexpected end of statement while looking for '
                 "matching double-quote"),
        ("${FOO#\\x}", "failed to process \"${FOO#\\\\x}\": invalid pattern (\\x) in "
                       "substitution: invalid escape '\\x'"),
    ]:
        with pytest.raises(ExpansionError) as info:
            process_word(word, {"FOO": "x"})
        assert str(info.value) == message


def test_later_env_entries_win() -> None:
    assert process_word("$car", ["foo=bar", "car=hat", "car=bike"]) == "bike"
    assert process_word("[$foo]", ["foo"]) == "[]"


def test_backtick_escape() -> None:
    assert process_word("C:\\dir `$HOME", {"HOME": "/root"}, escape="`") == "C:\\dir $HOME"
    assert process_words('a` b "c`"d"', {}, escape="`") == ["a b", 'c"d']


def test_empty_quotes_make_no_word() -> None:
    assert process_words("a '' b", {}) == ["a", "b"]
    assert process_words('""', {}) == []
    assert process_words('a""b "" c', {}) == ["ab", "c"]


def test_lex_options() -> None:
    raw = Lex(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    assert raw.process("'a b' \\x $UNSET ${U:-d} $SET", {"SET": "1"}).words == (
        "'a b'", "\\x", "$UNSET", "${U:-d}", "1")
    assert Lex(skip_process_quotes=True).process("'$A'", {"A": "1"}).result == "'1'"
    assert Lex().process("<<  EOF a", {}).words == ("<<  EOF", "a")


# -- lex_test.go: the pattern helpers ----------------------------------------------------

@pytest.mark.parametrize("pattern,regex", [
    ("*", "^.*"),
    ("?", "^."),
    ("\\*", "^\\*"),
    ("(()[]{\\}^$.\\*\\?|\\\\", "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\"),
])
def test_convert_shell_pattern_to_regex(pattern: str, regex: str) -> None:
    assert pattern_regex(pattern, greedy=True, anchored=True).pattern == regex


@pytest.mark.parametrize("pattern", ["\\", "\\x", "\\\\\\"])
def test_convert_shell_pattern_invalid(pattern: str) -> None:
    with pytest.raises(Exception, match="invalid escape"):
        pattern_regex(pattern, greedy=True, anchored=True)


@pytest.mark.parametrize("pattern,reversed_", [
    ("a\\*c", "c\\*a"),
    ("\\\\\\ab", "b\\a\\\\"),
    ("ab\\", "\\ba"),
    ("👽\\🚀🖖", "🖖\\🚀👽"),
    ("\\\\b", "b\\\\"),
])
def test_reverse_pattern(pattern: str, reversed_: str) -> None:
    assert reverse_pattern(pattern) == reversed_
