"""``ContainerSummary``: one row of ``ps`` (re-exported by ``engine.runtime``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContainerSummary:
    """One row of ``ps``."""

    id: str  # 64 hex
    name: str  # without the leading "/"
    image: str  # as the user gave it ("busybox"), or the image ID
    image_id: str
    command: str  # entrypoint + cmd, as ps shows it
    created: float
    state: str  # created | running | paused | restarting | exited | dead
    exit_code: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    ports: tuple[str, ...] = ()  # "0.0.0.0:8080->80/tcp"
    labels: dict[str, str] = field(default_factory=dict)
    size_rw: int | None = None  # writable layer bytes, when measured
    restart_count: int = 0
