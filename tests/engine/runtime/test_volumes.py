"""Volumes: seeded from the image, surviving ``rm``, and the ``volume`` verbs."""

from __future__ import annotations

import json

from tests.conftest import dockyard
from tests.engine.runtime.conftest import IMAGE


def volume_names(root, *args: str) -> list[str]:
    return dockyard(root, "volume", "ls", "-q", *args).stdout.decode().split()


def test_named_volume_is_seeded_from_the_image_and_survives_rm(croot) -> None:
    r = dockyard(croot, "run", "--name", "writer", "-v", "data:/etc", IMAGE, "sh", "-c",
                 "cat /etc/passwd | head -1; echo kept > /etc/mine")
    assert r.stdout == b"root:x:0:0:root:/root:/bin/sh\n"
    mountpoint = json.loads(dockyard(croot, "volume", "inspect", "data").stdout)[0]["Mountpoint"]
    assert (croot / "volumes" / "data" / "_data").samefile(mountpoint)
    # the image's /etc files were copied in, once, before the container wrote
    with open(f"{mountpoint}/passwd") as f:
        assert f.readline() == "root:x:0:0:root:/root:/bin/sh\n"
    dockyard(croot, "rm", "writer")
    assert volume_names(croot) == ["data"]
    r = dockyard(croot, "run", "--rm", "-v", "data:/etc", IMAGE, "cat", "/etc/mine")
    assert r.stdout == b"kept\n"
    # nocopy skips seeding (only the runtime's mount points for /etc/hosts … appear)
    r = dockyard(croot, "run", "--rm", "-v", "fresh:/etc:nocopy", IMAGE, "ls", "-A", "/etc")
    assert b"passwd" not in r.stdout


def test_rm_v_removes_anonymous_volumes_only(croot) -> None:
    dockyard(croot, "run", "--name", "c-a", "-v", "/anon", "-v", "named:/named", IMAGE, "sh",
             "-c", "echo x > /anon/x; echo y > /named/y")
    names = volume_names(croot)
    assert "named" in names and len(names) == 2
    anon = next(n for n in names if n != "named")
    assert len(anon) == 64
    r = dockyard(croot, "volume", "rm", anon, check=False)
    assert r.returncode == 1 and b"volume is in use" in r.stderr
    dockyard(croot, "rm", "-v", "c-a")
    assert volume_names(croot) == ["named"]  # the named one stays, as in Docker
    # plain rm leaves the anonymous one behind (dangling)
    dockyard(croot, "run", "--name", "c-b", "-v", "/anon2", IMAGE, "true")
    dockyard(croot, "rm", "c-b")
    assert len(volume_names(croot, "--filter", "dangling=true")) == 2


def test_volume_verbs(croot) -> None:
    assert dockyard(croot, "volume", "create", "--label", "team=infra", "-o", "type=tmpfs",
                    "v1").stdout == b"v1\n"
    assert dockyard(croot, "volume", "create", "v2").stdout == b"v2\n"
    assert dockyard(croot, "volume", "create", "v2").stdout == b"v2\n"  # a no-op, as Docker's
    gen = dockyard(croot, "volume", "create").stdout.decode().strip()
    assert len(gen) == 64
    out = dockyard(croot, "volume", "ls").stdout.decode().splitlines()
    assert out[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert [line.split() for line in out[1:]] == [["local", n] for n in sorted([gen, "v1",
                                                                               "v2"])]
    assert volume_names(croot, "--filter", "label=team=infra") == ["v1"]
    assert volume_names(croot, "--filter", "label=team") == ["v1"]
    assert volume_names(croot, "--filter", "name=v") == ["v1", "v2"]
    assert volume_names(croot, "--filter", "name=^v1$") == ["v1"]
    fmt = dockyard(croot, "volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}",
                   "--filter", "name=v2").stdout
    assert fmt == b"v2 local local\n"
    doc = json.loads(dockyard(croot, "volume", "inspect", "v1").stdout)
    assert list(doc[0]) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options",
                            "Scope"]
    assert doc[0]["Labels"] == {"team": "infra"} and doc[0]["Options"] == {"type": "tmpfs"}
    assert doc[0]["Scope"] == "local" and doc[0]["Driver"] == "local"
    assert dockyard(croot, "volume", "inspect", "-f", "{{.Name}}", "v2").stdout == b"v2\n"
    r = dockyard(croot, "volume", "inspect", "nope", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"[]\n", b"Error response from daemon: get nope: no such volume\n")
    r = dockyard(croot, "volume", "create", "-d", "nfs", "x", check=False)
    assert r.returncode == 1 and b'plugin "nfs" not found' in r.stderr
    r = dockyard(croot, "volume", "create", "-o", "bogus=1", "x", check=False)
    assert r.returncode != 0 and b'invalid option key: "bogus"' in r.stderr
    # rm: in use refused, missing refused unless -f
    dockyard(croot, "create", "--name", "user", "-v", "v2:/v", IMAGE, "true")
    r = dockyard(croot, "volume", "rm", "v2", check=False)
    assert r.returncode == 1 and b"remove v2: volume is in use" in r.stderr
    r = dockyard(croot, "volume", "rm", "nope", check=False)
    assert r.returncode == 1 and b"no such volume" in r.stderr
    assert dockyard(croot, "volume", "rm", "-f", "nope").returncode == 0
    assert dockyard(croot, "volume", "rm", "v1").stdout == b"v1\n"
    assert "v1" not in volume_names(croot)


def test_volume_prune_takes_anonymous_unless_all(croot) -> None:
    dockyard(croot, "volume", "create", "named")
    dockyard(croot, "run", "--name", "c-a", "-v", "/anon", IMAGE, "true")
    dockyard(croot, "rm", "c-a")
    dockyard(croot, "run", "--name", "keep", "-v", "used:/used", IMAGE, "true")
    anon = [n for n in volume_names(croot) if n not in ("named", "used")]
    out = dockyard(croot, "volume", "prune", "-f").stdout.decode()
    assert out.startswith(f"Deleted Volumes:\n{anon[0]}\n\nTotal reclaimed space: ")
    assert volume_names(croot) == ["named", "used"]
    out = dockyard(croot, "volume", "prune", "-a", "-f").stdout.decode()
    assert out.startswith("Deleted Volumes:\nnamed\n\n")  # "used" is in use: kept
    assert volume_names(croot) == ["used"]
