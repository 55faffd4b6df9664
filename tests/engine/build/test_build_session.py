"""RUN --mount=type=secret and type=ssh: real secrets, a real ssh-agent, real containers."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import store_state
from tests.engine.build.test_build_support import build, dy, steps, write
from tests.engine.runtime.conftest import IMAGE, croot  # noqa: F401 - the fixture

SECRET = "s3cr3t-Value-9f2c"


def _leaks(root: Path, needle: bytes) -> list[str]:
    """Every file under the state root whose bytes contain ``needle``."""
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    if needle in f.read():
                        found.append(p)
    return found


def test_secret_mounts_never_reach_a_layer_or_the_cache_key(croot, tmp_path,  # noqa: F811
                                                            monkeypatch) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text(SECRET)
    monkeypatch.setenv("DY_TEST_TOKEN", SECRET + "-env")
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n"
        "RUN --mount=type=secret,id=tok sha256sum < /run/secrets/tok > /mode && "
        "stat -c '%a %u:%g' /run/secrets/tok >> /mode && (echo x > /run/secrets/tok || "
        "echo read-only >> /mode)\n"
        "WORKDIR /app\n"
        "RUN --mount=type=secret,id=tok,target=rel/tok,mode=0440,uid=5,gid=6,env=TOKEN "
        "printf %s \"$TOKEN\" | sha256sum > /mode2 && stat -c '%n %a %u:%g' /app/rel/tok "
        ">> /mode2\n"
        "RUN --mount=type=secret,id=fromenv,env=FROMENV printf %s \"$FROMENV\" | sha256sum "
        "> /mode3 && test ! -e /run/secrets/fromenv && echo env-only >> /mode3\n"
        "RUN --mount=type=secret,id=absent cat /run/secrets/absent || echo absent > /mode4\n")})
    args = ("--secret", f"id=tok,src={secret}", "--secret", "id=fromenv,env=DY_TEST_TOKEN")
    build(croot, ctx, *args, "-t", "sec:1")
    out = dy(croot, "run", "--rm", "sec:1", "sh", "-c",
             "cat /mode /mode2 /mode3 /mode4; ls -A /app; test -e /run || echo no-run"
             ).stdout.decode()
    digest = hashlib.sha256(SECRET.encode()).hexdigest() + "  -"
    env_digest = hashlib.sha256(SECRET.encode() + b"-env").hexdigest() + "  -"
    assert out.splitlines() == [digest, "400 0:0", "read-only", digest,
                                "/app/rel/tok 440 5:6", env_digest, "env-only", "absent",
                                "no-run"]
    # the mount points were the run's, not the layer's, and the value is nowhere on disk
    assert _leaks(croot, SECRET.encode()) == []
    # the key holds the id only: a new value keeps the cache (as BuildKit does)
    secret.write_text("another value")
    again = steps(build(croot, ctx, *args).stderr)
    assert {v for k, v in again.items() if " RUN " in k} == {"CACHED"}, again


def test_secret_errors(croot, tmp_path) -> None:  # noqa: F811
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        f"FROM {IMAGE}\n\nRUN --mount=type=secret,id=nope,required=true true\n")})
    before = store_state(croot)
    r = build(croot, ctx, check=False)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert err.splitlines()[-1] == "ERROR: failed to solve: secret nope: not found"
    assert "Dockerfile:3\n" in err and "   3 | >>> RUN --mount=type=secret" in err
    r = build(croot, ctx, "--secret", f"id=x,src={tmp_path}/missing", check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr.decode()
    assert r.stderr.decode().strip().splitlines() == [
        f"Error: failed to read secret x: open {tmp_path}/missing: no such file or directory"]
    write(ctx, {"Dockerfile": f"FROM {IMAGE}\nRUN --mount=type=secret,from=x,id=a true\n"})
    err = build(croot, ctx, check=False).stderr.decode().splitlines()[-1]
    assert err == "ERROR: failed to solve: secret mount should not have a from"
    before["rows"].pop("build_cache", None)  # the table appears on the first build
    after = store_state(croot)
    after["rows"].pop("build_cache")
    assert after == before


@pytest.fixture
def agent(tmp_path) -> Iterator[tuple[str, str]]:
    """A real ssh-agent holding one fresh key: (socket path, the key's comment)."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["/usr/bin/ssh-agent", "-D", "-a", str(sock)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockyard-test-key",
                    "-f", str(key)], check=True)
    subprocess.run(["ssh-add", "-q", str(key)], env=dict(os.environ, SSH_AUTH_SOCK=str(sock)),
                   check=True, capture_output=True)
    yield str(sock), "dockyard-test-key"
    proc.terminate()
    proc.wait()


