"""An image's layer stack with the step that made each layer and who shares it."""

from __future__ import annotations

from ..images.config import chain_ids, parse_rfc3339
from ..images.store import ImageStore
from ..store import Store
from . import LayerInfo


def chains_by_image(store: Store) -> dict[str, set[str]]:
    """Image ID → the ChainIDs of its whole stack."""
    parent = {r["chain_id"]: r["parent"] for r in store.db.query(
        "SELECT chain_id, parent FROM layers")}
    out: dict[str, set[str]] = {}
    for r in store.db.query("SELECT id, top_layer FROM images"):
        chain, seen = r["top_layer"], set()
        while chain:
            seen.add(chain)
            chain = parent.get(chain)
        out[r["id"]] = seen
    return out


def image_layers(store: Store, images: ImageStore, image_id: str) -> list[LayerInfo]:
    cfg = images.config(image_id)
    chains = chain_ids(cfg.diff_ids)
    sizes = {r["chain_id"]: r["size"] for r in store.db.query("SELECT chain_id, size FROM layers")}
    stacks = chains_by_image(store)
    users: dict[str, list[str]] = {}
    for other, stack in stacks.items():
        if other == image_id:
            continue
        for ch in stack:
            users.setdefault(ch, []).append(other)
    ctr_users: dict[str, list[str]] = {}
    try:
        rows = store.db.query("SELECT id, image_id FROM containers")
    except Exception:  # noqa: BLE001 - no containers table before schema 2
        rows = []
    for r in rows:
        for ch in stacks.get(r["image_id"], ()):
            ctr_users.setdefault(ch, []).append(r["id"])
    history = cfg.history or [{} for _ in cfg.diff_ids]
    out: list[LayerInfo] = []
    layer = 0
    for i, h in enumerate(history):
        empty = bool(h.get("empty_layer")) or layer >= len(chains)
        chain = diff = ""
        if not empty:
            chain, diff = chains[layer], cfg.diff_ids[layer]
            layer += 1
        created = h.get("created")
        out.append(LayerInfo(
            index=i, chain_id=chain, diff_id=diff, size=sizes.get(chain, 0),
            created=max(0.0, parse_rfc3339(created)) if isinstance(created, str) else 0.0,
            created_by=h.get("created_by", ""), comment=h.get("comment", ""),
            empty_layer=empty, shared_by=tuple(sorted(users.get(chain, ()))) if chain else (),
            containers=tuple(sorted(ctr_users.get(chain, ()))) if chain else ()))
    return out
