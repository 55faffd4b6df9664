""".dockerignore: BuildKit's ReadAll, moby/patternmatcher's tables, fsutil's walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.build import ignore_file_for, matches, read_patterns, walk_context
from engine.build._go import dir_name
from engine.build.dockerignore import BadPattern, PatternMatcher
from engine.build.patternmatcher import MatchInfo
from engine.errors import InvalidArgument

# -- reading the file -----------------------------------------------------------------------


def test_read_patterns_like_buildkit() -> None:
    text = ("test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n"
            "! /inverted/abs/path\n!\n! \n")
    assert read_patterns(text) == ["test1", "test2", "a/file/here", "lastfile",
                                   "!inverted/abs/path", "!", "!"]


@pytest.mark.parametrize("text,patterns", [
    ("\ufeffnode_modules\n", ["node_modules"]),
    ("a\r\nb\r\n", ["a", "b"]),
    ("  # not a comment\n", ["# not a comment"]),  # only column one starts a comment
    ("./build/../dist/\n", ["dist"]),
    ("//x//y/\n", ["x/y"]),
    ("/\n", ["/"]),
    ("  spaced out  \n\t\n", ["spaced out"]),
    ("!  ./keep\n", ["!keep"]),
    ("no-final-newline", ["no-final-newline"]),
    ("a\n\ufeffb\n", ["a", "\ufeffb"]),  # only the first line's BOM is dropped
])
def test_read_patterns_cleaning(text: str, patterns: list[str]) -> None:
    assert read_patterns(text) == patterns


# -- moby/patternmatcher: TestMatches --------------------------------------------------------

EXACT, INEXACT, FAIL = "exact", "inexact", "fail"
MATCHES = [
    ("**", "file", EXACT), ("**", "file/", EXACT), ("**/", "file", EXACT),
    ("**/", "file/", EXACT), ("**", "/", EXACT), ("**/", "/", EXACT),
    ("**", "dir/file", EXACT), ("**/", "dir/file", EXACT), ("**", "dir/file/", EXACT),
    ("**/", "dir/file/", EXACT), ("**/**", "dir/file", EXACT), ("**/**", "dir/file/", EXACT),
    ("dir/**", "dir/file", EXACT), ("dir/**", "dir/file/", EXACT),
    ("dir/**", "dir/dir2/file", EXACT), ("dir/**", "dir/dir2/file/", EXACT),
    ("**/dir", "dir", EXACT), ("**/dir", "dir/file", INEXACT),
    ("**/dir2/*", "dir/dir2/file", EXACT), ("**/dir2/*", "dir/dir2/file/", INEXACT),
    ("**/dir2/**", "dir/dir2/dir3/file", EXACT), ("**/dir2/**", "dir/dir2/dir3/file/", EXACT),
    ("**file", "file", EXACT), ("**file", "dir/file", EXACT), ("**/file", "dir/file", EXACT),
    ("**file", "dir/dir/file", EXACT), ("**/file", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file", EXACT), ("**/file*", "dir/dir/file.txt", EXACT),
    ("**/file*txt", "dir/dir/file.txt", EXACT), ("**/file*.txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt*", "dir/dir/file.txt", EXACT), ("**/**/*.txt", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt2", "dir/dir/file.txt", FAIL), ("**/*.txt", "file.txt", EXACT),
    ("**/**/*.txt", "file.txt", EXACT), ("a**/*.txt", "a/file.txt", EXACT),
    ("a**/*.txt", "a/dir/file.txt", EXACT), ("a**/*.txt", "a/dir/dir/file.txt", EXACT),
    ("a/*.txt", "a/dir/file.txt", FAIL), ("a/*.txt", "a/file.txt", EXACT),
    ("a/*.txt**", "a/file.txt", EXACT), ("a[b-d]e", "ae", FAIL), ("a[b-d]e", "ace", EXACT),
    ("a[b-d]e", "aae", FAIL), ("a[^b-d]e", "aze", EXACT), (".*", ".foo", EXACT),
    (".*", "foo", FAIL), ("abc.def", "abcdef", FAIL), ("abc.def", "abc.def", EXACT),
    ("abc.def", "abcZdef", FAIL), ("abc?def", "abcZdef", EXACT), ("abc?def", "abcdef", FAIL),
    ("**/foo/bar", "foo/bar", EXACT), ("**/foo/bar", "dir/foo/bar", EXACT),
    ("**/foo/bar", "dir/dir2/foo/bar", EXACT), ("abc/**", "abc", FAIL),
    ("abc/**", "abc/def", EXACT), ("abc/**", "abc/def/ghi", EXACT), ("**/.foo", ".foo", EXACT),
    ("**/.foo", "bar.foo", FAIL), ("a(b)c/def", "a(b)c/def", EXACT),
    ("a(b)c/def", "a(b)c/xyz", FAIL), ("a.|)$(}+{bc", "a.|)$(}+{bc", EXACT),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("a\\\\", "a\\", EXACT), ("a\\*b", "a*b", EXACT),
]
MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", FAIL),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", EXACT),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", FAIL),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", FAIL),
    # not in the Go table: the usual .dockerignore shapes
    (["docs", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs/", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs/*", "!docs/README.md"], "docs/README.md", FAIL),
    (["docs", "!docs/README.md"], "docs/other.md", EXACT),
    (["*.go", "!fileutils.go"], "fileutils.go", FAIL),
    (["!fileutils.go", "*.go"], "fileutils.go", EXACT),
    (["node_modules"], "node_modules/a/b/c.js", INEXACT),
    (["*/temp*"], "somedir/temporary.txt", EXACT),
    (["*/temp*"], "somedir/sub/temporary.txt", FAIL),
    (["*/*/temp*"], "somedir/sub/temporary.txt", EXACT),
    (["temp?"], "temp1", EXACT),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", EXACT),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", FAIL),
]


def _ids(cases) -> list[str]:
    return [f"{c[0]}~{c[1]}" for c in cases]


@pytest.mark.parametrize("pattern,text,kind", MATCHES, ids=_ids(MATCHES))
def test_matches_exact(pattern: str, text: str, kind: str) -> None:
    assert PatternMatcher([pattern]).matches_exact(text) == (kind == EXACT)


@pytest.mark.parametrize("patterns,text,kind",
                         [([p], t, k) for p, t, k in MATCHES] + MULTI,
                         ids=_ids(MATCHES) + [f"{'+'.join(c[0])}~{c[1]}" for c in MULTI])
def test_matches_or_parent_matches(patterns: list[str], text: str, kind: str) -> None:
    pm = PatternMatcher(patterns)
    assert pm.matches_or_parent_matches(text) == (kind != FAIL)
    # the walker's incremental form agrees, with and without parent results
    assert pm.matches_using_parent_results(text, MatchInfo())[0] == (kind != FAIL)
    info = MatchInfo()
    parent = dir_name(text)  # as the Go test: filepath.Dir, then each prefix
    if parent != ".":
        parts = parent.split("/")
        for i in range(len(parts)):
            _, info = pm.matches_using_parent_results("/".join(parts[: i + 1]), info)
    assert pm.matches_using_parent_results(text, info)[0] == (kind != FAIL)


# -- moby/patternmatcher: TestMatch (Go's filepath.Match table) ---------------------------

GLOB = [
    ("abc", "abc", True, False), ("*", "abc", True, False), ("*c", "abc", True, False),
    ("a*", "a", True, False), ("a*", "abc", True, False), ("a*", "ab/c", True, False),
    ("a*/b", "abc/b", True, False), ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False), ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False), ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False), ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False), ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False), ("a\\*b", "ab", False, False), ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False), ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False), ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False), ("a?b", "a/b", False, False), ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False), ("[\\-]", "-", True, False), ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False), ("[x\\-]", "z", False, False), ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False), ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True), ("[-]", "-", False, True), ("[x-]", "x", False, True),
    ("[x-]", "-", False, True), ("[x-]", "z", False, True), ("[-x]", "x", False, True),
    ("[-x]", "-", False, True), ("[-x]", "a", False, True), ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True), ("[", "a", False, True), ("[^", "a", False, True),
    ("[^bc", "a", False, True), ("a[", "a", False, True), ("a[", "ab", False, True),
    ("*x", "xxx", True, False),
]


@pytest.mark.parametrize("pattern,text,match,bad", GLOB, ids=_ids(GLOB))
def test_filepath_match_table(pattern: str, text: str, match: bool, bad: bool) -> None:
    if bad:
        with pytest.raises(BadPattern, match="syntax error in pattern"):
            matches([pattern], text)
    else:
        assert matches([pattern], text) is match


def test_pattern_errors() -> None:
    with pytest.raises(BadPattern, match='illegal exclusion pattern: "!"'):
        matches(["!"], "fileutils.go")
    with pytest.raises(InvalidArgument):
        matches(["["], "/any/path/there")
    # Go's filepath.Match accepts this class but Go's regexp does not: the
    # error comes from each match, not from building the matcher
    pm = PatternMatcher(["[Local-Only]/"])
    for _ in range(2):
        with pytest.raises(BadPattern):
            pm.matches_or_parent_matches("x")


def test_matches_simple_rules() -> None:
    assert matches(["*"], "fileutils.go")
    assert matches(["*.go"], "fileutils.go")
    assert not matches(["*.go"], ".")  # the context root is never excluded
    assert not matches([], "/any/path/there")
    assert matches(["docs"], "./docs/a/../b.md")  # the path is cleaned too
    assert not matches(["", "  "], "a")
    pm = PatternMatcher(["docs", "  !docs/README.md  ", ""])
    assert pm.exclusions and len(pm.patterns) == 2


@pytest.mark.parametrize("pattern,kind", [
    ("*", "regexp"), ("file*", "regexp"), ("*file", "regexp"), ("a*/b", "regexp"),
    ("**", "suffix"), ("**/**", "regexp"), ("dir/**", "prefix"), ("**/dir", "suffix"),
    ("**/dir2/*", "regexp"), ("**/dir2/**", "regexp"), ("**file", "suffix"),
    ("**/file*txt", "regexp"), ("**/**/*.txt", "regexp"), ("a[b-d]e", "regexp"),
    (".*", "regexp"), ("abc.def", "exact"), ("abc?def", "regexp"), ("**/foo/bar", "suffix"),
    ("a(b)c/def", "exact"), ("a.|)$(}+{bc", "exact"),
])
def test_compile_kinds(pattern: str, kind: str) -> None:
    pm = PatternMatcher([pattern])
    pm.matches_exact("x")  # compiles lazily
    assert pm.patterns[0]._kind == kind


# -- which ignore file ------------------------------------------------------------------------

def test_ignore_file_for(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    assert ignore_file_for(ctx) is None
    (ctx / ".dockerignore").write_text("a\n")
    assert ignore_file_for(ctx) == str(ctx / ".dockerignore")
    assert ignore_file_for(ctx, ctx / "sub" / "app.Dockerfile") == str(ctx / ".dockerignore")
    (ctx / "sub" / "app.Dockerfile.dockerignore").write_text("b\n")
    assert ignore_file_for(ctx, ctx / "sub" / "app.Dockerfile") == str(
        ctx / "sub" / "app.Dockerfile.dockerignore")
    (ctx / "Dockerfile.dockerignore").write_text("c\n")
    assert ignore_file_for(ctx) == str(ctx / "Dockerfile.dockerignore")
    (ctx / "sub" / "x.dockerignore").mkdir()
    assert ignore_file_for(ctx, ctx / "sub" / "x") == str(ctx / ".dockerignore")


# -- walking the context ----------------------------------------------------------------------

TREE = [
    "Dockerfile", ".dockerignore", "README.md", "main.go", "main.pyc",
    "docs/README.md", "docs/guide.md", "docs/img/logo.png",
    "node_modules/a/index.js", "node_modules/b/index.js",
    "src/app.py", "src/app.pyc", "src/lib/util.py", "src/lib/util.pyc",
    "build/out/bin", "build/keep/me.txt",
]


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    for rel in TREE:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (tmp_path / "empty").mkdir()
    os.symlink("src", tmp_path / "link")
    return tmp_path


def test_walk_without_patterns(ctx: Path) -> None:
    got = list(walk_context(ctx, []))
    assert got == [
        ".dockerignore", "Dockerfile", "README.md", "build", "build/keep", "build/keep/me.txt",
        "build/out", "build/out/bin", "docs", "docs/README.md", "docs/guide.md", "docs/img",
        "docs/img/logo.png", "empty", "link", "main.go", "main.pyc", "node_modules",
        "node_modules/a", "node_modules/a/index.js", "node_modules/b",
        "node_modules/b/index.js", "src", "src/app.py", "src/app.pyc", "src/lib",
        "src/lib/util.py", "src/lib/util.pyc"]


@pytest.mark.parametrize("patterns,expected", [
    (["node_modules", "**/*.pyc", "build"],
     [".dockerignore", "Dockerfile", "README.md", "docs", "docs/README.md", "docs/guide.md",
      "docs/img", "docs/img/logo.png", "empty", "link", "main.go", "src",
      "src/app.py", "src/lib", "src/lib/util.py"]),
    (["docs", "!docs/README.md"],
     [".dockerignore", "Dockerfile", "README.md", "build", "build/keep", "build/keep/me.txt",
      "build/out", "build/out/bin", "docs", "docs/README.md", "empty", "link", "main.go",
      "main.pyc", "node_modules", "node_modules/a", "node_modules/a/index.js",
      "node_modules/b", "node_modules/b/index.js", "src", "src/app.py", "src/app.pyc",
      "src/lib", "src/lib/util.py", "src/lib/util.pyc"]),
    (["*", "!src/lib", "!build/keep/me.txt"],
     ["build", "build/keep", "build/keep/me.txt", "src", "src/lib", "src/lib/util.py",
      "src/lib/util.pyc"]),
    (["**", "!**/*.py"],
     ["src", "src/app.py", "src/lib", "src/lib/util.py"]),
    (["/src/", "./docs/img", "node_modules/*", "!node_modules/b"],
     [".dockerignore", "Dockerfile", "README.md", "build", "build/keep", "build/keep/me.txt",
      "build/out", "build/out/bin", "docs", "docs/README.md", "docs/guide.md", "empty",
      "link", "main.go", "main.pyc", "node_modules", "node_modules/b",
      "node_modules/b/index.js"]),
])
def test_walk_with_patterns(ctx: Path, patterns: list[str], expected: list[str]) -> None:
    assert list(walk_context(ctx, read_patterns("\n".join(patterns)))) == expected


def test_walk_prunes_excluded_directories(ctx: Path, monkeypatch) -> None:
    listed: list[str] = []
    real = os.scandir

    def spy(path):
        listed.append(os.path.relpath(path, ctx))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    list(walk_context(ctx, ["node_modules", "docs", "!docs/README.md"]))
    assert "node_modules" not in listed  # no exception can reach inside
    assert "docs" in listed  # "!docs/README.md" may: walk it
    assert "docs/img" not in listed
    listed.clear()
    list(walk_context(ctx, ["node_modules", "!**/index.js"]))
    assert "node_modules/a" in listed  # a wildcard exception disables pruning


def test_walk_reports_a_bad_pattern(ctx: Path) -> None:
    with pytest.raises(BadPattern):
        list(walk_context(ctx, ["a[", "b"]))
