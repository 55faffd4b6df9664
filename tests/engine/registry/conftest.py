"""Registries for the tests: Debian's docker-registry (real), and a fake one.

Both listen on 127.0.0.1 only.  The real registry gets a config file and a
storage directory under the test's tmp_path; with ``htpasswd`` users it
requires basic auth (bcrypt hashes made by ``htpasswd -B``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import dockyard, need_tool

from .fakeregistry import FakeRegistry

USER, PASSWORD = "alice", "s3cret-pw"

cli = dockyard  # the real CLI in a subprocess (tests/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RealRegistry:
    host: str
    log: Path
    proc: subprocess.Popen

    def access_log(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if '"' in line
                and "level=" not in line]


def start_registry(tmp: Path, *, htpasswd: Path | None = None) -> RealRegistry:
    binary = need_tool("docker-registry")
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n" + auth)
    log = tmp / "registry.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"docker-registry did not start:\n{log.read_text()}") from None
            time.sleep(0.05)
    return RealRegistry(f"127.0.0.1:{port}", log, proc)


def stop_registry(reg: RealRegistry) -> None:
    reg.proc.terminate()
    try:
        reg.proc.wait(10)
    except subprocess.TimeoutExpired:
        reg.proc.kill()
        reg.proc.wait()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RealRegistry]:
    d = tmp_path / "registry"
    d.mkdir()
    reg = start_registry(d)
    yield reg
    stop_registry(reg)


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[RealRegistry]:
    htpasswd = need_tool("htpasswd")
    d = tmp_path / "auth-registry"
    d.mkdir()
    r = subprocess.run([htpasswd, "-Bbn", USER, PASSWORD], capture_output=True, check=True)
    (d / "htpasswd").write_bytes(r.stdout)
    reg = start_registry(d, htpasswd=d / "htpasswd")
    yield reg
    stop_registry(reg)


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    reg = FakeRegistry()
    reg.start()
    yield reg
    reg.stop()


def skopeo(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([need_tool("skopeo"), *args], capture_output=True,
                       env={**os.environ, "HOME": os.environ.get("HOME", "/root")})
    assert r.returncode == 0, r.stderr.decode()
    return r
