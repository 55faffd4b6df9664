"""Fixtures for real containers: a root with the official busybox image."""

from __future__ import annotations

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
