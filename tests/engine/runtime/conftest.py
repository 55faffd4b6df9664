"""Fixtures for real containers: a root with the official busybox image."""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import MUSL, dockyard

IMAGE = "busybox:1.37.0-musl"


@pytest.fixture
def croot(root):
    """A state root with busybox loaded; every container is removed afterwards."""
    dockyard(root, "load", "-i", str(MUSL))
    yield root
    ids = dockyard(root, "ps", "-aq", "--no-trunc", check=False).stdout.decode().split()
    if ids:
        dockyard(root, "rm", "-f", *ids, check=False)


def holders(root) -> list[int]:
    """PIDs of processes holding a file under ``root`` open (monitors do)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(root)):
                    found.append(int(pid))
                    break
            except OSError:
                continue
    return found


def eventually(check, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
