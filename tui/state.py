"""What the workers fetch and the messages that carry it to the UI thread.

Every function here does I/O and runs only inside a worker; the UI gets the
results as immutable objects in messages and never touches the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from textual.message import Message

from engine import ContainerSummary, Engine, HistoryEntry, ImageSummary
from engine.errors import EngineError
from engine.usage import LayerInfo
from engine.usage.df import Category
from engine.usage.df import DiskUsage as EngineDiskUsage
from engine.usage.prune import PruneReport, prune_containers, prune_images, prune_volumes

from .plan import DeletePlan

__all__ = [
    "PRUNE_KINDS",
    "DiskUsage",
    "EngineState",
    "load_disk_usage",
    "load_state",
    "prune",
    "refresh_sizes",
]


@dataclass(frozen=True)
class EngineState:
    images: tuple[ImageSummary, ...]
    containers: tuple[ContainerSummary, ...]
    info: dict[str, Any] = field(compare=False)
    event_id: int = 0


def _with_size(engine: Engine, c: ContainerSummary) -> ContainerSummary:
    try:
        return replace(c, size_rw=engine.container_size(c.id)[0])
    except (EngineError, OSError):  # removed meanwhile, or its layer is not there yet
        return c


def load_state(engine: Engine, event_id: int) -> EngineState:
    return EngineState(images=tuple(engine.images()),
                       containers=tuple(_with_size(engine, c)
                                        for c in engine.containers(all=True)),
                       info=engine.info(), event_id=event_id)


LIVE_STATES = ("running", "paused", "restarting")


def refresh_sizes(engine: Engine, state: EngineState) -> EngineState:
    """What changes between events: the writable layers of live containers
    and the free disk.  Images and container states change only with an
    event, so they are not reloaded."""
    return replace(state, containers=tuple(_with_size(engine, c) if c.state in LIVE_STATES
                                           else c for c in state.containers),
                   info=engine.info())


@dataclass(frozen=True)
class DiskUsage:
    """The engine's ``system df -v`` accounting, and the free space left."""

    df: EngineDiskUsage
    disk_free: int

    def category(self, name: str) -> Category | None:
        return next((c for c in self.df.categories if c.name == name), None)


def load_disk_usage(engine: Engine) -> DiskUsage:
    return DiskUsage(df=engine.disk_usage(), disk_free=int(engine.info().get("DiskFree", 0)))


PRUNE_KINDS = {  # key → (what the dialog says, the CLI command it equals)
    "images": ("dangling images", "image prune"),
    "all-images": ("unused images (-a)", "image prune -a"),
    "containers": ("stopped containers", "container prune"),
    "volumes": ("unused anonymous volumes", "volume prune"),
}


def prune(engine: Engine, kind: str, *, dry_run: bool) -> PruneReport:
    """One prune as the CLI runs it; ``dry_run`` gives the exact preview."""
    if kind in ("images", "all-images"):
        return prune_images(engine, all_images=kind == "all-images", dry_run=dry_run)
    if kind == "containers":
        return prune_containers(engine, dry_run=dry_run)
    if kind == "volumes":
        return prune_volumes(engine, dry_run=dry_run)
    raise ValueError(f"unknown prune kind {kind!r}")


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


class ContainerChanged(Message):
    """A container action finished (``verb`` as ``ps`` users know it)."""

    def __init__(self, verb: str, container_id: str) -> None:
        super().__init__()
        self.verb = verb
        self.container_id = container_id


class ContainerCommitted(Message):
    def __init__(self, image_id: str, reference: str) -> None:
        super().__init__()
        self.image_id = image_id
        self.reference = reference  # familiar "repo:tag", or "" for an untagged image


class LogLines(Message):
    """A batch of log lines for the logs screen ``screen_id``."""

    def __init__(self, screen_id: int, lines: list) -> None:
        super().__init__()
        self.screen_id = screen_id
        self.lines = lines


class PrunePlanned(Message):
    """A dry run for the prune dialog ``screen_id``."""

    def __init__(self, screen_id: int, kind: str, report: PruneReport) -> None:
        super().__init__()
        self.screen_id = screen_id
        self.kind = kind
        self.report = report


class Pruned(Message):
    def __init__(self, kind: str, report: PruneReport) -> None:
        super().__init__()
        self.kind = kind
        self.report = report


class AnalysisLoaded(Message):
    """``image analyze`` for the Layers pane (engine.usage.analyze.Analysis)."""

    def __init__(self, image_id: str, analysis: Any) -> None:
        super().__init__()
        self.image_id = image_id
        self.analysis = analysis


class WritableSampled(Message):
    """One writable-layer sample (engine.usage.sampler.Sample) and the sizes
    of the samples kept so far, oldest first, for the sparkline."""

    def __init__(self, container_id: str, sample: Any, sizes: list[int]) -> None:
        super().__init__()
        self.container_id = container_id
        self.sample = sample
        self.sizes = sizes


# -- build, pull, push: posted by the workers straight to the screen showing them --


class BuildChecked(Message):
    """The build form's request with its paths checked (``request`` is the
    resolved one), or ``error``: why not, in docker build's words."""

    def __init__(self, request: Any, error: str = "") -> None:
        super().__init__()
        self.request = request  # tui.screens.build.BuildRequest
        self.error = error


class BuildProgress(Message):
    """One event of the build generator (engine.build.BuildEvent)."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class BuildFinished(Message):
    """The build ended: with ``image_id``, with ``error``, or ``cancelled``."""

    def __init__(self, image_id: str = "", error: EngineError | None = None,
                 cancelled: bool = False) -> None:
        super().__init__()
        self.image_id = image_id
        self.error = error
        self.cancelled = cancelled


class TransferProgress(Message):
    """One progress report of a pull or push (engine.progress.Progress)."""

    def __init__(self, progress: Any) -> None:
        super().__init__()
        self.progress = progress


class TransferFinished(Message):
    """A pull or push ended; ``reference`` is familiar ("registry:5000/app:1"),
    ``image_id`` the image pulled; ``error`` its one line, or ``cancelled``."""

    def __init__(self, verb: str, *, image_id: str = "", reference: str = "", error: str = "",
                 cancelled: bool = False) -> None:
        super().__init__()
        self.verb = verb
        self.image_id = image_id
        self.reference = reference
        self.error = error
        self.cancelled = cancelled


class StatsSampled(Message):
    """CPU %, memory and PIDs of the running containers (container ID →
    engine.runtime.stats.ContainerStats); a container missing from
    ``stats`` is stopped, or new and not measured twice yet."""

    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__()
        self.stats = stats


class FamilyTreeLoaded(Message):
    """The layer family tree (engine.usage.tree.TreeNode roots) and the
    containers, for the Layers pane's tree view."""

    def __init__(self, roots: list, containers: tuple[ContainerSummary, ...]) -> None:
        super().__init__()
        self.roots = roots
        self.containers = containers


class LayerFilesLoaded(Message):
    """Layer ``index`` (0 = base) of ``image_id`` as a file tree
    (engine.usage.filetree.FileNode), compared dive's way: against the
    layers below it, or with ``aggregated`` against the base layer;
    ``counts`` maps added/modified/removed to how many paths."""

    def __init__(self, image_id: str, index: int, aggregated: bool, root: Any,
                 counts: dict[str, int]) -> None:
        super().__init__()
        self.image_id = image_id
        self.index = index
        self.aggregated = aggregated
        self.root = root
        self.counts = counts
