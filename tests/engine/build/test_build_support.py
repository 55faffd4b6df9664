"""Helpers for the build tests: the CLI run from a chosen directory, and contexts on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def dy(root: Path, *args: str, check: bool = True, cwd: Path | None = None,
       input: bytes | None = None) -> subprocess.CompletedProcess:  # noqa: A002
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "engine", "--root", str(root), *args],
                       capture_output=True, cwd=cwd or REPO, env=env, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stderr.decode(errors='replace')}")
    return r


def write(ctx: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return ctx


def build(root: Path, ctx: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return dy(root, "build", "--progress=plain", *args, str(ctx), check=check)


def steps(stderr: bytes) -> dict[str, str]:
    """Step title → how it ended (CACHED / DONE / ERROR) from plain progress."""
    names: dict[str, str] = {}
    out: dict[str, str] = {}
    for line in stderr.decode().splitlines():
        num, _, rest = line.partition(" ")
        if not num.startswith("#"):
            continue
        if rest.startswith("[") and num not in names:
            names[num] = rest
        elif rest == "CACHED" or rest.startswith(("DONE", "ERROR")):
            if num in names:
                out[names[num]] = rest.split()[0].rstrip(":")
    return out


def image(root: Path, ref: str) -> dict:
    return json.loads(dy(root, "image", "inspect", ref).stdout)[0]


def config_blob(root: Path, ref: str) -> dict:
    image_id = image(root, ref)["Id"]
    return json.loads((root / "blobs" / "sha256" / image_id[7:]).read_bytes())


def image_ids(root: Path) -> set[str]:
    return set(dy(root, "images", "-aq", "--no-trunc").stdout.decode().split())
