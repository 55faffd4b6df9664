"""``rmi``: untag or delete images with Docker's rules.

- By name, with other tags left: untag only ("Untagged: …").
- By name, last tag, or by ID: untag everything and delete the image, then
  its now-unreferenced layers and blobs ("Deleted: …"), then walk up to
  dangling local parents that have no other children (unless ``prune`` is
  off, as ``--no-prune``).
- By ID with several tags: refused unless ``force``.
- Used by a container: refused unless ``force`` (then untag only); a
  running container's image cannot be removed at all.
"""

from __future__ import annotations

from ..errors import Conflict
from ..snapshots import OverlaySnapshotter
from ..snapshots.overlay import remove_tree
from ..store import Store
from ..store.events import emit
from ..store.gc import Sweep, mark_and_sweep
from .digest import short_id
from .reference import parse
from .store import ImageStore, familiar_tag


def _is_reference(ref: str, image_id: str) -> bool:
    hexpart = ref.removeprefix("sha256:")
    return not image_id.removeprefix("sha256:").startswith(hexpart)


def remove_image(store: Store, images: ImageStore, snapshots: OverlaySnapshotter, ref: str, *,
                 force: bool = False, prune: bool = True) -> list[str]:
    image_id = images.resolve(ref)
    tags = images.tags_of(image_id)
    users = images.container_users(image_id)
    by_name = _is_reference(ref, image_id)
    lines: list[str] = []
    with store.db.write() as c:
        if by_name:
            name = str(parse(ref).tagged_or_latest()) if "@" not in ref else None
            if name is not None and name in tags and (len(tags) > 1 or (users and force)):
                images.untag(c, name, image_id)
                return [f"Untagged: {familiar_tag(name)}"]
            if users and not force:
                shown = parse(ref).familiar_name if name else ref
                raise Conflict(f'conflict: unable to remove repository reference "{shown}" '
                               f"(must force) - container {short_id(users[0][0])} is using its "
                               f"referenced image {short_id(image_id)}")
        else:
            if len(tags) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be forced)"
                               " - image is referenced in multiple repositories")
            if users and any(running for _, running in users):
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (cannot be "
                               f"forced) - image is being used by running container "
                               f"{short_id(users[0][0])}")
            if users and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be forced)"
                               f" - image is being used by stopped container "
                               f"{short_id(users[0][0])}")
        for t in tags:
            images.untag(c, t, image_id)
            lines.append(f"Untagged: {familiar_tag(t)}")
        for d in images.digests_of(image_id):
            repo, _, digest = d.partition("@")
            c.execute("DELETE FROM repo_digests WHERE repo = ? AND digest = ?", (repo, digest))
            lines.append(f"Untagged: {parse(repo).familiar_name}@{digest}")
        if users:  # forced on a stopped container's image: untag only
            return lines
        doomed = [image_id]
        parent = images.record(image_id).parent
        while prune and parent:
            row = c.execute("SELECT parent FROM images WHERE id = ?", (parent,)).fetchone()
            if row is None or images.tags_of(parent) or images.container_users(parent) or \
                    len(images.children(parent)) > 1:
                break
            doomed.append(parent)
            parent = row["parent"]
        for img in doomed:
            # children first: the parent row is referenced by the child's parent column
            c.execute("UPDATE images SET parent = '' WHERE parent = ?", (img,))
            c.execute("DELETE FROM images WHERE id = ?", (img,))
            emit(c, "image", "delete", img)
            lines.append(f"Deleted: {img}")
        sweep = mark_and_sweep(c, protected_blobs=store.leases.live_refs("blob"),
                               protected_snapshots=store.leases.live_refs("layer"))
        lines.extend(f"Deleted: {ch}" for ch in sweep.layers)
    remove_swept(store, snapshots, sweep)
    return lines


def remove_swept(store: Store, snapshots: OverlaySnapshotter, sweep: Sweep) -> None:
    """Delete the files of rows a committed sweep dropped."""
    for snap_id, _ in sweep.snapshots:
        remove_tree(snapshots.dir(snap_id))
    for digest in sweep.blobs:
        store.blobs.delete(digest)
