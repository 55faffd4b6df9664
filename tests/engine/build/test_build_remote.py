"""ADD from a URL and from a git repository: a real HTTP server thread, real git repos."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.build.remote import GitRef, parse_git_ref, url_filename
from tests.conftest import store_state
from tests.engine.build.test_build_support import build, dy, steps, write
from tests.engine.runtime.conftest import IMAGE, croot  # noqa: F401 - the fixture

GIT = "/usr/bin/git"
MTIME = 1577934245  # 2020-01-02T03:04:05Z


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(tmp_path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server thread serving a directory: (base URL, directory)."""
    docroot = tmp_path / "www"
    docroot.mkdir()

    def handler(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        return _Quiet(*a, directory=str(docroot), **kw)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", docroot
    srv.shutdown()
    srv.server_close()


def run(root: Path, ref: str, script: str) -> str:
    return dy(root, "run", "--rm", ref, "sh", "-c", script).stdout.decode()


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run([GIT, *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_source_kinds_follow_buildkit() -> None:
    assert parse_git_ref("https://h/o/r.git#v1:sub/dir") == GitRef("https://h/o/r.git", "v1",
                                                                   "sub/dir")
    assert parse_git_ref("git@github.com:o/r.git#main") == GitRef("git@github.com:o/r.git",
                                                                  "main", "")
    assert parse_git_ref("ssh://git@h/r#:docs") == GitRef("ssh://git@h/r", "", "docs")
    assert parse_git_ref("git://h/r") == GitRef("git://h/r", "", "")
    # an http(s) URL is a repository only when its path ends in .git
    for not_git in ("https://h/file.tar.gz", "http://h/r.git.txt", "local.git", "./x.git",
                    "ftp://h/r.git"):
        assert parse_git_ref(not_git) is None, not_git
    assert url_filename("https://h/a/b/tool.tgz?x=1") == "tool.tgz"
    assert url_filename("https://h") == "__unnamed__"
    assert url_filename("https://h/dir/") == "dir"
    assert url_filename("https://h/a%20b.txt") == "a b.txt"
    assert url_filename("https://h/x/..") == "__unnamed__"
    assert url_filename("https://h/x%2F..") == "__unnamed__"


def test_add_url_downloads_like_buildkit(croot, web, tmp_path) -> None:  # noqa: F811
    base, docroot = web
    hello = docroot / "files" / "hello.txt"
    write(docroot, {"files/hello.txt": "hello from the web\n"})
    os.utime(hello, (MTIME, MTIME))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        ti = tarfile.TarInfo("inside.txt")
        tar.addfile(ti, io.BytesIO(b""))
    (docroot / "files" / "tool.tar.gz").write_bytes(buf.getvalue())
    digest = hashlib.sha256(hello.read_bytes()).hexdigest()
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        f"ADD {base}/files/hello.txt /dl/\n"
        f"ADD {base}/files/hello.txt /renamed.txt\n"
        f"ADD --chmod=644 --chown=7:8 {base}/files/tool.tar.gz /t/\n"
        f"ADD --checksum=sha256:{digest} {base}/files/hello.txt /checked\n")})
    r = build(croot, ctx, "-t", "url:1")
    assert re.search(rf"^#\d+ {base}/files/hello.txt\n#\d+ sha256:{digest} 19 bytes done$",
                     r.stderr.decode(), re.M)
    out = run(croot, "url:1", "stat -c '%n %a %u:%g %Y' /dl/hello.txt /renamed.txt "
              "/t/tool.tar.gz /checked; cat /renamed.txt; ls /t")
    assert out.splitlines() == [
        f"/dl/hello.txt 600 0:0 {MTIME}", f"/renamed.txt 600 0:0 {MTIME}",
        f"/t/tool.tar.gz 644 7:8 {int(os.stat(docroot / 'files' / 'tool.tar.gz').st_mtime)}",
        f"/checked 600 0:0 {MTIME}", "hello from the web", "tool.tar.gz"]  # not extracted
    again = steps(build(croot, ctx, "-t", "url:2").stderr)
    assert {v for k, v in again.items() if " ADD " in k} == {"CACHED"}, again
    write(docroot, {"files/hello.txt": "hello again\n"})  # new content: the ADDs run again
    r = build(croot, ctx, check=False)
    changed = steps(r.stderr)
    assert changed["[2/5] ADD " + base + "/files/hello.txt /dl/"] == "DONE"
    assert changed["[4/5] ADD --chmod=644 --chown=7:8 " + base + "/files/tool.tar.gz /t/"] \
        == "DONE"  # it follows a changed step
    assert r.stderr.decode().splitlines()[-1].startswith(  # --checksum pinned the old content
        f"ERROR: failed to solve: failed to load {base}/files/hello.txt: digest mismatch: "
        f"expected sha256:{digest}, got sha256:")


