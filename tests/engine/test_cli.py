"""The command line, run as a user runs it: a subprocess against a real root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import KANIKO, MUSL, MUSL_ID, REPO, dockyard


@pytest.fixture
def loaded(root):
    dockyard(root, "load", "-i", str(MUSL))
    return root


def test_load_prints_what_docker_prints(root) -> None:
    r = dockyard(root, "load", "-i", str(MUSL))
    assert r.stdout.decode() == "Loaded image: busybox:1.37.0-musl\n"
    r = dockyard(root, "load", input=KANIKO.read_bytes())
    assert r.stdout.decode() == "Loaded image: dive-test:kaniko-latest\n"


def test_images_table_quiet_and_json(loaded) -> None:
    out = dockyard(loaded, "images").stdout.decode().splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert out[1].split()[:3] == ["busybox", "1.37.0-musl", MUSL_ID[7:19]]
    assert dockyard(loaded, "images", "-q").stdout.decode() == MUSL_ID[7:19] + "\n"
    assert dockyard(loaded, "images", "-q", "--no-trunc").stdout.decode() == MUSL_ID + "\n"
    row = json.loads(dockyard(loaded, "images", "--format", "json").stdout)
    assert row["Repository"] == "busybox" and row["Tag"] == "1.37.0-musl"
    tmpl = dockyard(loaded, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert tmpl.stdout.decode() == f"busybox:1.37.0-musl {MUSL_ID[7:19]}\n"
    digests = dockyard(loaded, "images", "--digests").stdout.decode().splitlines()
    assert "DIGEST" in digests[0]


def test_tag_filter_and_rmi(loaded) -> None:
    dockyard(loaded, "tag", "busybox:1.37.0-musl", "mine:v1")
    dockyard(loaded, "tag", MUSL_ID[7:19], "localhost:5000/team/mine")
    names = dockyard(loaded, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(n.decode() for n in names) == [
        "busybox:1.37.0-musl", "localhost:5000/team/mine:latest", "mine:v1"]
    ref = dockyard(loaded, "images", "--filter", "reference=mine", "--format", "{{.Tag}}")
    assert ref.stdout.decode() == "v1\n"
    # by name with other tags left: untag only
    assert dockyard(loaded, "rmi", "mine:v1").stdout.decode() == "Untagged: mine:v1\n"
    # by ID with several tags: refused without -f
    r = dockyard(loaded, "rmi", MUSL_ID[7:19], check=False)
    assert r.returncode == 1
    assert "must be forced" in r.stderr.decode() and "\n" == r.stderr.decode()[-1]
    out = dockyard(loaded, "rmi", "-f", MUSL_ID[7:19]).stdout.decode().splitlines()
    assert "Untagged: busybox:1.37.0-musl" in out
    assert f"Deleted: {MUSL_ID}" in out
    assert dockyard(loaded, "images", "-q").stdout == b""
    assert os.listdir(loaded / "snapshots") == []
    assert os.listdir(loaded / "blobs" / "sha256") == []


def test_errors_are_one_line_with_docker_exit_codes(loaded) -> None:
    r = dockyard(loaded, "rmi", "nope", check=False)
    assert (r.returncode, r.stderr.decode()) == (1, "Error: No such image: nope:latest\n")
    r = dockyard(loaded, "tag", "busybox:1.37.0-musl", "Bad:Ref", check=False)
    assert r.returncode == 125 and r.stderr.decode().count("\n") == 1
    assert "invalid reference format" in r.stderr.decode()
    r = dockyard(loaded, "images", "--bogus", check=False)
    assert r.returncode == 125 and "--bogus" in r.stderr.decode()
    r = dockyard(loaded, "images", "--filter", "color=red", check=False)
    assert r.returncode == 125 and "invalid filter 'color'" in r.stderr.decode()
    r = dockyard(loaded, "load", "-i", "/nonexistent.tar", check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr.decode()
    r = dockyard(loaded, "image", "inspect", "nope", check=False)
    assert r.returncode == 1 and r.stdout.decode().strip() == "[]"


def test_inspect_shape(loaded) -> None:
    (info,) = json.loads(dockyard(loaded, "image", "inspect", "busybox:1.37.0-musl").stdout)
    for key in ("Id", "RepoTags", "RepoDigests", "Created", "Config", "RootFS", "Size"):
        assert key in info
    assert info["Id"] == MUSL_ID and info["Config"]["Cmd"] == ["sh"]
    assert info["RepoDigests"][0].startswith("busybox@sha256:")
    fmt = dockyard(loaded, "image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}",
                   MUSL_ID[7:19])
    assert fmt.stdout.decode() == f'{MUSL_ID} ["sh"]\n'


def test_history(loaded) -> None:
    lines = dockyard(loaded, "history", "busybox:1.37.0-musl").stdout.decode().splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(MUSL_ID[7:19])
    assert "BusyBox 1.37.0 (musl)" in lines[1] and "1.51MB" in lines[1]
    assert len(lines) == 2
    lines = dockyard(loaded, "history", "--no-trunc", "dive-test:kaniko-latest",
                     check=False).stdout.decode().splitlines()


def test_import_and_save_through_cli(loaded, tmp_path) -> None:
    out = tmp_path / "s.tar"
    dockyard(loaded, "save", "-o", str(out), "busybox:1.37.0-musl")
    r = dockyard(loaded, "import", "-c", "CMD [\"sh\"]", "-", "flat:1", input=out.read_bytes())
    assert r.stdout.decode().startswith("sha256:")
    r = dockyard(loaded, "save", "nope", "-o", str(tmp_path / "n.tar"), check=False)
    assert r.returncode == 1 and not (tmp_path / "n.tar").exists()


def test_events_record_image_changes(loaded) -> None:
    dockyard(loaded, "tag", "busybox:1.37.0-musl", "ev:1")
    dockyard(loaded, "rmi", "ev:1")
    r = dockyard(loaded, "events", "--since", "0", "--until", str(time.time()))
    text = r.stdout.decode()
    assert f"image load {MUSL_ID}" in text
    assert "image tag" in text and "name=ev:1" in text and "image untag" in text


def test_non_root_gets_one_clear_line(root) -> None:
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "engine", "--root", str(root), "images"],
                       capture_output=True, cwd=REPO)
    assert r.returncode != 0
    assert r.stderr.decode().count("\n") == 1 and "root" in r.stderr.decode()


def test_info_and_version(loaded) -> None:
    info = dockyard(loaded, "info").stdout.decode()
    assert f"Dockyard Root Dir: {loaded}" in info and "Images: 1" in info
    assert dockyard(loaded, "version", "--format", "{{.Version}}").stdout.strip()


def test_system_check_finds_corruption(loaded) -> None:
    assert dockyard(loaded, "system", "check").returncode == 0
    blob = loaded / "blobs" / "sha256" / MUSL_ID[7:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b" ")
    r = dockyard(loaded, "system", "check", check=False)
    assert r.returncode == 1 and b"does not match its digest" in r.stdout
    (loaded / "blobs" / "sha256" / ("ab" * 32)).write_bytes(b"stray")
    r = dockyard(loaded, "system", "check", "--repair", check=False)
    assert b"removed: blob sha256:" + b"ab" * 32 in r.stdout
