"""What the workers fetch and the messages that carry it to the UI thread.

Every function here does I/O and runs only inside a worker; the UI gets the
results as immutable objects in messages and never touches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from engine import ContainerSummary, Engine, HistoryEntry, ImageSummary
from engine.errors import EngineError
from engine.usage import LayerInfo

from .plan import DeletePlan

__all__ = [
    "DiskUsage",
    "EngineState",
    "ImageUsage",
    "load_disk_usage",
    "load_state",
]


@dataclass(frozen=True)
class EngineState:
    images: tuple[ImageSummary, ...]
    containers: tuple[ContainerSummary, ...]
    info: dict[str, Any] = field(compare=False)
    event_id: int = 0


def load_state(engine: Engine, event_id: int) -> EngineState:
    return EngineState(images=tuple(engine.images()),
                       containers=tuple(engine.containers(all=True)),
                       info=engine.info(), event_id=event_id)


@dataclass(frozen=True)
class ImageUsage:
    image: ImageSummary
    shared: int  # bytes in layers another image also uses
    unique: int  # bytes only this image uses (what deleting it gives back)


@dataclass(frozen=True)
class DiskUsage:
    images: tuple[ImageUsage, ...]
    layers_size: int  # distinct layers, each counted once
    reclaimable: int  # bytes of layers no image in use by a container needs
    containers: tuple[ContainerSummary, ...]
    disk_free: int


def load_disk_usage(engine: Engine) -> DiskUsage:
    # TODO(usage issue): replace with the engine's `system df -v` accounting
    # (volumes, build cache, logs, reclaimable per category) when it lands;
    # this stand-in covers images and layers only.
    per_image, seen, active = [], {}, set()
    for img in engine.images():
        layers = [lay for lay in engine.image_layers(img.id) if lay.chain_id]
        shared = sum(lay.size for lay in layers if lay.shared_by)
        unique = sum(lay.size for lay in layers if not lay.shared_by)
        per_image.append(ImageUsage(img, shared, unique))
        seen.update({lay.chain_id: lay.size for lay in layers})
        if img.containers:
            active.update(lay.chain_id for lay in layers)
    total = sum(seen.values())
    return DiskUsage(images=tuple(per_image), layers_size=total,
                     reclaimable=total - sum(seen[c] for c in active),
                     containers=tuple(engine.containers(all=True)),
                     disk_free=int(engine.info().get("DiskFree", 0)))


# -- messages (posted from workers to the App) --------------------------------


class StateLoaded(Message):
    def __init__(self, state: EngineState, events: int = 0) -> None:
        super().__init__()
        self.state = state
        self.events = events  # how many new engine events caused this refresh


class LayersLoaded(Message):
    def __init__(self, image_id: str, layers: list[LayerInfo], total_images: int) -> None:
        super().__init__()
        self.image_id = image_id
        self.layers = layers
        self.total_images = total_images


class DiskLoaded(Message):
    def __init__(self, usage: DiskUsage) -> None:
        super().__init__()
        self.usage = usage


class HistoryLoaded(Message):
    def __init__(self, ref: str, entries: list[HistoryEntry]) -> None:
        super().__init__()
        self.ref = ref
        self.entries = entries


class InspectLoaded(Message):
    def __init__(self, ref: str, data: dict) -> None:
        super().__init__()
        self.ref = ref
        self.data = data


class ImageTagged(Message):
    def __init__(self, image_id: str, target: str) -> None:
        super().__init__()
        self.image_id = image_id
        self.target = target  # familiar form, as the Images pane shows it


class DeletePlanned(Message):
    def __init__(self, plan: DeletePlan) -> None:
        super().__init__()
        self.plan = plan


class ImagesRemoved(Message):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines


class EngineFailed(Message):
    """An EngineError caught inside a long-running worker (the live loop)."""

    def __init__(self, error: EngineError) -> None:
        super().__init__()
        self.error = error