@pytest.fixture
def warm(croot, tmp_path):  # noqa: F811
    """A root that has built once, so a failed build must leave it exactly as it is."""
    ctx = write(tmp_path / "warm", {"Dockerfile": f"FROM {IMAGE}\nRUN echo warm > /w\n"})
    build(croot, ctx)
    return croot


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("line", "message"), [
    ("ADD {base}/missing.txt /x", "failed to load {base}/missing.txt: invalid response status "
     "404 File not found"),
    ("ADD --checksum=sha256:" + "0" * 64 + " {base}/f.txt /x",
     "failed to load {base}/f.txt: digest mismatch: expected sha256:" + "0" * 64 +
     ", got sha256:" + hashlib.sha256(b"data\n").hexdigest()),
    ("ADD --checksum=md5:abc {base}/f.txt /x", "invalid checksum digest format: md5:abc"),
    ("ADD http://127.0.0.1:{closed}/f.txt /x", "failed to load http://127.0.0.1:{closed}/f.txt: "
     "[Errno 111] Connection refused"),
    ("COPY {base}/f.txt /x", "source can't be a URL for COPY"),
    ("COPY {base}/repo.git /x", "source can't be a git ref for COPY"),
    ("ADD --checksum=sha256:" + "0" * 64 + " f.txt /x",
     "checksum requires HTTP(S) or Git sources"),
    ("ADD {base}/repo.git#nope /x", "failed to load git source {base}/repo.git#nope: "
     "repository has no ref 'nope'"),
    ("ADD {base}/norepo.git /x", "failed to load git source {base}/norepo.git: "),
])
def test_remote_errors_are_one_line_and_change_nothing(warm, web, tmp_path, line,
                                                       message) -> None:
    base, docroot = web
    write(docroot, {"f.txt": "data\n"})
    _bare_repo(tmp_path / "work", docroot / "repo.git")
    closed = _closed_port()
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM {IMAGE}\n\n" +
                                   line.format(base=base, closed=closed) + "\n",
                                   "f.txt": "x"})
    before = store_state(warm)
    r = build(warm, ctx, check=False)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    last = err.splitlines()[-1]
    assert last.startswith("ERROR: failed to solve: ") and "Traceback" not in err
    assert message.format(base=base, closed=closed) in last, err
    assert "Dockerfile:3\n" in err and "   3 | >>> " in err
    assert store_state(warm) == before


def _bare_repo(work: Path, bare: Path) -> dict[str, str]:
    """A repo with a v1 tag and a later commit on main, published as a bare repo."""
    write(work, {"README": "top\n", "sub/a.txt": "a at v1\n", "sub/deep/c.txt": "c\n"})
    (work / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (work / "sub" / "run.sh").chmod(0o755)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "one")
    git(work, "tag", "-a", "v1", "-m", "v1")
    v1 = git(work, "rev-parse", "HEAD")
    write(work, {"sub/a.txt": "a at main\n"})
    git(work, "commit", "-q", "-am", "two")
    git(work, "clone", "-q", "--bare", str(work), str(bare))
    git(bare, "update-server-info")  # what a dumb HTTP server needs
    return {"v1": v1, "main": git(work, "rev-parse", "HEAD")}


