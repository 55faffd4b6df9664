"""Images: references, manifests, configs and the IDs that name them.

Terms (OCI image spec):
- *config digest* — sha256 of the config JSON; it *is* the image ID.
- *manifest digest* — sha256 of the manifest JSON; shown in RepoDigests.
- *DiffID* — sha256 of a layer's uncompressed tar.
- *ChainID* — names a stack of layers; see :func:`chain_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ImageSummary"]


@dataclass(frozen=True)
class ImageSummary:
    """One row of `dockyard images` (one per image ID, not per tag)."""

    id: str  # "sha256:<64 hex>"
    repo_tags: tuple[str, ...]  # familiar form: "busybox:latest", "localhost:5000/a/b:1"
    repo_digests: tuple[str, ...]  # familiar form: "busybox@sha256:…"
    created: float  # unix seconds, from the config's "created" (0 when absent)
    size: int  # bytes of all layers unpacked
    labels: dict[str, str] = field(default_factory=dict)
    containers: int = 0
    parent_id: str = ""  # local parent (commit/build), "" when none
    loaded: float = 0.0  # unix seconds when it entered this store

    @property
    def dangling(self) -> bool:
        return not self.repo_tags
