"""What ``rmi`` will do, worked out before it runs, for the delete dialog.

Mirrors ``engine.images.remove`` (Docker's rules): a name with other tags
left is only untagged; the last name, or an ID, untags everything and
deletes the image, then its dangling local parents, then every layer no
other image uses.  A target rmi would refuse (used by a container, an ID
with several tags) is reported with the reason instead.

Runs in a worker: it reads the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import Engine
from engine.cli.output import size_text
from engine.images.digest import short_id

from .model import ImageRef

__all__ = ["DeletePlan", "DeleteStep", "plan_delete"]


@dataclass(frozen=True)
class DeleteStep:
    ref: str  # what remove_image gets
    label: str  # how the user knows this row
    image_id: str
    untag_only: bool
    lines: tuple[str, ...]  # what rmi will print
    freed: int = 0  # bytes of layers deleted
    layers: int = 0  # layers deleted
    keeps: tuple[str, ...] = ()  # tags the image keeps (untag only)
    refused: str = ""  # why rmi will refuse this one

    @property
    def summary(self) -> str:
        if self.refused:
            return f"{self.label}: rmi refuses — {self.refused}"
        if self.untag_only:
            return (f"{self.label}: untag only — image {short_id(self.image_id)} "
                    f"keeps {', '.join(self.keeps)}")
        n = self.layers
        return (f"{self.label}: delete image {short_id(self.image_id)} — "
                f"{n} layer{'s' if n != 1 else ''}, {size_text(self.freed)} freed")


@dataclass(frozen=True)
class DeletePlan:
    steps: tuple[DeleteStep, ...]

    @property
    def refs(self) -> list[str]:
        return [s.ref for s in self.steps if not s.refused]

    @property
    def freed(self) -> int:
        return sum(s.freed for s in self.steps)

    @property
    def untag_only(self) -> bool:
        return all(s.untag_only or s.refused for s in self.steps)

    @property
    def title(self) -> str:
        runnable = [s for s in self.steps if not s.refused]
        if not runnable:
            return "Nothing can be removed"
        verb = "Untag" if self.untag_only else "Delete"
        what = runnable[0].label if len(runnable) == 1 else f"{len(runnable)} images"
        return f"{verb} {what}?"


def plan_delete(engine: Engine, targets: list[ImageRef]) -> DeletePlan:
    images = {i.id: i for i in engine.images()}
    tags_left = {i.id: list(i.repo_tags) for i in images.values()}
    digests_left = {i.id: list(i.repo_digests) for i in images.values()}
    children: dict[str, int] = {}
    for i in images.values():
        if i.parent_id:
            children[i.parent_id] = children.get(i.parent_id, 0) + 1
    doomed: set[str] = set()
    steps: list[DeleteStep] = []
    for t in targets:
        img = images.get(t.image.id)
        label = t.ref if t.by_name else short_id(t.image.id)
        if img is None or img.id in doomed:
            steps.append(DeleteStep(t.ref, label, t.image.id, False, (),
                                    refused="the image is already gone"))
            continue
        tags = tags_left[img.id]
        if t.by_name and "@" not in t.ref and t.ref in tags and len(tags) > 1:
            tags.remove(t.ref)
            steps.append(DeleteStep(t.ref, label, img.id, True, (f"Untagged: {t.ref}",),
                                    keeps=tuple(tags)))
            continue
        if img.containers:
            steps.append(DeleteStep(t.ref, label, img.id, False, (), refused=(
                f"image is used by {img.containers} container"
                f"{'s' if img.containers != 1 else ''} (stop and remove "
                f"{'them' if img.containers != 1 else 'it'} first)")))
            continue
        if not t.by_name and len(tags) > 1:
            steps.append(DeleteStep(t.ref, label, img.id, False, (), refused=(
                "image is referenced in multiple repositories; delete it by name")))
            continue
        lines = [f"Untagged: {x}" for x in tags] + [f"Untagged: {d}" for d in
                                                       digests_left[img.id]]
        gone = [img.id]
        parent = img.parent_id
        while parent in images and not tags_left[parent] and not images[parent].containers \
                and children.get(parent, 0) <= 1 and parent not in doomed:
            gone.append(parent)
            parent = images[parent].parent_id
        doomed.update(gone)
        tags.clear()
        lines += [f"Deleted: {g}" for g in gone]
        freed, layers = 0, 0
        for lay in reversed(engine.image_layers(img.id)):  # rmi sweeps from the top
            if lay.chain_id and not set(lay.shared_by) - doomed:
                lines.append(f"Deleted: {lay.chain_id}")
                freed += lay.size
                layers += 1
        steps.append(DeleteStep(t.ref, label, img.id, False, tuple(lines), freed, layers))
    return DeletePlan(tuple(steps))