@pytest.fixture
def git_daemon(tmp_path) -> Iterator[tuple[str, Path]]:
    """``git daemon`` on a free local port: (base git:// URL, its base path)."""
    base = tmp_path / "gitroot"
    base.mkdir()
    port = _closed_port()
    proc = subprocess.Popen([GIT, "daemon", "--export-all", "--reuseaddr",
                             f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}",
                             str(base)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"git://127.0.0.1:{port}", base
    proc.terminate()
    proc.wait()


def test_add_git_repo_refs_subdirs_and_cache(croot, web, git_daemon, tmp_path) -> None:  # noqa: F811
    base, docroot = web
    gbase, groot = git_daemon
    commits = _bare_repo(tmp_path / "work", docroot / "repo.git")
    git(groot, "clone", "-q", "--bare", str(docroot / "repo.git"), "repo.git")
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        f"ADD {base}/repo.git#v1:sub /v1/\n"  # dumb HTTP: a full clone, then the tag
        f"ADD --keep-git-dir {base}/repo.git /whole\n"
        f"ADD --chown=5:6 {gbase}/repo.git#main:sub /main\n"  # git daemon: a shallow clone
        f"ADD --checksum={commits['v1']} {gbase}/repo.git#{commits['v1']}:sub/deep /pinned\n")})
    r = build(croot, ctx, "-t", "git:1")
    assert f"[internal] load git source {base}/repo.git#v1:sub" in r.stderr.decode()
    out = run(croot, "git:1", "cat /v1/a.txt /main/a.txt /whole/sub/a.txt /pinned/c.txt; "
              "ls -A /v1 /pinned; stat -c '%n %a %u:%g' /v1/run.sh /main/run.sh; "
              "test -d /whole/.git && echo has-git; test -e /v1/.git || echo no-git")
    assert out.splitlines() == [
        "a at v1", "a at main", "a at main", "c", "/pinned:", "c.txt", "", "/v1:", "a.txt",
        "deep", "run.sh", "/v1/run.sh 755 0:0", "/main/run.sh 755 5:6", "has-git", "no-git"]
    again = steps(build(croot, ctx, "-t", "git:2").stderr)
    assert {v for k, v in again.items() if " ADD " in k} == {"CACHED"}, again
    # a new commit on main: the steps that follow main run again, the tag stays cached
    work = tmp_path / "work"
    write(work, {"sub/a.txt": "a at main, later\n"})
    git(work, "commit", "-q", "-am", "three")
    git(work, "push", "-q", str(groot / "repo.git"), "main")
    git(work, "push", "-q", str(docroot / "repo.git"), "main")
    git(docroot / "repo.git", "update-server-info")
    changed = steps(build(croot, ctx, "-t", "git:3").stderr)
    assert changed[f"[2/5] ADD {base}/repo.git#v1:sub /v1/"] == "CACHED"
    assert changed[f"[3/5] ADD --keep-git-dir {base}/repo.git /whole"] == "DONE"
    assert changed[f"[4/5] ADD --chown=5:6 {gbase}/repo.git#main:sub /main"] == "DONE"
    assert run(croot, "git:3", "cat /main/a.txt") == "a at main, later\n"
    bad = write(tmp_path / "bad", {"Dockerfile": (
        f"FROM {IMAGE}\nADD {gbase}/repo.git#v1:nodir /x\n"
        f"ADD --checksum=deadbeef {gbase}/repo.git#v1 /y\n")})
    err = build(croot, bad, check=False).stderr.decode().splitlines()[-1]
    assert err == (f"ERROR: failed to solve: failed to load git source {gbase}/repo.git#v1:nodir:"
                   f" subdir 'nodir' not found in {commits['v1'][:12]}")
    write(bad, {"Dockerfile": f"FROM {IMAGE}\nADD --checksum=deadbeef {gbase}/repo.git#v1 /y\n"})
    err = build(croot, bad, check=False).stderr.decode().splitlines()[-1]
    assert err == (f"ERROR: failed to solve: failed to load git source {gbase}/repo.git#v1: "
                   f"expected checksum to match deadbeef, got {commits['v1']}")
    assert not list((croot / "tmp").iterdir())
