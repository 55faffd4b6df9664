"""Paths of the BuildKit corpora shared with other projects."""

from __future__ import annotations

from tests.conftest import SHARED

BUILDKIT = SHARED / "fixtures" / "buildkit"
