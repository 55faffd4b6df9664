"""Shared fixtures: a real engine in a temp root, the shared image fixtures.

Under ``CI=true`` a skipped test is a failure: CI must prove every feature,
and a missing tool must be installed by ``make test``, not skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "images"
MUSL = FIXTURES / "busybox-1.37.0-musl-amd64-oci.tar"
GLIBC = FIXTURES / "busybox-1.37.0-glibc-amd64-oci.tar"
KANIKO = FIXTURES / "kaniko-busybox-docker-archive.tar"
SCRATCH = {c: FIXTURES / f"scratch-oci-{c}.tar" for c in ("gzip", "zstd", "uncompressed")}
MUSL_ID = "sha256:cafb65f54bc46b59c4915955dc3c1e89e0a4ceab9f42a998e58a173f191d04ff"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and os.environ.get("CI") == "true" and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr
        rep.longrepr = f"skipped under CI=true (a skip is a failure in CI): {reason}"


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DOCKER_CONFIG: never the user's ~/.docker."""
    d = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d


@pytest.fixture
def root(tmp_path: Path):
    r = tmp_path / "root"
    r.mkdir()
    yield r
    # the root's runtime state and sockets live in /run (see Engine.runtime)
    run = Path("/run/dockyard", hashlib.sha256(str(r).encode()).hexdigest()[:12])
    shutil.rmtree(run, ignore_errors=True)


@pytest.fixture
def engine(root: Path):
    from engine import Engine

    eng = Engine(str(root))
    yield eng
    eng.close()


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (make test installs it)")
    return path


def dockyard(root: Path, *args: str, input: bytes | None = None,  # noqa: A002
             check: bool = True) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess against ``root``."""
    r = subprocess.run([sys.executable, "-m", "engine", "--root", str(root), *args],
                       input=input, capture_output=True, cwd=REPO)
    if check and r.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stderr.decode(errors='replace')}")
    return r


def tree_state(path: Path) -> dict[str, tuple]:
    """Every path under ``path`` with its type, mode, size and content hash."""
    import hashlib

    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p) and not name.endswith(
                    ("-wal", "-shm")):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_size if digest else 0, digest)
    return out


def store_state(root: Path) -> dict:
    """The whole observable state of a root: every file (except the SQLite
    files themselves) byte for byte, plus every table's rows."""
    import sqlite3

    files = {k: v for k, v in tree_state(root).items()
             if not k.startswith("dockyard.db")}
    conn = sqlite3.connect(root / "dockyard.db")
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name != 'sqlite_sequence'")]
    rows = {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    conn.close()
    return {"files": files, "rows": rows}
