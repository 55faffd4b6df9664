"""Killing ``dockyard load`` with SIGKILL at random moments never leaves a
partial image visible or an inconsistent store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from tests.conftest import REPO, dockyard
from tests.imagegen import random_layers, write_image


def test_sigkill_during_load_leaves_a_consistent_store(root, tmp_path) -> None:
    archive = tmp_path / "big.tar"
    image_id = write_image(archive, random_layers(8, 150, 20_000), tag="crash:1")
    start = time.monotonic()
    dockyard(root, "load", "-i", str(archive))
    full = time.monotonic() - start
    dockyard(root, "rmi", "crash:1")
    rng = random.Random(1234)
    kills = 0
    for _ in range(60):
        if kills >= 20:
            break
        p = subprocess.Popen([sys.executable, "-m", "engine", "--root", str(root), "load",
                              "-i", str(archive)], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, full * 0.9))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        p.wait()
        ids = dockyard(root, "images", "-q", "--no-trunc").stdout.decode().split()
        assert ids in ([], [image_id])  # the image is there whole, or not at all
        if ids:
            inspect = dockyard(root, "image", "inspect", image_id)
            assert b"crash:1" in inspect.stdout
            dockyard(root, "rmi", image_id)
        check = dockyard(root, "system", "check", check=False)
        assert check.returncode == 0, check.stdout.decode()  # orphans maybe, damage never
    assert kills >= 20
    dockyard(root, "system", "check", "--repair")
    clean = dockyard(root, "system", "check").stdout.decode()
    assert "0 problems, 0 orphans" in clean, clean
    assert os.listdir(root / "snapshots") == []
    assert os.listdir(root / "blobs" / "sha256") == []
    assert os.listdir(root / "tmp") == []
    dockyard(root, "load", "-i", str(archive))
    assert dockyard(root, "images", "-q", "--no-trunc").stdout.decode().split() == [image_id]
