"""Usage: what the store holds, who shares it, and what a prune would give back.

Read-only accounting over the store, snapshots and containers.  The Layers
and Disk panes and ``system df`` / ``image analyze`` are its front ends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerInfo:
    """One entry of an image's layer stack, oldest first.

    ``chain_id`` is empty for a metadata-only step (``empty_layer``)."""

    index: int  # position in the image's history, 0 = oldest
    chain_id: str
    diff_id: str
    size: int
    created: float
    created_by: str
    comment: str
    empty_layer: bool
    shared_by: tuple[str, ...]  # IDs of *other* images whose stack contains this layer
    containers: tuple[str, ...] = ()  # IDs of containers whose root includes this layer


from .layers import image_layers  # noqa: E402

__all__ = ["LayerInfo", "image_layers"]
