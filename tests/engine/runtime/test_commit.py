"""``commit`` and ``diff`` on real containers: the writable layer becomes a layer."""

from __future__ import annotations

import json

import pytest

from tests.conftest import MUSL_ID, dockyard
from tests.engine.runtime.conftest import IMAGE


def image(root, ref: str) -> dict:
    return json.loads(dockyard(root, "image", "inspect", ref).stdout)[0]


def history(root, ref: str) -> list[str]:
    return dockyard(root, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}",
                    ref).stdout.decode().splitlines()


@pytest.fixture
def changed(croot):
    """A container that added, changed and deleted files."""
    cid = dockyard(croot, "run", "-d", IMAGE, "sh", "-c",
                   "mkdir -p /data/sub && echo hello > /data/sub/new.txt && "
                   "echo more >> /etc/group && rm /etc/localtime && rm -r /home && "
                   "touch /tmp/ready && exec sleep 1000").stdout.decode().strip()
    _wait_for(croot, cid, "/tmp/ready")
    return croot, cid


def _wait_for(root, cid: str, path: str) -> None:
    for _ in range(100):
        if dockyard(root, "exec", cid, "test", "-e", path, check=False).returncode == 0:
            return
    raise AssertionError(f"{path} never appeared in {cid}")


def test_diff_lists_added_changed_deleted(changed) -> None:
    root, cid = changed
    out = dockyard(root, "diff", cid).stdout.decode().splitlines()
    assert out == ["A /data", "A /data/sub", "A /data/sub/new.txt", "C /etc", "C /etc/group",
                   "D /etc/localtime", "D /home", "C /tmp", "A /tmp/ready"]
    # the runtime's own mount points (/etc/hosts, /proc …) are not changes, as in Docker
    fresh = dockyard(root, "run", "-d", IMAGE, "sleep", "1000").stdout.decode().strip()
    assert dockyard(root, "diff", fresh).stdout == b""
    assert dockyard(root, "container", "diff", fresh).stdout == b""
    r = dockyard(root, "diff", "nosuch", check=False)
    assert r.returncode == 1 and b"No such container: nosuch" in r.stderr


def test_commit_then_run_the_committed_image(changed) -> None:
    root, cid = changed
    before = image(root, IMAGE)
    r = dockyard(root, "commit", "-m", "add data", "-a", "Jane <j@example.com>", cid, "mine:v1")
    new_id = r.stdout.decode().strip()
    assert new_id.startswith("sha256:") and len(new_id) == 71
    # the container was paused for the capture and runs again now
    assert json.loads(dockyard(root, "inspect", cid).stdout)[0]["State"]["Status"] == "running"
    after = image(root, "mine:v1")
    assert after["Id"] == new_id and after["Parent"] == MUSL_ID
    assert after["RootFS"]["Layers"][:-1] == before["RootFS"]["Layers"]
    assert len(after["RootFS"]["Layers"]) == len(before["RootFS"]["Layers"]) + 1
    assert (after["Comment"], after["Author"]) == ("add data", "Jane <j@example.com>")
    hist = history(root, "mine:v1")
    assert len(hist) == len(history(root, IMAGE)) + 1
    assert hist[0].startswith("sh -c mkdir -p /data/sub") and hist[0].endswith("|add data")
    # the committed image has the change, and so do containers made from it
    r = dockyard(root, "run", "--rm", "mine:v1", "sh", "-c",
                 "cat /data/sub/new.txt; tail -1 /etc/group; ls /etc/localtime /home 2>&1; true")
    lines = r.stdout.decode().splitlines()
    assert lines[:2] == ["hello", "more"]
    assert all("No such file or directory" in line for line in lines[2:4])
    # the container's config was kept: its command is the image's now
    assert after["Config"]["Cmd"][:2] == ["sh", "-c"]
    ids = dockyard(root, "images", "-q", "--no-trunc").stdout.decode().split()
    assert new_id in ids


def test_commit_changes_and_options(changed) -> None:
    root, cid = changed
    new_id = dockyard(root, "commit", "--pause=false", "-c", 'CMD ["cat", "/data/sub/new.txt"]',
                      "-c", "ENV MODE=prod", "-c", "LABEL team=infra", "--change",
                      "WORKDIR /data", "-c", "EXPOSE 8080", cid).stdout.decode().strip()
    cfg = image(root, new_id)["Config"]
    assert cfg["Cmd"] == ["cat", "/data/sub/new.txt"]
    assert "MODE=prod" in cfg["Env"] and cfg["Labels"]["team"] == "infra"
    assert cfg["WorkingDir"] == "/data" and "8080/tcp" in cfg["ExposedPorts"]
    assert dockyard(root, "run", "--rm", new_id).stdout == b"hello\n"
    r = dockyard(root, "run", "--rm", new_id, "sh", "-c", "echo $MODE $(pwd)")
    assert r.stdout == b"prod /data\n"
    # an untagged commit is a dangling image
    listed = dockyard(root, "images", "--filter", "dangling=true", "-q", "--no-trunc").stdout
    assert new_id.encode() in listed
    r = dockyard(root, "commit", "-c", "FROM scratch", cid, check=False)
    assert r.returncode != 0 and b"not a valid change command" in r.stderr


def test_commit_of_an_unchanged_container_adds_an_empty_history_entry(croot) -> None:
    cid = dockyard(croot, "create", IMAGE, "true").stdout.decode().strip()
    new_id = dockyard(croot, "commit", cid, "same:1").stdout.decode().strip()
    # Docker: no change, no layer; the history still says a commit happened
    assert image(croot, new_id)["RootFS"]["Layers"] == image(croot, IMAGE)["RootFS"]["Layers"]
    assert len(history(croot, "same:1")) == len(history(croot, IMAGE)) + 1


def test_commit_of_a_commit_stacks_layers(changed) -> None:
    root, cid = changed
    dockyard(root, "commit", cid, "step:1")
    second = dockyard(root, "run", "-d", "step:1", "sh", "-c",
                      "echo two > /two.txt; exec sleep 1000").stdout.decode().strip()
    _wait_for(root, second, "/two.txt")
    dockyard(root, "commit", second, "step:2")
    layers = image(root, "step:2")["RootFS"]["Layers"]
    assert layers[:-1] == image(root, "step:1")["RootFS"]["Layers"]
    out = dockyard(root, "run", "--rm", "step:2", "cat", "/two.txt", "/data/sub/new.txt")
    assert out.stdout == b"two\nhello\n"
    # removing the images removes their layers; the base image keeps its own
    dockyard(root, "rm", "-f", second, cid)
    dockyard(root, "rmi", "step:2", "step:1")
    assert dockyard(root, "run", "--rm", IMAGE, "true").returncode == 0
    assert dockyard(root, "system", "check").returncode == 0