def _host_ssh_add(dest: Path) -> None:
    """The host's ssh-add with its libraries and loader, to run inside busybox."""
    dest.mkdir(parents=True)
    libs = subprocess.run(["ldd", "/usr/bin/ssh-add"], capture_output=True, text=True,
                          check=True).stdout
    paths = ["/usr/bin/ssh-add"] + [w for w in libs.split() if w.startswith("/")]
    for p in paths:
        shutil.copy(p, dest / os.path.basename(p))


def test_ssh_mount_forwards_the_agent(croot, tmp_path, agent, monkeypatch) -> None:  # noqa: F811
    sock, comment = agent
    monkeypatch.setenv("SSH_AUTH_SOCK", sock)
    ctx = tmp_path / "ctx"
    _host_ssh_add(ctx / "hostbin")
    ssh_add = "/h/ld-linux-x86-64.so.2 --library-path /h /h/ssh-add"
    write(ctx, {"Dockerfile": (
        f"FROM {IMAGE}\n"
        "RUN --mount=type=ssh --mount=type=bind,source=hostbin,target=/h "
        f"test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /agent && {ssh_add} -l "
        ">> /agent\n"
        "RUN --mount=type=ssh,id=other,target=/tmp/a.sock,mode=0660,uid=1000,gid=2000 "
        "stat -c '%n %a %u:%g %F' /tmp/a.sock > /stat\n"
        "RUN --mount=type=ssh,id=absent echo \"${SSH_AUTH_SOCK:-unset}\" > /absent\n")})
    build(croot, ctx, "--ssh", "default", "--ssh", f"other={sock}", "-t", "ssh:1")
    out = dy(croot, "run", "--rm", "ssh:1", "sh", "-c", "cat /agent /stat /absent; ls -A /tmp; "
             "test -e /run || echo no-run").stdout.decode().splitlines()
    assert out[0] == "/run/buildkit/ssh_agent.0"
    assert out[1].startswith("256 SHA256:") and f" {comment} (ED25519)" in out[1]
    assert out[2:] == ["/tmp/a.sock 660 1000:2000 socket", "unset", "no-run"]
    ctx2 = write(tmp_path / "ctx2", {"Dockerfile": (
        f"FROM {IMAGE}\nRUN --mount=type=ssh,id=nope,required=true true\n")})
    r = build(croot, ctx2, "--ssh", "default", check=False)
    assert r.stderr.decode().splitlines()[-1] == ("ERROR: failed to solve: no SSH key \"nope\" "
                                                  "forwarded from the client")
    r = build(croot, ctx2, "--ssh", f"default={ctx}/Dockerfile", check=False)
    assert r.stderr.decode().strip() == (f"Error: ssh default: {ctx}/Dockerfile is not an agent "
                                         "socket (key files are not supported: add the key to "
                                         "an ssh-agent)")
    monkeypatch.delenv("SSH_AUTH_SOCK")
    r = build(croot, ctx2, "--ssh", "default", check=False)
    assert r.stderr.decode().strip() == ("Error: invalid empty ssh agent socket: make sure "
                                         "SSH_AUTH_SOCK is set")
